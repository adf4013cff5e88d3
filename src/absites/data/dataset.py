"""Cached records -> torch tensors a network reads, and batches of them (the one place this happens).

A :class:`GraphTensors` is one complex's residue graph; :func:`batch_graphs` joins several as PyTorch
Geometric's ``Batch.from_data_list`` would (node arrays concatenated, every ``*index`` key offset by
the nodes before it, a ``batch`` vector of complex indices; tested equal to it). It is written here
rather than taken from PyG because PyG's import pulls in ``torch._dynamo`` (~1.3 s), which a cold
``absites predict`` with a surface network or a baseline never otherwise needs (issue 14); the graph
networks still use PyG's layers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from absites.graph.build import ResidueGraph

NODE_KEYS = ("x", "pos", "pos_ca", "y", "is_antibody", "cdr")  # one row per residue
EDGE_KEYS = ("edge_index", "cross_edge_index")  # residue indices: offset when batched
EDGE_ATTR_KEYS = ("edge_attr",)  # one row per edge of edge_index


@dataclass
class GraphTensors:
    """One complex's residue graph as tensors, or several batched (then ``batch`` is set).

    ``cross_edge_attr`` (distances across the interface in the bound pose) stays in the record, never here.
    """

    x: Tensor
    pos: Tensor
    pos_ca: Tensor
    y: Tensor
    is_antibody: Tensor  # bool
    cdr: Tensor
    edge_index: Tensor  # (2, E) long
    edge_attr: Tensor
    cross_edge_index: Tensor  # (2, C) long
    batch: Tensor | None = None  # (N,) complex index of each residue, for a batch

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device) -> GraphTensors:
        return GraphTensors(**{f.name: (None if getattr(self, f.name) is None else getattr(self, f.name).to(device))
                               for f in fields(self)})


def graph_tensors(graph: ResidueGraph) -> GraphTensors:
    """The tensors of one residue graph (shared with its numpy arrays, not copied)."""
    return GraphTensors(
        x=torch.from_numpy(graph.x),
        pos=torch.from_numpy(graph.pos),
        pos_ca=torch.from_numpy(graph.pos_ca),
        y=torch.from_numpy(graph.y),
        is_antibody=torch.from_numpy(graph.is_antibody.astype(bool)),
        cdr=torch.from_numpy(graph.cdr),
        edge_index=torch.from_numpy(graph.edge_index),
        edge_attr=torch.from_numpy(graph.edge_attr),
        cross_edge_index=torch.from_numpy(graph.cross_edge_index),
    )


def batch_graphs(graphs: list[GraphTensors]) -> GraphTensors:
    """Several complexes as one disconnected graph: complex ``i``'s residues follow those of complexes < i."""
    if not graphs:
        raise ValueError("batch_graphs needs at least one graph")
    sizes = [g.num_nodes for g in graphs]
    device = graphs[0].x.device
    offsets = torch.cumsum(torch.tensor([0, *sizes[:-1]], device=device), 0)
    out = {k: torch.cat([getattr(g, k) for g in graphs]) for k in NODE_KEYS + EDGE_ATTR_KEYS}
    for k in EDGE_KEYS:
        out[k] = torch.cat([getattr(g, k) + offsets[i] for i, g in enumerate(graphs)], dim=1)
    out["batch"] = torch.repeat_interleave(torch.arange(len(graphs), device=device), torch.tensor(sizes, device=device))
    return GraphTensors(**out)
