"""GATv2 scores fused by torch.compile: the same values and gradients as PyG's layer and the eager scores,
an eager fallback when the compiler fails, and the allocator setting of CPU training."""

from __future__ import annotations

import logging

import pytest
import torch
from torch_geometric.nn import GATv2Conv

from absites.data.dataset import batch_graphs, graph_tensors
from absites.models import fused
from absites.models.fused import FusedGATv2Conv, _eager_pair_score, _Fused, pair_score
from absites.models.gnn import EDGE_DIM, edge_features

IDS = ["1ahw_BA_C", "1egj_HL_A"]


@pytest.fixture(scope="module")
def batch(graphs):
    return batch_graphs([graph_tensors(g) for g in graphs])


def test_fused_layer_equals_pyg_layer_values_and_gradients(batch):
    torch.manual_seed(0)
    ref = GATv2Conv(16, 4, heads=4, edge_dim=EDGE_DIM).eval()
    layer = FusedGATv2Conv(16, 4, heads=4, edge_dim=EDGE_DIM).eval()
    layer.load_state_dict(ref.state_dict())  # the same parameters: checkpoints load either way
    h = torch.randn(batch.num_nodes, 16, requires_grad=True)
    ef = edge_features(batch.edge_attr)
    want = ref(h, batch.edge_index, ef)
    got = layer(h, batch.edge_index, ef)  # gradients on: the compiled score (once probed), its own sums
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    for a, b in zip(torch.autograd.grad(got.square().sum(), [h, *layer.parameters()]),
                    torch.autograd.grad(want.square().sum(), [h, *ref.parameters()])):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    with torch.no_grad():  # inference runs the eager score
        torch.testing.assert_close(layer(h, batch.edge_index, ef), want, atol=1e-5, rtol=1e-4)


def test_pair_score_is_every_query_key_pair():
    torch.manual_seed(1)
    xq, xk, att = torch.randn(7, 2, 3), torch.randn(11, 2, 3), torch.randn(2, 3)
    got = pair_score(xq, xk, att, 0.2)
    i, j, h = 4, 9, 1  # one entry by hand
    z = xq[i, h] + xk[j, h]
    assert got.shape == (2, 7, 11) and got.is_contiguous()  # heads first
    torch.testing.assert_close(got[h, i, j], (torch.where(z > 0, z, 0.2 * z) * att[h]).sum())
    xq.requires_grad_(True)
    torch.testing.assert_close(pair_score(xq, xk, att, 0.2), _eager_pair_score(xq, xk, att, 0.2))


def test_a_failing_compiler_falls_back_to_the_eager_score(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(fused.torch, "compile", broken)
    score = _Fused(_eager_pair_score)
    xq = torch.randn(3, 2, 4, requires_grad=True)
    with caplog.at_level(logging.WARNING, logger="absites.models.fused"):
        out = score(xq, torch.randn(5, 2, 4), torch.randn(2, 4), slope=0.2)
    assert score.impl is _eager_pair_score and out.shape == (2, 3, 5)
    assert "no C++ compiler" in caplog.text and "eagerly" in caplog.text
    monkeypatch.setenv("ABSITES_COMPILE", "0")
    off = _Fused(_eager_pair_score)
    off(xq, torch.randn(5, 2, 4), torch.randn(2, 4), slope=0.2)
    assert off.impl is _eager_pair_score


def test_training_keeps_freed_memory_on_glibc(monkeypatch):
    import platform

    from absites.train.loop import keep_freed_memory

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert keep_freed_memory() is True
    monkeypatch.setenv("ABSITES_MALLOC", "0")
    assert keep_freed_memory() is False


def test_gatv2net_adds_the_self_loops_once_as_each_layer_would(batch, monkeypatch):
    """GATv2Net adds the within-protein self loops (edge features: the incoming mean) once per forward; the
    same model with every layer adding its own gives the same logits and gradients."""
    import absites.models.gnn as gnn

    torch.manual_seed(0)
    net = gnn.GATv2Net(batch.x.shape[1]).eval()
    kw = dict(x=batch.x, edge_index=batch.edge_index, edge_attr=batch.edge_attr,
              cross_edge_index=batch.cross_edge_index, is_antibody=batch.is_antibody, batch=batch.batch)
    got = net(**kw)
    got_grads = torch.autograd.grad(got.square().sum(), list(net.parameters()))
    monkeypatch.setattr(gnn, "remove_self_loops", lambda ei, ea: (ei, ea))
    monkeypatch.setattr(gnn, "add_self_loops", lambda ei, ea, **kwargs: (ei, ea))
    for conv in net.intra:
        conv.add_self_loops = True
    want = net(**kw)
    want_grads = torch.autograd.grad(want.square().sum(), list(net.parameters()))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


def test_attention_dropout_of_the_fused_layer_drops_its_share_and_rescales(batch):
    torch.manual_seed(2)
    layer = FusedGATv2Conv(16, 4, heads=4, edge_dim=EDGE_DIM, dropout=0.5)
    h = torch.randn(batch.num_nodes, 16)
    ef = edge_features(batch.edge_attr)
    with torch.no_grad():
        _, (_, kept) = layer.train()(h, batch.edge_index, ef, return_attention_weights=True)
        _, (_, full) = layer.eval()(h, batch.edge_index, ef, return_attention_weights=True)
    dropped = kept == 0
    assert abs(float(dropped.float().mean()) - 0.5) < 0.01  # ~1e5 coefficients at rate 128/256
    torch.testing.assert_close(kept[~dropped], 2 * full[~dropped])  # the rest scaled by 1 / (1 - rate)
