"""Independent reference values for ddmsim's metrics and schedules (numpy + scipy).

Run from this folder:  pip install numpy scipy && python3 make_golden.py  (golden.json was made with numpy 2.4.6, scipy 1.17.1)
It writes golden.json, which tests/golden.rs reads. The inputs are stored in the file too, so the Rust side
never has to reproduce numpy's random generator.
"""
import json
import math

import numpy as np
from scipy import linalg, stats


def frechet_scipy(a, b):
    """The FID formula as in pytorch-fid: ||mu1-mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def pdist(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def mmd2_unbiased(x, y, h):
    kxx = np.exp(-pdist(x, x) ** 2 / (2 * h * h))
    kyy = np.exp(-pdist(y, y) ** 2 / (2 * h * h))
    kxy = np.exp(-pdist(x, y) ** 2 / (2 * h * h))
    m, n = len(x), len(y)
    np.fill_diagonal(kxx, 0)
    np.fill_diagonal(kyy, 0)
    return float(kxx.sum() / (m * (m - 1)) + kyy.sum() / (n * (n - 1)) - 2 * kxy.sum() / (m * n))


def median_pairwise(x):
    d = pdist(x, x)
    iu = np.triu_indices(len(x), 1)
    return float(np.median(d[iu]))


def kth_radius(x, k):
    d = pdist(x, x)
    # The (k+1)-th smallest includes the point itself at distance 0, as in the prdc package.
    return np.sort(d, axis=1)[:, k]


def prdc(real, fake, k):
    """Naeem et al. (2020), following the reference `prdc` package."""
    rr = kth_radius(real, k)
    fr = kth_radius(fake, k)
    d = pdist(real, fake)
    precision = (d < rr[:, None]).any(axis=0).mean()
    recall = (d < fr[None, :]).any(axis=1).mean()
    density = (1.0 / k) * (d < rr[:, None]).sum(axis=0).mean()
    coverage = (d.min(axis=1) < rr).mean()
    return dict(precision=float(precision), recall=float(recall), density=float(density), coverage=float(coverage))


def cosine_alpha_bar(T, s=0.008):
    """improved-diffusion's betas_for_alpha_bar with the cosine alpha_bar, then cumprod(1 - beta)."""
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)])
    return np.cumprod(1.0 - betas)


def main():
    rng = np.random.default_rng(20261125)
    a = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 1.5]])
    b = rng.normal(size=(250, 3)) * np.array([0.7, 1.2, 0.9]) + np.array([0.5, -0.2, 1.0])
    h = median_pairwise(b)
    real = rng.normal(size=(120, 2))
    fake = rng.normal(size=(90, 2)) * 1.3 + 0.4
    abar = cosine_alpha_bar(1000)
    idx = [0, 1, 10, 100, 250, 500, 750, 900, 990, 999]
    # Rank correlation with ties (values rounded to one decimal) and the 95th percentile, drawn after the rest
    # so that earlier golden values keep their draws.
    u = np.round(rng.normal(size=200), 1)
    v = np.round(u**3 + rng.normal(size=200) * 0.5, 1)
    out = dict(
        a=a.tolist(),
        b=b.tolist(),
        fd=frechet_scipy(a, b),
        bandwidth=h,
        mmd2=mmd2_unbiased(a, b, h),
        real=real.tolist(),
        fake=fake.tolist(),
        k=5,
        prdc=prdc(real, fake, 5),
        cosine_index=idx,
        cosine_alpha_bar=[float(abar[i]) for i in idx],
        rank_u=u.tolist(),
        rank_v=v.tolist(),
        spearman=float(stats.spearmanr(u, v).statistic),
        quantile95=float(np.quantile(v, 0.95)),
    )
    with open("golden.json", "w") as fh:
        json.dump(out, fh, indent=1)
    print("fd", out["fd"], "mmd2", out["mmd2"], "prdc", out["prdc"])


if __name__ == "__main__":
    main()
