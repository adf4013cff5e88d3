"""Attention across the antibody–antigen pair, computed densely per complex.

The reference's cross edges form a *complete* bipartite graph in every complex:
each CDR residue (±2) is joined to each antigen residue, both ways — about 28 k
edges for a median GEP complex against 9 k within-protein kNN edges. Message
passing along those edges materialises an ``(E, heads, channels)`` tensor and
gathers / scatters it; profiling one training epoch (``bench/profile_train.py``)
put 60–75 % of EPMP, EGNN and GATv2 time there. The same attention over a
complete bipartite graph is a per-complex dense product: queries of one side
against keys of the other, padded with :func:`torch_geometric.utils.to_dense_batch`
and masked.

:func:`cross_pairs` recognises the complete pattern (and returns ``None`` for any
other cross-edge set, e.g. ``cross_edges: none``, so callers keep the edge-wise
path); :func:`dense_gat`, :func:`dense_gatv2` and :func:`dense_dot_attention`
evaluate PyG's ``GATConv`` / ``GATv2Conv`` and the dot-product attention of
:class:`absites.models.gnn.CrossAttention` from their own parameters, so the
function (and every checkpoint) is the same as on the edges; tests compare both.

Shapes: ``h (N, C)`` residue features of a batch; ``is_antibody (N,)`` bool;
``batch (N,)`` complex of each residue (sorted, as PyG batches are).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from absites.models.dropout import dropout
from absites.models.fused import pair_score


@dataclass(frozen=True)
class CrossPairs:
    """The two sides of each complex's complete bipartite cross graph, padded per complex.

    Shapes:
        ab_index, ab_mask: ``(B, La)`` residue index (0 where padded) and validity.
        ag_index, ag_mask: ``(B, Lg)`` the same for the antigen side.
    """

    ab_index: Tensor
    ab_mask: Tensor
    ag_index: Tensor
    ag_mask: Tensor

    def directions(self):
        """(query index, query mask, key index, key mask): antibody -> antigen, then antigen -> antibody."""
        return ((self.ab_index, self.ab_mask, self.ag_index, self.ag_mask),
                (self.ag_index, self.ag_mask, self.ab_index, self.ab_mask))


def cross_pairs(cross_edge_index: Tensor, is_antibody: Tensor, batch: Tensor | None) -> CrossPairs | None:
    """The dense layout of ``cross_edge_index`` when it is complete bipartite per complex, else None.

    Members are the residues with an outgoing cross edge; the pattern is complete
    when the edge count equals ``2 · Σ_complex |antibody members| · |antigen members|``
    (edges are unique and never join two complexes, so the count decides).
    """
    n = is_antibody.shape[0]
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=is_antibody.device)
    n_complex = int(batch[-1]) + 1 if n else 0
    member = torch.zeros(n, dtype=torch.bool, device=is_antibody.device)
    member[cross_edge_index[0]] = True
    ab, ag = member & is_antibody, member & ~is_antibody
    n_ab = torch.bincount(batch[ab], minlength=n_complex)
    n_ag = torch.bincount(batch[ag], minlength=n_complex)
    if cross_edge_index.shape[1] != 2 * int((n_ab * n_ag).sum()):
        return None
    ab_idx, ag_idx = ab.nonzero().squeeze(1), ag.nonzero().squeeze(1)
    ab_index, ab_mask = to_dense_batch(ab_idx, batch[ab_idx], batch_size=n_complex)
    ag_index, ag_mask = to_dense_batch(ag_idx, batch[ag_idx], batch_size=n_complex)
    return CrossPairs(ab_index, ab_mask, ag_index, ag_mask)


def _rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]`` for an index of any shape, through ``index_select``: its backward is an index_add,
    several times faster on CPU than the accumulating index_put that advanced indexing differentiates into."""
    return x.index_select(0, index.reshape(-1)).view(*index.shape, *x.shape[1:])


def _masked_softmax(logits: Tensor, key_mask: Tensor, dim: int) -> Tensor:
    """Softmax over ``dim`` with masked keys excluded; fills ``logits`` in place (pass a fresh tensor).

    Masked keys get the lowest finite value: their weight is exactly 0 beside any valid key, and a row with
    no valid key (a padded query, never read) comes out uniform instead of NaN, so no clean-up pass follows.
    """
    return torch.softmax(logits.masked_fill_(~key_mask, torch.finfo(logits.dtype).min), dim=dim)


def _scatter_rows(out: Tensor, index: Tensor, mask: Tensor, values: Tensor) -> Tensor:
    """``out`` with rows ``index[mask]`` replaced by ``values[mask]`` (out of place, autograd-safe)."""
    flat = mask.reshape(-1).nonzero().squeeze(1)
    rows = values.reshape(-1, *values.shape[2:]).index_select(0, flat)
    return out.index_copy(0, index.reshape(-1).index_select(0, flat), rows.to(out.dtype))


