"""Independent reference values for ddmsim's KID and memorization metrics (numpy + scipy + scikit-learn).

What it computes
  * KID: the unbiased MMD^2 (Binkowski et al. 2018) with the cubic polynomial kernel
    k(x, y) = (x.y / d + 1)^3 (d = dimension), on the whole sets (no subsets):
      MMD2_u = 1/(m(m-1)) sum_{i!=j} k(x_i,x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i,y_j) - 2/(mn) sum_{i,j} k(x_i,y_j).
    The kernel matrices come from sklearn.metrics.pairwise.polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1)
    (gamma=None means 1/d). Cross-checked against an explicit double loop in plain Python (math.fsum),
    asserting agreement to 1e-12 relative. The sign is kept (the estimate may be negative).
  * Memorization: d_T(x) = min_t ||x - t||_2 over the training set T; tau = numpy.quantile(d_T(H), q)
    (numpy's default 'linear' method); memorization = share of generated points g with d_T(g) < tau (strict).
    d_T comes from sklearn.neighbors.NearestNeighbors(n_neighbors=1, algorithm="brute", metric="euclidean")
    (neighbour index from sklearn, distance recomputed directly as ||x - t||_2 because sklearn's expanded
    |a|^2 - 2a.b + |b|^2 form is only ~1e-12 accurate in absolute terms), cross-checked against
    scipy.spatial.distance.cdist(...) (same argmin, min distance equal to 1e-12 relative).

All inputs are drawn from numpy.random.default_rng(20261202) and stored in the JSON (float64, written with
json's repr, so they round-trip exactly); the Rust side never has to reproduce numpy's generator.

Rerun from this folder:
  pip install numpy scipy scikit-learn && python3 make_kid_memorization.py
It (re)writes kid_memorization.json next to this script.
(kid_memorization.json was made with numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1, Python 3.11.7.)
"""
import json
import math
import os

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.metrics.pairwise import polynomial_kernel
from sklearn.neighbors import NearestNeighbors

SEED = 20261202
REL_TOL = 1e-12


# ---------------------------------------------------------------- KID
def kid_sklearn(x, y):
    m, n = len(x), len(y)
    kxx = polynomial_kernel(x, x, degree=3, gamma=None, coef0=1)
    kyy = polynomial_kernel(y, y, degree=3, gamma=None, coef0=1)
    kxy = polynomial_kernel(x, y, degree=3, gamma=None, coef0=1)
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return float(sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * kxy.sum() / (m * n))


