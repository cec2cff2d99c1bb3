"""FINDINGS.md of the faults study (scenarios/studies/faults.yaml), computed from the study's stored results: every
number in it is read from the cells' results.csv, training_loss.csv and run.json.

Run:  cargo run --release -- report reports/faults/cells/dropout-0.3/seed-0   (draws that cell's figures)
      python3 scenarios/studies/faults_findings.py reports/faults reports/faults-seed0 reports/faults-signflip
(standard library only; reads every study folder given, the three-seed one first; writes FINDINGS.md and the
participation figure of the first dropout cell into the first folder; needs the cells/ folders the studies wrote).
A setting run in both folders (the clean baseline) is taken from the first; the tables of a setting show the seeds
it was run on.

Values are means over the seeds with the standard deviation over seeds after +-. The recovered share of a defence
on a metric is (defended - attacked) / (clean - attacked) on the means: 1 is the clean run's quality, 0 is the
undefended attack's; a degradation under 5 % of the clean value is not shared out (a dash).
"""
import csv
import json
import pathlib
import sys

from findings_lib import fmt, policy_rows, stats

POLICIES = ["top_k:k=1", "top_k:k=2", "full", "uniform", "monolith"]
SHORT = {"top_k:k=1": "top-1", "top_k:k=2": "top-2", "full": "full", "uniform": "uniform", "monolith": "monolith"}
# (metric, higher is better)
METRICS = [("fd", False), ("loglik", True), ("modes_covered", True)]
COUNTS = ["selected", "returned", "dropped", "stragglers", "rejected", "clipped", "byzantine", "participants"]


def read_cell(study, entry):
    folder = study / entry["dir"]
    results = folder / "results.csv"
    if not results.is_file():
        return None
    rows = policy_rows(results)
    totals = {}
    work = []
    with open(folder / "training_loss.csv", newline="") as f:
        for row in csv.DictReader(f):
            group = "experts" if row["model"].startswith("expert") else row["model"]
            t = totals.setdefault(group, {c: 0 for c in COUNTS})
            for c in COUNTS:
                t[c] += int(row[c])
            if row["straggler_work"]:
                work.append(float(row["straggler_work"]))
    run = json.loads((folder / "run.json").read_text())
    return {"rows": rows, "totals": totals, "work": work, "faults": run.get("faults") or {}}


SIGNFLIP_CELLS = {"top-1-monolith": ["top_k:k=1", "monolith"], "top-2": ["top_k:k=2"], "full": ["full"], "uniform": ["uniform"]}


def signflip_table(folder, clean_mean):
    """The faults-signflip study: per aggregator and policy, the mean over the seeds whose samples stayed finite;
    a failed cell's error (run.json's failed_cells) names the policy whose samples went non-finite."""
    cells = json.loads((folder / "cells.json").read_text())
    failed = {
        f["cell"]: f["error"].split(",")[0].removeprefix("policy ")
        for f in json.loads((folder / "run.json").read_text()).get("failed_cells", [])
    }
    found = {}
    for entry in cells["cells"]:
        aggregator, which = entry["setting"].split(".", 1)
        cell = read_cell(folder, entry)
        bad = failed.get(entry["cell"])
        for policy in SIGNFLIP_CELLS[which]:
            if cell:
                outcome = cell["rows"].get(policy)
            elif bad == policy:
                outcome = "non-finite"
            else:
                outcome = "unknown"
            found.setdefault((aggregator, policy), []).append(outcome)
    aggregators = [a for a in ["mean", "median", "trimmed", "krum"] if any(k[0] == a for k in found)]
    out = [
        "Each policy sampled on its own (`scenarios/studies/faults_signflip.yaml`, the same trained models): the mean "
        "over the seeds whose samples stayed finite, with (finite seeds / non-finite seeds). A policy beside which "
        "the monolith went non-finite, or an expert sampling alone did (the run then stops before writing), is not "
        "scored in that seed (counted in neither).",
        "",
    ]
    header = ["aggregator"] + [f"{SHORT[p]} {m}" for p in POLICIES for m, _ in METRICS]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    row = ["clean (faults.yaml)"] + [fmt(clean_mean(p, m)) for p in POLICIES for m, _ in METRICS]
    out.append("| " + " | ".join(row) + " |")
    for a in aggregators:
        row = [f"sign flip, {a}"]
        for p in POLICIES:
            outcomes = found.get((a, p), [])
            finite = [o for o in outcomes if isinstance(o, dict)]
            broken = sum(1 for o in outcomes if o == "non-finite")
            for m, _ in METRICS:
                v = stats([o.get(m) for o in finite])[0]
                value = fmt(v) if finite else "non-finite" if broken else "—"
                row.append(f"{value} ({len(finite)}/{broken})")
        out.append("| " + " | ".join(row) + " |")
    return out + [""]