def dense_gat(conv, h: Tensor, pairs: CrossPairs) -> Tensor:
    """PyG ``GATConv`` (shared ``lin``, self loops, no edge features) over the complete cross graph.

    Every residue also attends to itself (GATConv adds self loops); residues with
    no cross edge get their own transformed feature.
    """
    H, C = conv.heads, conv.out_channels
    x = conv.lin(h).view(-1, H, C)
    a_src = (x * conv.att_src).sum(-1)  # (N, H)
    a_dst = (x * conv.att_dst).sum(-1)
    out = x  # residues outside the cross graph: self loop only, weight 1
    for q_idx, q_mask, k_idx, k_mask in pairs.directions():
        aq = _rows(a_dst, q_idx)
        pair = F.leaky_relu(aq.unsqueeze(2) + _rows(a_src, k_idx).unsqueeze(1), conv.negative_slope)  # (B,Lq,Lk,H)
        own = F.leaky_relu(aq + _rows(a_src, q_idx), conv.negative_slope).unsqueeze(2)  # (B, Lq, 1, H)
        mask = torch.cat([k_mask.unsqueeze(1).expand(-1, q_idx.shape[1], -1),
                          torch.ones_like(q_mask).unsqueeze(2)], dim=2).unsqueeze(3)
        alpha = _masked_softmax(torch.cat([pair, own], dim=2), mask, dim=2)
        alpha = dropout(alpha, conv.dropout, conv.training)
        msg = (torch.einsum("bqkh,bkhc->bqhc", alpha[:, :, :-1], _rows(x, k_idx))
               + alpha[:, :, -1:].transpose(2, 3) * _rows(x, q_idx))
        out = _scatter_rows(out, q_idx, q_mask, msg)
    out = out.reshape(-1, H * C) if conv.concat else out.mean(dim=1)
    if conv.res is not None:
        out = out + conv.res(h)
    return out + conv.bias if conv.bias is not None else out


def dense_gatv2(conv, h: Tensor, pairs: CrossPairs) -> Tensor:
    """PyG ``GATv2Conv`` without self loops or edge features over the complete cross graph.

    Residues with no cross edge receive no message (zero before the bias), as on the edges.
    """
    if conv.add_self_loops or conv.edge_dim is not None:
        raise ValueError("dense_gatv2 evaluates GATv2Conv without self loops and edge features only")
    H, C = conv.heads, conv.out_channels
    x_l = conv.lin_l(h).view(-1, H, C)  # sources
    if conv.share_weights:
        out = _symmetric_gatv2(conv, x_l, pairs)
    else:
        x_r = conv.lin_r(h).view(-1, H, C)  # targets
        out = torch.zeros_like(x_l)
        # one complex at a time: the (queries, keys, heads, channels) tensor is not separable, and padding
        # it to the batch's largest antigen would multiply its size
        for q_idx, q_mask, k_idx, k_mask in pairs.directions():
            for b in range(q_idx.shape[0]):
                q, k = q_idx[b][q_mask[b]], k_idx[b][k_mask[b]]
                if q.numel() == 0 or k.numel() == 0:
                    continue
                xk = x_l.index_select(0, k)
                score = pair_score(x_r.index_select(0, q), xk, conv.att.view(H, C), conv.negative_slope)
                alpha = dropout(torch.softmax(score, dim=2), conv.dropout, conv.training)  # (H, Lq, Lk)
                out = out.index_copy(0, q, _messages(alpha, xk).to(out.dtype))
    out = out.reshape(-1, H * C) if conv.concat else out.mean(dim=1)
    if conv.res is not None:
        out = out + conv.res(h)
    return out + conv.bias if conv.bias is not None else out


def _symmetric_gatv2(conv, x: Tensor, pairs: CrossPairs) -> Tensor:
    """Both directions of a weight-sharing GATv2Conv from one score tensor per complex.

    With one matrix for sources and targets, the score of antibody residue ``i`` and antigen residue ``j``,
    ``a · LeakyReLU(W h_i + W h_j)``, is the same whichever of them is the query: one ``(heads, La, Lg)`` score
    tensor (summed over channels inside :func:`absites.models.fused.pair_score`) serves the antibody's softmax over
    antigen keys (dim 2) and the antigen's softmax over antibody keys (dim 1), forward and backward — half the work
    of two directions.
    """
    H, C = conv.heads, conv.out_channels
    out = torch.zeros_like(x)
    for b in range(pairs.ab_index.shape[0]):
        a, g = pairs.ab_index[b][pairs.ab_mask[b]], pairs.ag_index[b][pairs.ag_mask[b]]
        if a.numel() == 0 or g.numel() == 0:
            continue
        xa, xg = x.index_select(0, a), x.index_select(0, g)
        score = pair_score(xa, xg, conv.att.view(H, C), conv.negative_slope)  # (H, La, Lg)
        to_ab = dropout(torch.softmax(score, dim=2), conv.dropout, conv.training)
        to_ag = dropout(torch.softmax(score, dim=1), conv.dropout, conv.training)
        out = out.index_copy(0, a, _messages(to_ab, xg).to(out.dtype))
        out = out.index_copy(0, g, _messages(to_ag.transpose(1, 2), xa).to(out.dtype))
    return out


def _messages(alpha: Tensor, xk: Tensor) -> Tensor:
    """``(H, Lq, Lk)`` attention (any strides: a transposed view is read as such) times ``(Lk, H, C)`` keys ->
    ``(Lq, H, C)`` messages, as one batched product over heads. (``einsum("qkh,khc->qhc")`` on a queries-first
    score tensor copied that tensor into this layout, forward and backward: ~15 % of a cross layer.)"""
    return torch.bmm(alpha, xk.transpose(0, 1)).transpose(0, 1)


def dense_dot_attention(q: Tensor, k: Tensor, v: Tensor, scale: float, pairs: CrossPairs) -> Tensor:
    """Single-head scaled dot-product attention along the complete cross graph, summed per query.

    Returns ``(N, C)`` messages; residues with no cross edge get zeros.
    """
    out = torch.zeros_like(v)
    q = q * scale  # once per residue, not once per (query, key) score
    for q_idx, q_mask, k_idx, k_mask in pairs.directions():
        logits = torch.bmm(_rows(q, q_idx), _rows(k, k_idx).transpose(1, 2))
        alpha = _masked_softmax(logits, k_mask.unsqueeze(1), dim=2)
        out = _scatter_rows(out, q_idx, q_mask, torch.bmm(alpha, _rows(v, k_idx)))
    return out
