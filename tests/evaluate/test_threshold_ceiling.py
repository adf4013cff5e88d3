"""bench/threshold_ceiling.py: the calling rules and their ceilings, on scores with known answers."""

from __future__ import annotations

import numpy as np

from conftest import bench_script


def _module():
    return bench_script("threshold_ceiling")


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


def _antigen(rng, n=250, decoys=6):
    """Cα positions in a 35 Å box (one per 170 Å³, about a protein's packing); the epitope = residues within
    10 Å of one point, scored 0.6 ± 0.05; ``decoys`` isolated non-epitope residues far from it scored 0.7;
    the rest 0.2 ± 0.05."""
    pos = rng.uniform(0, 35, (n, 3))
    centre = pos[0]
    d = np.linalg.norm(pos - centre, axis=1)
    y = d < 10.0
    s = np.where(y, 0.6, 0.2) + rng.uniform(-0.05, 0.05, n)
    far = np.flatnonzero(d > 22.0)
    s[rng.choice(far, decoys, replace=False)] = 0.7
    return y, s, pos


def test_patch_focus_removes_scattered_false_positives_of_a_compact_epitope():
    mod = _module()
    rng = np.random.default_rng(2)
    val, test = [_antigen(rng) for _ in range(8)], [_antigen(rng) for _ in range(8)]
    plain = mod.rule_scores([(y, s) for y, s, _ in val], [(y, s) for y, s, _ in test])
    focused = mod.patch_focus_scores(val, test)
    # the decoys outscore the epitope: no cut of the raw scores is clean, the focus is
    assert plain["test threshold"] < 0.95
    assert focused["val patch focus"] == 1.0 and focused["patch focus AUROC"] == 1.0
    # the centre found is the epitope's: focused scores keep the epitope above every other residue
    for (y, s), (_, _, pos) in zip(mod.focus(test, 8.0, 20.0), test):
        assert s[y].min() > s[~y].max()
