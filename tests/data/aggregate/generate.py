"""Golden values of ddmsim's robust aggregation rules (src/federated/robust.rs), computed independently:
numpy's median, scipy's trim_mean, and Krum / Multi-Krum as Flower's `aggregate_krum` computes it
(flwr/server/strategy/aggregate.py, flwr 1.14: squared Euclidean distances, score = sum over the
max(1, n - f - 2) nearest others, Multi-Krum = example-weighted mean of the `m` lowest scores).

Run:  python3 tests/data/aggregate/generate.py   (writes golden.json next to this script)
"""
import json
import pathlib

import numpy as np
from scipy.stats import trim_mean


def krum(weights, counts, f, m):
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    dist = np.array([[np.sum((w[i] - w[j]) ** 2) for j in range(n)] for i in range(n)])
    nearest = max(1, n - f - 2)
    scores = [np.sum(dist[i, np.argsort(dist[i], kind="stable")[1 : nearest + 1]]) for i in range(n)]
    if m == 1:
        return w[int(np.argmin(scores))]
    best = np.argsort(scores, kind="stable")[:m]
    c = np.asarray(counts, dtype=np.float64)[best]
    return (w[best] * c[:, None]).sum(axis=0) / c.sum()


def main():
    rng = np.random.default_rng(20261202)
    cases = []
    for n, dim, outliers in [(5, 7, 0), (6, 4, 1), (9, 11, 2), (2, 3, 0), (12, 6, 3)]:
        honest = rng.normal(0.0, 1.0, size=(n - outliers, dim))
        bad = rng.normal(0.0, 1.0, size=(outliers, dim)) * 50.0 + 20.0
        weights = np.vstack([honest, bad]).astype(np.float32)
        rng.shuffle(weights)
        counts = rng.integers(1, 200, size=n).tolist()
        w64 = weights.astype(np.float64)
        case = {
            "weights": weights.tolist(),
            "counts": counts,
            "median": np.median(w64, axis=0).tolist(),
            "trimmed_mean": {str(t): trim_mean(w64, t, axis=0).tolist() for t in (0.0, 0.1, 0.2, 0.34)},
            "krum": [],
        }
        for f in sorted({0, outliers}):
            for m in sorted({1, 2, max(1, n - f)}):
                case["krum"].append({"f": f, "m": m, "result": krum(w64, counts, f, m).tolist()})
        cases.append(case)
    out = pathlib.Path(__file__).with_name("golden.json")
    out.write_text(json.dumps({"cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
