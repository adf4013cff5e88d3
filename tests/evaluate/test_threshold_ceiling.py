"""bench/threshold_ceiling.py: the calling rules and their ceilings, on scores with known answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "threshold_ceiling.py"


def _module():
    spec = importlib.util.spec_from_file_location("threshold_ceiling", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_perfect_scores_reach_mcc_one_with_either_rule():
    mod = _module()
    rng = np.random.default_rng(0)
    pairs = []
    for n in (80, 150, 300):  # three antigens with 10 epitope residues each, scored perfectly
        y = np.zeros(n, dtype=bool)
        y[rng.choice(n, 10, replace=False)] = True
        pairs.append((y, np.where(y, 0.9, 0.1) + rng.uniform(-0.05, 0.05, n)))
    scores = mod.rule_scores(pairs, pairs)
    assert scores == {"val threshold": 1.0, "val top-k": 1.0, "test threshold": 1.0, "test top-k": 1.0}


def test_the_test_chosen_cut_bounds_the_val_chosen_one():
    mod = _module()
    rng = np.random.default_rng(1)

    def noisy(n_antigens):
        out = []
        for _ in range(n_antigens):
            y = rng.random(200) < 0.1
            out.append((y, np.clip(0.3 * y + rng.normal(0.35, 0.15, 200), 0, 1)))
        return out

    scores = mod.rule_scores(noisy(6), noisy(6))
    assert scores["val threshold"] <= scores["test threshold"] and scores["val top-k"] <= scores["test top-k"]
    assert 0.0 < scores["test threshold"] < 1.0
