"""Robustness to coordinate noise: every trained benchmark run, on test structures perturbed by
isotropic Gaussian noise on every atom (σ = 0.5 and 1.0 Å by default).

Everything downstream of the coordinates is rebuilt from the noisy structure —
residue graph (kNN edges, distances, relative SASA) and surfaces (mesh,
Laplacian eigenpairs, HKS/WKS) — while the labels stay those of the clean
structure: a model must find the same binding residues in a slightly wrong
structure. Each (σ, complex) gets one fixed noise draw shared by every model, so
the drops are comparable across rows. Numbering (CDRs) is unchanged by noise.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from absites.config import load_data_config, load_feature_config, load_surface_config
from absites.data.index import read_index
from absites.errors import AbsitesError
from absites.evaluate.bench_config import BENCH_TASKS, BenchmarkConfig, git_commit, row_surface, run_dir_of
from absites.evaluate.bench_tables import load_records, write_summary_csv
from absites.provenance import available_cpus, machine_description
from absites.metrics import evaluate
from absites.data.augment import noisy_records as one_copy
from absites.train.run import load_run

log = logging.getLogger(__name__)

NOISE_METRICS = ("auroc", "auprc", "mcc_at_val")


def noisy_records(entries, features, surface_names: list[str], sigma: float, seed: int = 0, workers: int = 1):
    """(graphs, {surface config name: {complex id: (ab, ag)}}, skipped) for the perturbed entries, built in
    ``workers`` processes (each copy's noise is drawn from its id, σ and ``seed``: the same in any process)."""
    configs = {name: load_surface_config(name) for name in surface_names}
    if workers > 1 and len(entries) > 1:
        from joblib import Parallel, delayed

        built = Parallel(n_jobs=min(workers, len(entries)))(
            delayed(_one_noisy_copy)(e, features, sigma, seed, configs) for e in entries)
    else:
        built = [_one_noisy_copy(e, features, sigma, seed, configs) for e in entries]
    graphs, surfaces, skipped = [], {name: {} for name in surface_names}, []
    for entry, (copy, why) in zip(entries, built):
        if copy is None:
            skipped.append(f"{entry.complex_id}: {why}")
            continue
        noisy, surf = copy
        for name in surface_names:
            surfaces[name][entry.complex_id] = surf[name]
        graphs.append(noisy)
    return graphs, surfaces, skipped


def _one_noisy_copy(entry, features, sigma: float, seed: int, configs):
    """((graph, surfaces), "") of one noisy copy, or (None, why) when it cannot be built."""
    try:
        return one_copy(entry, features, sigma, seed, configs), ""
    except AbsitesError as exc:
        return None, str(exc)


def run_robustness(bench: BenchmarkConfig, sigmas: tuple[float, ...] = (0.5, 1.0), out_root: str | Path = "results",
                   runs_root: str | Path = "runs/bench", labels: list[str] | None = None,
                   command: str = "", force: bool = False) -> Path:
    """Evaluate the finished jobs of ``bench`` (those of ``labels``, or all) on noisy test structures;
    write the drop table.

    Resumable: rows already in ``runs.json`` whose clean metrics still match their job record are kept
    (other models and σ included), so a rerun after new benchmark rows only evaluates those; ``force``
    evaluates the selected runs again.
    """
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    finished = [r for r in load_records(bench, Path(out_root) / bench.name) if r.ok]
    records = [r for r in finished if labels is None or r.label in labels]
    if not records:
        raise AbsitesError(f"bench {bench.name}: no finished job to test for robustness; run absites bench first")
    spec = bench.splits["test"]
    entries = read_index(data.data_root() / data.index, split=spec.value, split_column=spec.column, sets=spec.sets,
                         primary_only=data.primary_only)
    out_dir = Path(out_root) / f"robustness-{bench.name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    # rows of other models / σ from earlier calls stay, as long as their job record is unchanged
    done = {} if force else _reusable_rows(out_dir / "runs.json", finished)
    for sigma in sigmas:
        todo = [r for r in records if (r.label, r.seed, sigma) not in done]
        if not todo:
            continue
        log.info("σ=%s: %d runs to evaluate, %d kept from runs.json", sigma, len(todo), len(records) - len(todo))
        # noisy surfaces only for the configs the runs still to evaluate read
        surface_names = sorted({row_surface(bench, bench.row(r.label)) for r in todo} - {None})
        graphs, surfaces, skipped = noisy_records(entries, features, surface_names, sigma, workers=available_cpus())
        if skipped:
            log.warning("σ=%s: %d skipped: %s", sigma, len(skipped), "; ".join(skipped))
        for rec in todo:
            run_dir = run_dir_of(runs_root, bench.name, rec.label, rec.seed)
            predict_fn, _, thresholds = load_run(run_dir)
            surface = row_surface(bench, bench.row(rec.label))
            surf = surfaces[surface] if surface else None
            kept = [g for g in graphs if surf is None or g.complex_id in surf]
            metrics = evaluate(kept, predict_fn(kept, surf), thresholds)
            row = {"label": rec.label, "seed": rec.seed, "sigma": sigma, "n_test": len(kept)}
            for task in BENCH_TASKS:
                for m in NOISE_METRICS:
                    row[f"{task}_{m}_clean"] = rec.test_metric(task, m)
                    row[f"{task}_{m}_noisy"] = metrics[task].get(m, float("nan"))
            done[(rec.label, rec.seed, sigma)] = row
            log.info("σ=%s %s seed %s done", sigma, rec.label, rec.seed)
            (out_dir / "runs.json").write_text(json.dumps(list(done.values()), indent=1))  # survives a stop
    order = {(r.label, r.seed): i for i, r in enumerate(finished)}
    rows = sorted(done.values(), key=lambda r: (r["sigma"], order[(r["label"], r["seed"])]))
    (out_dir / "runs.json").write_text(json.dumps(rows, indent=1))
    return write_robustness_tables(bench, rows, out_dir, command)


def _reusable_rows(path: Path, records: list[dict[str, Any]]) -> dict[tuple[str, int, float], dict[str, Any]]:
    """Rows of an earlier run whose job record is unchanged (same clean test metrics)."""
    if not path.exists():
        return {}
    try:
        old_rows = json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; evaluating every run again", path)
        return {}
    by_job = {(r.label, r.seed): r for r in records}
    kept = {}
    for row in old_rows:
        rec = by_job.get((row.get("label"), row.get("seed")))
        if rec is not None and all(np.isclose(row.get(f"{task}_{m}_clean", np.nan),
                                              rec.test_metric(task, m), equal_nan=True)
                                   for task in BENCH_TASKS for m in NOISE_METRICS):
            kept[(row["label"], row["seed"], row["sigma"])] = row
    return kept


def write_robustness_tables(bench: BenchmarkConfig, rows: list[dict[str, Any]], out_dir: Path,
                            command: str = "") -> Path:
    labels = [r.label for r in bench.rows if any(x["label"] == r.label for x in rows)]
    sigmas = sorted({r["sigma"] for r in rows})
    summary = []
    for label in labels:
        for sigma in sigmas:
            sel = [r for r in rows if r["label"] == label and r["sigma"] == sigma]
            entry: dict[str, Any] = {"model": label, "sigma": sigma, "n_seeds": len(sel)}
            for task in BENCH_TASKS:
                for m in NOISE_METRICS:
                    clean = np.array([r[f"{task}_{m}_clean"] for r in sel], dtype=float)
                    noisy = np.array([r[f"{task}_{m}_noisy"] for r in sel], dtype=float)
                    drop = noisy - clean
                    entry[f"{task}_{m}_clean"] = float(np.nanmean(clean))
                    entry[f"{task}_{m}_noisy"] = float(np.nanmean(noisy))
                    entry[f"{task}_{m}_drop"] = float(np.nanmean(drop))
                    entry[f"{task}_{m}_drop_std"] = float(np.nanstd(drop, ddof=1)) if len(sel) > 1 else float("nan")
            summary.append(entry)
    write_summary_csv(out_dir / "table.csv", summary)
    lines = [f"# Robustness to coordinate noise — benchmark `{bench.name}`", "",
             f"Produced by `{command or 'absites robustness ' + bench.name}`; not edited by hand. Commit "
             f"{git_commit()}; machine: {machine_description()}.", "",
             f"Every trained run of `results/{bench.name}` (same checkpoints, same val thresholds) predicts the "
             f"test structures ({bench.splits['test'].describe()}) with N(0, σ²) Å added to every atom; graphs, "
             "SASA and surfaces are rebuilt from the noisy atoms, labels are the clean structure's. One noise "
             "draw per (σ, complex), shared by all models. Cells: noisy value (change vs clean, mean ± std over "
             "seeds).", ""]
    for task in BENCH_TASKS:
        lines += [f"## {task}", "", "| model | σ Å | seeds | " + " | ".join(m.replace("_at_val", "").upper()
                                                                     for m in NOISE_METRICS) + " |",
                  "|---|---:|---:|" + "---:|" * len(NOISE_METRICS)]
        for e in summary:
            cells = []
            for m in NOISE_METRICS:
                std = e[f"{task}_{m}_drop_std"]
                cells.append(f"{e[f'{task}_{m}_noisy']:.3f} ({e[f'{task}_{m}_drop']:+.3f}"
                             + (f" ± {std:.3f})" if np.isfinite(std) else ")"))
            lines.append(f"| {e['model']} | {e['sigma']:g} | {e['n_seeds']} | " + " | ".join(cells) + " |")
        lines.append("")
    (out_dir / "table.md").write_text("\n".join(lines))
    return out_dir
