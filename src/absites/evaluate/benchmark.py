"""Benchmarks: every model × every seed on one split definition, summarised as tables and curves.

A benchmark config (``configs/bench/<name>.yaml``) names the train / val / test
parts (index column, value, optionally a ``sets`` member), the seeds, the
training budget (epoch caps and patience for graph and surface networks) and
the rows: a model config, optionally a surface config and parameter overrides.

:func:`run_benchmark` prepares every split once (the cache is shared), then
trains and tests each (row, seed) job in parallel processes, writing one JSON
per job under ``results/<name>/runs/`` as soon as it is done (a re-run skips
finished jobs, so an interrupted benchmark resumes). :func:`write_tables`
turns those JSONs into ``table.md``, ``table.csv``, ``roc.png`` and ``pr.png``
— results are produced from the job records, never edited by hand.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from absites.config import (
    CONFIG_DIR,
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
    load_yaml,
)
from absites.data.index import SplitSpec, read_index
from absites.errors import AbsitesError, ConfigError
from absites.provenance import git_revision, machine_description

log = logging.getLogger(__name__)

BENCH_TASKS = ("paratope", "epitope")
MAIN_METRIC = {"paratope": "auprc", "epitope": "auroc"}
# (column in table.csv, key in the evaluation dict, header in table.md)
TABLE_METRICS = (("auroc", "auroc", "AUROC"), ("auprc", "auprc", "AUPRC"), ("mcc", "mcc_at_val", "MCC"),
                 ("f1", "f1_at_val", "F1"), ("precision", "precision_at_val", "Precision"),
                 ("recall", "recall_at_val", "Recall"))
CURVE_POINTS = 101
CURVES_VERSION = 2  # records with older curves (version 1 had a wrong PR envelope) are recomputed


@dataclass(frozen=True)
class BenchRow:
    """One row of the table: a model config, its surface config and parameter overrides."""

    label: str
    model: str
    surface: str | None = None
    params: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # training-config overrides for this row only


@dataclass(frozen=True)
class BenchmarkConfig:
    name: str
    title: str
    splits: dict[str, SplitSpec]
    rows: tuple[BenchRow, ...]
    seeds: tuple[int, ...] = (42, 40, 63, 64, 65)
    budget: dict = field(default_factory=dict)  # {"graph": {...}, "surface": {...}} training overrides
    note: str = ""
    data: str = "default"
    features: str = "default"
    training: str = "default"
    init_ablation: dict = field(default_factory=dict)  # family row -> {"upstream": row, "downstream": row}

    def row(self, label: str) -> BenchRow:
        for r in self.rows:
            if r.label == label:
                return r
        raise ConfigError(f"bench {self.name}: no row {label!r}; rows: {', '.join(r.label for r in self.rows)}")


def load_benchmark_config(name_or_path: str | Path) -> BenchmarkConfig:
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / "bench" / f"{name_or_path}.yaml"
    raw = load_yaml(path)
    if raw.get("kind") == "unbound":
        raise ConfigError(f"{path}: an unbound benchmark (kind: unbound): read it with "
                          "absites.evaluate.unbound.load_unbound_config; absites bench runs either kind")
    allowed = {"title", "note", "splits", "seeds", "budget", "models", "data", "features", "training",
               "init_ablation"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    try:
        splits = {part: SplitSpec(**raw["splits"][part]) for part in ("train", "val", "test")}
        rows = tuple(BenchRow(**r) for r in raw["models"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: splits need train/val/test with value/column/sets and models need "
                          f"label/model[/surface/params/training]: {exc}") from None
    labels = [r.label for r in rows]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: row labels must be unique")
    ablation = raw.get("init_ablation") or {}
    for family, variants in ablation.items():
        named = [family, *(variants or {}).values()]
        if set(variants or {}) != {"upstream", "downstream"} or any(n not in labels for n in named):
            raise ConfigError(f"{path}: init_ablation.{family} needs upstream and downstream rows of models; "
                              f"got {variants!r}")
    if load_feature_config(raw.get("features", "default")).allow_bound_pose:
        raise ConfigError(f"{path}: features with allow_bound_pose read the bound pose; a benchmark never may")
    for r in rows:
        model = load_model_config(r.model)  # unknown model names and parameters fail here, not hours later
        model.spec.check_params({**model.params, **r.params})
        if r.surface:
            load_surface_config(r.surface)
    return BenchmarkConfig(name=path.stem, title=raw.get("title", path.stem), splits=splits, rows=rows,
                           seeds=tuple(int(s) for s in raw.get("seeds", (42, 40, 63, 64, 65))),
                           budget=raw.get("budget", {}) or {}, note=raw.get("note", ""),
                           data=raw.get("data", "default"), features=raw.get("features", "default"),
                           training=raw.get("training", "default"), init_ablation=ablation)


def _row_configs(bench: BenchmarkConfig, row: BenchRow, seed: int, threads: int = 0):
    model = load_model_config(row.model)
    model = dataclasses.replace(model, params={**model.params, **row.params})
    training = load_training_config(bench.training)
    kind = "surface" if model.needs_surfaces else "graph"
    overrides = {**bench.budget.get(kind, {}), **row.training, "seed": seed, "threads": threads}
    try:
        training = dataclasses.replace(training, **overrides)
    except TypeError as exc:
        raise ConfigError(f"bench {bench.name}: bad training override for {row.label}: {exc}") from None
    surface = load_surface_config(row.surface or "default") if model.needs_surfaces else None
    return model, training, surface


def surface_names(rows) -> list[str]:
    """The surface configs the surface-reading rows need (``default`` when a row names none)."""
    return sorted({r.surface or "default" for r in rows if load_model_config(r.model).needs_surfaces})


def slug(label: str) -> str:
    """A row label as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def job_path(out_dir: Path, label: str, seed: int) -> Path:
    return out_dir / "runs" / slug(label) / f"seed{seed}.json"


