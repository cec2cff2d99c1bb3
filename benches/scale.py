"""Measures cross-device scale in one process: peak memory and time per round of scenarios/scale/ at 1,000, 10,000
and 100,000 clients (issue 18), and prints the table of benches/README.md's "Cross-device scale" section.

  python3 benches/scale.py            # build, run the scenarios, print the table (about 10 minutes on 2 cores)
  python3 benches/scale.py --write    # and rewrite that section of benches/README.md

Peak memory: each scenario runs end to end (`ddmsim run ... --no-cache --quiet`: 50 rounds of training, sampling,
metrics and report) under /usr/bin/time -v; its "Maximum resident set size". The 100,000-client one is the issue's
run of 50 rounds.

Time per round: the training stage's wall time (run.json's timings_seconds.training: every expert, the router and
the monolith, models side by side) over its rounds, from `--train-only` runs of ROUNDS rounds, the sizes taken in
turn REPEATS times, median per size; taking turns and the median keep another process's load (the machine is
shared) from landing on one size only. The training work of a round (GFLOP, from run.json's cost) shows what the
time should follow.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from readme_section import replace_section  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = ROOT / "target" / "release" / "ddmsim"
README = ROOT / "benches" / "README.md"
SCENARIOS = ["clients_1k", "clients_10k", "clients_100k"]
# The targets: 100,000 clients within 1 GB at the peak, time per round within 20 % of the smallest size's.
RSS_LIMIT_MB = 1024
ROUND_TOLERANCE = 0.20
# The runs that time the rounds: ROUNDS rounds each, the sizes in turn REPEATS times.
ROUNDS = 10
REPEATS = 3


def run(name, out, *extra):
    """Peak RSS (MB), wall seconds and run.json of one run of scenarios/scale/<name>.yaml into `out`."""
    cmd = [str(BINARY), "run", f"scenarios/scale/{name}.yaml", "--out", str(out), "--no-cache", "--quiet", *extra]
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)[1]
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    return kb / 1024, seconds, json.loads((pathlib.Path(out) / "run.json").read_text())


def round_seconds(name, out):
    """Training seconds per round and training GFLOP per round of a --train-only run of ROUNDS rounds."""
    rounds = [f"--set=federation.rounds={ROUNDS}", f"--set=router.rounds={ROUNDS}"]
    _, _, record = run(name, out, "--train-only", *rounds)
    gflop = record["training"]["cost"]["total"]["flops"] / 1e9 / ROUNDS
    return record["timings_seconds"]["training"] / ROUNDS, gflop


def scenario_value(name, key):
    """An integer `key: value` of the scenario file (the first one)."""
    text = (ROOT / "scenarios" / "scale" / f"{name}.yaml").read_text()
    return int(re.search(rf"^\s*{key}:\s*(\d+)", text, re.M)[1])


def measure(tmp):
    """Every size's full run, load average before it, and round times (the sizes in turn)."""
    full, rounds = {}, {name: [] for name in SCENARIOS}
    for name in SCENARIOS:
        print(f"full run of scenarios/scale/{name}.yaml ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        full[name] = (*run(name, pathlib.Path(tmp) / name), load)
    for repeat in range(REPEATS):
        for name in SCENARIOS:
            print(f"timing {ROUNDS} rounds of {name} ({repeat + 1}/{REPEATS}) ...", file=sys.stderr, flush=True)
            rounds[name].append(round_seconds(name, pathlib.Path(tmp) / f"{name}-rounds-{repeat}"))
    return full, rounds


def table(full, rounds):
    """The Markdown lines of the section, and the verdicts on the targets."""
    lines = [
        f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, by "
        "`python3 benches/scale.py --write`. Load: the machine's 1-minute load average as the full run started "
        "(above 0, something else was running).",
        "",
        f"| clients | training points | peak RSS | time per round (median of {REPEATS}) | vs 1,000 clients | GFLOP per "
        "round | whole run, 50 rounds | data and partition | training | sampling, metrics, report | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdict = []
    base = None
    for name in SCENARIOS:
        rss, wall, record, load = full[name]
        per_round = sorted(r for r, _ in rounds[name])[len(rounds[name]) // 2]
        gflop = rounds[name][0][1]
        base = base or per_round
        t = record["timings_seconds"]
        rest = wall - t["data_and_partition"] - t["training"]
        lines.append(
            f"| {scenario_value(name, 'count'):,} | {record['data']['train']:,} | {rss:,.0f} MB | {per_round:.2f} s | "
            f"{per_round / base:.2f} | {gflop:.1f} | {wall:.1f} s | {t['data_and_partition']:.1f} s | "
            f"{t['training']:.1f} s | {rest:.1f} s | {load:.1f} |"
        )
        if abs(per_round / base - 1.0) > ROUND_TOLERANCE:
            verdict.append(
                f"- {scenario_value(name, 'count'):,} clients: time per round {per_round / base - 1.0:+.0%} from 1,000 "
                f"clients' (target within {ROUND_TOLERANCE:.0%}: MISSED)."
            )
    if not verdict:
        verdict.append(f"- Time per round within {ROUND_TOLERANCE:.0%} of 1,000 clients' at every size: ok.")
    rss, wall, _, _ = full["clients_100k"]
    ok = "ok" if rss <= RSS_LIMIT_MB else "MISSED"
    verdict.append(
        f"- 100,000 clients, {scenario_value('clients_100k', 'rounds')} rounds, the whole run: {wall:.1f} s, peak RSS "
        f"{rss:,.0f} MB (target <= {RSS_LIMIT_MB:,} MB: {ok})."
    )
    return lines + [""] + verdict


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the section of benches/README.md")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory(prefix="ddmsim-scale-") as tmp:
        full, rounds = measure(tmp)
    lines = table(full, rounds)
    print("\n".join(lines))
    if args.write:
        replace_section(README, "<!-- scale: written by benches/scale.py -->", "<!-- /scale -->", lines)


if __name__ == "__main__":
    main()
