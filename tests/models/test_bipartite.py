"""Dense cross-protein attention equals PyG's edge-wise layers on real complexes (batched)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GATConv, GATv2Conv

from absites.registry import select_inputs
from absites.data.dataset import batch_graphs, graph_tensors
from absites.models.bipartite import cross_pairs, dense_gat, dense_gatv2
from absites.models import gnn
from absites.models.gnn import EGNN, EPMP, CrossAttention, GATv2Net

IDS = ["1ahw_BA_C", "1egj_HL_A", "1kb5_HL_AB"]


@pytest.fixture(scope="module")
def batch(graphs):
    return batch_graphs([graph_tensors(g) for g in graphs])


def test_cross_pairs_cover_exactly_the_cross_edges(batch, graphs):
    pairs = cross_pairs(batch.cross_edge_index, batch.is_antibody, batch.batch)
    assert pairs is not None
    got = set()
    for q_idx, q_mask, k_idx, k_mask in pairs.directions():
        for b in range(q_idx.shape[0]):
            for i in q_idx[b][q_mask[b]].tolist():
                got.update((j, i) for j in k_idx[b][k_mask[b]].tolist())  # (source, target)
    want = set(map(tuple, batch.cross_edge_index.T.tolist()))
    assert got == want
    # antibody side = CDR residues (Chothia +-2) of each complex, antigen side = all antigen residues
    assert int(pairs.ab_mask.sum()) == sum(int((g.cdr > 0).sum()) for g in graphs)
    assert int(pairs.ag_mask.sum()) == sum(int((~g.is_antibody.astype(bool)).sum()) for g in graphs)


def test_incomplete_cross_edges_keep_the_edge_path(batch):
    dropped = batch.cross_edge_index[:, 1:]
    assert cross_pairs(dropped, batch.is_antibody, batch.batch) is None


@pytest.mark.parametrize("make,dense", [
    (lambda: GATConv(16, 16, heads=4, concat=False), dense_gat),
    (lambda: GATv2Conv(16, 4, heads=4, add_self_loops=False), dense_gatv2),
    (lambda: GATv2Conv(16, 4, heads=4, add_self_loops=False, share_weights=True), dense_gatv2),
])
def test_dense_layers_equal_edge_layers(batch, make, dense):
    torch.manual_seed(0)
    conv = make().eval()
    h = torch.randn(batch.num_nodes, 16)
    pairs = cross_pairs(batch.cross_edge_index, batch.is_antibody, batch.batch)
    torch.testing.assert_close(dense(conv, h, pairs), conv(h, batch.cross_edge_index), atol=1e-5, rtol=1e-4)


def test_dense_dot_attention_equals_edges(batch):
    torch.manual_seed(0)
    layer = CrossAttention(16).eval()
    h = torch.randn(batch.num_nodes, 16)
    pairs = cross_pairs(batch.cross_edge_index, batch.is_antibody, batch.batch)
    torch.testing.assert_close(layer(h, batch.cross_edge_index, pairs), layer(h, batch.cross_edge_index),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("make", [EPMP, EGNN, GATv2Net, lambda d: GATv2Net(d, share_cross=True)])
def test_models_same_logits_and_gradients_dense_or_edges(batch, make, monkeypatch):
    """The whole model gives the same logits and gradients whichever path the cross layers take."""
    torch.manual_seed(0)
    model = make(batch.x.shape[1]).eval()
    kw = dict(x=batch.x, pos=batch.pos_ca, edge_index=batch.edge_index, edge_attr=batch.edge_attr,
              cross_edge_index=batch.cross_edge_index, is_antibody=batch.is_antibody, batch=batch.batch)
    kw = select_inputs(model, kw)
    dense = model(**kw)
    grads_dense = torch.autograd.grad(dense.sum(), list(model.parameters()), allow_unused=True)
    monkeypatch.setattr(gnn, "cross_pairs", lambda *a, **k: None)  # force the edge-wise path
    edges = model(**kw)
    grads_edges = torch.autograd.grad(edges.sum(), list(model.parameters()), allow_unused=True)
    torch.testing.assert_close(dense, edges, atol=1e-4, rtol=1e-4)
    for a, b in zip(grads_dense, grads_edges):
        if a is not None or b is not None:
            torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("make", [EPMP, EGNN])
def test_a_complex_without_cross_edges_leaves_padded_rows_harmless(batch, make, monkeypatch):
    """A complex with no cross edges (its rows all padding, every key masked) changes nothing: the dense path
    still equals the edge path, and no NaN reaches the logits or the gradients."""
    keep = batch.batch[batch.cross_edge_index[0]] != 1
    cross = batch.cross_edge_index[:, keep]
    pairs = cross_pairs(cross, batch.is_antibody, batch.batch)
    assert pairs is not None and not pairs.ab_mask[1].any() and not pairs.ag_mask[1].any()
    torch.manual_seed(0)
    model = make(batch.x.shape[1]).eval()
    kw = select_inputs(model, dict(x=batch.x, pos=batch.pos_ca, edge_index=batch.edge_index,
                                   edge_attr=batch.edge_attr, cross_edge_index=cross,
                                   is_antibody=batch.is_antibody, batch=batch.batch))
    dense = model(**kw)
    grads = torch.autograd.grad(dense.sum(), [p for p in model.parameters() if p.requires_grad], allow_unused=True)
    assert torch.isfinite(dense).all()
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    monkeypatch.setattr(gnn, "cross_pairs", lambda *a, **k: None)  # force the edge-wise path
    edges = model(**kw)
    torch.testing.assert_close(dense, edges, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("message_act,coord_hidden", [(True, None), (False, None), (False, 4)])
def test_egnn_layer_split_first_layer_equals_concatenated_input(batch, message_act, coord_hidden):
    """EGNNLayer applies phi_e's first layer per node block (and, without the message SiLU, its last layer per
    node and folded into phi_x); values and parameter gradients must equal phi_e on the concatenation, per edge."""
    from absites.models.gnn import EDGE_DIM, EGNNLayer, edge_features

    torch.manual_seed(0)
    # float64: the two evaluation orders then agree to 1e-10 (in float32 one gradient element
    # in 256 differed by 1.1e-4 for coord_hidden=4, accumulation order alone)
    layer = EGNNLayer(16, EDGE_DIM, message_act=message_act, coord_hidden=coord_hidden).eval().double()
    assert layer.phi_x[0].out_features == (coord_hidden or 16)
    h, pos = torch.randn(batch.num_nodes, 16, dtype=torch.float64), batch.pos_ca.double()
    ef = edge_features(batch.edge_attr.double())
    src, dst = batch.edge_index
    rel = pos[dst] - pos[src]
    sq = (rel**2).sum(1, keepdim=True)
    m = layer.phi_e(torch.cat([h[dst], h[src], sq / 100.0, ef], dim=1))
    deg = torch.zeros(h.shape[0], 1, dtype=sq.dtype).index_add_(0, dst, torch.ones_like(sq)).clamp(min=1)
    want_pos = pos + torch.zeros_like(pos).index_add_(0, dst, rel * torch.tanh(layer.phi_x(m))) / deg
    agg = torch.zeros(h.shape[0], m.shape[1], dtype=m.dtype).index_add_(0, dst, m)
    want_h = layer.norm(h + layer.phi_h(torch.cat([h, agg], dim=1)))
    want_grads = torch.autograd.grad((want_h**2).sum() + (want_pos**2).sum(), list(layer.parameters()))
    got_h, got_pos = layer(h, pos, batch.edge_index, ef)
    got_grads = torch.autograd.grad((got_h**2).sum() + (got_pos**2).sum(), list(layer.parameters()))
    torch.testing.assert_close(got_h, want_h, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(got_pos, want_pos, atol=1e-10, rtol=1e-8)
    for got, want in zip(got_grads, want_grads):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-8)


def _cross_attention_per_complex(layer, h, is_antibody, batch, valid):
    """The per-complex loop ResidueCrossAttention replaced: the reference for the padded version."""
    z = layer.norm(h)
    delta = torch.zeros_like(h)
    for c in torch.unique(batch).tolist():
        ab = torch.nonzero((batch == c) & is_antibody, as_tuple=True)[0]
        ag = torch.nonzero((batch == c) & ~is_antibody, as_tuple=True)[0]
        for queries, keys in ((ab, ag), (ag, ab)):
            keys = keys[valid[keys]]
            if queries.numel() and keys.numel():
                out, _ = layer.attn(z[queries][None], z[keys][None], z[keys][None], need_weights=False)
                delta[queries] = out[0]
    return h + delta


def test_padded_residue_cross_attention_equals_per_complex_loop(batch):
    from absites.models.fusion import ResidueCrossAttention

    torch.manual_seed(0)
    layer = ResidueCrossAttention(16, heads=4, dropout=0.0).eval()
    h = torch.randn(batch.num_nodes, 16)
    valid = torch.rand(batch.num_nodes) > 0.3
    valid[(batch.batch == 1) & ~batch.is_antibody] = False  # one complex whose antigen has no valid residue
    got = layer(h, batch.is_antibody, batch.batch, valid=valid)
    want = _cross_attention_per_complex(layer, h, batch.is_antibody, batch.batch, valid)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert torch.isfinite(got).all()
