"""Ensembles of trained runs: the weight grid, per-side combination, the choice on validation, and a run
directory that predicts like any other (real sample complexes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from absites.config import DataConfig, FeatureConfig, ModelConfig, TrainingConfig
from absites.errors import AbsitesError
from absites.models.ensemble import Ensemble, EnsembleWeights, choose_weights, simplex_grid
from conftest import SAMPLE, SAMPLE_INDEX

IDS = ["1ahw_BA_C", "1egj_HL_A", "1kb5_HL_AB"]


def test_simplex_grid_lists_every_mix_with_the_members_alone_first():
    grid = simplex_grid(2, 0.25)
    assert grid[:2] == [(1.0, 0.0), (0.0, 1.0)]
    assert sorted(grid) == [(0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (1.0, 0.0)]
    three = simplex_grid(3, 0.5)
    assert len(three) == 6 and all(np.isclose(sum(w), 1.0) for w in three)  # C(2 + 2, 2) points
    assert len(simplex_grid(3, 0.25)) == 15  # C(4 + 2, 2)
    with pytest.raises(ValueError, match="step"):
        simplex_grid(2, 0.3)
    with pytest.raises(ValueError):
        Ensemble(["a", "a"])


def test_combine_weights_the_antibody_and_the_antigen_apart(graphs):
    g = graphs[0]
    ab = g.is_antibody.astype(bool)
    a, b = np.full(g.num_nodes, 0.2), np.full(g.num_nodes, 0.6)
    out = EnsembleWeights((0.25, 0.75), (1.0, 0.0)).combine_one(g, [a, b])
    np.testing.assert_allclose(out[ab], 0.25 * 0.2 + 0.75 * 0.6, rtol=1e-6)
    np.testing.assert_allclose(out[~ab], 0.2, rtol=1e-6)
    with pytest.raises(ValueError, match="sum to 1"):
        EnsembleWeights((0.5, 0.6), (1.0, 0.0))


def test_the_choice_takes_each_member_where_it_is_right(graphs):
    rng = np.random.default_rng(0)
    knows_paratope, knows_epitope = {}, {}
    for g in graphs:  # each member: the labels on one side, noise on the other
        ab, y = g.is_antibody.astype(bool), g.y.astype(float)
        noise = rng.random(g.num_nodes)
        knows_paratope[g.complex_id] = np.where(ab, 0.1 + 0.8 * y, noise)
        knows_epitope[g.complex_id] = np.where(ab, noise, 0.1 + 0.8 * y)
    weights, tried = choose_weights(graphs, [knows_paratope, knows_epitope])
    assert weights == EnsembleWeights((1.0, 0.0), (0.0, 1.0))
    assert set(tried) == {"paratope", "epitope"} and len(tried["epitope"]) == 5
    # identical members: a tie, which keeps the first member alone
    same, _ = choose_weights(graphs, [knows_epitope, dict(knows_epitope)])
    assert same == EnsembleWeights((1.0, 0.0), (1.0, 0.0))


def test_an_ensemble_run_predicts_the_weighted_members_and_is_no_worse_on_val_than_either(tmp_path, graphs,
                                                                                         sample_cache):
    from click.testing import CliRunner

    from absites.cli import cli
    from absites.predict.run import load_default_models, predict_file
    from absites.train.run import load_run, run_exists, train_ensemble, train_run

    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    prior = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), None, tmp_path / "prior", workers=1)
    gbm = train_run(ModelConfig("gbm", {"max_iter": 20}), TrainingConfig(), data, FeatureConfig(), None,
                    tmp_path / "gbm", workers=1)
    result = train_ensemble([prior.out_dir, gbm.out_dir], data, tmp_path / "ens", workers=1)
    assert run_exists(tmp_path / "ens")
    state = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    weights = EnsembleWeights.from_dict(state["weights"])
    assert state["members"] == ["../prior", "../gbm"]  # relative: the runs folder can move
    # the chosen epitope mix scores at least as well on val as either member alone (both are on the grid)
    for task, metric in (("paratope", "auprc"), ("epitope", "auroc")):
        best_alone = max(prior.val_metrics[task][metric], gbm.val_metrics[task][metric])
        assert result.val_metrics[task][metric] >= best_alone - 1e-9
        assert max(state["meta"]["weights_tried"][task].values()) == pytest.approx(result.val_metrics[task][metric])
    fn, meta, thresholds = load_run(tmp_path / "ens")
    p_fn, g_fn = load_run(prior.out_dir)[0], load_run(gbm.out_dir)[0]
    g = graphs[0]
    np.testing.assert_allclose(fn([g])[g.complex_id],
                               weights.combine_one(g, [p_fn([g])[g.complex_id], g_fn([g])[g.complex_id]]), rtol=1e-6)
    assert meta["model"] == "ensemble" and meta["member_models"] == ["prior", "gbm"]
    assert set(thresholds) >= {"paratope", "epitope"} and fn.notes(g)[0].startswith("ensemble: paratope = ")
    # a prediction's notes give only the weights of the side the model scores
    assert fn.notes(g, "epitope")[0] == weights.describe(["prior", "gbm"], "epitope")
    assert fn.notes(g, "paratope") == [weights.describe(["prior", "gbm"], "paratope")]
    assert "epitope" not in fn.notes(g, "paratope")[0]
    # the command line builds the same ensemble, and predict serves it (both members are partner-free)
    out = CliRunner().invoke(cli, ["ensemble", "--run", str(prior.out_dir), "--run", str(gbm.out_dir),
                                   "--data", "sample", "--out", str(tmp_path / "cli"), "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["weights"] == state["weights"]
    models = load_default_models(tmp_path / "cli", tmp_path / "cli")
    assert models["epitope"].partner_free
    pred = predict_file(SAMPLE["1ahw_BA_C"].path, tmp_path / "pred", models, write_surfaces=False)[0]
    assert any(n.startswith("ensemble: ") for n in pred.notes) and pred.outputs


def test_an_ensemble_of_a_missing_run_or_of_mismatched_inputs_is_refused(sample_cache, tmp_path):
    from absites.train.run import train_ensemble, train_run

    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    with pytest.raises(AbsitesError, match="no trained run"):
        train_ensemble([tmp_path / "nothing", tmp_path / "else"], data, tmp_path / "ens")
    a = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), None, tmp_path / "a", workers=1)
    b = train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(knn_k=8), None, tmp_path / "b",
                  workers=2)  # the sample's records once more, with other features: both cores
    with pytest.raises(AbsitesError, match="different residue features"):
        train_ensemble([a.out_dir, b.out_dir], data, tmp_path / "ens")
    with pytest.raises(AbsitesError, match="not trained"):
        train_run(ModelConfig("ensemble", {"members": ["x", "y"]}), TrainingConfig(), data, FeatureConfig(), None,
                  tmp_path / "e")


def test_a_shared_member_answers_a_repeated_call_on_the_same_objects_once():
    """The paratope and epitope ensembles of one prediction share members: the second ensemble's call on the
    same graph and surface objects gets the first answer; any other objects are computed again."""
    from absites.train.run import LastAnswer

    calls = []

    def member(graphs, surfaces=None):
        calls.append(len(graphs))
        return {g.complex_id: np.full(3, len(calls), dtype=np.float32) for g in graphs}

    member.notes = lambda graph, task=None: ["a note"]
    fn = LastAnswer(member)
    g1, g2 = SimpleGraph("a"), SimpleGraph("b")
    surfaces = {"a": ("antibody", "antigen")}
    first = fn([g1], surfaces)
    assert fn([g1], surfaces) is first and calls == [1]  # a new list of the same graph, the same surfaces
    assert fn([g1], None) is not first  # other surfaces
    assert fn([g1, g2], None)["b"][0] == 3 and fn([g2], None)["b"][0] == 4 and calls == [1, 1, 2, 1]
    assert fn([SimpleGraph("b")], None)["b"][0] == 5  # an equal but new graph object: computed
    assert fn.notes(g1, "epitope") == ["a note"]
    assert not hasattr(LastAnswer(lambda graphs, surfaces=None: {}), "notes")


class SimpleGraph:
    def __init__(self, complex_id):
        self.complex_id = complex_id
