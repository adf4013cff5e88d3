"""Epitope focus on real sample complexes: the weights around the peak, the choice on validation, and how
runs and ensembles record and apply it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from absites.config import DataConfig, FeatureConfig, ModelConfig, TrainingConfig
from absites.metrics import auprc
from absites.models.focus import EpitopeFocus, choose_focus
from conftest import SAMPLE_INDEX

IDS = ["1ahw_BA_C", "1egj_HL_A", "1kb5_HL_AB"]


def _epitope_auprc(graphs, preds):
    ags = [~g.is_antibody.astype(bool) for g in graphs]
    return auprc(np.concatenate([g.y[a] for g, a in zip(graphs, ags)]).astype(bool),
                 np.concatenate([preds[g.complex_id][a] for g, a in zip(graphs, ags)]))


def _with_decoy(g, rng):
    """The true epitope at 0.6, a decoy patch (12 Å around the antigen residue farthest from it) at 0.4,
    the rest at 0.1, all under noise: what a per-residue model gives a two-domain antigen."""
    antigen = np.flatnonzero(~g.is_antibody.astype(bool))
    epitope = antigen[g.y[antigen] > 0]
    far = antigen[np.argmax(np.linalg.norm(g.pos_ca[antigen] - g.pos_ca[epitope].mean(0), axis=1))]
    decoy = antigen[np.linalg.norm(g.pos_ca[antigen] - g.pos_ca[far], axis=1) < 12.0]
    p = np.full(g.num_nodes, 0.1)
    p[decoy], p[epitope] = 0.4, 0.6
    return np.clip(p + rng.normal(0, 0.15, g.num_nodes), 0.01, 0.99), decoy


def test_weights_fall_with_the_distance_from_the_best_patch_to_the_floor(graphs):
    g = graphs[0]
    ab = g.is_antibody.astype(bool)
    p, decoy = _with_decoy(g, np.random.default_rng(0))
    focus = EpitopeFocus(sigma=8.0, radius=10.0, floor=0.3)
    out = focus.apply(g, p)
    np.testing.assert_array_equal(out[ab], p[ab])  # the antibody side is untouched
    antigen = np.flatnonzero(~ab)
    w = out[antigen] / p[antigen]
    assert np.all(w <= 1.0 + 1e-12) and np.all(w >= 0.3 - 1e-12)
    # the peak lies in the true epitope (it scores higher), so the epitope keeps most of its score and the
    # decoy, ≥ 20 Å away on these antigens, falls to about the floor
    epitope = antigen[g.y[antigen] > 0]
    assert np.median(out[epitope] / p[epitope]) > 0.6
    assert np.median(out[decoy] / p[decoy]) < 0.4
    np.testing.assert_array_equal(EpitopeFocus().apply(g, p), p)  # floor 1: off
    assert not EpitopeFocus().active and EpitopeFocus().notes(g) == []
    assert "best-scoring patch" in focus.notes(g)[0]
    with pytest.raises(ValueError, match="floor"):
        EpitopeFocus(floor=1.5)


def test_choice_on_validation_focuses_decoyed_scores_and_leaves_clean_scores_alone(graphs):
    rng = np.random.default_rng(1)
    decoyed = {g.complex_id: _with_decoy(g, rng)[0] for g in graphs}
    clean = {g.complex_id: g.y.astype(float) for g in graphs}  # already perfect: nothing to gain
    chosen = choose_focus(graphs, decoyed)
    assert chosen.active
    assert _epitope_auprc(graphs, chosen.apply_all(graphs, decoyed)) > _epitope_auprc(graphs, decoyed) + 0.05
    assert choose_focus(graphs, clean) == EpitopeFocus()


def test_runs_and_ensembles_record_their_focus_and_apply_it_at_prediction(sample_cache, tmp_path, graphs):
    from absites.train.run import load_run, train_ensemble, train_run

    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    plain = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), None, tmp_path / "plain", workers=1)
    focused = train_run(ModelConfig("prior"), TrainingConfig(epitope_focus=True), data, FeatureConfig(), None,
                        tmp_path / "focus", workers=1)
    raw_fn, raw_meta, _ = load_run(plain.out_dir)
    fn, meta, _ = load_run(focused.out_dir)
    assert "epitope_focus" not in raw_meta and "epitope_focus" in meta
    chosen = EpitopeFocus.from_dict(meta["epitope_focus"])
    g = graphs[0]
    np.testing.assert_allclose(fn([g])[g.complex_id], chosen.apply(g, raw_fn([g])[g.complex_id]))
    assert focused.val_metrics["paratope"] == plain.val_metrics["paratope"]
    assert focused.val_metrics["epitope"]["auprc"] >= plain.val_metrics["epitope"]["auprc"]  # off unless it gains

    gbm = train_run(ModelConfig("gbm", {"max_iter": 20}), TrainingConfig(), data, FeatureConfig(), None,
                    tmp_path / "gbm", workers=1)
    raw_ens = train_ensemble([plain.out_dir, gbm.out_dir], data, tmp_path / "ens", workers=1)
    ens = train_ensemble([plain.out_dir, gbm.out_dir], data, tmp_path / "ens-focus", workers=1, focus=True,
                         calibrate=True)
    state = json.loads((tmp_path / "ens-focus" / "ensemble.json").read_text())
    assert state["meta"]["model_params"]["focus"] is True and state["focus"] is not None
    from absites.models.calibration import EpitopeCalibration

    focus, calibration = EpitopeFocus.from_dict(state["focus"]), EpitopeCalibration.from_dict(state["calibration"])
    e_fn, f_fn = load_run(tmp_path / "ens")[0], load_run(tmp_path / "ens-focus")[0]
    # focus first, then the calibration fitted on the focused scores
    np.testing.assert_allclose(f_fn([g])[g.complex_id], calibration.apply(g, focus.apply(g, e_fn([g])[g.complex_id])))
    assert ens.val_metrics["paratope"] == raw_ens.val_metrics["paratope"]
    assert (any("best-scoring patch" in n for n in f_fn.notes(g, "epitope")) == focus.active)
    assert not any("best-scoring patch" in n for n in f_fn.notes(g, "paratope"))
