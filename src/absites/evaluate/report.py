"""Per-task evaluation of residue predictions over a split: pooled and per-complex mean.

Tasks (the reference's protocol):

* ``paratope``: antibody residues inside CDRs (Chothia ±2 by default, as in the records);
* ``epitope``: all antigen residues;
* ``epitope_surface``: antigen residues with relative SASA ≥ 0.05 (reported apart).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from absites.evaluate.metrics import METRIC_NAMES, all_metrics, best_mcc_threshold
from absites.graph.build import ResidueGraph

TASKS: tuple[str, ...] = ("paratope", "epitope", "epitope_surface")
SURFACE_RSA = 0.05


@dataclass(frozen=True)
class ResiduePredictions:
    """Binding probabilities of every residue of one complex (graph order). Shape ``(R,)``."""

    complex_id: str
    prob: np.ndarray


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
    """Per task, the MCC-maximising threshold on these (validation) predictions."""
    out = {}
    for task in TASKS:
        pairs = gather(graphs, preds, task)
        out[task] = best_mcc_threshold(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    return out


def write_summary_csv(path: str | Path, summary: list[dict]) -> Path:
    """Summary rows (dicts with the same keys) as CSV, floats to 4 decimals."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(summary[0]))
        writer.writeheader()
        for e in summary:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in e.items()})
    return path
