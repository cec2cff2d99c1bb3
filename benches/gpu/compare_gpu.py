"""Times the `gpu` feature's kernels and whole runs beside the CPU path, and compares a whole run's metrics.

  python3 benches/gpu/compare_gpu.py           # kernel table, quickstart on both paths (metrics compared), W
  python3 benches/gpu/compare_gpu.py --write   # also rewrite the GPU section of benches/README.md

Without a GPU this runs on Mesa's lavapipe (`apt-get install mesa-vulkan-drivers libvulkan1`; the script sets
DDMSIM_ALLOW_CPU_ADAPTER=1): lavapipe emulates a GPU on the same CPU cores, so its times document the path, not a
speed. Needs only cargo and Python's standard library.
"""

import argparse
import csv
import datetime
import json
import math
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from readme_section import replace_section  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "ddmsim"
README = ROOT / "benches" / "README.md"
ENV = dict(os.environ, DDMSIM_ALLOW_CPU_ADAPTER="1", XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
# What each kernel benchmark does, in the order of the table.
KERNELS = [
    ("gpu_layer_forward", "1x128x128x128", "hidden layer forward (x W + b, SiLU), 1 client, 128 rows, 128 -> 128"),
    ("gpu_layer_forward", "16x128x128x128", "the same for 16 clients in one batched dispatch"),
    ("gpu_elementwise", "silu_backward", "SiLU backward of 128 x 128"),
    ("gpu_elementwise", "column_sums", "bias gradient (column sums of 128 x 128)"),
    ("gpu_elementwise", "adam", "Adam update of 37,762 parameters"),
    ("gpu_elementwise", "combine", "routed combination, 1,000 samples x 8 experts x 2 dims"),
    ("gpu_round", "1_clients", "one FedAvg round of quickstart's denoiser (5 clipped-SGD steps, batch 128), 1 client"),
    ("gpu_round", "16_clients", "the same round for 16 clients (GPU: one batch; CPU: one after another)"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, env=ENV, **kw)


def kernel_times():
    """ns per iteration of every gpu_kernels benchmark, from criterion's bencher output."""
    cmd = ["cargo", "bench", "--quiet", "--features", "gpu", "--bench", "gpu_kernels", "--"]
    out = run(cmd + ["--output-format", "bencher"]).stdout
    return {m[1]: float(m[2].replace(",", "")) for m in re.finditer(r"test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter", out)}


def timed_run(binary, args, out):
    """Wall seconds of one ddmsim run from process start to exit."""
    start = time.perf_counter()
    run([str(binary), *args, "--no-cache", "--quiet", "--out", str(out)])
    return time.perf_counter() - start


def results(folder):
    with open(folder / "results.csv") as f:
        return {row["policy"]: row for row in csv.DictReader(f)}


def fmt_ms(ns):
    return f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns / 1e3:.1f} us"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the GPU section of benches/README.md")
    args = parser.parse_args()
    run(["cargo", "build", "--release", "--features", "gpu"])
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say(f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        "by `python3 benches/gpu/compare_gpu.py --write`.")
    say()
    times = kernel_times()
    say("| kernel (GPU figures include upload and read-back) | GPU | CPU path | GPU / CPU |")
    say("|---|---|---|---|")
    for group, name, what in KERNELS:
        gpu, cpu = times.get(f"{group}/gpu/{name}"), times.get(f"{group}/cpu/{name}")
        ratio = f"{gpu / cpu:.0f}x" if gpu and cpu else ""
        say(f"| {what} | {fmt_ms(gpu) if gpu else ''} | {fmt_ms(cpu) if cpu else ''} | {ratio} |")
    say()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # A copy of the gpu build, so that rebuilding the tree meanwhile changes nothing here.
        binary = tmp / "ddmsim"
        shutil.copy2(BINARY, binary)
        quick = ["run", "scenarios/harsh_small_federation.yaml"]
        w = ["run", "scenarios/bench_fedavg.yaml", "--train-only"]
        walls = {
            "quickstart": (
                timed_run(binary, quick, tmp / "q-cpu"),
                timed_run(binary, quick + ["--device", "gpu"], tmp / "q-gpu"),
            ),
            "W (--train-only)": (
                timed_run(binary, w, tmp / "w-cpu"),
                timed_run(binary, w + ["--device", "gpu"], tmp / "w-gpu"),
            ),
        }
        info = json.loads((tmp / "q-gpu" / "run.json").read_text())
        say(f"Whole runs, process start to exit (GPU adapter: {info['device']}):")
        say()
        say("| run | CPU path | GPU path | GPU / CPU |")
        say("|---|---|---|---|")
        for name, (cpu, gpu) in walls.items():
            say(f"| {name} | {cpu:.1f} s | {gpu:.1f} s | {gpu / cpu:.0f}x |")
        say()
        cpu_rows, gpu_rows = results(tmp / "q-cpu"), results(tmp / "q-gpu")
        say("quickstart's quality metrics, GPU path against CPU path (relative difference |gpu - cpu| / |cpu|):")
        say()
        metrics = ["fd", "mmd", "swd", "precision", "recall", "density", "coverage", "loglik", "mode_tv"]
        say("| policy | " + " | ".join(metrics) + " |")
        say("|---|" + "---|" * len(metrics))
        worst = 0.0
        for policy, row in cpu_rows.items():
            if policy.startswith("reference:"):
                continue
            cells = []
            for m in metrics:
                c, g = float(row[m]), float(gpu_rows[policy][m])
                rel = abs(g - c) / abs(c) if c else (0.0 if g == c else math.inf)
                worst = max(worst, rel)
                cells.append(f"{rel:.1e}")
            say(f"| {policy} | " + " | ".join(cells) + " |")
        say()
        # Every metric of results.csv, the stability and alignment analyses included.
        overall, where = 0.0, ""
        for policy, row in cpu_rows.items():
            for m, value in row.items():
                if m in ("policy", "seed") or value == "":
                    continue
                c, g = float(value), float(gpu_rows[policy][m])
                rel = abs(g - c) / abs(c) if c else (0.0 if g == c else math.inf)
                if rel > overall:
                    overall, where = rel, f"{m} of {policy}: {g:.6g} vs {c:.6g}"
        say(f"Largest relative difference: {worst:.1e} over these; {overall:.1e} over every metric of results.csv "
            f"({where}).")

    if args.write:
        start, end = "<!-- gpu: written by benches/gpu/compare_gpu.py -->", "<!-- /gpu -->"
        replace_section(README, start, end, lines)


if __name__ == "__main__":
    main()
