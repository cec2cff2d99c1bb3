"""Runs ddmsim's benches and the PyTorch peer on this machine in one go and prints the ratio tables.

  python3 benches/peer/compare.py            # training step, workload W, threads, routed sampling
  python3 benches/peer/compare.py --memory   # also peak memory of quickstart, paper_gmm and W at 10 vs 100 rounds
  python3 benches/peer/compare.py --pooled   # also the wall time of scenarios/paper_digits_pooled.yaml
  python3 benches/peer/compare.py --write    # also rewrite the measured section of benches/README.md

Needs PyTorch for the peer side (`pip install torch`); ddmsim itself is built here with cargo.
"""

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from readme_section import replace_section  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PEER = ROOT / "benches" / "peer" / "torch_peer.py"
BINARY = ROOT / "target" / "release" / "ddmsim"
README = ROOT / "benches" / "README.md"
# The PyTorch step times quoted in the issue, for reference only: the ratios use the times measured in this run.
SHAPES = ["d2_w128_depth3_b128", "d2_w256_depth4_b256", "d64_w512_depth4_b256", "d64_w1024_depth4_b1024"]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, **kw)


def criterion(bench, *filters, threads=None):
    """ns per iteration of every benchmark of `bench`, from criterion's bencher output; `threads` sets
    RAYON_NUM_THREADS (the size of the pool the training step runs in)."""
    env = dict(os.environ, **({"RAYON_NUM_THREADS": str(threads)} if threads else {}))
    cmd = ["cargo", "bench", "--quiet", "--bench", bench, "--", "--output-format", "bencher", *filters]
    out = run(cmd, env=env).stdout
    return {m[1]: float(m[2].replace(",", "")) for m in re.finditer(r"test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter", out)}


def timed(cmd, repeats, env=None):
    """Median wall seconds of `cmd` from process start to exit."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def peak_rss_mb(cmd):
    """Peak resident memory (MB) of `cmd`, from /usr/bin/time -v."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, check=True, capture_output=True, text=True)
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)[1])
    return kb / 1024


