"""Beyond the paper: joint graph-surface model, early antibody-antigen fusion, unbalanced initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from absites.registry import select_inputs
from absites.errors import ConfigError
from absites.models.fusion import ResidueCrossAttention, partner_pool
from absites.train.balance import apply_init_scale, param_groups, readout_names, split_balance
from absites.train.loop import build_model, collate, fit, make_samples, predict
from conftest import QUICK

IDS = ["1ahw_BA_C", "3o2d_HL_A"]


def test_partner_pool_takes_the_other_protein_of_the_same_complex():
    h = torch.tensor([[1.0], [2.0], [10.0], [20.0], [5.0], [7.0]])
    ab = torch.tensor([True, True, False, False, True, False])
    batch = torch.tensor([0, 0, 0, 0, 1, 1])
    assert partner_pool(h, ab, batch).squeeze(1).tolist() == [20.0, 20.0, 2.0, 2.0, 7.0, 5.0]


def test_cross_attention_never_mixes_complexes():
    torch.manual_seed(0)
    layer = ResidueCrossAttention(8, heads=2, dropout=0.0).eval()
    h = torch.randn(7, 8)
    ab = torch.tensor([True, True, False, False, True, False, False])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    out = layer(h, ab, batch)
    h2 = h.clone()
    h2[4:] = torch.randn(3, 8)  # change complex 1 only
    out2 = layer(h2, ab, batch)
    assert torch.allclose(out[:4], out2[:4])
    # antibody residues see the antigen: changing antigen residues of complex 0 changes its antibody outputs
    h3 = h.clone()
    h3[2:4] = torch.randn(2, 8)
    assert not torch.allclose(layer(h3, ab, batch)[:2], out[:2])


@pytest.mark.parametrize("fusion", ["late", "cross_attention"])
def test_graph_fusion_options_train(graphs, fusion):
    samples = make_samples(graphs)
    for name in ("egnn", "gatv2"):
        result = fit(name, {"hidden": 16, "fusion": fusion}, QUICK, samples[:1], samples[1:], None)
        assert all(np.isfinite(h["loss"]) for h in result.history)


def test_late_fusion_graph_model_sees_partner_only_through_the_pooled_vector(graphs):
    """With late fusion and no cross edges used, antibody logits change when the antigen changes
    (the partner max-pool), and are rotation-invariant (no absolute coordinates)."""
    torch.manual_seed(0)
    model = build_model("egnn", {"hidden": 16, "fusion": "late"}, graphs[0].x.shape[1]).eval()
    b = select_inputs(model, collate(make_samples(graphs[:1]), torch.device("cpu"))["inputs"])
    base = model(**b)
    q, _ = torch.linalg.qr(torch.randn(3, 3))
    rotated = dict(b, pos=b["pos"] @ q)
    assert torch.allclose(model(**rotated), base, atol=1e-4)
    x = b["x"].clone()
    x[~b["is_antibody"]] += 1.0
    assert not torch.allclose(model(**dict(b, x=x))[b["is_antibody"]], base[b["is_antibody"]])


@pytest.mark.parametrize("name,params", [("diffusionnet", {"width": 16, "blocks": 2, "fusion": "cross_attention"}),
                                         ("pointnet", {"width": 16, "fusion": "cross_attention"}),
                                         ("joint", {"hidden": 16, "layers": 2, "fusion": "late"}),
                                         ("joint", {"hidden": 16, "layers": 2, "fusion": "cross_attention"})])
def test_surface_fusion_and_joint_models_train_and_predict(graphs, surfaces, name, params):
    samples = make_samples(graphs, surfaces)
    result = fit(name, params, QUICK, samples[:1], samples[1:], None)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    probs = predict(result.model, samples, torch.device("cpu"))
    for g in graphs:
        p = probs[g.complex_id]
        assert p.shape == (g.num_nodes,) and ((p >= 0) & (p <= 1)).all()


def test_joint_model_uses_both_views(graphs, surfaces):
    """Changing vertex features (surface view) or residue features (graph view) both move the logits."""
    torch.manual_seed(0)
    samples = make_samples(graphs[:1], surfaces)
    model = build_model("joint", {"hidden": 16, "layers": 2}, samples[0].meshes[0].x.shape[1]).eval()
    b = select_inputs(model, collate(samples, torch.device("cpu"))["inputs"])
    base = model(**b)
    mesh = b["surfaces"].meshes[0]
    mesh.x = mesh.x + 1.0
    assert not torch.allclose(model(**b), base)


def test_balance_keys_are_validated_and_split_off():
    params, balance = split_balance({"hidden": 8, "init_scale": {"upstream": 0.5}, "lr_scale": {"readout": 2}})
    assert params == {"hidden": 8} and balance == {"init_scale": {"upstream": 0.5}, "lr_scale": {"readout": 2.0}}
    with pytest.raises(ConfigError, match="init_scale"):
        split_balance({"init_scale": {"upstream": -1}})


def test_init_scale_and_lr_groups_hit_the_right_layers():
    torch.manual_seed(0)
    model = build_model("gatv2", {"hidden": 16}, 39)
    readout = readout_names(model)
    assert readout == {"head.3.weight", "head.3.bias"}  # mlp [in, hidden, 1]: Linear, SiLU, Dropout, Linear
    before = {k: v.clone() for k, v in model.named_parameters()}
    apply_init_scale(model, {"upstream": 0.5, "readout": 2.0, "embed": 3.0})
    after = dict(model.named_parameters())
    assert torch.allclose(after["embed.weight"], 3.0 * before["embed.weight"])  # layer prefix wins
    assert torch.allclose(after["head.3.weight"], 2.0 * before["head.3.weight"])
    assert torch.allclose(after["head.0.weight"], 0.5 * before["head.0.weight"])
    assert torch.equal(after["head.3.bias"], before["head.3.bias"])  # biases keep their values
    assert torch.equal(after["norms.0.weight"], before["norms.0.weight"])  # so do norms
    groups = param_groups(model, {"upstream": 3.0}, 1e-3)
    lrs = {g["lr_scale"]: g["lr"] for g in groups}
    assert lrs == pytest.approx({1.0: 1e-3, 3.0: 3e-3})
    readout_group = next(g for g in groups if g["lr_scale"] == 1.0)
    assert {id(p) for p in readout_group["params"]} == {id(after[n]) for n in readout}


def test_training_applies_unbalanced_settings(graphs):
    samples = make_samples(graphs)
    torch.manual_seed(0)
    balanced = fit("egnn", {"hidden": 16}, QUICK, samples[:1], samples[1:], None)
    upstream = fit("egnn", {"hidden": 16, "init_scale": {"upstream": 0.25}, "lr_scale": {"upstream": 4.0}},
                   QUICK, samples[:1], samples[1:], None)
    assert not torch.allclose(balanced.model.embed.weight, upstream.model.embed.weight)
    assert all(np.isfinite(h["loss"]) for h in upstream.history)
