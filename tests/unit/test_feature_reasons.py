"""The batch form of the score's reasons ranks exactly as the per-row form does."""

from __future__ import annotations

import random

import numpy as np

from udf_service import features


def test_reasons_of_a_batch_equal_the_reasons_of_each_row() -> None:
    rng = random.Random(5)
    n = len(features.FEATURES)
    meta = {
        "means": [rng.uniform(-2, 2) for _ in range(n)],
        "scales": [0.0 if i == 3 else rng.uniform(0.1, 3) for i in range(n)],  # a constant feature
        "importances": [rng.choice([0.0, 0.1, 0.1, rng.random()]) for _ in range(n)],  # ties too
    }
    rows = [[rng.uniform(-6, 6) for _ in range(n)] for _ in range(300)]
    rows.append(list(meta["means"]))  # a row at the average: no reason at all
    batch = features.reasons_of(np.asarray(rows, dtype=np.float32), meta)
    single = [
        features.reasons(np.asarray(r, dtype=np.float32).tolist(), meta["means"], meta["scales"], meta["importances"])
        for r in rows
    ]
    assert batch == single
    assert batch[-1] == []