def krum_monolith(reports, clean):
    """The monolith under sign flip with Krum, from scenarios/studies/faults_krum_monolith.sh's runs."""
    runs = sorted(reports.glob(".krum-monolith-s*/results.csv"))
    if not runs:
        return []
    out = [
        "The monolith under Krum, scored with the experts that went non-finite dropped at sampling time "
        "(`scenarios/studies/faults_krum_monolith.sh`; the monolith does not use the experts):",
        "",
        "| seed | monolith fd (clean) | loglik (clean) | modes_covered |",
        "|---|---|---|---|",
    ]
    for path in runs:
        seed = int(path.parent.name.rsplit("s", 1)[1])
        row = policy_rows(path)["monolith"]
        fd, loglik = row["fd"], row["loglik"]
        out.append(
            f"| {seed} | {fmt(fd)} ({fmt(clean(seed, 'fd'))}) | {fmt(loglik)} ({fmt(clean(seed, 'loglik'))}) | "
            f"{fmt(row['modes_covered'])} |"
        )
    return out + [""]


def main(studies):
    study = studies[0]
    signflip = [f for f in studies if json.loads((f / "cells.json").read_text())["name"] == "faults-signflip"]
    studies = [f for f in studies if f not in signflip]
    settings, seeds, data, names, runs = [], [], {}, [], {}
    for folder in studies:
        cells = json.loads((folder / "cells.json").read_text())
        names.append(cells["name"])
        taken = set()
        for entry in cells["cells"]:
            key = (entry["setting"], entry["seed"])
            if key in data and entry["setting"] not in taken:
                continue
            taken.add(entry["setting"])
            if entry["setting"] not in settings:
                settings.append(entry["setting"])
            if entry["seed"] not in seeds:
                seeds.append(entry["seed"])
            data[key] = read_cell(folder, entry)
            runs.setdefault(entry["setting"], []).append(entry["seed"])

    def values(setting, policy, metric, over=None):
        return [
            data[(setting, s)]["rows"].get(policy, {}).get(metric) if data.get((setting, s)) else None
            for s in (over if over is not None else runs.get(setting, []))
        ]

    def mean(setting, policy, metric, over=None):
        return stats(values(setting, policy, metric, over))[0]

    def cell(setting, policy, metric, over):
        m, sd = stats(values(setting, policy, metric, over))
        return "—" if m is None else f"{fmt(m)} ± {fmt(sd, 2)}"

    def quality_table(rows, over):
        header = ["setting"] + [f"{SHORT[p]} {m}" for p in POLICIES for m, _ in METRICS]
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for st in rows:
            out.append("| " + " | ".join([st] + [cell(st, p, m, over) for p in POLICIES for m, _ in METRICS]) + " |")
        return out + [""]

    def change_line(st, base="clean"):
        parts = []
        over = runs[st]
        for p in POLICIES:
            for m, higher in METRICS:
                a, b = mean(st, p, m, over), mean(base, p, m, over)
                if a is None or b is None:
                    continue
                if m == "fd" and b > 0:
                    parts.append(f"{SHORT[p]} fd x{a / b:.2f}")
                elif m == "loglik":
                    parts.append(f"{SHORT[p]} loglik {a - b:+.2f}")
        return ", ".join(parts)

    def totals(st, group, count):
        return [data[(st, s)]["totals"].get(group, {}).get(count) for s in seeds if data.get((st, s))]

    missing = [f"{st} seed {s}" for st in settings for s in runs[st] if data.get((st, s)) is None]
    out = [f"# Findings: {' + '.join(names)}", ""]
    seeds_of = "; ".join(f"{st}: {runs[st]}" for st in settings)
    out.append(
        f"Generated by `python3 scenarios/studies/faults_findings.py {' '.join(map(str, studies))}` from the studies' "
        f"cells on paper_gmm (seeds per setting: {seeds_of}). Values: mean ± standard deviation over the seeds a "
        "setting ran on (± 0 for one seed); where a single-seed setting is compared with the clean run, the clean "
        "run of the same seed is used. fd: lower is "
        "better; loglik (mean log density of the samples under the true mixture) and modes_covered (of 8): higher "
        "is better. Faults hit every model a client trains unless the setting says otherwise."
    )
    out.append("")
    if missing:
        out.append(
            f"Cells without results (the run stopped with an error, e.g. a policy's samples went non-finite; "
            f"section 3 samples each policy on its own): {', '.join(missing)}."
        )
        out.append("")

    def section(title, rows, note=None):
        rows = [r for r in rows if r in settings]
        if not rows:
            return
        over = sorted(set.intersection(*[set(runs[r]) for r in rows if r != "clean"] or [set(runs[rows[0]])]))
        out.append(f"## {title}")
        out.append("")
        out.append(f"Seeds: {over}.")
        out.append("")
        out.extend(quality_table(rows, over))
        for st in rows:
            if st != "clean":
                change = change_line(st)
                out.append(f"- {st} against clean: {change}." if change else f"- {st}: no cell finished (see below).")
        out.append("")
        if note:
            out.extend(note)
            out.append("")

    # 1. Dropout.
    dropout_note = []
    if "dropout-0.3" in settings:
        for group in ["experts", "router", "monolith"]:
            sel, drop = sum(totals("dropout-0.3", group, "selected")), sum(totals("dropout-0.3", group, "dropped"))
            if sel:
                dropout_note.append(
                    f"- {group}: {drop:,} of {sel:,} selected updates dropped over the seeds ({100 * drop / sel:.1f} %)."
                )
    section("1. 30 % dropout", ["clean", "dropout-0.3"], dropout_note)

    # 2. NaN clients.
    nan_note = []
    if "nan-0.05-skip" in settings:
        for s in seeds:
            c = data.get(("nan-0.05-skip", s))
            if not c:
                continue
            planted = c["faults"].get("byzantine", [])
            rejected = sum(t["rejected"] for t in c["totals"].values())
            returned_byz = sum(t["byzantine"] for t in c["totals"].values())
            verdict = "match" if rejected == returned_byz else "DIFFER"
            nan_note.append(
                f"- Seed {s}: {len(planted)} planted NaN clients (ids {planted}); {rejected:,} updates rejected, "
                f"{returned_byz:,} updates from planted clients returned: {verdict}."
            )
    section("2. 5 % of clients sending NaN, on_nonfinite: skip", ["clean", "nan-0.05-skip"], nan_note)

    # 3. Sign flip and defences.
    flips = ["signflip-mean", "signflip-median", "signflip-trimmed", "signflip-krum"]
    section("3. 20 % sign-flip attackers (scale 5) and the aggregators", ["clean"] + flips)
    for folder in signflip:
        out.extend(signflip_table(folder, lambda p, m: mean("clean", p, m)))
    out.extend(krum_monolith(study.parent, lambda s, m: data[("clean", s)]["rows"]["monolith"].get(m)))
    if "signflip-mean" in settings and mean("signflip-mean", "monolith", "fd") is not None:
        out.append("Recovered share of the attack's damage, (defended - attacked) / (clean - attacked):")
        out.append("")
        header = ["defence"] + [f"{SHORT[p]} {m}" for p in POLICIES for m, _ in METRICS]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for st in flips[1:]:
            if st not in settings:
                continue
            row = [st]
            for p in POLICIES:
                for m, _ in METRICS:
                    over = runs[st]
                    a, c, d = mean("signflip-mean", p, m, over), mean("clean", p, m, over), mean(st, p, m, over)
                    share = None if None in (a, c, d) or abs(c - a) <= 0.05 * abs(c) else (d - a) / (c - a)
                    row.append("—" if share is None else f"{100 * share:.0f} %")
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    section("3b. data_swap poisoning of expert 3's whole group", ["clean", "dataswap-expert3"])

    # 4. Stragglers.
    strag_note = []
    for st in ["stragglers-partial", "stragglers-drop", "stragglers-fednova"]:
        if st in settings:
            work = [w for s in seeds if data.get((st, s)) for w in data[(st, s)]["work"]]
            drop = sum(totals(st, "experts", "dropped"))
            sel = sum(totals(st, "experts", "selected"))
            if work and sel:
                strag_note.append(
                    f"- {st}: stragglers' mean share of the local steps {sum(work) / len(work):.3f}; experts' "
                    f"updates dropped {100 * drop / sel:.1f} %."
                )
    section(
        "4. Stragglers (half the clients doing 10-100 % of their steps)",
        ["clean", "stragglers-partial", "stragglers-drop", "stragglers-fednova"],
        strag_note,
    )
    section("5. Expert 0 offline for rounds 1-450 of 600", ["clean", "outage-expert0"])

    out.append("## Policy ranking by fd under each fault (mean over seeds, best first)")
    out.append("")
    for st in settings:
        present = [(mean(st, p, "fd"), p) for p in POLICIES if mean(st, p, "fd") is not None]
        out.append(f"- {st}: " + " < ".join(SHORT[p] for _, p in sorted(present)))
    out.append("")
    figure = study / "cells" / "dropout-0.3" / f"seed-{runs.get('dropout-0.3', [0])[0]}" / "figures"
    for ext in ("svg", "png", "csv"):
        source = figure / f"participation.{ext}"
        if source.is_file():
            (study / f"participation_dropout.{ext}").write_bytes(source.read_bytes())
    (study / "FINDINGS.md").write_text("\n".join(out))


if __name__ == "__main__":
    main([pathlib.Path(a) for a in sys.argv[1:]])
