"""The leakage rule in code: no model receives where the antibody sits relative to the antigen."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from absites.registry import select_inputs
from absites.config import FeatureConfig
from absites.errors import ConfigError
from absites.train.loop import build_model, collate, input_dim, make_samples

IDS = ["1ahw_BA_C", "3gjf_HL_AC"]


def _moved_apart(graph, shift=np.array([60.0, -35.0, 20.0], dtype=np.float32)):
    """The same complex with its antigen translated far from the antibody (another 'pose')."""
    ag = ~graph.is_antibody.astype(bool)
    pos, pos_ca = graph.pos.copy(), graph.pos_ca.copy()
    pos[ag] += shift
    pos_ca[ag] += shift
    return dataclasses.replace(graph, pos=pos, pos_ca=pos_ca,
                               cross_edge_attr=graph.cross_edge_attr + np.float32(np.linalg.norm(shift)))


def test_model_inputs_do_not_depend_on_the_bound_pose(graphs):
    bound = collate(make_samples(graphs), torch.device("cpu"))["inputs"]
    apart = collate(make_samples([_moved_apart(g) for g in graphs]), torch.device("cpu"))["inputs"]
    assert "cross_edge_attr" not in bound
    assert set(bound) == set(apart)
    for key, value in bound.items():
        if isinstance(value, torch.Tensor):
            assert torch.allclose(value, apart[key], atol=1e-4), key  # nothing a model reads has changed
    # each protein in its own frame: centred on its own centroid
    group = bound["batch"] * 2 + bound["is_antibody"].long()
    for gid in group.unique():
        assert bound["pos"][group == gid].mean(0).abs().max() < 1e-3


@pytest.mark.parametrize("name", ["egnn", "epmp"])
def test_predictions_do_not_change_when_the_partners_move(graphs, name):
    torch.manual_seed(0)
    samples = make_samples(graphs)
    model = build_model(name, {}, input_dim(samples)).eval()
    with torch.no_grad():
        a = model(**select_inputs(model, collate(samples, torch.device("cpu"))["inputs"]))
        b = model(**select_inputs(model, collate(make_samples([_moved_apart(g) for g in graphs]),
                                                 torch.device("cpu"))["inputs"]))
    assert torch.allclose(a, b, atol=1e-4)


def test_bound_pose_cross_edges_need_an_explicit_flag(tmp_path):
    from absites.evaluate.benchmark import load_benchmark_config

    with pytest.raises(ConfigError, match="bound pose"):
        FeatureConfig(cross_edges="radius")
    cfg = FeatureConfig(cross_edges="radius", allow_bound_pose=True)
    assert cfg.as_dict()["allow_bound_pose"] is True
    assert "allow_bound_pose" not in FeatureConfig().as_dict()  # existing cache keys unchanged
    features = tmp_path / "pose.yaml"
    features.write_text("cross_edges: radius\nallow_bound_pose: true\n")
    bench = tmp_path / "leaky.yaml"
    bench.write_text(f"features: {features}\nsplits: {{train: {{value: train}}, val: {{value: val}}, "
                     "test: {value: test}}\nmodels: [{label: gbm, model: gbm}]\n")
    with pytest.raises(ConfigError, match="never may"):
        load_benchmark_config(bench)