def kid_loop(x, y):
    """Second formulation: explicit double loop over rows, plain Python floats, exact-ish sums via math.fsum."""
    d = x.shape[1]

    def k(a, b):
        return (math.fsum(float(p) * float(q) for p, q in zip(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    sxx = math.fsum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = math.fsum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = math.fsum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return math.fsum([sxx / (m * (m - 1)), syy / (n * (n - 1)), -2.0 * sxy / (m * n)])


# ------------------------------------------------------- memorization
def nearest_sklearn(train, pts):
    """Nearest-neighbour distance via sklearn's brute-force euclidean search.

    sklearn computes brute euclidean distances as sqrt(|a|^2 - 2 a.b + |b|^2), which loses ~1e-12 absolute
    accuracy to cancellation (large relative error for the near-copies at distance ~1e-4). So the neighbour
    index comes from sklearn and the distance is then recomputed directly as ||x - t||_2; sklearn's own
    distance is checked against it to an absolute 1e-9.
    """
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute", metric="euclidean").fit(train)
    dist, idx = nn.kneighbors(pts)
    exact = np.sqrt(((pts - train[idx[:, 0]]) ** 2).sum(axis=1))
    assert np.allclose(dist[:, 0], exact, rtol=0.0, atol=1e-9), np.abs(dist[:, 0] - exact).max()
    return exact, idx[:, 0]


def nearest_scipy(train, pts):
    dm = cdist(pts, train, metric="euclidean")
    return dm.min(axis=1), dm.argmin(axis=1)


def memorization(train, held_out, generated, q):
    dh, ih = nearest_sklearn(train, held_out)
    dg, ig = nearest_sklearn(train, generated)
    dh2, ih2 = nearest_scipy(train, held_out)
    dg2, ig2 = nearest_scipy(train, generated)
    assert (ih == ih2).all() and (ig == ig2).all()
    assert np.allclose(dh, dh2, rtol=REL_TOL, atol=1e-15), np.abs(dh - dh2).max()
    assert np.allclose(dg, dg2, rtol=REL_TOL, atol=1e-15), np.abs(dg - dg2).max()
    tau = float(np.quantile(dh, q))  # default method='linear'
    tau2 = float(np.quantile(dh2, q))
    assert math.isclose(tau, tau2, rel_tol=REL_TOL, abs_tol=1e-15), (tau, tau2)
    # The strict comparison must not sit on a rounding knife-edge between the two distance routines.
    assert ((dg < tau) == (dg2 < tau2)).all()
    share = float(np.count_nonzero(dg < tau)) / len(generated)
    return tau, share, dg


def rows(a):
    return [[float(v) for v in r] for r in np.asarray(a)]


def main():
    rng = np.random.default_rng(SEED)

    # KID cases
    kid_inputs = [
        ("a_shifted_mean_40x3_vs_50x3", rng.standard_normal((40, 3)), rng.normal(0.5, 1.0, (50, 3))),
        ("b_same_distribution_30x8", rng.standard_normal((30, 8)), rng.standard_normal((30, 8))),
        ("c_scaled_by_10_25x2_vs_35x2", 10.0 * rng.standard_normal((25, 2)), rng.standard_normal((35, 2))),
    ]
    kid_cases = []
    for name, x, y in kid_inputs:
        v1 = kid_sklearn(x, y)
        v2 = kid_loop(x, y)
        assert math.isclose(v1, v2, rel_tol=REL_TOL, abs_tol=0.0), (name, v1, v2, abs(v1 - v2) / abs(v2))
        kid_cases.append({"name": name, "x": rows(x), "y": rows(y), "kid": v1})

    # Memorization cases
    train = rng.standard_normal((80, 2))
    held_out = rng.standard_normal((40, 2))
    src = rng.choice(len(train), size=15, replace=False)
    copies = train[src] + 1e-4 * rng.standard_normal((15, 2))
    fresh = rng.standard_normal((35, 2))
    generated = np.concatenate([copies, fresh])[rng.permutation(50)]

    train_c = rng.standard_normal((60, 5))
    held_c = rng.standard_normal((30, 5))
    gen_c = rng.standard_normal((40, 5))

    mem_inputs = [
        ("a_copies_q0.05_80x2", train, held_out, generated, 0.05),
        ("b_copies_q0.01_80x2", train, held_out, generated, 0.01),
        ("c_independent_q0.2_60x5", train_c, held_c, gen_c, 0.2),
    ]
    mem_cases = []
    for name, t, h, g, q in mem_inputs:
        tau, share, dg = memorization(t, h, g, q)
        mem_cases.append(
            {
                "name": name,
                "train": rows(t),
                "held_out": rows(h),
                "generated": rows(g),
                "quantile": q,
                "threshold": tau,
                "nearest_generated": [float(v) for v in dg],
                "memorization": share,
            }
        )

    out = {"kid": kid_cases, "memorization": mem_cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kid_memorization.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    # Round-trip check: every float must read back bit-identical.
    with open(path) as f:
        back = json.load(f)
    assert back == out

    for c in kid_cases:
        print(f"kid {c['name']}: {c['kid']!r}")
    for c in mem_cases:
        print(f"memorization {c['name']}: threshold={c['threshold']!r} memorization={c['memorization']!r}")


if __name__ == "__main__":
    main()
