"""Joint graph–surface model: residue-graph layers and DiffusionNet blocks, interleaved and coupled.

Beyond the reference, which keeps the two views apart (AtomSurf, Mallet et al.,
couples them). Per layer:

1. residues: a GATv2 layer with edge features over the within-protein kNN graph;
2. residues -> vertices: each vertex adds a projection of its residue's feature
   (through the vertex -> residue map of the surface);
3. vertices: a DiffusionNet block on each protein's mesh (weights shared by
   antibody and antigen; the residue features say which protein it is);
4. vertices -> residues: each residue adds a projection of the mean of its
   vertices (buried residues, which have none, add nothing);
5. antibody <-> antigen: ``fusion: cross_attention`` adds dense residue
   cross-attention between the two proteins here (early fusion); ``late``
   appends the partner's max-pooled feature before the head instead.

The head predicts one logit per residue. No cross-protein distance enters.
"""

from __future__ import annotations

import torch
from torch_geometric.utils import scatter
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv

from absites.graph.build import FEATURE_NAMES
from absites.models.dropout import Dropout
from absites.models.fusion import ResidueCrossAttention, check_fusion, partner_pool
from absites.models.gnn import EDGE_DIM, edge_features
from absites.models.layers import mlp
from absites.models.surface import DiffusionNetBlock, SurfaceBatch


class JointNet(nn.Module):
    needs = ("x", "edge_index", "edge_attr", "surfaces", "n_residues", "is_antibody", "batch")  # = forward's parameters

    def __init__(self, in_dim: int, hidden: int = 64, layers: int = 3, heads: int = 4, dropout: float = 0.1,
                 fusion: str = "late", residue_dim: int = len(FEATURE_NAMES)):
        """``in_dim``: vertex feature width (residue features + geometry); ``residue_dim``: residue features."""
        super().__init__()
        self.fusion = check_fusion(fusion)
        self.embed_res = nn.Linear(residue_dim, hidden)
        self.embed_vert = nn.Linear(in_dim, hidden)
        self.graph = nn.ModuleList(
            GATv2Conv(hidden, hidden // heads, heads=heads, edge_dim=EDGE_DIM, dropout=dropout) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.to_vertex = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.surface = nn.ModuleList(DiffusionNetBlock(hidden, dropout) for _ in range(layers))
        self.to_residue = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        if fusion == "cross_attention":
            self.cross = nn.ModuleList(ResidueCrossAttention(hidden, heads, dropout) for _ in range(layers))
        self.dropout = Dropout(dropout)
        self.head = mlp([hidden * (2 if fusion == "late" else 1) + residue_dim, hidden, 1], dropout)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, surfaces: SurfaceBatch, n_residues: int,
                is_antibody: Tensor, batch: Tensor | None = None) -> Tensor:
        batch = batch if batch is not None else torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        ef = edge_features(edge_attr)
        meshes = surfaces.meshes
        idx = torch.cat([m.vertex_residue for m in meshes])
        has_vertex = (torch.bincount(idx, minlength=n_residues) > 0).unsqueeze(1).to(x.dtype)
        h = self.embed_res(x)
        verts = [self.embed_vert(m.x) for m in meshes]
        for i in range(len(self.graph)):
            h = h + self.dropout(self.graph[i](self.norms[i](h), edge_index, ef).relu())
            down = self.to_vertex[i](h)
            verts = [self.surface[i](v + down[m.vertex_residue], m) for v, m in zip(verts, meshes)]
            mean = scatter(torch.cat(verts), idx, dim=0, dim_size=n_residues, reduce="mean")  # 0 without vertices
            h = h + self.to_residue[i](mean) * has_vertex
            if self.fusion == "cross_attention":
                h = self.cross[i](h, is_antibody, batch)
        if self.fusion == "late":
            h = torch.cat([h, partner_pool(h, is_antibody, batch)], dim=1)
        return self.head(torch.cat([h, x], dim=1)).squeeze(1)
