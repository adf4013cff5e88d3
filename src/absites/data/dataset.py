"""Cached records -> PyTorch Geometric ``Data`` (the one place this conversion happens)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from absites.data.cache import RecordCache
from absites.data.prepare import read_manifest
from absites.graph.build import ResidueGraph


def graph_to_data(graph: ResidueGraph) -> Data:
    """A PyG ``Data`` whose index keys batch correctly.

    PyG increments every attribute whose name contains ``index`` by ``num_nodes``
    when batching, so ``edge_index`` and ``cross_edge_index`` stay right.
    """
    data = Data(
        x=torch.from_numpy(graph.x),
        pos=torch.from_numpy(graph.pos),
        pos_ca=torch.from_numpy(graph.pos_ca),
        y=torch.from_numpy(graph.y),
        is_antibody=torch.from_numpy(graph.is_antibody.astype(bool)),
        cdr=torch.from_numpy(graph.cdr),
        edge_index=torch.from_numpy(graph.edge_index),
        edge_attr=torch.from_numpy(graph.edge_attr),
        cross_edge_index=torch.from_numpy(graph.cross_edge_index),
        cross_edge_attr=torch.from_numpy(graph.cross_edge_attr),
    )
    data.complex_id = graph.complex_id
    return data


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


def positive_fraction(graphs: list[ResidueGraph]) -> tuple[float, float]:
    """Fraction of binding residues on antibody and antigen over a set of graphs."""
    ab = np.concatenate([g.y[g.is_antibody] for g in graphs])
    ag = np.concatenate([g.y[~g.is_antibody] for g in graphs])
    return float(ab.mean()), float(ag.mean())


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
