"""Golden partition sizes from Flower Datasets, for ddmsim's `linear`, `square`, `exponential` and `shard` kinds.

Run from this folder:  pip install flwr-datasets datasets && python3 generate.py
(sizes.json was made with flwr-datasets 0.6.1, datasets 4.8.5, numpy 2.4.6.)
It writes sizes.json, which src/partition/flower_golden.rs reads. Each case runs Flower's own partitioner on a
small labelled data set (Dataset.from_dict with a `label` column of known counts) and stores the size of every
partition in partition-id order, or `"error"` where Flower refuses the configuration. Only configurations whose
sizes Flower fixes without randomness are stored (the shard sizes depend on Flower's generator only when an
incomplete shard is kept and may or may not be drawn). For `exponential` the sum of the units e^1 + ... + e^M is
stored as the bits of the float64 numpy computes (pairwise summation), which ddmsim must reproduce bit for bit
(see exp_totals).
"""
import json
import math
import struct
import warnings

import datasets
import flwr_datasets
import numpy as np
from flwr_datasets.partitioner import (
    ExponentialPartitioner,
    LinearPartitioner,
    ShardPartitioner,
    SquarePartitioner,
)

warnings.simplefilter("ignore")
datasets.disable_progress_bars()

SIZE_RULES = {"linear": LinearPartitioner, "square": SquarePartitioner, "exponential": ExponentialPartitioner}


def dataset(n, classes=10):
    """n rows; label i % classes, so every class count is known (n // classes, one more for the first n % classes)."""
    return datasets.Dataset.from_dict({"x": list(range(n)), "label": [i % classes for i in range(n)]})


def sizes_of(partitioner, n):
    """Flower's partition sizes in partition-id order, or "error" when Flower raises."""
    partitioner.dataset = dataset(n)
    try:
        return [len(partitioner.load_partition(i)) for i in range(partitioner.num_partitions)]
    except (ValueError, ZeroDivisionError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def size_cases():
    cases = []
    for kind, cls in SIZE_RULES.items():
        for n in [10, 97, 1000, 1438, 16000, 100000]:
            for clients in [1, 2, 3, 5, 7, 8, 9, 10, 13, 16, 17, 20, 30, 100]:
                if clients > n:
                    continue
                cases.append({"kind": kind, "n": n, "clients": clients, "sizes": sizes_of(cls(clients), n)})
    return cases


def exp_totals():
    """Bits of numpy's sum of e^1..e^M (the units ExponentialPartitioner divides by), M = 1..709.

    The units are the correctly rounded e^k of the C library (math.exp, as Rust's f64::exp), not np.exp: numpy's
    AVX-512 exp is 1 ulp off at 31 of these k (the first is k = 22), so np.exp depends on the machine. That never
    changes a size in practice: with 22 or more clients the first client's share is below 5e-10, so Flower refuses
    any data set of fewer than two billion points. What this checks is numpy's pairwise summation, bit for bit.
    """
    return [
        {"clients": m, "total_bits": bits(np.array([math.exp(k) for k in range(1, m + 1)]).sum())}
        for m in range(1, 710)
    ]


# (n, clients, shards_per_client, shard_size, keep_incomplete_shard); None = Flower's default (not given).
SHARD_CASES = [
    # shards_per_client alone: shard size floor(n / (clients * shards_per_client)).
    (16000, 100, 2, None, False),
    (1438, 50, 2, None, False),
    (1000, 7, 3, None, False),
    (110, 4, 5, None, False),
    (100, 3, 2, None, False),
    (12, 3, 4, None, False),
    (10, 3, 4, None, False),  # shard size 0: Flower refuses
    (5, 6, 1, None, False),  # more clients than rows
    # shard_size alone: as many whole shards as fit, dealt out (the first clients get one more).
    (1000, 7, None, 30, False),
    (16000, 100, None, 150, False),
    (100, 3, None, 7, False),
    (1438, 10, None, 1438, False),  # one shard for ten clients: Flower refuses
    # shard_size alone, the incomplete shard kept: fixed sizes only when no shard is incomplete.
    (1000, 7, None, 50, True),
    (1000, 30, None, 50, True),  # 20 shards for 30 clients: Flower refuses
    # both: every client gets shards_per_client shards of shard_size.
    (1000, 10, 2, 40, False),
    (1000, 10, 2, 40, True),
    (1000, 10, 3, 30, False),  # 33 whole shards, 30 of them used
    (1000, 10, 3, 32, True),
    (1000, 10, 3, 34, False),  # 1020 rows needed: Flower refuses
    (1000, 10, 3, 34, True),
    (1000, 10, 3, 40, False),
    # shards_per_client alone with the incomplete shard kept: fixed sizes when no shard is incomplete.
    (1000, 10, 2, None, True),
    (12, 3, 2, None, True),
]


def shard_cases():
    cases = []
    for n, clients, per, size, keep in SHARD_CASES:
        p = ShardPartitioner(
            num_partitions=clients,
            partition_by="label",
            num_shards_per_partition=per,
            shard_size=size,
            keep_incomplete_shard=keep,
        )
        cases.append(
            {
                "kind": "shard",
                "n": n,
                "clients": clients,
                "shards_per_client": per,
                "shard_size": size,
                "keep_incomplete_shard": keep,
                "sizes": sizes_of(p, n),
            }
        )
    return cases


def main():
    out = {
        "made_with": {
            "flwr_datasets": flwr_datasets.__version__ if hasattr(flwr_datasets, "__version__") else "unknown",
            "datasets": datasets.__version__,
            "numpy": np.__version__,
        },
        "size_rules": size_cases(),
        "exponential_totals": exp_totals(),
        "shard": shard_cases(),
    }
    # One case per line, so a change shows as the cases it changes.
    lines = ["{", f' "made_with": {json.dumps(out["made_with"])},']
    for key in ["size_rules", "exponential_totals", "shard"]:
        lines.append(f' "{key}": [')
        items = [f"  {json.dumps(case)}" for case in out[key]]
        lines.append(",\n".join(items))
        lines.append(" ]" + ("," if key != "shard" else ""))
    lines.append("}")
    with open("sizes.json", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
