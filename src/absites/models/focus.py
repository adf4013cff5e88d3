"""Epitope focus: antigen scores weighted down with the distance from the antigen's best-scoring patch.

One antibody binds one epitope: a single patch, ~15–25 residues across. A per-residue model (even
smoothed, :mod:`absites.models.smoothing`) leaves high scores on several patches of a large or
multi-domain antigen, and every one but the true epitope costs precision at any threshold. Focus
finds the patch whose Gaussian-smoothed score is highest (width ``sigma``, the peak residue ``c``)
and weights each antigen residue by its Cα distance from it:

    p'_i = p_i · (f + (1 − f) · exp(−d_ic² / 2ρ²)),

with ``f`` the floor (the weight far from the peak) and ρ the focus radius. The floor is at least
0.3, so residues away from the peak keep their ranking among themselves and a second candidate
patch stays visible to a user; the peak's own residues keep their scores. Nothing of the antibody's
pose enters: distances are within the antigen.

(σ, ρ, f) are chosen per run on the validation complexes by pooled epitope AUPRC
(:func:`choose_focus`, as the smoothing is), with "off" among the choices, so a run whose validation
scores do not gain keeps its scores. Measured in ``bench/RESULTS.md`` (issue 13).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from absites.graph.build import ResidueGraph
from absites.metrics import auprc
from absites.models.smoothing import neighbour_kernel

SIGMAS = (8.0, 12.0)  # Å, the smoothing that finds the peak
RADII = (10.0, 15.0, 20.0, 30.0)  # Å
FLOORS = (0.3, 0.6)  # 1.0: off


@dataclass(frozen=True)
class EpitopeFocus:
    sigma: float = 8.0  # Å
    radius: float = 20.0  # Å
    floor: float = 1.0  # 1: off

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.radius > 0 and 0.0 <= self.floor <= 1.0):
            raise ValueError(f"epitope focus needs sigma > 0, radius > 0 and floor in [0, 1], got {self}")

    @property
    def active(self) -> bool:
        return self.floor < 1.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EpitopeFocus:
        return cls(**d) if d else cls()

    def describe(self) -> str:
        return (f"epitope scores weighted by the distance from the antigen's best-scoring patch (Gaussian, "
                f"radius {self.radius:g} Å, {self.floor:.0%} far from it; the patch found at σ = {self.sigma:g} Å), "
                "as chosen on validation")

    def notes(self, graph: ResidueGraph) -> list[str]:
        return [self.describe()] if self.active and not graph.is_antibody.astype(bool).all() else []

    def apply(self, graph: ResidueGraph, probs: np.ndarray) -> np.ndarray:
        """``probs`` with the antigen residues focused (a new array; antibody residues unchanged)."""
        probs = np.asarray(probs, dtype=np.float64)
        antigen = np.flatnonzero(~graph.is_antibody.astype(bool))
        if not self.active or antigen.size < 2:
            return probs
        out, pos, p = probs.copy(), graph.pos_ca[antigen].astype(np.float64), probs[antigen]
        out[antigen] = p * _weights(pos, neighbour_kernel(pos, self.sigma) @ p, self.radius, self.floor)
        return out

    def apply_all(self, graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.active:
            return preds
        return {**preds, **{g.complex_id: self.apply(g, preds[g.complex_id]) for g in graphs if g.complex_id in preds}}


def _weights(pos: np.ndarray, smoothed: np.ndarray, radius: float, floor: float) -> np.ndarray:
    d2 = ((pos - pos[int(np.argmax(smoothed))]) ** 2).sum(1)
    return floor + (1.0 - floor) * np.exp(-d2 / (2.0 * radius**2))


def choose_focus(graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> EpitopeFocus:
    """The (σ, ρ, f) of the grid with the best pooled epitope AUPRC on these (validation) predictions;
    off when nothing beats the unfocused scores (ties keep off)."""
    sets = []
    for g in graphs:
        antigen = np.flatnonzero(~g.is_antibody.astype(bool))
        if antigen.size >= 2:
            sets.append((g.pos_ca[antigen].astype(np.float64), np.asarray(preds[g.complex_id], np.float64)[antigen],
                         g.y[antigen].astype(bool)))
    if not sets or not any(y.any() for _, _, y in sets):
        return EpitopeFocus()
    labels = np.concatenate([y for _, _, y in sets])
    best, best_score = EpitopeFocus(), auprc(labels, np.concatenate([p for _, p, _ in sets]))
    for sigma in SIGMAS:
        smoothed = [neighbour_kernel(pos, sigma) @ p for pos, p, _ in sets]
        for radius in RADII:
            for floor in FLOORS:
                score = auprc(labels, np.concatenate([p * _weights(pos, sm, radius, floor)
                                                      for (pos, p, _), sm in zip(sets, smoothed)]))
                if score > best_score + 1e-9:
                    best, best_score = EpitopeFocus(sigma, radius, floor), score
    return best
