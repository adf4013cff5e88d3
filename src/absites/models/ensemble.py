"""Ensembles of trained runs: the members' residue probabilities averaged with per-task weights.

A network and a baseline that reads other inputs make different mistakes: on the
GEP validation complexes, DiffusionNet (surface geometry, no templates) and the
gbm with epitope templates (known epitopes of homologous antigens) each rank some
epitopes the other misses. The ensemble's score of a residue is

    s_i = Σ_m w_m p_i^(m),   Σ_m w_m = 1,

with one weight vector for the antibody's residues (chosen on validation
paratope AUPRC) and one for the antigen's (validation epitope AUROC): the main
metric of each task in the benchmark tables (:data:`absites.metrics.MAIN_METRIC`).
The weights run over a grid on the simplex (steps of 0.25 by default), every
member alone among the choices, so an ensemble whose validation scores do not
gain reduces to its best member.

Each member keeps its own inputs (templates, surfaces) and post-processing
(epitope smoothing); :func:`absites.train.run.train_ensemble` wires trained runs
into one run directory that predicts like any other.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from absites.graph.build import ResidueGraph
from absites.metrics import MAIN_METRIC, auprc, auroc, gather

SIDES = {"paratope": True, "epitope": False}  # task -> the side (is_antibody) its weights score
SCORERS = {"auroc": auroc, "auprc": auprc}


def simplex_grid(n: int, step: float = 0.25) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` non-negative multiples of ``step`` that sum to 1 (members alone first)."""
    if n < 1:
        raise ValueError("an ensemble needs at least one member")
    units = round(1 / step)
    if not np.isclose(units * step, 1.0) or units < 1:
        raise ValueError(f"step must divide 1 (0.5, 0.25, 0.1, ...), got {step}")
    grid = [c for c in itertools.product(range(units + 1), repeat=n) if sum(c) == units]
    grid.sort(key=lambda c: (-max(c), c[::-1]))  # pure members first: ties keep the simpler model
    return [tuple(round(u * step, 10) for u in c) for c in grid]


@dataclass(frozen=True)
class EnsembleWeights:
    """Member weights for the antibody's residues (``paratope``) and the antigen's (``epitope``)."""

    paratope: tuple[float, ...]
    epitope: tuple[float, ...]

    def __post_init__(self) -> None:
        for task in SIDES:
            w = np.asarray(getattr(self, task), dtype=float)
            if w.size == 0 or (w < 0).any() or not np.isclose(w.sum(), 1.0):
                raise ValueError(f"ensemble {task} weights must be ≥ 0 and sum to 1, got {tuple(w)}")
        if len(self.paratope) != len(self.epitope):
            raise ValueError("ensemble weights: one weight per member for each task")

    def combine_one(self, graph: ResidueGraph, member_probs: list[np.ndarray]) -> np.ndarray:
        if len(member_probs) != len(self.paratope):
            raise ValueError(f"{graph.complex_id}: {len(member_probs)} member predictions for "
                             f"{len(self.paratope)} weights")
        stacked = np.stack([np.asarray(p, dtype=np.float64) for p in member_probs])  # (members, residues)
        ab = graph.is_antibody.astype(bool)
        w = np.where(ab[None, :], np.asarray(self.paratope)[:, None], np.asarray(self.epitope)[:, None])
        return (w * stacked).sum(axis=0).astype(np.float32)

    def combine(self, graphs: list[ResidueGraph], member_preds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {g.complex_id: self.combine_one(g, [p[g.complex_id] for p in member_preds]) for g in graphs}

    def as_dict(self) -> dict[str, list[float]]:
        return {"paratope": list(self.paratope), "epitope": list(self.epitope)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnsembleWeights:
        return cls(tuple(float(x) for x in d["paratope"]), tuple(float(x) for x in d["epitope"]))

    def describe(self, names: list[str], task: str | None = None) -> str:
        """The weights in words (a model card; a prediction's notes give only the ``task`` it scores)."""
        def part(ws):
            return " + ".join(f"{w:g} × {n}" for w, n in zip(ws, names) if w > 0)
        tasks = [task] if task in SIDES else list(SIDES)
        return "ensemble: " + "; ".join(f"{t} = {part(getattr(self, t))}" for t in tasks)


def choose_weights(graphs: list[ResidueGraph], member_preds: list[dict[str, np.ndarray]],
                   step: float = 0.25) -> tuple[EnsembleWeights, dict[str, dict[str, float]]]:
    """The weights that maximise each task's main metric on these (validation) predictions.

    Returns the weights and, per task, the validation score of every grid point tried (``"0.5,0.5"`` →
    score), so a run records how flat its choice was."""
    grid = simplex_grid(len(member_preds), step)
    chosen, tried = {}, {}
    for task in SIDES:
        score = SCORERS[MAIN_METRIC[task]]
        scores = {}
        for w in grid:
            pairs = gather(graphs, EnsembleWeights(w, w).combine(graphs, member_preds), task)
            y = np.concatenate([p[0] for p in pairs])
            s = np.concatenate([p[1] for p in pairs])
            scores[",".join(f"{x:g}" for x in w)] = score(y, s)
        best = max(range(len(grid)), key=lambda i: (np.nan_to_num(list(scores.values())[i], nan=-1.0), -i))
        chosen[task], tried[task] = grid[best], scores
    return EnsembleWeights(chosen["paratope"], chosen["epitope"]), tried


class Ensemble:
    """The registry entry of an ensemble (``model: ensemble`` in a benchmark row): which rows it combines.

    Nothing is fitted here: :func:`absites.train.run.train_ensemble` loads the members' trained runs and
    chooses the weights on validation."""

    def __init__(self, members: list[str], step: float = 0.25, calibrate: bool = False, focus: bool = False):
        """``calibrate``: the combined epitope probabilities calibrated to the antigen's size on validation
        (:mod:`absites.models.calibration`); ``focus``: before that, focused on the antigen's best-scoring
        patch (:mod:`absites.models.focus`)."""
        if not members or len(set(members)) != len(members):
            raise ValueError(f"an ensemble needs distinct members, got {members!r}")
        simplex_grid(len(members), step)  # a bad step fails at config time
        self.members, self.step, self.calibrate = list(members), float(step), bool(calibrate)
        self.focus = bool(focus)
