"""Every model family trains on CPU; learning works; surface batching; exact resume; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from absites.config import TrainingConfig
from absites.data.dataset import batch_graphs
from absites.metrics import evaluate
from absites import registry
from absites.models.surface import collate_surfaces
from absites.surface.build import complex_surfaces
from absites.train.balance import param_groups
from absites.train.loop import build_model, fit, load_checkpoint, make_samples, predict, validation_score
from conftest import COARSE, QUICK

IDS = ["1ahw_BA_C", "1egj_HL_A", "3o2d_HL_A"]


@pytest.mark.parametrize("name", ["epmp", "egnn", "gatv2"])
def test_graph_models_train_two_epochs(graphs, name):
    samples = make_samples(graphs)
    result = fit(name, {}, QUICK, samples[:2], samples[2:], None)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    probs = predict(result.model, samples, torch.device("cpu"))
    assert all(p.shape == (g.num_nodes,) and ((p >= 0) & (p <= 1)).all() for p, g in zip(probs.values(), graphs))


@pytest.mark.parametrize("name", ["diffusionnet", "pointnet"])
def test_surface_models_train_two_epochs(graphs, surfaces, name):
    samples = make_samples(graphs, surfaces)
    result = fit(name, {"width": 32}, QUICK, samples[:2], samples[2:], None)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    probs = predict(result.model, samples, torch.device("cpu"))
    assert set(probs) == set(IDS)


@pytest.mark.parametrize("name", registry.names("baseline"))
def test_baselines(graphs, name):
    model = registry.get(name).build().fit(graphs[:2])
    p = model.predict(graphs[2])
    assert p.shape == (graphs[2].num_nodes,) and ((p >= 0) & (p <= 1)).all()


def test_positional_prior_learns_positions(graphs):
    prior = registry.get("prior").build().fit(graphs)
    g = graphs[0]
    cdr = (g.cdr > 0) & g.is_antibody
    # on its own training data the CDR prior ranks binders above non-binders
    from absites.metrics import auroc

    assert auroc(g.y[cdr], prior.predict(g)[cdr]) > 0.6
    outside_v_domain = g.is_antibody & (g.numbering == "")
    assert outside_v_domain.any() and (prior.predict(g)[outside_v_domain] == 0).all()


@pytest.mark.slow
def test_learning_works_memorises_three_complexes(graphs):
    samples = make_samples(graphs)
    cfg = TrainingConfig(epochs=60, lr=3e-3, batch_size=3, patience=100, scheduler="constant", weight_decay=0.0)
    result = fit("gatv2", {"dropout": 0.0}, cfg, samples, [], None)
    metrics = evaluate(graphs, predict(result.model, samples, torch.device("cpu")))
    assert metrics["paratope"]["auroc"] > 0.95
    assert metrics["epitope"]["auroc"] > 0.95


def test_batch_of_two_surface_records_keeps_vertex_residue_indices(graphs, surfaces):
    samples = make_samples(graphs[:2], surfaces)
    batch = batch_graphs([s.data for s in samples])
    sb = collate_surfaces([s.meshes for s in samples], [s.graph.num_nodes for s in samples])
    assert len(sb.meshes) == 4 and sb.complex_of_mesh == [0, 0, 1, 1]
    # residue identity through the batch equals residue identity in each complex
    chains = np.concatenate([g.res_chain for g in graphs[:2]])
    seqnums = np.concatenate([g.res_seqnum for g in graphs[:2]])
    for mesh, owner, surf in zip(sb.meshes, sb.complex_of_mesh, [p for g in graphs[:2] for p in surfaces[g.complex_id]]):
        idx = mesh.vertex_residue.numpy()
        g = graphs[owner]
        np.testing.assert_array_equal(chains[idx], g.res_chain[surf.vertex_residue])
        np.testing.assert_array_equal(seqnums[idx], g.res_seqnum[surf.vertex_residue])
        assert (batch.batch[mesh.vertex_residue] == owner).all()
        assert (batch.is_antibody[mesh.vertex_residue] == mesh.is_antibody).all()


def test_per_task_selection_serves_each_task_from_its_best_epoch(graphs, tmp_path):
    """selection: per_task keeps the epoch of best val paratope AUPRC for antibody residues and of best val
    epitope AUPRC for antigen residues: the returned model scores exactly those two epochs' values."""
    samples = make_samples(graphs)
    cfg = TrainingConfig(epochs=6, batch_size=2, patience=6, scheduler="constant", lr=3e-3, selection="per_task")
    result = fit("epmp", {}, cfg, samples[:2], samples, tmp_path)
    want = {t: int(np.argmax([h[f"{t}_auprc"] for h in result.history])) for t in ("paratope", "epitope")}
    assert result.task_epochs == want  # with this seed: paratope epoch 1, epitope epoch 5
    got = validation_score(graphs, predict(result.model, samples, torch.device("cpu")))
    for task, epoch in want.items():
        assert got[f"{task}_auprc"] == pytest.approx(result.history[epoch][f"{task}_auprc"], abs=1e-9)
    assert result.best_epoch == max(want.values())
    # the checkpoint rebuilds both states
    loaded, state = load_checkpoint(tmp_path / "best.pt")
    assert state["meta"]["per_task_epochs"] == want
    again = predict(loaded, samples, torch.device("cpu"))
    first = predict(result.model, samples, torch.device("cpu"))
    for cid in first:
        np.testing.assert_array_equal(again[cid], first[cid])
    # predict says which epoch serves the task it scores (1-based)
    from absites.train.run import load_run

    fn, _, _ = load_run(tmp_path / "best.pt")
    for task, epoch in want.items():
        said = fn.notes(graphs[0], task)
        assert len(said) == 1 and f"{task} scores from the weights of epoch {epoch + 1} " in said[0]
    with pytest.raises(ValueError, match="per_task"):
        fit("epmp", {}, cfg, samples[:2], [], None)
    with pytest.raises(Exception, match="selection"):
        TrainingConfig(selection="best")


