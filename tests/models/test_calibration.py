"""Epitope calibration to the antigen's size: what it fits, that it never reorders an antigen, and that
runs and ensembles record and apply it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from absites.config import DataConfig, FeatureConfig, ModelConfig, TrainingConfig
from absites.metrics import auprc, auroc, best_mcc_threshold, threshold_metrics
from absites.models.calibration import EpitopeCalibration, fit_calibration
from tests.conftest import SAMPLE_INDEX

IDS = ["1ahw_BA_C", "1e6j_HL_P", "1jps_HL_T"]


def antigens(graph, sizes, seed=0):
    """Copies of ``graph`` with antigens of the given sizes, each binding 15 residues, and scores that rank
    every antigen equally well but on one scale whatever its size (what a per-residue model gives)."""
    rng = np.random.default_rng(seed)
    out, preds = [], {}
    n_ab = int(graph.is_antibody.sum())
    for k, n in enumerate(sizes):
        is_ab = np.r_[np.ones(n_ab, bool), np.zeros(n, bool)]
        y = np.zeros(n_ab + n, np.float32)
        y[n_ab + rng.choice(n, 15, replace=False)] = 1
        g = dataclasses.replace(graph, complex_id=f"c{k}", is_antibody=is_ab, y=y)
        score = 1 / (1 + np.exp(-(1.5 * y + rng.normal(0, 1, n_ab + n) - 1.5)))
        out.append(g)
        preds[g.complex_id] = score
    return out, preds


def pooled(graphs, preds):
    ag = [~g.is_antibody.astype(bool) for g in graphs]
    return (np.concatenate([g.y[m] for g, m in zip(graphs, ag)]).astype(bool),
            np.concatenate([preds[g.complex_id][m] for g, m in zip(graphs, ag)]))


def test_calibration_learns_that_small_antigens_bind_more_of_their_residues_and_keeps_each_ranking(graphs):
    sizes = [40, 60, 100, 150, 250, 400, 600, 900] * 3
    val, val_preds = antigens(graphs[0], sizes, seed=0)
    test, test_preds = antigens(graphs[0], sizes, seed=1)
    cal = fit_calibration(val, val_preds)
    assert cal.active and cal.slope > 0
    assert cal.size == pytest.approx(-1.0, abs=0.25)  # 15 of n bind: the odds fall as 1 / n
    out = cal.apply_all(test, test_preds)
    for g in test:
        ab, ag = g.is_antibody.astype(bool), ~g.is_antibody.astype(bool)
        np.testing.assert_array_equal(out[g.complex_id][ab], test_preds[g.complex_id][ab])  # antibody untouched
        # within an antigen the order is the model's
        np.testing.assert_array_equal(np.argsort(out[g.complex_id][ag], kind="stable"),
                                      np.argsort(test_preds[g.complex_id][ag], kind="stable"))
    y, raw = pooled(test, test_preds)
    _, calibrated = pooled(test, out)
    assert auroc(y, calibrated) > auroc(y, raw) + 0.02 and auprc(y, calibrated) > auprc(y, raw) + 0.02
    # one threshold for every antigen (chosen on val): the calibrated call is the better one
    yv, rv = pooled(val, val_preds)
    _, cv = pooled(val, cal.apply_all(val, val_preds))
    mcc_raw = threshold_metrics(y, raw, best_mcc_threshold(yv, rv))["mcc"]
    mcc_cal = threshold_metrics(y, calibrated, best_mcc_threshold(yv, cv))["mcc"]
    assert mcc_cal > mcc_raw + 0.02
    assert EpitopeCalibration.from_dict(json.loads(json.dumps(cal.as_dict()))) == cal


def test_no_calibration_without_a_ranking_or_without_both_classes(graphs):
    sizes = [50, 100, 200, 400] * 4
    val, preds = antigens(graphs[0], sizes)
    inverted = {k: 1 - p for k, p in preds.items()}  # anti-correlated scores: slope ≤ 0, left off
    assert fit_calibration(val, inverted) == EpitopeCalibration()
    none_bind = [dataclasses.replace(g, y=np.zeros_like(g.y)) for g in val]
    assert fit_calibration(none_bind, preds) == EpitopeCalibration()
    assert fit_calibration(val[:1], preds) == EpitopeCalibration()  # one antigen: size cannot be fitted
    off = EpitopeCalibration()
    g = val[0]
    np.testing.assert_array_equal(off.apply(g, preds[g.complex_id]), preds[g.complex_id])
    assert off.notes(g) == []
    antibody_alone = dataclasses.replace(g, is_antibody=np.ones_like(g.is_antibody))
    on = EpitopeCalibration(2.0, -0.5, 1.0, active=True)
    np.testing.assert_array_equal(on.apply(antibody_alone, preds[g.complex_id]), preds[g.complex_id])
    assert on.notes(antibody_alone) == [] and "residues" in on.notes(g)[0]


def test_runs_and_ensembles_record_their_calibration_and_apply_it_at_prediction(sample_cache, tmp_path, graphs):
    from absites.train.run import load_run, train_ensemble, train_run

    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    plain = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), None, tmp_path / "plain", workers=1)
    cal = train_run(ModelConfig("prior"), TrainingConfig(epitope_calibration=True), data, FeatureConfig(), None,
                    tmp_path / "cal", workers=1)
    raw_fn, raw_meta, _ = load_run(plain.out_dir)
    fn, meta, _ = load_run(cal.out_dir)
    assert "epitope_calibration" not in raw_meta
    chosen = EpitopeCalibration.from_dict(meta["epitope_calibration"])
    assert chosen.active  # the RSA prior ranks the sample's epitopes: a positive slope
    g = graphs[0]
    np.testing.assert_allclose(fn([g])[g.complex_id], chosen.apply(g, raw_fn([g])[g.complex_id]))
    assert any("calibrated to the antigen's size" in n for n in fn.notes(g))
    assert cal.val_metrics["paratope"] == plain.val_metrics["paratope"]  # the antibody side is untouched

    gbm = train_run(ModelConfig("gbm", {"max_iter": 20}), TrainingConfig(), data, FeatureConfig(), None,
                    tmp_path / "gbm", workers=1)
    raw_ens = train_ensemble([plain.out_dir, gbm.out_dir], data, tmp_path / "ens", workers=1)
    ens = train_ensemble([plain.out_dir, gbm.out_dir], data, tmp_path / "ens-cal", workers=1, calibrate=True)
    state = json.loads((tmp_path / "ens-cal" / "ensemble.json").read_text())
    assert state["calibration"]["active"] and state["meta"]["model_params"]["calibrate"] is True
    e_fn = load_run(tmp_path / "ens")[0]
    c_fn = load_run(tmp_path / "ens-cal")[0]
    calibration = EpitopeCalibration.from_dict(state["calibration"])
    np.testing.assert_allclose(c_fn([g])[g.complex_id], calibration.apply(g, e_fn([g])[g.complex_id]))
    assert any("calibrated" in n for n in c_fn.notes(g, "epitope"))
    assert not any("calibrated" in n for n in c_fn.notes(g, "paratope"))
    assert ens.val_metrics["paratope"] == raw_ens.val_metrics["paratope"]
