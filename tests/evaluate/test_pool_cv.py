"""bench/pool_cv.py: folds that keep antigen families together, and out-of-fold choices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import bench_script

IDS = ["1ahw_BA_C", "1egj_HL_A", "1kb5_HL_AB", "1bgx_HL_T", "1fns_HL_A", "1jps_HL_T"]


@pytest.fixture(scope="module")
def mod():
    return bench_script("pool_cv")


def test_folds_keep_each_cluster_whole_and_balance_the_rest(mod):
    # one family of 6, two of 3, eight singletons: 20 complexes in 4 folds
    clusters = {f"c{i}": c for i, c in enumerate([0] * 6 + [1] * 3 + [2] * 3 + list(range(3, 11)))}
    ids = list(clusters)
    fold = mod.fold_of(ids, clusters, 4, seed=0)
    for c in set(clusters.values()):
        assert len({fold[i] for i, cid in enumerate(ids) if clusters[cid] == c}) == 1
    sizes = np.bincount(fold, minlength=4)
    assert sizes.sum() == 20 and sizes.max() == 6 and sizes.min() >= 4  # the big family alone fills its fold
    assert (mod.fold_of(ids, clusters, 4, seed=0) == fold).all()  # seeded


def test_perfect_scores_score_one_and_smoothing_stays_off(mod, graphs):
    preds = {g.complex_id: g.y.astype(float) for g in graphs}
    fold = np.arange(len(graphs)) % 3
    got = mod.summarise(graphs, fold, preds)
    assert got["epitope AUROC raw"] == pytest.approx(1.0) and got["epitope AUPRC raw"] == pytest.approx(1.0)
    assert got["within-antigen AUROC raw"] == pytest.approx(1.0)
    assert got["epitope MCC raw"] == pytest.approx(1.0)  # a cut chosen on the other folds separates 0 from 1
    assert got["epitope AUROC smoothed"] == pytest.approx(1.0)  # nothing to gain: the smoothing stays off
    assert got["paratope AUPRC"] == pytest.approx(1.0)


def test_random_scores_score_chance(mod, graphs):
    rng = np.random.default_rng(0)
    preds = {g.complex_id: rng.random(g.num_nodes) for g in graphs}
    got = mod.summarise(graphs, np.arange(len(graphs)) % 3, preds)
    assert abs(got["epitope AUROC raw"] - 0.5) < 0.08 and abs(got["epitope MCC raw"]) < 0.1
