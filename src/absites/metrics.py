"""Scores of residue predictions, one implementation for every stage (a leaf module: models, train and
evaluate import it; it imports no stage).

Metrics: AUROC and AUPRC (average precision), equal to scikit-learn's (tested) and computed in one sort;
MCC, precision, recall and F1 at a threshold. Undefined values (one class only) are NaN, never a silent 0 or 1.

Tasks (the reference's protocol):

* ``paratope``: antibody residues inside CDRs (Chothia ±2 by default, as in the records);
* ``epitope``: all antigen residues;
* ``epitope_surface``: antigen residues with relative SASA ≥ 0.05 (reported apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: any object with the record's arrays will do
    from absites.graph.build import ResidueGraph

METRIC_NAMES: tuple[str, ...] = ("auroc", "auprc", "mcc", "precision", "recall", "f1")


def _descending(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels sorted by descending score, and the index of the last item of each run of equal scores."""
    if y.shape != score.shape:
        raise ValueError(f"{y.size} labels but {score.size} scores")
    if not np.isfinite(score).all():
        raise ValueError("scores contain NaN or infinity")
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    return y[order], np.r_[np.flatnonzero(np.diff(s)), s.size - 1]


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: trapezoids between distinct score thresholds, so tied scores count half
    (the Mann–Whitney statistic; scikit-learn's ``roc_auc_score``, computed in one sort)."""
    y = np.asarray(y).astype(bool).ravel()
    if y.all() or not y.any():
        return float("nan")
    score = np.asarray(score, dtype=np.float64).ravel()
    ys, last = _descending(y, score)
    tps = np.cumsum(ys)[last].astype(np.float64)  # positives and negatives above each distinct threshold
    fps = (last + 1) - tps
    # trapezoids between consecutive thresholds of the ROC curve, from (0, 0)
    tpr, fpr = np.r_[0.0, tps] / tps[-1], np.r_[0.0, fps] / fps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision: Σ (R_k − R_{k−1}) P_k over distinct score thresholds (scikit-learn's
    ``average_precision_score``, computed in one sort)."""
    y = np.asarray(y).astype(bool).ravel()
    if not y.any():
        return float("nan")
    score = np.asarray(score, dtype=np.float64).ravel()
    ys, last = _descending(y, score)
    tps = np.cumsum(ys)[last].astype(np.float64)
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    return int((y & pred).sum()), int((~y & pred).sum()), int((~y & ~pred).sum()), int((y & ~pred).sum())


def mcc_from_counts(tp, fp, tn, fn):
    """Matthews correlation from confusion counts (scalars or arrays); 0 where a row or column of the
    confusion matrix is empty (scikit-learn's convention)."""
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return np.divide(tp * tn - fp * fn, den, out=np.zeros_like(den), where=den > 0)


def threshold_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """MCC (0 when a row or column of the confusion matrix is empty, as in scikit-learn), precision, recall, F1."""
    y, pred = np.asarray(y).astype(bool), np.asarray(score) >= threshold
    tp, fp, tn, fn = confusion(y, pred)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    mcc = float(mcc_from_counts(tp, fp, tn, fn)) if y.size else float("nan")
    return {"mcc": mcc, "precision": float(precision), "recall": float(recall), "f1": float(f1)}


def all_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    return {"auroc": auroc(y, score), "auprc": auprc(y, score), **threshold_metrics(y, score, threshold)}


THRESHOLD_GRID = np.linspace(0.01, 0.99, 99)
N_BOOTSTRAP = 200


def best_mcc_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold (among 99 quantile-free grid points in (0, 1)) with the highest MCC: chosen on validation."""
    values = [threshold_metrics(y, score, t)["mcc"] for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.nanargmax(values))])


def bagged_mcc_threshold(pairs: list[tuple[np.ndarray, np.ndarray]], n_boot: int = N_BOOTSTRAP,
                         seed: int = 0) -> float:
    """The median, over bootstrap resamples of the complexes, of each resample's MCC-maximising threshold.

    ``pairs`` holds one (labels, scores) pair per complex. The pooled MCC of 20-odd validation complexes
    is a noisy, often two-peaked curve of the threshold: its argmax jumped from 0.09 to 0.47 between
    seeds of one model on GEP val while test preferred 0.33–0.39 for every seed. Resampling whole
    complexes (the unit that varies) and taking the median of the argmaxes keeps the threshold where
    most resamples put it (bench/RESULTS.md, issue 13). With one complex it is the plain argmax.
    """
    pairs = [(np.asarray(y).astype(bool), np.asarray(s, dtype=np.float64)) for y, s in pairs if len(y)]
    if not pairs:
        return 0.5
    # per complex and grid threshold: true / false positives, positives (tn and fn follow from the sizes)
    calls = [s[None, :] >= THRESHOLD_GRID[:, None] for _, s in pairs]
    tp = np.array([(c & y).sum(1) for (y, _), c in zip(pairs, calls)], dtype=np.float64)
    fp = np.array([(c & ~y).sum(1) for (y, _), c in zip(pairs, calls)], dtype=np.float64)
    pos = np.array([y.sum() for y, _ in pairs], dtype=np.float64)
    size = np.array([y.size for y, _ in pairs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = [np.arange(len(pairs))] if len(pairs) == 1 else [rng.integers(0, len(pairs), len(pairs))
                                                              for _ in range(n_boot)]
    best = []
    for idx in draws:
        t_p, f_p = tp[idx].sum(0), fp[idx].sum(0)
        p, n = pos[idx].sum(), size[idx].sum() - pos[idx].sum()
        best.append(int(np.argmax(mcc_from_counts(t_p, f_p, n - f_p, p - t_p))))
    return float(THRESHOLD_GRID[int(np.median(best))])


TASKS: tuple[str, ...] = ("paratope", "epitope", "epitope_surface")
SURFACE_RSA = 0.05
# the metric each task is ranked by (benchmark tables, ensemble weights): paratope residues are a large
# share of the CDRs, so precision matters; the epitope is a small share of the antigen, ranked by AUROC
MAIN_METRIC = {"paratope": "auprc", "epitope": "auroc", "epitope_surface": "auroc"}


def task_mask(graph: ResidueGraph, task: str) -> np.ndarray:
    ab = graph.is_antibody.astype(bool)
    if task == "paratope":
        return ab & (graph.cdr > 0)
    if task == "epitope":
        return ~ab
    if task == "epitope_surface":
        return ~ab & (graph.rsa >= SURFACE_RSA)
    raise ValueError(f"unknown task {task!r}")


def gather(graphs: list[ResidueGraph], preds: dict[str, np.ndarray], task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(labels, probabilities) of the task's residues, one pair per complex."""
    out = []
    for g in graphs:
        m = task_mask(g, task)
        out.append((g.y[m].astype(bool), np.asarray(preds[g.complex_id])[m]))
    return out


def evaluate(graphs: list[ResidueGraph], preds: dict[str, np.ndarray],
             thresholds: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Metrics per task: pooled over residues (``<metric>``), per-complex means (``<metric>_mean``),
    and MCC / F1 at the validation threshold when given (``mcc_at_val``, ``f1_at_val``)."""
    out = {}
    for task in TASKS:
        pairs = gather(graphs, preds, task)
        y = np.concatenate([p[0] for p in pairs])
        s = np.concatenate([p[1] for p in pairs])
        res = all_metrics(y, s, 0.5)
        per = [all_metrics(a, b, 0.5) for a, b in pairs if a.any() and (~a).any()]
        for name in METRIC_NAMES:
            values = np.array([p[name] for p in per], dtype=float)
            values = values[np.isfinite(values)]  # e.g. precision of a complex with no predicted positive
            res[f"{name}_mean"] = float(values.mean()) if values.size else float("nan")
        if thresholds and task in thresholds:
            at = all_metrics(y, s, thresholds[task])
            res.update({"threshold": thresholds[task], "mcc_at_val": at["mcc"], "f1_at_val": at["f1"],
                        "precision_at_val": at["precision"], "recall_at_val": at["recall"]})
        res["n_residues"] = int(y.size)
        res["n_positive"] = int(y.sum())
        out[task] = res
    return out


def choose_thresholds(graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, float]:
    """Per task, the MCC-maximising threshold on these (validation) predictions, bagged over complexes
    (:func:`bagged_mcc_threshold`)."""
    return {task: bagged_mcc_threshold(gather(graphs, preds, task)) for task in TASKS}