def digest(folder):
    h = hashlib.sha256()
    for f in sorted(pathlib.Path(folder).rglob("*")):
        if f.is_file() and f.name != "run.json":
            h.update(f.relative_to(folder).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def ddmsim_w(threads, out, rounds=None):
    cmd = [str(BINARY), "run", "scenarios/bench_fedavg.yaml", "--train-only", "--no-cache", "--quiet"]
    cmd += ["--threads", str(threads), "--out", str(out)]
    if rounds:
        cmd += ["--set", f"federation.rounds={rounds}"]
    return cmd


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (runs paper_gmm: minutes)")
    parser.add_argument("--write", action="store_true", help="rewrite the measured section of benches/README.md")
    parser.add_argument("--pooled", action="store_true", help="also time the pooled digits control (about 9 minutes)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timed comparison (medians are reported)")
    args = parser.parse_args()

    run(["cargo", "build", "--release", "--quiet"])
    lines = []
    say = lambda s="": (print(s, flush=True), lines.append(s))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    cpu += f" ({'with' if 'avx512f' in flags else 'without'} AVX-512, {'with' if 'avx2' in flags else 'without'} AVX2)"
    torch_version = run([sys.executable, "-c", "import torch; print(torch.__version__)"]).stdout.strip()
    say(f"Measured {datetime.date.today()} on {cpu}, {os.cpu_count()} cores, {platform.system()}; "
        f"PyTorch {torch_version}; command `python3 benches/peer/compare.py{' --memory' if args.memory else ''}`.")
    say()

    # 1. Training step: both sides alternately, `--repeats` times; the median of each (this machine is shared, and
    # a single measurement of either side can be 20 % off).
    runs = []
    for _ in range(args.repeats):
        ours_r = [criterion("training_step", threads=t) for t in (1, 2)]
        torch_r = [json.loads(run([sys.executable, str(PEER), "step", "--threads", str(t)]).stdout)["ms_per_step"]
                   for t in (1, 2)]
        runs.append((ours_r, torch_r))
    median = lambda values: sorted(values)[len(values) // 2]
    ours = [{k: median([o[t][f"training_step/{k}"] for o, _ in runs]) / 1e6 for k in SHAPES} for t in (0, 1)]
    torch = [{k: median([p[t][k] for _, p in runs]) for k in SHAPES} for t in (0, 1)]
    say(f"Training step (Adam, f32, one step, each side on 1 and on 2 threads); median of {args.repeats} alternating "
        "runs; the limits: every shape at most PyTorch's time on one thread, the largest on two threads at most 1.1 "
        "times PyTorch's on two")
    say()
    say("| shape | ddmsim 1 thread | PyTorch 1 thread | ratio | ddmsim 2 threads | PyTorch 2 threads | ratio |")
    say("|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        r1, r2 = ours[0][shape] / torch[0][shape], ours[1][shape] / torch[1][shape]
        v1 = f"{r1:.2f} {'ok' if r1 <= 1.0 else 'MISSED'}"
        v2 = f"{r2:.2f}" + (f" {'ok' if r2 <= 1.1 else 'MISSED'}" if shape == SHAPES[-1] else "")
        say(f"| {shape} | {ours[0][shape]:.3f} ms | {torch[0][shape]:.3f} ms | {v1} | {ours[1][shape]:.3f} ms | "
            f"{torch[1][shape]:.3f} ms | {v2} |")
    say()

    # 2 and 3. Workload W end to end, and threads.
    with tempfile.TemporaryDirectory() as tmp:
        w1 = timed(ddmsim_w(1, f"{tmp}/w1"), args.repeats)
        w2 = timed(ddmsim_w(2, f"{tmp}/w2"), args.repeats)
        same = digest(f"{tmp}/w1") == digest(f"{tmp}/w2")
    p1 = timed([sys.executable, str(PEER), "workload", "--threads", "1"], args.repeats)
    p2 = timed([sys.executable, str(PEER), "workload", "--threads", "2"], args.repeats)
    gflop = 6 * 37_762 * 64 * 10_000 / 1e9
    say(f"Workload W (10,000 Adam steps, {gflop:.0f} GFLOP of training arithmetic), process start to exit, "
        f"median of {args.repeats}")
    say()
    say("| | 1 thread | 2 threads |")
    say("|---|---|---|")
    say(f"| ddmsim (`ddmsim run scenarios/bench_fedavg.yaml --train-only`) | {w1:.2f} s | {w2:.2f} s |")
    say(f"| PyTorch plain loop (`torch_peer.py workload`) | {p1:.2f} s | {p2:.2f} s |")
    say(f"| PyTorch / ddmsim | {p1 / w1:.1f}x | {p2 / w2:.1f}x |")
    say(f"| ddmsim GFLOP/s | {gflop / w1:.1f} | {gflop / w2:.1f} |")
    say()
    with tempfile.TemporaryDirectory() as tmp:
        quick = [str(BINARY), "run", "scenarios/quickstart.yaml", "--train-only", "--no-cache", "--quiet"]
        q1 = timed(quick + ["--threads", "1", "--out", f"{tmp}/q1"], args.repeats)
        q2 = timed(quick + ["--threads", "2", "--out", f"{tmp}/q2"], args.repeats)
        q_same = digest(f"{tmp}/q1") == digest(f"{tmp}/q2")
    say("Two threads vs one (wall time, process start to exit; outputs compared byte for byte, run.json aside)")
    say()
    say("| scenario | 1 thread | 2 threads | speed-up | byte-identical |")
    say("|---|---|---|---|---|")
    say(f"| W (`bench_fedavg.yaml --train-only`) | {w1:.2f} s | {w2:.2f} s | {w1 / w2:.2f}x | {'yes' if same else 'NO'} |")
    say(f"| quickstart training (`quickstart.yaml --train-only`: 8 experts and the router, FedAvg, 600 rounds) "
        f"| {q1:.2f} s | {q2:.2f} s | {q1 / q2:.2f}x | {'yes' if q_same else 'NO'} |")
    say()

    if args.pooled:
        with tempfile.TemporaryDirectory() as tmp:
            pooled = [str(BINARY), "run", "scenarios/paper_digits_pooled.yaml", "--no-cache", "--quiet", "--out", tmp]
            seconds = timed(pooled, 1)
        say(f"The pooled digits control (`ddmsim run scenarios/paper_digits_pooled.yaml --no-cache`, 2 threads): "
            f"{seconds:.0f} s, process start to exit")
        say()

    f = criterion("fedavg_round")
    m = criterion("metrics")
    say("Other benches (criterion, global thread pool of 2)")
    say()
    say("| bench | time |")
    say("|---|---|")
    say(f"| one FedAvg round, 100 clients x 20 Adam steps (batch 64, w=128, depth 3) | "
        f"{f['fedavg/round_100_clients'] / 1e6:.0f} ms |")
    say(f"| k-means, k = 8, 10,000 points | {m['metrics/kmeans_k8_10k'] / 1e6:.1f} ms |")
    say(f"| quality metrics, 10,000 generated vs 10,000 reference points | "
        f"{m['metrics/quality_10k_vs_10k'] / 1e6:.0f} ms |")
    say()

    # 4. Routed sampling.
    s = criterion("sampling")
    one = s["routed_sampling/one_expert"]
    say("Routed sampling, 8 experts, cost relative to one expert")
    say()
    say("| policy | time | ratio | limit |")
    say("|---|---|---|---|")
    say(f"| one expert | {one / 1e6:.2f} ms | 1.00 | |")
    for name, limit in [("top1_of_8", 1.3), ("top2_of_8", None), ("full_of_8", 8.5)]:
        ratio = s[f"routed_sampling/{name}"] / one
        verdict = "" if limit is None else f"<= {limit} {'ok' if ratio <= limit else 'MISSED'}"
        say(f"| {name} | {s[f'routed_sampling/{name}'] / 1e6:.2f} ms | {ratio:.2f} | {verdict} |")
    say()

    # 5. Memory.
    if args.memory:
        with tempfile.TemporaryDirectory() as tmp:
            q = peak_rss_mb([str(BINARY), "run", "scenarios/quickstart.yaml", "--no-cache", "--quiet", "--out", f"{tmp}/q"])
            g = peak_rss_mb([str(BINARY), "run", "scenarios/paper_gmm.yaml", "--no-cache", "--quiet", "--out", f"{tmp}/g"])
            r10 = peak_rss_mb(ddmsim_w(2, f"{tmp}/r10", 10))
            r100 = peak_rss_mb(ddmsim_w(2, f"{tmp}/r100", 100))
        say("Peak resident memory (`/usr/bin/time -v`)")
        say()
        say("| run | peak RSS | limit |")
        say("|---|---|---|")
        say(f"| quickstart | {q:.0f} MB | < 300 MB {'ok' if q < 300 else 'MISSED'} |")
        say(f"| paper_gmm | {g:.0f} MB | < 1024 MB {'ok' if g < 1024 else 'MISSED'} |")
        say(f"| W, 10 rounds | {r10:.0f} MB | |")
        say(f"| W, 100 rounds | {r100:.0f} MB | no growth with rounds |")
        say()

    if args.write:
        start, end = "<!-- measured: written by benches/peer/compare.py -->", "<!-- /measured -->"
        replace_section(README, start, end, lines)


if __name__ == "__main__":
    main()
