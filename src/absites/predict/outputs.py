"""Prediction outputs people can read, load into a viewer, and trust.

* ``<name>_residues.csv`` / ``.json``: one row per residue (pdb_id, chain, resseq,
  icode, resname, role, numbering, cdr, prob, pred, threshold);
* ``<name>_prob.pdb`` / ``.cif``: the antibody and antigen chains with the binding
  probability (0–1, two decimals) in the B-factor column (PyMOL: ``spectrum b``);
* ``<name>_antibody.ply`` / ``_antigen.ply``: surfaces with per-vertex probability;
* ``<name>.png``: both binding faces, coloured by probability;
* ``<name>.html``: a self-contained interactive 3D view (no network needed).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

from absites.graph.build import ResidueGraph
from absites.structure.complex import Complex
from absites.structure.numbering import CDR_NAMES
from absites.structure.write import pdb_text

log = logging.getLogger(__name__)

CSV_COLUMNS = ("pdb_id", "chain", "resseq", "icode", "resname", "role", "numbering", "cdr", "prob", "pred", "threshold",
               "call_rule")
# Epitope calls: the top-k antigen residues, k = the median epitope size (residues within 4.5 A of the
# antibody) of the GEP training complexes. A probability threshold chosen for MCC on validation marks most of
# a small antigen (158 of 1ahw's 200 residues with the shipped model): no use to an experimentalist.
EPITOPE_CALL_SIZE = 19


def residue_rows(name: str, complex_: Complex, graph: ResidueGraph, prob: np.ndarray,
                 thresholds: dict[str, float], epitope_call_size: int = EPITOPE_CALL_SIZE, mode: str = "complex",
                 unnumbered: tuple[str, ...] = ()) -> list[dict]:
    """One row per residue. ``pred``: paratope at the validation (MCC-optimal) threshold; epitope the
    ``epitope_call_size`` most probable antigen residues; ``threshold`` the probability a residue needed;
    ``call_rule`` says which rule made the call, in which mode (``complex``, ``antibody alone``,
    ``antigen alone``), and when a chain was not numbered (``unnumbered``)."""
    ag = np.flatnonzero(~graph.is_antibody.astype(bool))
    k = min(epitope_call_size, ag.size)
    ag_cut = float(np.sort(prob[ag])[::-1][k - 1]) if k else 1.0
    alone = {"antibody alone": "; antibody alone: no antigen information",
             "antigen alone": "; antigen alone: antibody-agnostic propensity"}.get(mode, "")
    rules = {"paratope": f"prob >= {thresholds['paratope']:.4f} (MCC-optimal on validation)" + alone,
             "epitope": f"top {k} antigen residues by prob (median epitope size of the training complexes)" + alone}
    no_cdr = "; chain not numbered: no CDRs, every residue a candidate"
    rows = []
    for i in range(graph.num_nodes):
        ab = bool(graph.is_antibody[i])
        t = thresholds["paratope"] if ab else ag_cut
        rows.append({
            "pdb_id": name, "chain": str(graph.res_chain[i]), "resseq": int(graph.res_seqnum[i]),
            "icode": str(graph.res_icode[i]), "resname": str(graph.res_name[i]), "role": str(complex_.res_role[i]),
            "numbering": str(graph.numbering[i]), "cdr": CDR_NAMES[graph.cdr[i] - 1] if graph.cdr[i] else "",
            "prob": round(float(prob[i]), 4), "pred": int(prob[i] >= t), "threshold": round(float(t), 4),
            "call_rule": rules["paratope" if ab else "epitope"] + (no_cdr if graph.res_chain[i] in unnumbered else ""),
        })
    return rows


def write_tables(rows: list[dict], stem: Path) -> tuple[Path, Path]:
    csv_path, json_path = stem.with_name(stem.name + "_residues.csv"), stem.with_name(stem.name + "_residues.json")
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(rows, indent=0))
    return csv_path, json_path


def write_structures(complex_: Complex, prob: np.ndarray, stem: Path) -> tuple[Path | None, Path]:
    """PDB and mmCIF with the CSV's probability as B-factor.

    The mmCIF is written straight from the structure and carries the CSV's four decimals. The PDB
    B-factor column holds two decimals (F6.2), so the PDB carries the probability to 0.01; a structure
    that PDB's fixed columns cannot hold (multi-character chain ids, residue numbers beyond 9999,
    coordinates beyond -999.999..9999.999 Å, > 99,999 atoms) gets no PDB file and a warning, never a
    wrapped or cut one.
    """
    from absites.structure.write import cif_text, pdb_limits

    prob4 = np.round(np.asarray(prob, dtype=np.float64), 4)  # the CSV's values
    cif_path = stem.with_name(stem.name + "_prob.cif")
    cif_path.write_text(cif_text(complex_.structure, residue_bfactor=prob4, name=stem.name))
    problems = pdb_limits(complex_.structure)
    if problems:
        log.warning("%s: no _prob.pdb written (%s); the _prob.cif holds the same values", stem.name,
                    "; ".join(problems))
        return None, cif_path
    pdb_path = stem.with_name(stem.name + "_prob.pdb")
    pdb_path.write_text(pdb_text(complex_.structure, residue_bfactor=prob4))
    return pdb_path, cif_path


def _view_direction(surface, partner=None, prob=None) -> np.ndarray:
    """From the protein's centre towards its partner, or (one protein alone) towards its most probable
    binding patch (the probability-weighted centre of its top 10 % vertices)."""
    if partner is not None:
        d = partner.vertices.mean(0) - surface.vertices.mean(0)
    else:
        p = np.asarray(prob, dtype=np.float64)
        top = p >= np.quantile(p, 0.9)
        d = (surface.vertices[top] * p[top, None]).sum(0) / max(p[top].sum(), 1e-12) - surface.vertices.mean(0)
    n = np.linalg.norm(d)
    return d / n if n > 0 else np.array([0.0, 0.0, 1.0])


def cdr_border_faces(faces: np.ndarray, vertex_cdr: np.ndarray | None) -> np.ndarray:
    """Faces whose corners are partly inside and partly outside the CDRs: drawn dark, they outline each
    CDR patch in the pictures (occluded like any other face). Bool ``(F,)``."""
    if vertex_cdr is None:
        return np.zeros(len(faces), dtype=bool)
    n_in = np.asarray(vertex_cdr, dtype=bool)[faces].sum(1)
    return (n_in > 0) & (n_in < 3)


def _project(vertices: np.ndarray, view: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic projection looking along ``view``: 2D coordinates and depth (towards the viewer)."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(view[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(view, helper)
    u /= np.linalg.norm(u)
    v = np.cross(view, u)
    c = vertices - vertices.mean(0)
    return np.stack([c @ u, c @ v], 1), c @ view


def import_picture_modules() -> None:
    """Import what :func:`write_picture` draws with (matplotlib's figure and Agg canvas: ~0.5 s cold), ahead of time."""
    import importlib

    for module in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        importlib.import_module(module)


def write_picture(surfaces, vertex_probs, stem: Path, title: str, vertex_cdr=None) -> Path:
    """Each protein seen from its partner (the predicted binding face), coloured by probability; one
    protein alone is seen from its most probable patch.

    Each surface is drawn as a shaded mesh: only the triangles facing the viewer, painted far to
    near (depth-sorted), with Lambert shading from a light at the viewer, so no back face shows through.
    ``vertex_cdr`` (per surface, bool per vertex or None): CDR patches outlined in dark grey.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure  # not pyplot: no GUI backend, no global figure registry, faster import

    cmap, norm = colormaps["coolwarm"], Normalize(0.0, 1.0)
    n = len(surfaces)
    vertex_cdr = vertex_cdr or [None] * n
    labels = {"antibody": "antibody (paratope)", "antigen": "antigen (epitope)"}
    fig = Figure(figsize=(5 * n + 1.5 * (n == 1), 5.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)
    for i, (ax, surf, vp) in enumerate(zip(axes[0], surfaces, vertex_probs)):
        partner = surfaces[1 - i] if n == 2 else None
        view = _view_direction(surf, partner, vp)
        vertices, faces = surf.vertices.astype(np.float64), np.asarray(surf.faces, dtype=np.int64)
        xy, depth = _project(vertices, view)
        tri = vertices[faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(min=1e-12)
        facing = normal @ view  # > 0: the outward normal points at the viewer (meshes wind outward)
        front = np.flatnonzero(facing > 0)
        front = front[np.argsort(depth[faces[front]].mean(1))]  # far first, near last
        rgb = cmap(norm(np.asarray(vp, dtype=np.float64)[faces[front]].mean(1)))[:, :3]
        rgb[cdr_border_faces(faces[front], vertex_cdr[i])] = 0.15  # CDR outline
        shade = (0.35 + 0.65 * facing[front])[:, None]
        ax.add_collection(PolyCollection(xy[faces[front]], facecolors=rgb * shade, edgecolors="face",
                                         linewidths=0.3))
        ax.set_xlim(xy[:, 0].min(), xy[:, 0].max())
        ax.set_ylim(xy[:, 1].min(), xy[:, 1].max())
        ax.set_aspect("equal")
        ax.set_title(labels[surf.protein] + (", CDRs outlined" if vertex_cdr[i] is not None else "")
                     + ("" if partner is not None else "\nseen from its most probable patch"))
        ax.axis("off")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes[0].tolist(), shrink=0.7, label="binding probability")
    fig.suptitle(title)
    path = stem.with_name(stem.name + ".png")
    fig.savefig(path, dpi=110)
    return path


def write_ply_files(surfaces, vertex_probs, stem: Path) -> list[Path]:
    from absites.surface.export import write_ply

    return [write_ply(s, stem.with_name(f"{stem.name}_{s.protein}.ply"), {"probability": p})
            for s, p in zip(surfaces, vertex_probs)]


def write_html(surfaces, vertex_probs, stem: Path, title: str, max_vertices: int = 6000, cdr=None) -> Path:
    """Self-contained HTML: the surfaces in place, coloured by probability as in the PNG (same colour map,
    front faces depth-sorted, CDR outline); drag to rotate, wheel to zoom."""
    from absites.predict.viewer import render_html

    meshes = []
    cdr = cdr or [None] * len(surfaces)
    centre = np.concatenate([s.vertices for s in surfaces]).mean(0)
    for s, p, c in zip(surfaces, vertex_probs, cdr):
        flag = np.asarray(c, dtype=np.float64) if c is not None else np.zeros(len(p))
        v, f, q = _simplify_for_view(s.vertices, s.faces, np.stack([p, flag], 1), max_vertices)
        meshes.append({"name": s.protein, "vertices": np.round(v - centre, 2).ravel().tolist(),
                       "faces": f.ravel().astype(int).tolist(), "prob": np.round(q[:, 0], 3).tolist(),
                       "border": cdr_border_faces(f, q[:, 1] > 0.5).astype(int).tolist()})
    path = stem.with_name(stem.name + ".html")
    path.write_text(render_html(title, meshes))
    return path


def _simplify_for_view(vertices, faces, prob, max_vertices):
    """Quadric decimation for the browser view; probabilities carried over by nearest vertex."""
    if len(vertices) <= max_vertices:
        return vertices, faces, prob
    import fast_simplification
    from scipy.spatial import cKDTree

    pts, fcs = fast_simplification.simplify(vertices.astype(np.float32), faces.astype(np.int64),
                                            target_reduction=1 - max_vertices / len(vertices))
    _, idx = cKDTree(vertices).query(pts)
    return pts, fcs, prob[idx]
