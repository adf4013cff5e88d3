"""The training-speed layers compute what they replace: byte-mask dropout, CSR gradient operators,
EGNN's skipped last coordinate update, and the PyG-free scatter / batching of the surface and predict
path (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from absites.models.dropout import Dropout, dropout
from absites.models.layers import narrow_linear, scatter
from absites.models.gnn import EDGE_DIM, EGNNLayer
from absites.models.surface import mesh_tensors

IDS = ["1ahw_BA_C"]


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_dropout_rate_is_p_on_a_256_grid_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    x = torch.ones(400, 2500)  # 10^6 elements
    y = dropout(x, p)
    rate = round(256 * p) / 256
    dropped = float((y == 0).float().mean())
    assert abs(dropped - rate) < 4 * np.sqrt(rate * (1 - rate) / x.numel())  # 4 binomial sd
    kept = y[y != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - rate)))
    assert abs(float(y.mean()) - 1.0) < 0.005  # E[dropout(x)] = x
    # neighbouring elements (bytes of one random word) are independent: dropped pairs at rate^2
    both = float(((y[:, 0::2] == 0) & (y[:, 1::2] == 0)).float().mean())
    assert abs(both - rate**2) < 4 * np.sqrt(rate**2 / (x.numel() / 2))


def test_dropout_module_is_a_drop_in_for_nn_dropout():
    torch.manual_seed(1)
    x = torch.randn(64, 64, requires_grad=True)
    layer = Dropout(0.1)
    assert layer.state_dict() == nn.Dropout(0.1).state_dict() == {}  # old checkpoints load unchanged
    assert layer.eval()(x) is x  # identity in evaluation
    assert dropout(x, 0.0) is x
    assert float(dropout(x.detach(), 1.0).abs().sum()) == 0.0
    layer.train()
    torch.manual_seed(2)
    a = layer(x)
    torch.manual_seed(2)
    b = layer(x)
    torch.testing.assert_close(a, b)  # seeded by torch's generator
    a.sum().backward()
    torch.testing.assert_close(x.grad, (a != 0).float() / (1 - 26 / 256))  # the gradient goes through kept units
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.5)


def test_sparse_gradient_operator_matches_scipy_forward_and_backward(graphs, surfaces):
    g = graphs[0]
    antigen = surfaces[g.complex_id][1]
    gx, gy = antigen.grad_matrices()
    stacked = sp.vstack([gx, gy]).tocsr()
    mesh = mesh_tensors(antigen, g)
    assert mesh.gradient.shape == (2 * antigen.n_vertices, antigen.n_vertices)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(antigen.n_vertices, 8)), dtype=torch.float32, requires_grad=True)
    upstream = rng.normal(size=(2 * antigen.n_vertices, 8))
    out = mesh.gradient @ x
    np.testing.assert_allclose(out.detach().numpy(), stacked @ x.detach().numpy(), rtol=1e-4, atol=1e-4)
    out.backward(torch.tensor(upstream, dtype=torch.float32))
    np.testing.assert_allclose(x.grad.numpy(), stacked.T @ upstream, rtol=1e-4, atol=1e-4)
    moved = mesh.to("cpu").gradient
    torch.testing.assert_close(moved @ x.detach(), out.detach())


def test_egnn_last_layer_skips_only_the_unused_coordinates():
    torch.manual_seed(0)
    layer = EGNNLayer(16, EDGE_DIM).eval()
    h, pos = torch.randn(30, 16), torch.randn(30, 3)
    edge_index = torch.randint(0, 30, (2, 120))
    edge_feat = torch.rand(120, EDGE_DIM)
    h_full, pos_full = layer(h, pos, edge_index, edge_feat)
    h_last, pos_last = layer(h, pos, edge_index, edge_feat, update_pos=False)
    torch.testing.assert_close(h_last, h_full)
    assert pos_last is pos and not torch.equal(pos_full, pos)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_scatter_equals_pyg_scatter_values_and_gradients(reduce):
    from torch_geometric.utils import scatter as pyg_scatter

    torch.manual_seed(2)
    src = torch.randn(500, 7, requires_grad=True)
    index = torch.randint(0, 60, (500,))
    index[index == 13] = 14  # group 13 stays empty: 0, as in PyG
    ours = scatter(src, index, 61, reduce)
    want = pyg_scatter(src, index, dim=0, dim_size=61, reduce=reduce)
    assert torch.equal(ours, want)
    assert (ours[13] == 0).all() and (ours[60] == 0).all()
    g_ours, = torch.autograd.grad(ours.square().sum(), src)
    g_want, = torch.autograd.grad(want.square().sum(), src)
    assert torch.equal(g_ours, g_want)
    one_d = torch.randn(500)
    assert torch.equal(scatter(one_d, index, 61, reduce), pyg_scatter(one_d, index, dim=0, dim_size=61, reduce=reduce))


def test_surface_networks_and_baseline_prediction_do_not_import_pyg():
    """PyG's import (torch._dynamo) is ~1.3 s of a cold prediction: the surface / baseline path keeps it out."""
    import subprocess
    import sys

    code = ("import sys; import absites.predict.run, absites.train.run, absites.train.loop, absites.models.surface; "
            "from absites import registry; registry.get('diffusionnet').build(40); registry.get('pointnet').build(40); registry.get('diffusionnet').build(40, fusion='cross_attention'); "
            "print('torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("bias", [True, False])
def test_narrow_linear_has_the_value_and_gradients_of_linear(bias):
    torch.manual_seed(3)
    full = torch.randn(64, 9, requires_grad=True)  # a column block of a wider layer, as EGNN's edge term reads it
    b = torch.randn(64, requires_grad=True) if bias else None
    x = torch.randn(5000, 5, requires_grad=True)
    g = torch.randn(5000, 64)
    grads = []
    for fn in (narrow_linear, nn.functional.linear):
        out = fn(x, full[:, 4:], b)
        grads.append((out, *torch.autograd.grad((out * g).sum(), [x, full] + ([b] if bias else []))))
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    assert float(grads[0][2][:, :4].abs().sum()) == 0.0  # only the block it read gets a gradient
    with torch.no_grad():  # inference: the plain layer, no saved tensors
        torch.testing.assert_close(narrow_linear(x, full[:, 4:], b), grads[1][0])
