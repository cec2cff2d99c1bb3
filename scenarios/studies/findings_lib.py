"""What the FINDINGS.md scripts of the studies share: reading a run's results.csv, mean and standard deviation over
seeds, and number formatting (standard library only; imported by faults_findings.py and lost_findings.py)."""
import csv
import math


def policy_rows(results):
    """{policy: {metric: value}} of a run's results.csv (empty cells left out)."""
    rows = {}
    with open(results, newline="") as f:
        for row in csv.DictReader(f):
            rows[row["policy"]] = {k: float(v) for k, v in row.items() if k not in ("policy", "seed") and v != ""}
    return rows


def stats(values):
    """Mean and sample standard deviation of the finite values (0 for one; None, None for none)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, sd


def fmt(v, digits=3):
    """A number for a table: a dash for none, exponent form from 1e6, thousands separators from 1000."""
    if v is None:
        return "—"
    if abs(v) >= 1e6:
        return f"{v:.2e}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{digits + 1}g}"