def run_dir_of(runs_root: Path, bench_name: str, label: str, seed: int) -> Path:
    """The training run (checkpoint, history) behind one job record."""
    return Path(runs_root) / bench_name / slug(label) / f"seed{seed}"


def git_commit() -> str:
    return git_revision() or "unknown"


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
    from absites.evaluate.report import evaluate, gather
    from absites.train.run import predict_on_split

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
            command: str = "", fresh: bool = False) -> dict[str, Any]:
    """Train one (row, seed), test it, write its JSON record. Errors are recorded, not raised.

    An interrupted training continues from its ``last.pt``; ``fresh`` starts it over."""
    import torch

    from absites.train.run import train_run

    torch.set_num_threads(max(1, threads))
    row = bench.row(label)
    record: dict[str, Any] = {"benchmark": bench.name, "label": label, "model": row.model, "seed": seed,
                              "surface": row.surface, "params": row.params, "commit": git_commit(),
                              "machine": machine_description(), "threads": threads, "command": command,
                              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    path = job_path(out_dir, label, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        model, training, surface = _row_configs(bench, row, seed, max(1, threads))
        data, features = load_data_config(bench.data), load_feature_config(bench.features)
        run_dir = run_dir_of(runs_dir, bench.name, label, seed)
        t0 = time.perf_counter()
        result = train_run(model, training, data, features, surface, run_dir, resume=not fresh, workers=1,
                           train_split=bench.splits["train"], val_split=bench.splits["val"])
        train_wall = time.perf_counter() - t0
        test, curves = _test_run(bench, run_dir)
        meta = json.loads((run_dir / "metrics.json").read_text())["meta"]
        history = (json.loads((run_dir / "best.json").read_text())["history"]
                   if (run_dir / "best.json").exists() else [])
        record.update({
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
        record.update({"status": "failed", "error": str(exc)})
        log.error("bench %s %s seed %d failed: %s", bench.name, label, seed, exc)
    except Exception as exc:  # a bug or a library failure (e.g. out of memory): recorded, the others carry on
        log.exception("bench %s %s seed %d failed unexpectedly", bench.name, label, seed)
        record.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float))
    tmp.replace(path)
    return record


def measure_preparation(bench: BenchmarkConfig, n: int = 3) -> dict[str, float]:
    """Median seconds per complex to build records from scratch (one process), for the first ``n``
    test complexes: residue graph (parse, numbering, labels, SASA, graph), and graph + surfaces for
    each surface config."""
    from absites.data.prepare import prepare

    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    spec = bench.splits["test"]
    entries = read_index(data.data_root() / data.index, split=spec.value, split_column=spec.column,
                         sets=spec.sets, primary_only=data.primary_only)[:n]
    out: dict[str, float] = {}
    surfaces = surface_names(bench.rows)
    for name in [None, *surfaces]:
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

    from absites.train.run import load_split

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
    prep_path = out_dir / "preparation.json"
    if not prep_path.exists():  # measured once per benchmark (delete the file to measure again)
        prep_path.write_text(json.dumps({"seconds_per_complex": measure_preparation(bench),
                                         "machine": machine_description(), "commit": git_commit()}, indent=1))
    _complete_records(bench, out_dir, runs_dir)
    todo = [(r.label, s) for s in seeds for r in rows
            if force or not job_path(out_dir, r.label, s).exists()
            or json.loads(job_path(out_dir, r.label, s).read_text()).get("status") != "ok"]
    log.info("bench %s: %d jobs to run (%d rows × %d seeds asked)", bench.name, len(todo), len(rows), len(seeds))
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    if todo:
        if jobs <= 1:
            for label, seed in todo:
                run_job(bench, label, seed, out_dir, runs_dir, threads, command, force)
        else:
            Parallel(n_jobs=jobs, backend="loky")(
                delayed(run_job)(bench, label, seed, out_dir, runs_dir, threads, command, force)
                for label, seed in todo)
    write_tables(bench, out_dir)
    return out_dir


def _complete_records(bench: BenchmarkConfig, out_dir: Path, runs_dir: Path) -> None:
    """Bring records written by earlier code up to date from their run directories: learning curves
    from best.json, and ROC / PR points recomputed from the checkpoint (test predictions are
    deterministic, so the metrics stay as recorded; only the curve points are redone)."""
    for path in sorted((out_dir / "runs").glob("*/seed*.json")):
        rec = json.loads(path.read_text())
        if rec.get("status") != "ok":
            continue
        run_dir = run_dir_of(runs_dir, bench.name, rec["label"], rec["seed"])
        changed = False
        if "history" not in rec:
            best = run_dir / "best.json"
            rec["history"] = json.loads(best.read_text())["history"] if best.exists() else []
            changed = True
        stale = any(c and c.get("version") != CURVES_VERSION for c in rec.get("curves", {}).values())
        if stale and run_dir.exists():
            test, curves = _test_run(bench, run_dir)
            # same checkpoint, same data: the recorded metrics must come back, else the curves are not this run's
            if all(np.isclose(test["metrics"][t]["auroc"], rec["test_metrics"][t]["auroc"], atol=1e-6)
                   for t in BENCH_TASKS):
                rec["curves"] = curves
                changed = True
            else:
                log.warning("%s: the run does not reproduce the recorded test metrics; its curves stay out of the "
                            "figures (re-run the job with --force)", path)
        if changed:
            path.write_text(json.dumps(rec, indent=1, default=float))


def load_records(bench: BenchmarkConfig, out_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted((out_dir / "runs").glob("*/seed*.json")):
        rec = json.loads(path.read_text())
        if rec.get("benchmark") == bench.name:
            records.append(rec)
    return records


def _fmt(values: list[float], digits: int = 3) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "–"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def summarise(bench: BenchmarkConfig, records: list[dict[str, Any]], prep: dict[str, float]) -> list[dict[str, Any]]:
    """One summary dict per (row, task): mean / std over seeds of every metric and time."""
    out = []
    for row in bench.rows:
        recs = [r for r in records if r["label"] == row.label and r.get("status") == "ok"]
        if not recs:
            continue
        surface_key = f"surface:{row.surface or 'default'}" if load_model_config(row.model).needs_surfaces else None
        prep_s = prep.get(surface_key or "graph", float("nan"))  # a surface record's time includes its graph
        for task in BENCH_TASKS:
            entry: dict[str, Any] = {"benchmark": bench.name, "model": row.label, "task": task,
                                     "n_seeds": len(recs), "seeds": " ".join(str(r["seed"]) for r in recs)}
            for col, key, _ in TABLE_METRICS:
                values = [r["test_metrics"][task].get(key, float("nan")) for r in recs]
                entry[f"{col}_values"] = values
                entry[f"{col}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
                entry[f"{col}_std"] = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else float("nan")
            n_test = [r["n_test"] for r in recs]
            entry.update({
                "prep_seconds_per_complex": prep_s,
                "train_seconds": float(np.mean([r["train_seconds"] for r in recs])),
                "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in recs])),
                "best_epoch": float(np.mean([r["best_epoch"] for r in recs])),
                "inference_seconds_per_complex": float(np.mean([r["inference_seconds"] / max(1, n)
                                                                for r, n in zip(recs, n_test)])),
                "n_train": recs[0]["n_train"], "n_val": recs[0]["n_val"], "n_test": recs[0]["n_test"],
                "commits": " ".join(sorted({r["commit"] for r in recs})),
            })
            out.append(entry)
    return out


def _figures(bench: BenchmarkConfig, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    written = []
    for kind, key, xlabel, ylabel in (("roc", "tpr", "false positive rate", "true positive rate"),
                                      ("pr", "precision", "recall", "precision")):
        fig, axes = plt.subplots(1, len(BENCH_TASKS), figsize=(6 * len(BENCH_TASKS), 5))
        for ax, task in zip(np.atleast_1d(axes), BENCH_TASKS):
            prevalence = []
            for row in bench.rows:
                curves = [r["curves"][task] for r in records if r["label"] == row.label and r.get("status") == "ok"
                          and r["curves"].get(task, {}).get("version") == CURVES_VERSION]
                if not curves:
                    continue
                mean = np.mean([c[key] for c in curves], axis=0)
                prevalence += [c["prevalence"] for c in curves]
                metric = "auroc" if kind == "roc" else "auprc"
                values = [r["test_metrics"][task][metric] for r in records
                          if r["label"] == row.label and r.get("status") == "ok"]
                colour = plt.get_cmap("tab20")(bench.rows.index(row) % 20)  # one colour per row, 20 rows apart
                ax.plot(grid, mean, lw=1.5, color=colour, label=f"{row.label} ({np.mean(values):.3f}, n={len(curves)})")
            if kind == "roc":
                ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
            elif prevalence:
                ax.axhline(float(np.mean(prevalence)), ls=":", c="grey", lw=1, label="prevalence")
            ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel=xlabel, ylabel=ylabel,
                   title=f"{task} — {bench.name} test, mean over seeds")
            ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "upper right")
        fig.tight_layout()
        path = out_dir / f"{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_tables(bench: BenchmarkConfig, out_dir: str | Path) -> list[Path]:
    """``table.csv``, ``table.md``, ``roc.png``, ``pr.png`` from the job records under ``out_dir/runs``."""
    out_dir = Path(out_dir)
    records = load_records(bench, out_dir)
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        raise AbsitesError(f"bench {bench.name}: no finished job under {out_dir / 'runs'}")
    prep_file = out_dir / "preparation.json"
    prep = json.loads(prep_file.read_text())["seconds_per_complex"] if prep_file.exists() else {}
    summary = summarise(bench, records, prep)
    columns = ["benchmark", "model", "task", "n_seeds", "seeds"]
    for col, _, _ in TABLE_METRICS:
        columns += [f"{col}_mean", f"{col}_std"]
    columns += ["prep_seconds_per_complex", "train_seconds", "seconds_per_epoch", "best_epoch",
                "inference_seconds_per_complex", "n_train", "n_val", "n_test", "commits"]
    with (out_dir / "table.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for entry in summary:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in entry.items()})
    first = ok[0]
    commands = list(dict.fromkeys(r.get("command") or f"absites bench {bench.name}"
                                  for r in sorted(ok, key=lambda r: r.get("date", ""))))
    lines = [f"# {bench.title}", "",
             f"Benchmark `{bench.name}` (configs/bench/{bench.name}.yaml). Produced by "
             + ", then ".join(f"`{c}`" for c in commands) + " (a rerun only runs the missing jobs); tables "
             "written from the job records in `runs/`; not edited by hand.", "",
             f"* Splits: train = {bench.splits['train'].describe()} ({first['n_train']} complexes), "
             f"val (early stopping, thresholds) = {bench.splits['val'].describe()} ({first['n_val']}), "
             f"test = {bench.splits['test'].describe()} ({first['n_test']}).",
             f"* Commit(s): {', '.join(sorted({r['commit'] for r in ok}))}; machine: {first['machine']}; "
             f"{first['threads']} torch thread(s) per job; dates {min(r['date'] for r in ok)[:10]}"
             f"–{max(r['date'] for r in ok)[:10]}.",
             f"* Seeds asked: {', '.join(map(str, bench.seeds))}. Training budget: "
             + "; ".join(f"{k} networks {', '.join(f'{a}={b}' for a, b in v.items())}" for k, v in bench.budget.items())
             + ".",
             "* Metrics on test, residue level, pooled over complexes; mean ± sample std over seeds. MCC, F1, "
             "precision and recall at the threshold that maximised MCC on val. Paratope: CDR residues (Chothia "
             "±2); epitope: all antigen residues.",
             "* Times: preparation = median s per complex from scratch (graph record, plus surfaces for surface "
             "rows, one process); train = s per run incl. validation; inference = s per test complex.",
             ]
    if bench.note:
        lines += ["", bench.note.strip()]
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        lines += ["", "Failed jobs: " + "; ".join(f"{r['label']} seed {r['seed']}: {r.get('error', '?')}"
                                                  for r in failed)]
    for task in BENCH_TASKS:
        rows = [e for e in summary if e["task"] == task]
        main = MAIN_METRIC[task]
        best = {col: max((e[f"{col}_mean"] for e in rows if np.isfinite(e[f"{col}_mean"])), default=np.nan)
                for col, _, _ in TABLE_METRICS}
        lines += ["", f"## {task} (main metric: {main.upper()})", "",
                  "| model | seeds | " + " | ".join(h for _, _, h in TABLE_METRICS)
                  + " | prep s | train s | s/epoch | infer s |",
                  "|---|---:|" + "---:|" * len(TABLE_METRICS) + "---:|---:|---:|---:|"]
        for e in rows:
            cells = []
            for col, _, _ in TABLE_METRICS:
                text = _fmt(e[f"{col}_values"])
                cells.append(f"**{text}**" if np.isclose(e[f"{col}_mean"], best[col]) else text)
            lines.append(f"| {e['model']} | {e['n_seeds']} | " + " | ".join(cells)
                         + f" | {e['prep_seconds_per_complex']:.2f} | {e['train_seconds']:.0f} "
                           f"| {e['seconds_per_epoch']:.1f} | {e['inference_seconds_per_complex']:.3f} |")
        base = [e for e in rows if load_model_config(bench.row(e["model"]).model).is_baseline]
        nets = [e for e in rows if not load_model_config(bench.row(e["model"]).model).is_baseline]
        if base and nets:
            top = max(base, key=lambda e: e[f"{main}_mean"])
            below = [e["model"] for e in nets if e[f"{main}_mean"] <= top[f"{main}_mean"]]
            lines += ["", f"Best baseline on {main.upper()}: {top['model']} ({top[f'{main}_mean']:.3f}). "
                      + (f"Networks not above it: {', '.join(below)}." if below
                         else "Every network is above it.")]
    lines += ["", "Figures: `roc.png`, `pr.png` (per model, curves averaged over seeds at fixed FPR / recall).", ""]
    (out_dir / "table.md").write_text("\n".join(lines))
    written = [out_dir / "table.csv", out_dir / "table.md", *_figures(bench, records, out_dir)]
    if bench.init_ablation:
        from absites.evaluate.ablation import write_init_ablation

        written += write_init_ablation(bench, ok, out_dir)
    return written