@pytest.mark.slow
@pytest.mark.parametrize("selection", ["joint", "per_task"])
def test_resume_gives_same_weights(graphs, tmp_path, selection):
    samples = make_samples(graphs)
    cfg4 = TrainingConfig(epochs=4, batch_size=2, patience=10, scheduler="constant", selection=selection)
    full = fit("epmp", {}, cfg4, samples[:2], samples[2:], tmp_path / "full")
    fit("epmp", {}, TrainingConfig(epochs=2, batch_size=2, patience=10, scheduler="constant", selection=selection),
        samples[:2], samples[2:], tmp_path / "part")
    resumed = fit("epmp", {}, cfg4, samples[:2], samples[2:], tmp_path / "part", resume=True)
    last_full = torch.load(tmp_path / "full" / "last.pt", weights_only=False)["model"]
    last_resumed = torch.load(tmp_path / "part" / "last.pt", weights_only=False)["model"]
    for k in last_full:
        torch.testing.assert_close(last_full[k], last_resumed[k], rtol=0, atol=0)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3]
    assert full.best_epoch == resumed.best_epoch
    assert full.task_epochs == resumed.task_epochs


@pytest.mark.slow
def test_cli_train_and_evaluate(tmp_path):
    from click.testing import CliRunner

    from absites.cli import cli

    run = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "--model", "epmp", "--training", "quick", "--data", "sample",
                                   "--out", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(out["val"]) == {"paratope", "epitope", "epitope_surface"}
    assert (run / "best.pt").exists() and (run / "last.pt").exists()
    meta = json.loads((run / "best.json").read_text())["meta"]
    assert meta["seed"] == 42 and meta["code_version"] and meta["data"]["n_train"] == 10
    res = CliRunner().invoke(cli, ["evaluate", "--checkpoint", str(run), "--split", "test", "--data", "sample",
                                   "--out", str(tmp_path / "test.json")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "test.json").read_text())
    assert metrics["n_complexes"] == 10 and 0 <= metrics["metrics"]["epitope"]["auroc"] <= 1


