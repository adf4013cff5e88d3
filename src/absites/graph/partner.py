"""What the partner offers: a per-complex summary of the other protein, paired with each residue.

A per-residue epitope model sees the antigen and nothing of the antibody, so it can only learn
where antibodies bind *in general*. These descriptors give each antigen residue the physico-chemistry
of the antibody's CDRs (and each antibody residue that of the antigen's exposed surface), and the
products that express complementarity: a basic paratope next to an acidic residue, hydrophobic with
hydrophobic, aromatic with aromatic. They read sequence, CDR annotation and RSA only, never the
partner's pose, so moving one protein changes nothing.

The antibody side is its exposed CDR residues (CDR code > 0, flanks included, RSA ≥ ``EXPOSED``); the
antigen side is its exposed residues. Per residue (:data:`PARTNER_FEATURES`):

* ``partner_charge``: (K + R − D − E) / residues of the partner's side, the side's net charge density;
* ``partner_hydrophobicity``: mean Meiler hydrophobicity of the side (raw scale: −1 … 1.8);
* ``partner_aromatic``: share of F, W, Y on the side;
* ``partner_h3``: CDR-H3 length (flanks included) / 20 for an antigen residue; 0 for an antibody
  residue;
* ``partner_log_size``: log(1 + residues on the side);
* ``charge_product``, ``hydrophobic_product``, ``aromatic_product``: the residue's own charge (+1, −1,
  0), hydrophobicity and aromaticity times the partner's.

A protein alone (no partner) gets NaN in every column: "unknown", which the gradient-boosting models
of :mod:`absites.models.baselines` route on their own.

Shapes: the result is ``(R, len(PARTNER_FEATURES))`` float32.
"""

from __future__ import annotations

import numpy as np

from absites.graph.build import ResidueGraph
from absites.structure.numbering import CDR_NAMES
from absites.structure.residues import MEILER, MEILER_NAMES

PARTNER_FEATURES = ("partner_charge", "partner_hydrophobicity", "partner_aromatic", "partner_h3",
                    "partner_log_size", "charge_product", "hydrophobic_product", "aromatic_product")
EXPOSED = 0.15  # RSA at or above which a residue counts as on the surface
_CHARGE = {"LYS": 1.0, "ARG": 1.0, "ASP": -1.0, "GLU": -1.0}
_AROMATIC = frozenset({"PHE", "TRP", "TYR"})
_HYDRO = MEILER_NAMES.index("hydrophobicity")
_H3 = CDR_NAMES.index("H3") + 1  # CDR codes count from 1 (0: none)


def residue_properties(res_name: np.ndarray) -> np.ndarray:
    """``(R, 3)``: charge (+1 / −1 / 0), Meiler hydrophobicity (0 for unknown residues), aromatic (0 / 1)."""
    return np.array([(_CHARGE.get(r, 0.0), MEILER[r][_HYDRO] if r in MEILER else 0.0, float(r in _AROMATIC))
                     for r in res_name], dtype=np.float64).reshape(-1, 3)


def partner_features(graph: ResidueGraph) -> np.ndarray:
    """``(R, len(PARTNER_FEATURES))`` float32 partner descriptors of every residue (module docstring)."""
    out = np.full((graph.num_nodes, len(PARTNER_FEATURES)), np.nan, dtype=np.float32)
    ab = graph.is_antibody.astype(bool)
    if ab.all() or not ab.any():  # one protein alone: nothing known of a partner
        return out
    props = residue_properties(graph.res_name)
    exposed = graph.rsa >= EXPOSED
    sides = {True: ab & (graph.cdr > 0) & exposed, False: ~ab & exposed}  # what each protein offers
    h3 = float((ab & (graph.cdr == _H3)).sum()) / 20.0
    for own_is_ab in (True, False):
        offer = sides[not own_is_ab]
        mine = np.flatnonzero(ab if own_is_ab else ~ab)
        n = int(offer.sum())
        summary = props[offer].mean(axis=0) if n else np.zeros(3)
        out[mine, 0:3] = summary
        out[mine, 3] = 0.0 if own_is_ab else h3
        out[mine, 4] = np.log1p(n)
        out[mine, 5:8] = props[mine] * summary
    return out
