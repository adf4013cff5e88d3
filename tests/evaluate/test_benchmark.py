"""Benchmark runner, tables, figures and the coordinate-noise robustness table, on the sample."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from absites.config import CONFIG_DIR
from absites.data.index import SplitSpec, read_index
from absites.errors import ConfigError
from absites.evaluate.benchmark import (
    job_path,
    load_benchmark_config,
    measure_preparation,
    run_benchmark,
    write_tables,
)
from absites.evaluate.robustness import run_robustness
from conftest import FULL_INDEX

ROWS = ["random", "prior", "egnn", "egnn-upstream", "egnn-downstream", "prior-egnn"]


def test_split_spec_selects_docking_complexes_of_val():
    spec = SplitSpec("val", sets="abag_docking_bm5.5")
    entries = read_index(FULL_INDEX, split=spec.value, split_column=spec.column, sets=spec.sets)
    everything = read_index(FULL_INDEX, split="val")
    assert len(everything) == 22 and len(entries) == 18  # README: 13 + 5 docking entries in val
    assert all("abag_docking_bm5.5" in e.extra["sets"].split(";") for e in entries)
    assert spec.tag == "split-val-abag_docking_bm5.5"


def test_shipped_benchmark_configs_load():
    for name in ("gep", "pecan", "docking"):
        cfg = load_benchmark_config(name)
        assert cfg.seeds == (42, 40, 63, 64, 65)
        assert {"random", "prior", "gbm", "epmp", "egnn", "gatv2", "pointnet"} <= {r.label for r in cfg.rows}
    assert load_benchmark_config("docking").splits["test"] == SplitSpec("val", sets="abag_docking_bm5.5")


def test_bad_benchmark_config_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text((CONFIG_DIR / "bench" / "sample.yaml").read_text().replace("model: prior", "model: nope"))
    with pytest.raises(ConfigError, match="nope"):
        load_benchmark_config(path)
    path.write_text((CONFIG_DIR / "bench" / "sample.yaml").read_text().replace("members: [prior, egnn]",
                                                                               "members: [prior, egnm]"))
    with pytest.raises(ConfigError, match="ensemble row prior-egnn.*egnm"):
        load_benchmark_config(path)


@pytest.fixture(scope="module")
def sample_bench(tmp_path_factory):
    out, runs = tmp_path_factory.mktemp("results"), tmp_path_factory.mktemp("runs")
    cfg = load_benchmark_config("sample")
    run_benchmark(cfg, out, runs, jobs=2, labels=ROWS, command="pytest")  # two jobs at a time, as users run it
    return cfg, out, runs


@pytest.mark.slow
def test_benchmark_writes_tables_and_figures(sample_bench):
    cfg, out, runs = sample_bench
    folder = out / "sample"
    for name in ("table.md", "table.csv", "roc.png", "pr.png", "preparation.json"):
        assert (folder / name).stat().st_size > 0
    # preparation timed for the inputs the rows run need: graphs only (no surface row ran)
    prep = json.loads((folder / "preparation.json").read_text())
    assert set(prep["seconds_per_complex"]) == {"graph"} and prep["seconds_per_complex"]["graph"] > 0
    assert measure_preparation(cfg, rows=[cfg.row("pointnet")], skip=("graph", "surface:coarse")) == {}
    with (folder / "table.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["model"], r["task"]) for r in rows} == {(m, t) for m in ROWS for t in ("paratope", "epitope_surface", "epitope")}
    for r in rows:
        assert r["n_seeds"] == "2" and r["n_train"] == "10" and r["n_test"] == "10"
        for metric in ("auroc", "auprc", "f1", "precision", "recall"):
            assert 0.0 <= float(r[f"{metric}_mean"]) <= 1.0
    # the table is the records' mean and sample std, nothing else
    recs = [json.loads(job_path(folder, "egnn", s).read_text()) for s in (42, 40)]
    values = [r["test_metrics"]["epitope"]["auroc"] for r in recs]
    row = next(r for r in rows if r["model"] == "egnn" and r["task"] == "epitope")
    assert float(row["auroc_mean"]) == pytest.approx(np.mean(values), abs=1e-4)
    assert float(row["auroc_std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-4)
    # the positional prior is deterministic: zero spread over seeds
    prior = next(r for r in rows if r["model"] == "prior" and r["task"] == "paratope")
    assert float(prior["auroc_std"]) == pytest.approx(0.0, abs=1e-9)
    md = (folder / "table.md").read_text()
    assert "split == test (10)" in md and "pytest" in md and "Best baseline on AUPRC" in md
    # epitope tables lead with the surface residues, then all antigen residues
    assert md.index("## paratope") < md.index("## epitope, surface residues") < md.index("## epitope, all antigen")
    assert recs[0]["history"] and recs[0]["epochs_run"] == len(recs[0]["history"])
    # the ensemble ran after its members, on the same seed's runs, and is neither a baseline nor a network
    ens = json.loads(job_path(folder, "prior-egnn", 42).read_text())
    assert ens["status"] == "ok" and ens["n_train"] == 10
    members = json.loads((runs / "sample" / "prior-egnn" / "seed42" / "ensemble.json").read_text())["members"]
    assert members == ["../../prior/seed42", "../../egnn/seed42"]
    assert not [line for line in md.splitlines() if line.startswith("Best baseline") and "prior-egnn" in line]


@pytest.mark.slow
def test_init_ablation_table_and_curves(sample_bench):
    _, out, _ = sample_bench
    folder = out / "sample"
    assert (folder / "init_curves.png").stat().st_size > 0
    with (folder / "init_ablation.csv").open() as fh:
        rows = {r["setting"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"upstream", "balanced", "downstream"}
    # the balanced run reaches its own best by construction, at its best epoch
    recs = [json.loads(job_path(folder, "egnn", s).read_text()) for s in (42, 40)]
    assert rows["balanced"]["reached"] == "2"
    expected = np.mean([int(np.argmax([h["score"] for h in r["history"]])) + 1 for r in recs])
    assert float(rows["balanced"]["epochs_to_reach_mean"]) == pytest.approx(expected)
    assert "init_scale" in rows["upstream"]["params"]


@pytest.mark.slow
def test_benchmark_resumes_without_rerunning_finished_jobs(sample_bench):
    cfg, out, runs = sample_bench
    path = job_path(out / "sample", "prior", 42)
    stamp = path.stat().st_mtime_ns
    run_benchmark(cfg, out, runs, jobs=1, labels=["prior"], seeds=[42])
    assert path.stat().st_mtime_ns == stamp
    assert write_tables(cfg, out / "sample")[0].name == "table.csv"


@pytest.mark.slow
def test_robustness_zero_noise_changes_nothing_and_noise_moves_epitope(sample_bench):
    cfg, out, runs = sample_bench
    folder = run_robustness(cfg, (0.0, 1.0), out, runs, labels=["prior", "egnn"], command="pytest")
    rows = json.loads((folder / "runs.json").read_text())
    for r in rows:
        if r["sigma"] == 0.0:  # rebuilt from scratch without noise: the same predictions
            # to float rounding: the clean metrics were computed in the training job (its thread count and batch
            # shapes), these in this process; on an AVX-512 machine the products then sum in another order, the
            # probabilities move by ~1e-7 and a few near-tied residue pairs swap (egnn: 1.2e-6 of AUROC)
            for task in ("paratope", "epitope"):
                assert r[f"{task}_auroc_noisy"] == pytest.approx(r[f"{task}_auroc_clean"], abs=1e-4)
    prior_1 = next(r for r in rows if r["label"] == "prior" and r["sigma"] == 1.0)
    # the prior's paratope score is positional (numbering), its epitope score uses RSA, which noise moves
    assert prior_1["paratope_auroc_noisy"] == pytest.approx(prior_1["paratope_auroc_clean"])
    assert prior_1["epitope_auroc_noisy"] != pytest.approx(prior_1["epitope_auroc_clean"])
    assert "σ Å" in (folder / "table.md").read_text()


@pytest.mark.slow
def test_robustness_rerun_keeps_valid_rows_and_redoes_stale_ones(sample_bench, monkeypatch):
    import absites.evaluate.robustness as robustness

    cfg, out, runs = sample_bench
    folder = run_robustness(cfg, (1.0,), out, runs, labels=["prior", "egnn"], command="pytest")
    rows = json.loads((folder / "runs.json").read_text())
    for r in rows:
        r["kept"] = True
    stale = next(r for r in rows if r["label"] == "egnn" and r["sigma"] == 1.0)
    stale["epitope_auroc_clean"] += 0.1  # no longer matches its job record: must be evaluated again
    (folder / "runs.json").write_text(json.dumps(rows))
    calls = []
    real = robustness.noisy_records
    monkeypatch.setattr(robustness, "noisy_records", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    run_robustness(cfg, (1.0,), out, runs, labels=["egnn"], command="pytest")
    after = json.loads((folder / "runs.json").read_text())
    assert calls == [1.0]
    by_key = {(r["label"], r["seed"], r["sigma"]): r for r in after}
    assert "kept" not in by_key[(stale["label"], stale["seed"], 1.0)]
    assert all(r.get("kept") for k, r in by_key.items() if k != (stale["label"], stale["seed"], 1.0))
    assert {r["label"] for r in after} >= {"prior", "egnn"}  # rows of models not asked for stay
    run_robustness(cfg, (1.0,), out, runs, labels=["prior", "egnn"], command="pytest")
    assert calls == [1.0]  # nothing left to evaluate: no noisy structures rebuilt


def test_pr_curve_points_are_the_interpolated_precision():
    from absites.evaluate.benchmark import _curves

    # thresholds 0.9 (P 1, R .5), 0.8 (P .5, R .5), 0.7 (P 2/3, R 1), 0.1 (P .5, R 1)
    c = _curves(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.8, 0.7, 0.1]))
    grid = np.linspace(0, 1, len(c["precision"]))
    prec = np.array(c["precision"])
    assert prec[np.isclose(grid, 0.5)][0] == pytest.approx(1.0)
    assert prec[-1] == pytest.approx(2 / 3, abs=1e-4)
    assert np.all(np.diff(prec) <= 1e-12)  # the envelope never rises with recall
    assert c["tpr"][-1] == pytest.approx(1.0) and c["prevalence"] == 0.5


@pytest.mark.slow
def test_a_failing_job_is_recorded_and_the_rest_carry_on(tmp_path):
    path = tmp_path / "broken.yaml"
    text = (CONFIG_DIR / "bench" / "sample.yaml").read_text().split("models:")[0]
    path.write_text(text + "models:\n  - {label: prior, model: prior}\n"
                    "  - {label: broken, model: egnn, params: {no_such_parameter: 1}}\n")
    with pytest.raises(ConfigError, match="unknown param.*no_such_parameter"):  # caught before any job runs
        load_benchmark_config(path)
    path.write_text(text + "models:\n  - {label: prior, model: prior}\n"
                    "  - {label: broken, model: egnn, training: {epochs: 0}}\n")  # fails when the job starts
    cfg = load_benchmark_config(path)
    run_benchmark(cfg, tmp_path / "out", tmp_path / "runs", jobs=1, seeds=[42])
    broken = json.loads(job_path(tmp_path / "out" / "broken", "broken", 42).read_text())
    assert broken["status"] == "failed" and "epochs" in broken["error"]
    assert json.loads(job_path(tmp_path / "out" / "broken", "prior", 42).read_text())["status"] == "ok"
    assert "Failed jobs: broken seed 42" in (tmp_path / "out" / "broken" / "table.md").read_text()
