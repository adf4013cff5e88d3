"""Epitope probabilities calibrated to the antigen's size, fitted on validation.

An epitope covers about the same number of residues whatever the antigen's size (15–25 at 4.5 Å),
so the share of antigen residues that bind falls as the antigen grows: the correlation of log
antigen length with that share is −0.86 to −0.95 in every pool of this project (GEP val and test,
the 771-complex training pool, the 94 docking cases). A per-residue model does not see its input's
size, so its scores are on different scales from one antigen to the next; a pooled residue-level
metric, and above all the MCC at one threshold for every antigen, pays for that. The calibrated
probability is

    p' = σ(a · logit(p) + b · log(n_antigen) + c),

with ``a > 0``, ``b`` and ``c`` fitted by logistic regression on the validation antigen residues
(:func:`fit_calibration`). ``n_antigen`` is the number of antigen residues of the input. Within one
antigen the map is increasing, so it never reorders that antigen's residues: per-antigen rankings are
unchanged, and only the scales across antigens move. When validation gives ``a ≤ 0`` (a model with no
ranking left), the calibration is off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from absites.graph.build import ResidueGraph

EPS = 1e-6


@dataclass(frozen=True)
class EpitopeCalibration:
    slope: float = 1.0  # a: on the logit of the model's probability
    size: float = 0.0  # b: on the log of the antigen's residue count
    intercept: float = 0.0  # c
    active: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EpitopeCalibration:
        return cls(**d) if d else cls()

    def describe(self) -> str:
        return (f"epitope probabilities calibrated to the antigen's size on validation: "
                f"σ({self.slope:.2f}·logit p {self.size:+.2f}·ln n_antigen {self.intercept:+.2f})")

    def notes(self, graph: ResidueGraph) -> list[str]:
        n = int((~graph.is_antibody.astype(bool)).sum())
        return [f"{self.describe()}; this antigen has {n} residues"] if self.active and n else []

    def apply(self, graph: ResidueGraph, probs: np.ndarray) -> np.ndarray:
        """``probs`` with the antigen residues calibrated (a new array; antibody residues unchanged)."""
        probs = np.asarray(probs, dtype=np.float64)
        antigen = ~graph.is_antibody.astype(bool)
        if not self.active or not antigen.any():
            return probs
        out = probs.copy()
        z = self.slope * _logit(probs[antigen]) + self.size * np.log(antigen.sum()) + self.intercept
        out[antigen] = 1.0 / (1.0 + np.exp(-z))
        return out

    def apply_all(self, graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.active:
            return preds
        return {**preds, **{g.complex_id: self.apply(g, preds[g.complex_id]) for g in graphs if g.complex_id in preds}}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))


def _design(graph: ResidueGraph, probs: np.ndarray) -> np.ndarray:
    antigen = ~graph.is_antibody.astype(bool)
    logit = _logit(np.asarray(probs, dtype=np.float64)[antigen])
    return np.stack([logit, np.full(logit.size, np.log(max(int(antigen.sum()), 1)))], axis=1)


def fit_calibration(graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> EpitopeCalibration:
    """The calibration that maximises the likelihood of the validation epitope labels (off when it cannot
    be fitted: fewer than two antigens, one class only, or a slope ≤ 0)."""
    from sklearn.linear_model import LogisticRegression

    rows = [(g, preds[g.complex_id]) for g in graphs
            if g.complex_id in preds and (~g.is_antibody.astype(bool)).any()]
    if len(rows) < 2:
        return EpitopeCalibration()
    X = np.concatenate([_design(g, p) for g, p in rows])
    y = np.concatenate([g.y[~g.is_antibody.astype(bool)] for g, _ in rows]).astype(int)
    if y.min() == y.max():
        return EpitopeCalibration()
    fit = LogisticRegression(C=100.0, max_iter=1000).fit(X, y)
    slope, size = (float(v) for v in fit.coef_[0])
    if slope <= 0:
        return EpitopeCalibration()
    return EpitopeCalibration(slope, size, float(fit.intercept_[0]), active=True)
