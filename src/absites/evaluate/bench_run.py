"""Running a benchmark: every (row, seed) job trained, tested and recorded, in parallel, resumably.

:func:`run_benchmark` prepares every split once (the cache is shared), then
trains and tests each (row, seed) job in parallel processes, writing one JSON
per job under ``results/<name>/runs/`` as soon as it is done (a re-run skips
finished jobs, so an interrupted benchmark resumes).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from absites.config import load_data_config, load_feature_config, load_surface_config
from absites.data.index import read_index
from absites.errors import AbsitesError
from absites.evaluate.bench_config import (
    BENCH_TASKS,
    CURVE_POINTS,
    CURVES_VERSION,
    BenchmarkConfig,
    git_commit,
    ensemble_members,
    job_path,
    row_configs,
    row_kind,
    run_dir_of,
    surface_names,
)
from absites.evaluate.bench_records import JobRecord, read_record, write_record
from absites.evaluate.bench_tables import write_tables
from absites.provenance import machine_description
from absites.data.prepare import prepare
from absites.metrics import evaluate, gather
from absites.train.run import load_split, predict_on_split, train_ensemble, train_run

log = logging.getLogger(__name__)


def _curves(y: np.ndarray, s: np.ndarray) -> dict[str, list[float]]:
    """ROC (TPR on a fixed FPR grid) and PR (precision on a fixed recall grid), for seed-averaged figures."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    if y.all() or not y.any():
        return {}
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    # sklearn lists PR points from recall 1 (lowest threshold) down to recall 0; the interpolated
    # precision at recall r is the best precision at any recall >= r (the usual monotone envelope)
    order = np.argsort(recall, kind="stable")
    best_from = np.maximum.accumulate(precision[order][::-1])[::-1]  # max precision at recall >= recall[order][i]
    first = np.searchsorted(recall[order], grid, side="left")
    prec_at = best_from[np.minimum(first, len(order) - 1)]
    return {"tpr": np.interp(grid, fpr, tpr).round(5).tolist(), "precision": prec_at.round(5).tolist(),
            "prevalence": float(y.mean()), "version": CURVES_VERSION}


