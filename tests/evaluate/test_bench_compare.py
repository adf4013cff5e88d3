"""The data-effect comparison: records of benchmarks trained on different pools, side by side."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from absites.cli import cli
from absites.config import CONFIG_DIR
from absites.errors import ConfigError
from absites.evaluate.bench_compare import load_compare_config, write_compare
from absites.evaluate.bench_config import job_path, load_benchmark_config
from absites.evaluate.bench_records import JobRecord, write_record


def _record(bench: str, label: str, model: str, seed: int, para_auprc: float, n_train: int,
            history: int = 0) -> JobRecord:
    metrics = {"paratope": {"auprc": para_auprc, "auroc": 0.9},
               "epitope": {"auroc": 0.7, "mcc_at_val": 0.15}, "epitope_surface": {"auroc": 0.6}}
    return JobRecord(benchmark=bench, label=label, model=model, seed=seed, status="ok", n_train=n_train,
                     test_metrics=metrics, best_epoch=max(0, history - 2), epochs_run=history,
                     history=[{"epoch": e, "paratope_auprc": 0.5 + 0.01 * e, "epitope_auprc": 0.1}
                              for e in range(history)])


@pytest.fixture()
def compare_yaml(tmp_path):
    path = tmp_path / "effect.yaml"
    path.write_text("""kind: compare
title: two pools
sections:
  - title: GEP test
    sources:
      - {bench: gep, pool: own train, rows: [gbm, egnn]}
      - {bench: gep-plus, pool: id-disjoint, rows: [gbm, egnn]}
      - {bench: gep-plus-antigen, pool: antigen-disjoint}
""")
    return path


def test_table_is_the_records_mean_and_std_side_by_side(tmp_path, compare_yaml):
    results = tmp_path / "results"
    for seed, auprc in ((42, 0.70), (40, 0.74)):
        write_record(job_path(results / "gep", "gbm", seed), _record("gep", "gbm", "gbm", seed, auprc, 78))
        write_record(job_path(results / "gep", "egnn", seed),
                     _record("gep", "egnn", "egnn", seed, auprc - 0.05, 78, history=6))
        write_record(job_path(results / "gep-plus", "gbm", seed),
                     _record("gep-plus", "gbm", "gbm", seed, auprc + 0.1, 771))
    cfg = load_compare_config(compare_yaml)
    paths = write_compare(cfg, results, "pytest")
    assert {p.name for p in paths} == {"table.md", "table.csv", "curves.png"}
    md = (results / "effect" / "table.md").read_text()
    # gbm on both pools, grouped by model, pools in config order; the best mean in bold
    gbm_own = next(line for line in md.splitlines() if line.startswith("| gbm | own train | 78 | 2 |"))
    gbm_pool = next(line for line in md.splitlines() if line.startswith("| gbm | id-disjoint | 771 | 2 |"))
    assert md.index(gbm_own) < md.index(gbm_pool)
    assert f"{np.mean([0.70, 0.74]):.3f} ± {np.std([0.70, 0.74], ddof=1):.3f}" in gbm_own
    assert "**0.820 ± 0.028**" in gbm_pool
    assert "| egnn | own train | 78 | 2 |" in md and "5.0 of 6" in md  # best epoch 1-based, of the budget
    # a benchmark with no record yet is named, not an error; a row without records is left out
    assert "Not run yet: `absites bench gep-plus-antigen`" in md
    assert "| egnn | id-disjoint" not in md
    with (results / "effect" / "table.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and {r["pool"] for r in rows} == {"own train", "id-disjoint"}


def test_misnamed_benchmark_or_row_fails_at_load(tmp_path, compare_yaml):
    bad = tmp_path / "bad.yaml"
    bad.write_text(compare_yaml.read_text().replace("bench: gep-plus,", "bench: gep-pluss,"))
    with pytest.raises(ConfigError):
        load_compare_config(bad)
    bad.write_text(compare_yaml.read_text().replace("rows: [gbm, egnn]}", "rows: [gbm, egnm]}", 1))
    with pytest.raises(ConfigError, match="egnm"):
        load_compare_config(bad)
    with pytest.raises(ConfigError, match="kind 'compare'"):
        load_benchmark_config(compare_yaml)


def test_shipped_data_effect_config_names_every_pool_and_the_cli_writes_it(tmp_path):
    cfg = load_compare_config("data-effect")
    assert [s.title.split()[0] for s in cfg.sections] == ["GEP", "PECAN", "Paragraph"]
    for section in cfg.sections:
        assert [s.pool for s in section.sources][-2:] == ["id-disjoint", "antigen-disjoint"]
    assert (CONFIG_DIR / "bench" / "data-effect.yaml").exists()
    result = CliRunner().invoke(cli, ["bench", "data-effect", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Not run yet" in (tmp_path / "data-effect" / "table.md").read_text()  # an empty results folder
