"""Sequence and backbone context of each residue in its own protein: the glycan shield and secondary structure.

Two things the residue graph and the shape descriptors (:mod:`absites.graph.shape`) do not carry, both
classic knowledge about where antibodies bind:

* **The glycan shield.** N-linked glycans cover much of a glycoprotein's surface (HIV Env, influenza
  haemagglutinin, coronavirus spikes), and antibodies mostly bind between them. Structures seldom show the
  glycans (curated sets such as ``abdb/`` strip the HETATM records, constructs are made deglycosylated, models
  never have them), so these descriptors read the sequence: an N-X-S/T sequon (X not Pro) on three linked
  residues of one chain marks an Asn that a eukaryotic cell would likely glycosylate. Per residue: the sequon
  Asn residues of its protein within 8, 12, 16 and 24 Å of its side-chain centroid, and the distance to the
  nearest one (Å / 30, capped at 1; 1 when the protein has none).
* **Secondary structure from the Cα trace.** Epitopes are richer in loops and turns than in helices and
  strands. From consecutive Cα atoms: the virtual bond angle at residue ``i`` (radians / π), the virtual
  torsion of Cα ``i-1 … i+2`` as cosine and sine, and the shares of helix-like (torsion within 0.5 rad of
  +50°) and strand-like (within 0.6 rad of ±180°) torsions over the 7 residues around ``i``. A residue whose
  neighbours along the chain are missing (chain ends, gaps) has NaN angles (a tree model reads NaN as
  unknown) and counts as neither helix nor strand.

Residues are *linked* when they are consecutive in the file, on the same chain, with Cα atoms closer than
4.3 Å (a peptide bond: 3.8 Å trans, 2.9 Å cis); a gap in the model breaks the chain whatever the numbering.

Shapes: ``graph.pos``, ``graph.pos_ca`` ``(R, 3)`` Å; :func:`context_features` returns ``(R, 10)`` float32
(:data:`CONTEXT_FEATURES`). Only the residue's own protein enters (antibody H+L together, antigen chains
together), so nothing reads the partner's pose; an antibody's own sequons are rare, and its values are
computed the same way.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from absites.graph.build import ResidueGraph

SEQUON_RADII = (8.0, 12.0, 16.0, 24.0)
SEQUON_DISTANCE_CAP = 30.0  # Å
PEPTIDE_CA = 4.3  # Å: the longest Cα–Cα distance of two bonded residues
HELIX_TORSION, HELIX_WIDTH = np.deg2rad(50.0), 0.5
STRAND_WIDTH = 0.6
WINDOW = 7
CONTEXT_FEATURES = (tuple(f"sequons_{int(r)}" for r in SEQUON_RADII) + ("sequon_distance",)
                    + ("ca_angle", "ca_torsion_cos", "ca_torsion_sin", "helix_share", "strand_share"))


def linked(graph: ResidueGraph) -> np.ndarray:
    """``(R,)`` bool: residue ``i`` is bonded to residue ``i - 1`` (same chain, Cα within 4.3 Å)."""
    out = np.zeros(graph.num_nodes, dtype=bool)
    if graph.num_nodes > 1:
        gap = np.linalg.norm(np.diff(graph.pos_ca.astype(np.float64), axis=0), axis=1)
        out[1:] = (graph.res_chain[1:] == graph.res_chain[:-1]) & (gap < PEPTIDE_CA)
    return out


def sequons(graph: ResidueGraph) -> np.ndarray:
    """``(R,)`` bool: the Asn of an N-X-S/T sequon (X not Pro) on three linked residues."""
    return _sequon_mask(graph.res_name, linked(graph))


def context_features(graph: ResidueGraph) -> np.ndarray:
    """``(R, len(CONTEXT_FEATURES))`` float32 descriptors of every residue (see the module docstring)."""
    out = np.zeros((graph.num_nodes, len(CONTEXT_FEATURES)), dtype=np.float32)
    link = linked(graph)
    marked = _sequon_mask(graph.res_name, link)
    ab = graph.is_antibody.astype(bool)
    for side in (ab, ~ab):
        idx = np.flatnonzero(side)
        if idx.size:
            out[idx, :len(SEQUON_RADII) + 1] = _sequon_columns(graph.pos[idx].astype(np.float64), marked[idx])
    out[:, len(SEQUON_RADII) + 1:] = _backbone_columns(graph.pos_ca.astype(np.float64), link)
    return out


def _sequon_mask(name: np.ndarray, link: np.ndarray) -> np.ndarray:
    out = np.zeros(len(name), dtype=bool)
    if len(name) >= 3:
        out[:-2] = ((name[:-2] == "ASN") & (name[1:-1] != "PRO") & np.isin(name[2:], ("SER", "THR"))
                    & link[1:-1] & link[2:])
    return out


def _sequon_columns(pos: np.ndarray, marked: np.ndarray) -> np.ndarray:
    cols = np.zeros((len(pos), len(SEQUON_RADII) + 1))
    if not marked.any():
        cols[:, -1] = 1.0
        return cols
    tree = cKDTree(pos[marked])
    for k, r in enumerate(SEQUON_RADII):
        cols[:, k] = tree.query_ball_point(pos, r, return_length=True)
    nearest, _ = tree.query(pos)
    cols[:, -1] = np.minimum(nearest, SEQUON_DISTANCE_CAP) / SEQUON_DISTANCE_CAP
    return cols


def _backbone_columns(ca: np.ndarray, link: np.ndarray) -> np.ndarray:
    """Virtual angle and torsion at each Cα, and the helix / strand shares around it (``link`` from :func:`linked`)."""
    n = len(ca)
    angle = np.full(n, np.nan)
    torsion = np.full(n, np.nan)
    if n >= 3:
        i = np.arange(1, n - 1)
        ok = link[i] & link[i + 1]  # i-1, i, i+1 bonded
        a, b = ca[i - 1] - ca[i], ca[i + 1] - ca[i]
        cos = np.einsum("ec,ec->e", a, b) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-9)
        angle[i[ok]] = np.arccos(np.clip(cos[ok], -1.0, 1.0)) / np.pi
    if n >= 4:
        i = np.arange(1, n - 2)
        ok = link[i] & link[i + 1] & link[i + 2]  # i-1 … i+2 bonded
        b0, b1, b2 = ca[i] - ca[i - 1], ca[i + 1] - ca[i], ca[i + 2] - ca[i + 1]
        n2 = np.cross(b1, b2)  # IUPAC sign: a right-handed α-helix has +50°
        y = np.linalg.norm(b1, axis=1) * np.einsum("ec,ec->e", b0, n2)
        torsion[i[ok]] = np.arctan2(y, np.einsum("ec,ec->e", np.cross(b0, b1), n2))[ok]
    known = ~np.isnan(torsion)
    filled = np.where(known, torsion, 0.0)  # no NaN comparisons; unknown torsions are neither
    helix = known & (np.abs(filled - HELIX_TORSION) < HELIX_WIDTH)
    strand = known & (np.abs(np.abs(filled) - np.pi) < STRAND_WIDTH)
    return np.stack([angle, np.cos(torsion), np.sin(torsion), _window_mean(helix), _window_mean(strand)], axis=1)


def _window_mean(flags: np.ndarray) -> np.ndarray:
    """Share of ``WINDOW`` residues centred on each one that are flagged (outside the protein counts as not)."""
    if flags.size == 0:
        return np.zeros(0)
    full = np.convolve(flags.astype(np.float64), np.ones(WINDOW) / WINDOW)  # length n + WINDOW - 1
    return full[(WINDOW - 1) // 2:(WINDOW - 1) // 2 + flags.size]