def _test_run(bench: BenchmarkConfig, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(test summary: metrics, counts, inference seconds; ROC / PR curve points per task) of a trained run."""
    part, preds, thresholds, seconds = predict_on_split(run_dir, bench.splits["test"], load_data_config(bench.data),
                                                        workers=1)
    curves = {}
    for task in BENCH_TASKS:
        pairs = gather(part.graphs, preds, task)
        curves[task] = _curves(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    test = {"n_complexes": len(part.graphs), "skipped": part.skipped, "inference_seconds": seconds,
            "metrics": evaluate(part.graphs, preds, thresholds)}
    return test, curves


def run_job(bench: BenchmarkConfig, label: str, seed: int, out_dir: Path, runs_dir: Path, threads: int = 1,
            command: str = "", fresh: bool = False) -> JobRecord:
    """Train one (row, seed), test it, write its JSON record. Errors are recorded, not raised.

    An interrupted training continues from its ``last.pt``; ``fresh`` starts it over."""
    import torch


    torch.set_num_threads(max(1, threads))
    row = bench.row(label)
    record = JobRecord(benchmark=bench.name, label=label, model=row.model, seed=seed, surface=row.surface,
                       params=row.params, commit=git_commit(), machine=machine_description(), threads=threads,
                       command=command,
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    path = job_path(out_dir, label, seed)
    try:
        model, training, surface = row_configs(bench, row, seed, max(1, threads))
        data, features = load_data_config(bench.data), load_feature_config(bench.features)
        run_dir = run_dir_of(runs_dir, bench.name, label, seed)
        t0 = time.perf_counter()
        if model.spec.is_ensemble:  # combines the same seed's runs of its member rows (trained first)
            members = ensemble_members(row)
            result = train_ensemble([run_dir_of(runs_dir, bench.name, m, seed) for m in members], data, run_dir,
                                    val_split=bench.splits["val"], step=model.params.get("step", 0.25), workers=1,
                                    names=members, calibrate=bool(model.params.get("calibrate", False)),
                                    focus=bool(model.params.get("focus", False)))
        else:
            result = train_run(model, training, data, features, surface, run_dir, resume=not fresh, workers=1,
                               train_split=bench.splits["train"], val_split=bench.splits["val"])
        train_wall = time.perf_counter() - t0
        test, curves = _test_run(bench, run_dir)
        meta = json.loads((run_dir / "metrics.json").read_text())["meta"]
        history = (json.loads((run_dir / "best.json").read_text())["history"]
                   if (run_dir / "best.json").exists() else [])
        record = dataclasses.replace(record, **{
            "status": "ok", "training": dataclasses.asdict(training), "model_params": model.params,
            "n_train": meta["data"]["n_train"], "n_val": meta["data"]["n_val"], "n_test": test["n_complexes"],
            "skipped": meta.get("skipped", []) + test["skipped"],
            "train_seconds": result.train_seconds, "train_wall_seconds": train_wall,
            "seconds_per_epoch": result.seconds_per_epoch, "best_epoch": result.best_epoch,
            "epochs_run": len(history), "history": history,
            "inference_seconds": test["inference_seconds"],
            "val_metrics": result.val_metrics, "thresholds": result.thresholds, "test_metrics": test["metrics"],
            "curves": curves,
        })
    except AbsitesError as exc:
        record = dataclasses.replace(record, status="failed", error=str(exc))
        log.error("bench %s %s seed %d failed: %s", bench.name, label, seed, exc)
    except Exception as exc:  # a bug or a library failure (e.g. out of memory): recorded, the others carry on
        log.exception("bench %s %s seed %d failed unexpectedly", bench.name, label, seed)
        record = dataclasses.replace(record, status="failed", error=f"{type(exc).__name__}: {exc}")
    write_record(path, record)
    return record


def measure_preparation(bench: BenchmarkConfig, n: int = 3, rows: list | None = None,
                        skip: tuple[str, ...] = ()) -> dict[str, float]:
    """Median seconds per complex to build records from scratch (one process), for the first ``n``
    test complexes: residue graph (parse, numbering, labels, SASA, graph), and graph + surfaces for
    each surface config of ``rows`` (all the benchmark's rows when None). Keys in ``skip`` (``graph``,
    ``surface:<name>``) are not measured."""
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    spec = bench.splits["test"]
    entries = read_index(data.data_root() / data.index, split=spec.value, split_column=spec.column,
                         sets=spec.sets, primary_only=data.primary_only)[:n]
    out: dict[str, float] = {}
    surfaces = surface_names(bench.rows if rows is None else rows)
    for name in [None, *surfaces]:
        if ("graph" if name is None else f"surface:{name}") in skip:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            times = []
            for entry in entries:
                t0 = time.perf_counter()
                prepare([entry], features, Path(tmp), workers=1, progress=False,
                        surface_cfg=load_surface_config(name) if name else None)
                times.append(time.perf_counter() - t0)
        out["graph" if name is None else f"surface:{name}"] = float(np.median(times)) if times else float("nan")
    return out


def run_benchmark(bench: BenchmarkConfig, out_root: str | Path = "results", runs_root: str | Path = "runs/bench",
                  jobs: int = 2, labels: list[str] | None = None, seeds: list[int] | None = None,
                  force: bool = False, command: str = "") -> Path:
    """Run every missing (row, seed) job of a benchmark, then write its tables and figures."""
    from joblib import Parallel, delayed


    out_dir = Path(out_root) / bench.name
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(runs_root)
    rows = [bench.row(lb) for lb in labels] if labels else list(bench.rows)
    seeds = list(seeds) if seeds else list(bench.seeds)
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    # Prepare every split for every input kind once, here: jobs then only read the cache.
    surfaces = surface_names(rows)
    for name in [None, *surfaces]:
        for spec in bench.splits.values():
            part = load_split(spec, data, features, load_surface_config(name) if name else None, workers=jobs)
            if part.skipped:
                log.warning("%s %s: %d skipped (%s)", spec.describe(), name or "graphs", len(part.skipped),
                            "; ".join(part.skipped[:3]))
    # measured once per benchmark and input kind, for the kinds the rows run need (delete the file to
    # measure again); the machine and commit are those of the first measurement
    prep_path = out_dir / "preparation.json"
    prep = json.loads(prep_path.read_text()) if prep_path.exists() else {}
    measured = prep.get("seconds_per_complex", {})
    new = measure_preparation(bench, rows=rows, skip=tuple(measured))
    if new or not prep_path.exists():
        prep = {"machine": machine_description(), "commit": git_commit(), **prep,
                "seconds_per_complex": {**measured, **new}}
        prep_path.write_text(json.dumps(prep, indent=1))
    _complete_records(bench, out_dir, runs_dir)
    todo = [(r.label, s) for s in seeds for r in rows
            if force or not job_path(out_dir, r.label, s).exists()
            or not read_record(job_path(out_dir, r.label, s)).ok]
    log.info("bench %s: %d jobs to run (%d rows × %d seeds asked)", bench.name, len(todo), len(rows), len(seeds))
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    # ensembles read their members' runs: they wait for every other job
    ensembles = {r.label for r in bench.rows if row_kind(r) == "ensemble"}
    for phase in ([j for j in todo if j[0] not in ensembles], [j for j in todo if j[0] in ensembles]):
        if jobs <= 1 or len(phase) <= 1:
            for label, seed in phase:
                run_job(bench, label, seed, out_dir, runs_dir, threads, command, force)
        elif phase:
            with warnings.catch_warnings():
                # loky replaces a worker whose memory grew by > 300 MB after its first job, reading that as a
                # leak, and says so with this warning. A training process keeps the memory it frees by design
                # (train.loop's keep_freed_memory). The next job runs in a fresh worker; no job is lost.
                warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given")
                Parallel(n_jobs=jobs, backend="loky")(
                    delayed(run_job)(bench, label, seed, out_dir, runs_dir, threads, command, force)
                    for label, seed in phase)
    write_tables(bench, out_dir)
    return out_dir


def _complete_records(bench: BenchmarkConfig, out_dir: Path, runs_dir: Path) -> None:
    """Bring records written by earlier code up to date from their run directories: learning curves
    from best.json, and ROC / PR points recomputed from the checkpoint (test predictions are
    deterministic, so the metrics stay as recorded; only the curve points are redone)."""
    for path in sorted((out_dir / "runs").glob("*/seed*.json")):
        rec = read_record(path)
        if not rec.ok:
            continue
        run_dir = run_dir_of(runs_dir, bench.name, rec.label, rec.seed)
        changed = False
        if not rec.history and (run_dir / "best.json").exists():
            rec.history = json.loads((run_dir / "best.json").read_text())["history"]
            changed = True
        stale = any(c and c.get("version") != CURVES_VERSION for c in rec.curves.values())
        if stale and run_dir.exists():
            test, curves = _test_run(bench, run_dir)
            # same checkpoint, same data: the recorded metrics must come back, else the curves are not this run's
            if all(np.isclose(test["metrics"][t]["auroc"], rec.test_metric(t, "auroc"), atol=1e-6)
                   for t in BENCH_TASKS):
                rec.curves = curves
                changed = True
            else:
                log.warning("%s: the run does not reproduce the recorded test metrics; its curves stay out of the "
                            "figures (re-run the job with --force)", path)
        if changed:
            write_record(path, rec)