def test_diffusionnet_on_point_cloud_operators(complexes, graphs):
    import dataclasses

    cfg = dataclasses.replace(COARSE, operators="point_cloud")
    surfs = {g.complex_id: complex_surfaces(c, g, cfg, 4.5) for c, g in zip(complexes[:2], graphs[:2])}
    ab = surfs[graphs[0].complex_id][0]
    assert ab.evals[0] == pytest.approx(0, abs=1e-7) and ab.evals[1] > 0
    samples = make_samples(graphs[:2], surfs)
    result = fit("diffusionnet", {"width": 16, "blocks": 2}, QUICK, samples[:1], samples[1:], None)
    assert all(np.isfinite(h["loss"]) for h in result.history)


def test_random_baseline_is_reproducible_across_processes():
    """Same seed, same complex -> same scores, whatever the interpreter's string-hash seed."""
    import os
    import subprocess
    import sys

    code = ("from types import SimpleNamespace as S; from absites.models.baselines import RandomBaseline; "
            "print(RandomBaseline(42).predict(S(complex_id='1ahw_BA_C', num_nodes=4)).tolist())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2)}
    assert len(outs) == 1


@pytest.mark.slow
def test_network_reads_templates_shape_and_smoothing_in_training_and_prediction(graphs, tmp_path):
    from absites.config import FeatureConfig, load_data_config, load_model_config
    from absites.graph.build import FEATURE_NAMES
    from absites.graph.shape import SHAPE_FEATURES
    from absites.models.smoothing import EpitopeSmoothing
    from absites.models.templates import TEMPLATE_FEATURES
    from absites.train.run import load_run, train_run

    training = TrainingConfig(epochs=1, batch_size=2, patience=2, scheduler="constant", templates=0.5,
                              epitope_smoothing=True, shape_features=True)
    result = train_run(load_model_config("epmp"), training, load_data_config("sample"), FeatureConfig(), None,
                       tmp_path / "run", workers=1)
    assert (result.out_dir / "templates.joblib").exists()
    predict_fn, meta, _ = load_run(result.out_dir)
    assert meta["in_dim"] == len(FEATURE_NAMES) + len(TEMPLATE_FEATURES) + len(SHAPE_FEATURES)
    assert meta["feature_names"][len(FEATURE_NAMES):] == list(TEMPLATE_FEATURES) + list(SHAPE_FEATURES)
    prob = predict_fn([graphs[0]])[graphs[0].complex_id]  # a plain record: templates and shape added on the way
    assert prob.shape == (graphs[0].num_nodes,) and np.isfinite(prob).all()
    smoothing = EpitopeSmoothing(**meta["epitope_smoothing"])  # chosen on val, kept in the checkpoint
    notes = predict_fn.notes(graphs[0])
    assert notes[0].startswith("epitope templates:") and len(notes) == 1 + smoothing.active


def test_optimizer_is_fused_adamw_with_the_default_update():
    """make_optimizer: fused AdamW on CPU, the same update as PyTorch's per-tensor AdamW, learning-rate groups kept."""
    from absites.train.loop import make_optimizer

    torch.manual_seed(0)
    model = build_model("gatv2", {}, 12)
    twin = build_model("gatv2", {}, 12)
    twin.load_state_dict(model.state_dict())
    cfg = TrainingConfig(lr=1e-3, weight_decay=1e-4)
    opt = make_optimizer(model, {"head": 2.0}, cfg)
    assert all(g["fused"] for g in opt.param_groups)
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([1e-3, 2e-3])
    ref = torch.optim.AdamW(param_groups(twin, {"head": 2.0}, cfg.lr), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            foreach=False)
    for step in range(3):
        for m in (model, twin):
            torch.manual_seed(step)
            for p in m.parameters():
                p.grad = torch.randn_like(p)
        opt.step()
        ref.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
