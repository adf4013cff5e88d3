"""I-GEP graph networks on residue graphs. Each returns one logit per residue.

No model sees distances *across* the two proteins: the cross edges carry the
reference's complete CDR × antigen bipartite pattern, and any distance on them
would come from the bound pose, i.e. leak the answer. Geometry enters only
through within-protein edges (distances, sequence separation) and, in EGNN,
within-protein coordinates. Absolute coordinates are never features (they are
not invariant to rotation).

* :class:`EPMP` — the reference: a GCN layer per protein (separate weights), then
  two GAT layers over the antibody↔antigen bipartite edges, residual
  concatenation, per-residue logits.
* :class:`EGNN` — E(n)-equivariant message passing (Satorras, Hoogeboom & Welling
  2021) within each protein, with invariant attention messages across.
* :class:`GATv2Net` — the modern variant: GATv2 with edge features within each
  protein and GATv2 across, interleaved, with LayerNorm and residuals.

EGNN and GATv2 take ``fusion`` (see :mod:`absites.models.fusion`): ``edges``
(default: messages along the cross edges, CDR × antigen), ``cross_attention``
(dense attention between all residues of the two proteins, in every layer) or
``late`` (no exchange inside the encoder; the partner's max-pooled feature is
appended before the head, as the reference's surface models do).

Shapes (all forwards): ``x (N, F)``, ``pos (N, 3)``, ``edge_index (2, E)``,
``edge_attr (E, 2)`` raw (distance Å, sequence separation), ``cross_edge_index
(2, C)``, ``is_antibody (N,)`` bool → logits ``(N,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, MessagePassing
from torch_geometric.utils import add_self_loops, remove_self_loops, softmax

from absites.models.bipartite import CrossPairs, cross_pairs, dense_dot_attention, dense_gat, dense_gatv2
from absites.models.dropout import Dropout
from absites.models.fused import FusedGATv2Conv
from absites.models.fusion import ResidueCrossAttention, check_fusion, partner_pool
from absites.models.layers import mlp

GRAPH_FUSIONS = ("edges", "cross_attention", "late")


def edge_features(edge_attr: Tensor) -> Tensor:
    """Raw (distance Å, sequence separation or -1) -> (d/10, same chain, min(sep, 32)/32, 1/sep)."""
    dist, sep = edge_attr[:, 0], edge_attr[:, 1]
    same = (sep >= 0).float()
    sep_c = sep.clamp(min=0)
    return torch.stack([dist / 10.0, same, sep_c.clamp(max=32) / 32.0, same / sep_c.clamp(min=1)], dim=1)


EDGE_DIM = 4


class EPMP(nn.Module):
    """GCN per protein, then 2 GAT layers across the pair; residual concatenation."""

    needs = ("x", "edge_index", "cross_edge_index", "is_antibody", "batch")  # = forward's parameters

    def __init__(self, in_dim: int, hidden: int = 64, heads: int = 4, dropout: float = 0.2):
        super().__init__()
        self.gcn_ab = GCNConv(in_dim, hidden)
        self.gcn_ag = GCNConv(in_dim, hidden)
        self.gat1 = GATConv(hidden, hidden, heads=heads, concat=False, dropout=dropout)
        self.gat2 = GATConv(hidden, hidden, heads=heads, concat=False, dropout=dropout)
        self.dropout = Dropout(dropout)
        self.head = mlp([in_dim + 2 * hidden, hidden, 1], dropout)

    def forward(self, x, edge_index, cross_edge_index, is_antibody, batch=None):
        ab = is_antibody.unsqueeze(1)
        h = torch.where(ab, self.gcn_ab(x, edge_index), self.gcn_ag(x, edge_index)).relu()
        h = self.dropout(h)
        pairs = cross_pairs(cross_edge_index, is_antibody, batch)
        g = _across(self.gat1, h, cross_edge_index, pairs, dense_gat).relu()
        g = _across(self.gat2, self.dropout(g), cross_edge_index, pairs, dense_gat).relu()
        return self.head(torch.cat([x, h, g], dim=1)).squeeze(1)


class EGNNLayer(MessagePassing):
    """One E(n)-equivariant layer: invariant messages from squared distances; coordinates updated.

    ``message_act=False``: the message MLP ``phi_e`` ends in its linear layer instead of a SiLU. A linear
    layer commutes with the sum over a node's edges, so it is applied per node after the sum, and it folds
    into the first layer of ``phi_x`` for the coordinate update: the same function as evaluating ``phi_e`` per
    edge (tested), with two per-edge hidden × hidden products per forward pass instead of five."""

    def __init__(self, hidden: int, edge_dim: int, dropout: float = 0.0, message_act: bool = True,
                 coord_hidden: int | None = None):
        super().__init__(aggr="add")
        self.message_act = message_act
        self.phi_e = mlp([2 * hidden + 1 + edge_dim, hidden, hidden], final_act=message_act)
        self.phi_x = mlp([hidden, coord_hidden or hidden, 1])
        self.phi_h = mlp([2 * hidden, hidden, hidden], dropout)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h, pos, edge_index, edge_feat, update_pos: bool = True):
        """``update_pos=False`` skips the coordinate update (``pos`` comes back as it went in): the last layer's
        coordinates are never read, so computing them would only cost an edge MLP."""
        src, dst = edge_index
        # index_select rather than x[idx]: its backward is an index_add, several times faster on CPU than
        # the accumulating index_put that advanced indexing differentiates into
        rel = pos.index_select(0, dst) - pos.index_select(0, src)
        sq = (rel**2).sum(1, keepdim=True)
        # phi_e's first layer on [h_dst, h_src, sq, edge_feat], split by input block: the two node
        # blocks are applied per node and gathered, not per edge (same weights, same value, ~2x fewer FLOPs)
        first, width = self.phi_e[0], h.shape[1]
        w_dst, w_src = first.weight[:, :width], first.weight[:, width:2 * width]
        node = h @ torch.cat([w_dst, w_src]).T  # [h W_dst^T, h W_src^T] (N, 2 hidden) in one product
        # the bias rides on the destination block (added per node, not per edge), and the two gathers and the
        # edge block's product accumulate in place into one (E, hidden) tensor: two fewer passes over it
        pre = (node[:, :width] + first.bias).index_select(0, dst).add_(node[:, width:].index_select(0, src))
        pre = pre.addmm_(torch.cat([sq / 100.0, edge_feat], dim=1), first.weight[:, 2 * width:].T)
        count = torch.zeros(h.shape[0], 1, device=h.device, dtype=sq.dtype).index_add_(0, dst, torch.ones_like(sq))
        if self.message_act:
            m = self.phi_e[1:](pre)
            agg = torch.zeros(h.shape[0], m.shape[1], device=h.device, dtype=m.dtype).index_add_(0, dst, m)
        else:  # sum the hidden activations per node, then phi_e's last layer: sum_j (W a_ij + b) = W sum_j a_ij + n b
            m, last = self.phi_e[1:-1](pre), self.phi_e[-1]
            summed = torch.zeros(h.shape[0], m.shape[1], device=h.device, dtype=m.dtype).index_add_(0, dst, m)
            agg = nn.functional.linear(summed, last.weight) + count * last.bias
        h = self.norm(h + self.phi_h(torch.cat([h, agg], dim=1)))
        if not update_pos:
            return h, pos
        if self.message_act:
            gate = self.phi_x(m)
        else:  # phi_x's first layer after phi_e's last: one product, W_x (W a + b) + b_x = (W_x W) a + (W_x b + b_x)
            first_x = self.phi_x[0]
            gate = self.phi_x[1:](nn.functional.linear(m, first_x.weight @ last.weight,
                                                       first_x.weight @ last.bias + first_x.bias))
        shift = torch.zeros_like(pos).index_add_(0, dst, rel * torch.tanh(gate)) / count.clamp(min=1)
        return h, pos + shift


class CrossAttention(MessagePassing):
    """Attention messages along antibody↔antigen edges, using features only (no geometry)."""

    def __init__(self, hidden: int, dropout: float = 0.0):
        super().__init__(aggr="add", node_dim=0)
        self.q, self.k, self.v = (nn.Linear(hidden, hidden) for _ in range(3))
        self.out = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = Dropout(dropout)
        self.scale = hidden**-0.5

    def forward(self, h, cross_edge_index, pairs: CrossPairs | None = None):
        """``pairs``: the dense layout of a complete bipartite ``cross_edge_index`` (same result, faster)."""
        if pairs is not None:
            msg = dense_dot_attention(self.q(h), self.k(h), self.v(h), self.scale, pairs)
        else:
            msg = self.propagate(cross_edge_index, q=self.q(h), k=self.k(h), v=self.v(h))
        return self.norm(h + self.dropout(self.out(msg)))

    def message(self, q_i, k_j, v_j, index, ptr, size_i):
        alpha = softmax((q_i * k_j).sum(-1) * self.scale, index, ptr, size_i)
        return v_j * alpha.unsqueeze(-1)


class EGNN(nn.Module):
    """EGNN within each protein, interleaved with feature-only cross attention."""

    needs = ("x", "pos", "edge_index", "edge_attr", "cross_edge_index", "is_antibody", "batch")

    def __init__(self, in_dim: int, hidden: int = 64, layers: int = 3, dropout: float = 0.1,
                 fusion: str = "edges", message_act: bool = True, coord_hidden: int | None = None):
        """``message_act``: a SiLU after the message MLP, as in Satorras et al.; without it the message's last
        layer runs per node (:class:`EGNNLayer`). ``coord_hidden``: the hidden width of the coordinate MLP
        ``phi_x`` (``hidden`` when None, as in Satorras et al.)."""
        super().__init__()
        self.fusion = check_fusion(fusion, GRAPH_FUSIONS)
        self.embed = nn.Linear(in_dim, hidden)
        self.layers = nn.ModuleList(EGNNLayer(hidden, EDGE_DIM, dropout, message_act, coord_hidden)
                                    for _ in range(layers))
        if fusion == "edges":
            self.cross = nn.ModuleList(CrossAttention(hidden, dropout) for _ in range(layers))
        elif fusion == "cross_attention":
            self.cross = nn.ModuleList(ResidueCrossAttention(hidden, 4, dropout) for _ in range(layers))
        self.head = mlp([hidden * (2 if fusion == "late" else 1) + in_dim, hidden, 1], dropout)

    def forward(self, x, pos, edge_index, edge_attr, cross_edge_index, is_antibody=None, batch=None):
        ef = edge_features(edge_attr)
        h, p = self.embed(x), pos
        pairs = (cross_pairs(cross_edge_index, is_antibody, batch)
                 if self.fusion == "edges" and is_antibody is not None else None)
        for i, layer in enumerate(self.layers):
            h, p = layer(h, p, edge_index, ef, update_pos=i < len(self.layers) - 1)
            if self.fusion == "edges":
                h = self.cross[i](h, cross_edge_index, pairs)
            elif self.fusion == "cross_attention":
                h = self.cross[i](h, is_antibody, _batch(batch, h))
        if self.fusion == "late":
            h = torch.cat([h, partner_pool(h, is_antibody, _batch(batch, h))], dim=1)
        return self.head(torch.cat([h, x], dim=1)).squeeze(1)


class GATv2Net(nn.Module):
    """GATv2 with edge features within proteins and GATv2 across, interleaved, pre-norm residual."""

    needs = ("x", "edge_index", "edge_attr", "cross_edge_index", "is_antibody", "batch")

    def __init__(self, in_dim: int, hidden: int = 64, heads: int = 4, layers: int = 2, dropout: float = 0.1,
                 fusion: str = "edges", share_cross: bool = False):
        """``share_cross``: the cross layers use one weight matrix for sources and targets (GATv2Conv's
        ``share_weights``), so both directions of a complex share one score tensor (half the cost of the
        cross layers, :func:`absites.models.bipartite.dense_gatv2`)."""
        super().__init__()
        self.fusion = check_fusion(fusion, GRAPH_FUSIONS)
        self.embed = nn.Linear(in_dim, hidden)
        self.intra = nn.ModuleList(
            FusedGATv2Conv(hidden, hidden // heads, heads=heads, edge_dim=EDGE_DIM, dropout=dropout,
                           add_self_loops=False)  # added once per forward instead (below)
            for _ in range(layers))
        if fusion == "edges":
            self.inter = nn.ModuleList(
                GATv2Conv(hidden, hidden // heads, heads=heads, dropout=dropout, add_self_loops=False,
                          share_weights=share_cross)
                for _ in range(layers))
        elif fusion == "cross_attention":
            self.inter = nn.ModuleList(ResidueCrossAttention(hidden, heads, dropout) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(2 * layers))
        self.dropout = Dropout(dropout)
        self.head = mlp([hidden * (2 if fusion == "late" else 1) + in_dim, hidden, 1], dropout)

    def forward(self, x, edge_index, edge_attr, cross_edge_index, is_antibody=None, batch=None):
        # the self loops GATv2Conv adds (edge features: the mean of each residue's incoming ones), added once
        # here: every layer would compute the same
        loops, ef = add_self_loops(*remove_self_loops(edge_index, edge_features(edge_attr)), fill_value="mean",
                                   num_nodes=x.shape[0])
        h = self.embed(x)
        pairs = (cross_pairs(cross_edge_index, is_antibody, batch)
                 if self.fusion == "edges" and is_antibody is not None else None)
        for i, intra in enumerate(self.intra):
            h = h + self.dropout(intra(self.norms[2 * i](h), loops, ef).relu())
            if self.fusion == "edges":
                cross = _across(self.inter[i], self.norms[2 * i + 1](h), cross_edge_index, pairs, dense_gatv2)
                h = h + self.dropout(cross.relu())
            elif self.fusion == "cross_attention":
                h = self.inter[i](h, is_antibody, _batch(batch, h))
        if self.fusion == "late":
            h = torch.cat([h, partner_pool(h, is_antibody, _batch(batch, h))], dim=1)
        return self.head(torch.cat([h, x], dim=1)).squeeze(1)


def _across(conv, h: Tensor, cross_edge_index: Tensor, pairs: CrossPairs | None, dense) -> Tensor:
    """A cross-protein attention layer: dense over a complete bipartite pattern, else along the edges."""
    return dense(conv, h, pairs) if pairs is not None else conv(h, cross_edge_index)


def _batch(batch: Tensor | None, h: Tensor) -> Tensor:
    """The complex index of each residue (one complex when no batch vector is given)."""
    return batch if batch is not None else torch.zeros(h.shape[0], dtype=torch.long, device=h.device)
