"""Binary classification metrics at residue level, written on numpy.

AUROC is the rank statistic (ties get average ranks); AUPRC is average
precision (the step-wise area, as ``sklearn.metrics.average_precision_score``);
MCC, precision, recall and F1 at a threshold. Agreement with scikit-learn is a
test. Undefined values (one class only) are NaN, never a silent 0 or 1.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

METRIC_NAMES: tuple[str, ...] = ("auroc", "auprc", "mcc", "precision", "recall", "f1")


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision: Σ (R_k − R_{k−1}) P_k over distinct score thresholds."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s, t = np.asarray(score, dtype=np.float64)[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(~t)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each distinct score
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    return int((y & pred).sum()), int((~y & pred).sum()), int((~y & ~pred).sum()), int((y & ~pred).sum())


def threshold_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    tp, fp, tn, fn = confusion(y, np.asarray(score) >= threshold)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    denom = np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / denom if denom > 0 else 0.0 if tp + fp + tn + fn else float("nan")
    return {"mcc": float(mcc), "precision": float(precision), "recall": float(recall), "f1": float(f1)}


def all_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    return {"auroc": auroc(y, score), "auprc": auprc(y, score), **threshold_metrics(y, score, threshold)}


def best_mcc_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold (among 99 quantile-free grid points in (0, 1)) with the highest MCC: chosen on validation."""
    grid = np.linspace(0.01, 0.99, 99)
    values = [threshold_metrics(y, score, t)["mcc"] for t in grid]
    return float(grid[int(np.nanargmax(values))])
