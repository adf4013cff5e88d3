"""Cached records listed in a manifest -> residue graphs and surfaces (no torch: prediction with the
shipped baselines, ``summary`` and ``export-ply`` start without it)."""

from __future__ import annotations

from pathlib import Path

from absites.data.cache import RecordCache
from absites.data.prepare import read_manifest
from absites.graph.build import ResidueGraph


def load_graphs(manifest_path: str | Path, cache_root: str | Path) -> list[ResidueGraph]:
    """Every successfully prepared record listed in a manifest, verified on load."""
    cache = RecordCache(cache_root)
    graphs = []
    for row in read_manifest(manifest_path):
        if row["status"] in ("built", "cached", "rebuilt"):
            graphs.append(ResidueGraph.from_arrays(cache.load(row["key"])))
    return graphs


def load_surfaces(manifest_path: str | Path, cache_root: str | Path) -> dict[str, tuple]:
    """complex id -> (antibody, antigen) :class:`ProteinSurface` for every surface record in a manifest."""
    from absites.surface.build import ProteinSurface

    cache = RecordCache(cache_root, namespace="surfaces")
    out = {}
    for row in read_manifest(manifest_path):
        if row.get("surface_status") in ("built", "cached", "rebuilt"):
            arrays = cache.load(row["surface_key"])
            out[row["complex_id"]] = (ProteinSurface.from_arrays(arrays, "ab_"), ProteinSurface.from_arrays(arrays, "ag_"))
    return out


def summarize(graphs: list[ResidueGraph]) -> list[dict[str, object]]:
    """One row per graph: sizes, label counts and edge counts (for ``absites summary``)."""
    rows = []
    for g in sorted(graphs, key=lambda g: g.complex_id):
        ab = g.is_antibody.astype(bool)
        rows.append({
            "complex_id": g.complex_id,
            "antibody_res": int(ab.sum()),
            "antigen_res": int((~ab).sum()),
            "cdr_res": int((g.cdr > 0).sum()),
            "paratope": int(g.y[ab].sum()),
            "paratope_in_cdr": int(g.y[ab & (g.cdr > 0)].sum()),
            "epitope": int(g.y[~ab].sum()),
            "edges": int(g.edge_index.shape[1]),
            "cross_edges": int(g.cross_edge_index.shape[1]),
        })
    return rows
