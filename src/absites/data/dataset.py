"""Cached records -> PyTorch Geometric ``Data`` (the one place this conversion happens)."""

from __future__ import annotations

import torch
from torch_geometric.data import Data

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
    )  # cross_edge_attr (distances across the interface in the bound pose) stays in the record, never here
    data.complex_id = graph.complex_id
    return data
