"""Metrics: values worked by hand, agreement with scikit-learn (ties included), NaN when undefined."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from absites.metrics import all_metrics, auprc, auroc, bagged_mcc_threshold, best_mcc_threshold


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 3000))
    y = rng.random(n) < rng.uniform(0.03, 0.5)
    y[0], y[1] = True, False
    score = rng.random(n)
    if seed % 2:
        score = np.round(score, 1)  # many ties
    got = all_metrics(y, score, 0.5)
    pred = score >= 0.5
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    assert got["auprc"] == pytest.approx(skm.average_precision_score(y, score), abs=1e-12)
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=np.nan), abs=1e-12, nan_ok=True)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)


def test_mcc_of_an_empty_confusion_row_or_column_is_zero_as_in_sklearn():
    y = np.array([1, 0, 1, 0, 0], bool)
    for score in (np.ones(5), np.zeros(5), np.array([0.9, 0.1, 0.8, 0.2, 0.3])):  # all called, none, perfect
        pred = score >= 0.5
        assert all_metrics(y, score, 0.5)["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert all_metrics(np.zeros(5, bool), np.linspace(0, 1, 5), 0.5)["mcc"] == 0.0  # one class


def test_undefined_is_nan_and_bad_scores_are_refused():
    assert np.isnan(auroc(np.zeros(5), np.arange(5)))
    assert np.isnan(auprc(np.zeros(5), np.arange(5)))
    y = np.array([1, 0, 1, 0], bool)
    for bad in (np.array([0.1, np.nan, 0.3, 0.2]), np.array([0.1, np.inf, 0.3, 0.2])):
        with pytest.raises(ValueError, match="NaN or infinity"):
            auroc(y, bad)
        with pytest.raises(ValueError, match="NaN or infinity"):
            auprc(y, bad)
    with pytest.raises(ValueError, match="4 labels but 3 scores"):
        auroc(y, np.array([0.1, 0.2, 0.3]))


def test_best_threshold_separates():
    y = np.r_[np.zeros(50), np.ones(50)].astype(bool)
    s = np.r_[np.full(50, 0.2), np.full(50, 0.3)]
    t = best_mcc_threshold(y, s)
    assert 0.2 < t <= 0.3


def test_bagged_threshold_is_the_median_of_resampled_argmaxes():
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(7):
        n = int(rng.integers(40, 300))
        y = rng.random(n) < 0.1
        pairs.append((y, np.clip(0.25 * y + rng.random(n) * 0.6, 0, 1)))
    # the definition, pool by pool: each resample of complexes pooled, its MCC-argmax, their median
    draws = np.random.default_rng(11)
    argmaxes = []
    for _ in range(8):
        idx = draws.integers(0, len(pairs), len(pairs))
        y = np.concatenate([pairs[i][0] for i in idx])
        s = np.concatenate([pairs[i][1] for i in idx])
        argmaxes.append(round(best_mcc_threshold(y, s) * 100) - 1)
    expected = (int(np.median(argmaxes)) + 1) / 100
    assert bagged_mcc_threshold(pairs, n_boot=8, seed=11) == pytest.approx(expected)
    # one complex, or one complex repeated (MCC does not change when every count doubles): the plain argmax
    one = best_mcc_threshold(*pairs[0])
    assert bagged_mcc_threshold(pairs[:1]) == pytest.approx(one)
    assert bagged_mcc_threshold([pairs[0]] * 5) == pytest.approx(one)


def test_values_worked_by_hand():
    # ranks: 0.9 (+), 0.8 (-), 0.3 (+), 0.1 (-). AUROC: 3 of 4 (+, -) pairs in order. AP: precision 1 at
    # recall 1/2, 2/3 at recall 1 -> (1 + 2/3) / 2. At 0.5: tp = fp = tn = fn = 1 -> MCC 0, precision 1/2.
    got = all_metrics(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.8, 0.3, 0.1]), 0.5)
    assert got["auroc"] == pytest.approx(0.75) and got["auprc"] == pytest.approx(5 / 6)
    assert got["mcc"] == 0.0 and got["precision"] == 0.5 and got["recall"] == 0.5 and got["f1"] == 0.5
