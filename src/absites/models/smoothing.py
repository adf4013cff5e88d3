"""Epitope patch smoothing: each antigen residue's score mixed with a Gaussian average of its neighbours'.

An epitope is a surface patch, ~15–25 Å across, not a scatter of residues; a
per-residue model scores each residue on its own features, so its true
positives sit next to each other while its false positives are scattered. The
smoothed score is

    s_i = (1 - w) p_i + w · Σ_j k_ij p_j / Σ_j k_ij,   k_ij = exp(-d_ij² / 2σ²),

over the antigen residues ``j`` of the same complex within 3σ (Cα distances,
within the antigen alone: nothing of the antibody's pose enters).

The width σ and weight w are chosen per run on the validation complexes
(:func:`choose_smoothing`, by validation epitope AUPRC — the score that also
selects epochs), with w = 0 (off) among the choices, so a run whose validation
scores do not gain keeps its raw scores. Only the epitope is smoothed: on the
GEP validation set the same smoothing lowered paratope AUPRC for every model
tried (the CDR loops that bind are not one patch of the Fv), and raised
epitope AUROC by 0.01–0.05 (``bench/RESULTS.md``, issue 13).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from absites.graph.build import ResidueGraph
from absites.metrics import auprc

SIGMAS = (4.0, 8.0, 12.0, 16.0, 24.0)  # Å
WEIGHTS = (0.0, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class EpitopeSmoothing:
    sigma: float = 12.0  # Å
    weight: float = 0.0  # 0: off

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and 0.0 <= self.weight <= 1.0):
            raise ValueError(f"epitope smoothing needs sigma > 0 and weight in [0, 1], got {self}")

    @property
    def active(self) -> bool:
        return self.weight > 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EpitopeSmoothing:
        return cls(**d) if d else cls()

    def describe(self) -> str:
        """The smoothing in words (a prediction's notes, a model card)."""
        return (f"epitope scores mixed {self.weight:.0%} with their neighbours' (Gaussian, σ = {self.sigma:g} Å "
                "over the antigen), as chosen on validation")

    def notes(self, graph: ResidueGraph) -> list[str]:
        """The line a prediction's notes carry; none when off or for a graph with no antigen."""
        return [self.describe()] if self.active and not graph.is_antibody.astype(bool).all() else []

    def apply(self, graph: ResidueGraph, probs: np.ndarray) -> np.ndarray:
        """``probs`` with the antigen residues smoothed (a new array; antibody residues unchanged)."""
        probs = np.asarray(probs, dtype=np.float64)
        if not self.active:
            return probs
        antigen = np.flatnonzero(~graph.is_antibody.astype(bool))
        if antigen.size < 2:
            return probs
        out = probs.copy()
        out[antigen] = _mix(neighbour_kernel(graph.pos_ca[antigen], self.sigma), probs[antigen], self.weight)
        return out

    def apply_all(self, graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.active:
            return preds
        return {**preds, **{g.complex_id: self.apply(g, preds[g.complex_id]) for g in graphs if g.complex_id in preds}}


def neighbour_kernel(pos: np.ndarray, sigma: float) -> sp.csr_matrix:
    """Row-normalised Gaussian kernel over the points within 3σ of each other (self included)."""
    pos = np.asarray(pos, dtype=np.float64)
    pairs = cKDTree(pos).query_pairs(3.0 * sigma, output_type="ndarray")
    n = len(pos)
    i = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
    j = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
    d2 = ((pos[i] - pos[j]) ** 2).sum(1)
    kernel = sp.csr_matrix((np.exp(-d2 / (2 * sigma**2)), (i, j)), shape=(n, n))
    return sp.diags(1.0 / np.asarray(kernel.sum(axis=1)).ravel()) @ kernel


def _mix(kernel: sp.csr_matrix, p: np.ndarray, weight: float) -> np.ndarray:
    return (1.0 - weight) * p + weight * (kernel @ p)


def choose_smoothing(graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> EpitopeSmoothing:
    """The (σ, w) of the grid with the best pooled epitope AUPRC on these (validation) predictions.

    Ties keep the weaker smoothing (the grid is walked from w = 0 up), so without a gain the answer is off.
    """
    sets = []
    for g in graphs:
        antigen = np.flatnonzero(~g.is_antibody.astype(bool))
        if antigen.size >= 2:
            sets.append((g.pos_ca[antigen], np.asarray(preds[g.complex_id], dtype=np.float64)[antigen],
                         g.y[antigen].astype(bool)))
    if not sets or not any(y.any() for _, _, y in sets):
        return EpitopeSmoothing()
    labels = np.concatenate([y for _, _, y in sets])
    best, best_score = EpitopeSmoothing(), auprc(labels, np.concatenate([p for _, p, _ in sets]))
    for sigma in SIGMAS:
        kernels = [neighbour_kernel(pos, sigma) for pos, _, _ in sets]
        for weight in WEIGHTS[1:]:
            score = auprc(labels, np.concatenate([_mix(k, p, weight) for k, (_, p, _) in zip(kernels, sets)]))
            if score > best_score + 1e-9:
                best, best_score = EpitopeSmoothing(sigma, weight), score
    return best

