"""Export surfaces as binary PLY with per-vertex scalar properties (labels, HKS, predictions...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from absites.surface.build import ProteinSurface


def write_ply(surface: ProteinSurface, path: str | Path, attributes: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``surface`` to ``path`` with a vertex property per attribute.

    By default writes ``label`` (vertex binding label), ``residue`` (index into the
    complex's residues), ``hks_0`` (the shortest-time HKS) and ``mean_curvature``.
    Extra ``attributes`` (e.g. ``{"probability": p}``) must have one value per vertex.
    """
    attrs = {
        "label": surface.y,
        "residue": surface.vertex_residue,
        "mean_curvature": surface.geom[:, 3],
        "hks_0": surface.geom[:, 5],
    }
    attrs.update(attributes or {})
    mesh = trimesh.Trimesh(surface.vertices, surface.faces, vertex_normals=surface.normals, process=False)
    for name, values in attrs.items():
        values = np.asarray(values)
        if values.shape != (surface.n_vertices,):
            raise ValueError(f"attribute {name!r} has shape {values.shape}, expected ({surface.n_vertices},)")
        mesh.vertex_attributes[name] = values.astype(np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mesh.export(file_type="ply"))
    return path
