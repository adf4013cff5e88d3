"""Epitope patch smoothing on real sample complexes: the kernel, what it changes, how it is chosen on
validation, and how a run records and applies it."""

from __future__ import annotations

import numpy as np
import pytest

from absites.config import DataConfig, FeatureConfig, ModelConfig, TrainingConfig
from absites.metrics import auprc
from absites.models.smoothing import EpitopeSmoothing, choose_smoothing, neighbour_kernel
from conftest import SAMPLE_INDEX

IDS = ["1ahw_BA_C", "1egj_HL_A", "1kb5_HL_AB"]


def test_kernel_rows_are_normalised_gaussians_cut_at_three_sigma():
    pos = np.array([[0.0, 0, 0], [4.0, 0, 0], [100.0, 0, 0]])
    k = neighbour_kernel(pos, 4.0).toarray()
    np.testing.assert_allclose(k.sum(1), 1.0)
    w = np.exp(-16 / 32)  # d = σ: exp(-1/2)
    np.testing.assert_allclose(k[0, :2], [1 / (1 + w), w / (1 + w)])
    np.testing.assert_allclose(k[2], [0, 0, 1])  # 100 Å away: alone
    assert neighbour_kernel(pos, 30.0).toarray()[0, 2] == 0  # 100 Å > 3σ = 90 Å


def test_apply_changes_antigen_scores_only_and_keeps_constants(graphs):
    g = graphs[0]
    ab = g.is_antibody.astype(bool)
    rng = np.random.default_rng(0)
    p = rng.random(g.num_nodes)
    s = EpitopeSmoothing(8.0, 0.5).apply(g, p)
    np.testing.assert_array_equal(s[ab], p[ab])
    assert not np.allclose(s[~ab], p[~ab])
    assert s[~ab].std() < p[~ab].std()  # averaging narrows the spread
    np.testing.assert_allclose(EpitopeSmoothing(8.0, 0.75).apply(g, np.full(g.num_nodes, 0.3)), 0.3)
    np.testing.assert_array_equal(EpitopeSmoothing(8.0, 0.0).apply(g, p), p)
    # a spike spreads to residues within a few σ of it and no further
    antigen = np.flatnonzero(~ab)
    spike = np.zeros(g.num_nodes)
    spike[antigen[0]] = 1.0
    out = EpitopeSmoothing(4.0, 1.0).apply(g, spike)
    d = np.linalg.norm(g.pos_ca[antigen] - g.pos_ca[antigen[0]], axis=1)
    assert (out[antigen][d > 12.0] == 0).all() and (out[antigen][d < 4.0] > 0).all()
    with pytest.raises(ValueError, match="sigma > 0"):
        EpitopeSmoothing(0.0, 0.5)


def test_choice_on_validation_smooths_noisy_patches_and_leaves_clean_scores_alone(graphs):
    rng = np.random.default_rng(1)
    noisy, clean = {}, {}
    for g in graphs:
        y = g.y.astype(float)
        noisy[g.complex_id] = np.clip(0.3 * y + rng.random(g.num_nodes), 0, None)  # true patch under noise
        clean[g.complex_id] = y.copy()  # already perfect: nothing to gain
    chosen = choose_smoothing(graphs, noisy)
    assert chosen.active

    def epitope_auprc(preds):
        ys = np.concatenate([g.y[~g.is_antibody.astype(bool)] for g in graphs])
        return auprc(ys.astype(bool), np.concatenate([preds[g.complex_id][~g.is_antibody.astype(bool)] for g in graphs]))

    assert epitope_auprc(chosen.apply_all(graphs, noisy)) > epitope_auprc(noisy) + 0.05
    assert choose_smoothing(graphs, clean) == EpitopeSmoothing()  # off


def test_a_run_records_its_smoothing_and_applies_it_at_prediction(sample_cache, tmp_path, graphs):
    from absites.train.run import load_run, train_run

    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    plain = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), None, tmp_path / "plain", workers=1)
    smooth = train_run(ModelConfig("prior"), TrainingConfig(epitope_smoothing=True), data, FeatureConfig(), None,
                       tmp_path / "smooth", workers=1)
    raw_fn, raw_meta, _ = load_run(plain.out_dir)
    fn, meta, _ = load_run(smooth.out_dir)
    assert "epitope_smoothing" not in raw_meta
    chosen = EpitopeSmoothing(**meta["epitope_smoothing"])
    g = graphs[0]
    np.testing.assert_allclose(fn([g])[g.complex_id], chosen.apply(g, raw_fn([g])[g.complex_id]))
    assert raw_fn.notes(g) == []
    # the positional prior's sample-val epitope scores gain from smoothing (σ 16 Å, w 0.75 when written)
    assert chosen.active and "chosen on validation" in fn.notes(g)[0]
    assert smooth.val_metrics["epitope"]["auprc"] > plain.val_metrics["epitope"]["auprc"]
    assert smooth.val_metrics["paratope"] == plain.val_metrics["paratope"]  # the antibody side is untouched
