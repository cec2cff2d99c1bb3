"""PyTorch side of ddmsim's performance comparison (benches/README.md).

Runs exactly the work ddmsim's benches time, in plain PyTorch on the CPU:

  python3 benches/peer/torch_peer.py step --threads 1     # one Adam training step at the four shapes (JSON, ms)
  python3 benches/peer/torch_peer.py workload --threads 1 # workload W: FedAvg, 100 IID clients, 10 rounds

The model is ddmsim's flow-matching denoiser: Linear(d + 32, w), SiLU, (depth - 1) x [Linear(w, w), SiLU],
Linear(w, d), on [x_t, 32-d sinusoidal embedding of t]; x_t = (1 - t) x0 + t eps, loss mean((v - (eps - x0))^2);
Adam (lr 1e-3, f32), no gradient clipping.

PyTorch is not a dependency of ddmsim or its CI. Install it with `pip install torch` (the CPU is all it uses).
"""

import argparse
import json
import math
import time

import torch

SHAPES = [(2, 128, 3, 128), (2, 256, 4, 256), (64, 512, 4, 256), (64, 1024, 4, 1024)]
EMBEDDING = 32


def embed(t):
    """Sinusoidal embedding of t in [0, 1] (scaled by 1000): sines then cosines, as ddmsim's embed_time."""
    half = EMBEDDING // 2
    freq = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
    arg = 1000.0 * t[:, None] * freq[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


def model(d, width, depth):
    layers = [torch.nn.Linear(d + EMBEDDING, width), torch.nn.SiLU()]
    for _ in range(depth - 1):
        layers += [torch.nn.Linear(width, width), torch.nn.SiLU()]
    layers.append(torch.nn.Linear(width, d))
    return torch.nn.Sequential(*layers)


def step(net, opt, data, batch, gen):
    """One training step: draw a batch, noise it, forward, backward, Adam."""
    idx = torch.randint(0, data.shape[0], (batch,), generator=gen)
    x0 = data[idx]
    t = torch.rand(batch, generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    xt = (1 - t[:, None]) * x0 + t[:, None] * eps
    v = net(torch.cat([xt, embed(t)], dim=1))
    loss = torch.mean((v - (eps - x0)) ** 2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def time_steps(d, width, depth, batch, seconds=2.0):
    """Median milliseconds per step over repeats of about `seconds` in all, after a warm-up."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data = torch.rand(4 * batch, d, generator=gen) * 2 - 1
    net = model(d, width, depth)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(10):
        step(net, opt, data, batch, gen)
    start = time.perf_counter()
    step(net, opt, data, batch, gen)
    one = time.perf_counter() - start
    inner = max(1, int(0.1 / one))
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        for _ in range(inner):
            step(net, opt, data, batch, gen)
        samples.append((time.perf_counter() - start) / inner)
    samples.sort()
    return 1000.0 * samples[len(samples) // 2]


def mixture(n, gen, components=8, radius=4.0, std=0.35):
    """n points of the 8-component 2-D Gaussian mixture on a circle (ddmsim's gmm data)."""
    which = torch.randint(0, components, (n,), generator=gen)
    angle = 2 * math.pi * which.float() / components
    means = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return means + std * torch.randn(n, 2, generator=gen)


def workload(rounds=10, clients=100, per_client=200, per_round=50, local_steps=20, batch=64):
    """Workload W: FedAvg of the w=128, depth-3 model over IID clients, plain loop, fresh Adam each round."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data = mixture(clients * per_client, gen)
    shards = list(torch.randperm(data.shape[0], generator=gen).split(per_client))
    global_net = model(2, 128, 3)
    for _ in range(rounds):
        chosen = torch.randperm(clients, generator=gen)[:per_round].tolist()
        states, sizes = [], []
        for c in sorted(chosen):
            net = model(2, 128, 3)
            net.load_state_dict(global_net.state_dict())
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            shard = data[shards[c]]
            for _ in range(local_steps):
                step(net, opt, shard, batch, gen)
            states.append(net.state_dict())
            sizes.append(shard.shape[0])
        total = sum(sizes)
        averaged = {k: sum(s[k] * (n / total) for s, n in zip(states, sizes)) for k in states[0]}
        global_net.load_state_dict(averaged)
    return rounds * per_round * local_steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["step", "workload"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "step":
        out = {f"d{d}_w{w}_depth{k}_b{b}": time_steps(d, w, k, b) for d, w, k, b in SHAPES}
        print(json.dumps({"threads": args.threads, "torch": torch.__version__, "ms_per_step": out}))
    else:
        start = time.perf_counter()
        steps = workload()
        print(json.dumps({"threads": args.threads, "steps": steps, "loop_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
