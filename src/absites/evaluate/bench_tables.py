"""Benchmark tables and figures, written from the job records (never edited by hand).

:func:`write_tables` turns the job JSONs under ``results/<name>/runs/`` into ``table.md``,
``table.csv``, ``roc.png`` and ``pr.png`` (and the initialisation ablation where configured).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from absites.errors import AbsitesError
from absites.metrics import MAIN_METRIC
from absites.evaluate.ablation import write_init_ablation
from absites.evaluate.bench_records import JobRecord
from absites.evaluate.bench_records import load_records as read_records
from absites.evaluate.bench_config import (
    BENCH_TASKS,
    CURVE_POINTS,
    CURVES_VERSION,
    TABLE_METRICS,
    TABLE_TASKS,
    TASK_TITLES,
    BenchmarkConfig,
    row_kind,
    row_surface,
)


def load_records(bench: BenchmarkConfig, out_dir: Path) -> list[JobRecord]:
    return read_records(bench.name, out_dir)


def mean_std_text(values: list[float], digits: int = 3) -> str:
    """"mean ± sample std" of the finite values; one value alone; "–" for none."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "–"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def summarise(bench: BenchmarkConfig, records: list[JobRecord], prep: dict[str, float]) -> list[dict[str, Any]]:
    """One summary dict per (row, task): mean / std over seeds of every metric and time."""
    out = []
    for row in bench.rows:
        recs = [r for r in records if r.label == row.label and r.ok]
        if not recs:
            continue
        surface = row_surface(bench, row)
        surface_key = f"surface:{surface}" if surface else None
        prep_s = prep.get(surface_key or "graph", float("nan"))  # a surface record's time includes its graph
        for task in TABLE_TASKS:
            entry: dict[str, Any] = {"benchmark": bench.name, "model": row.label, "task": task,
                                     "n_seeds": len(recs), "seeds": " ".join(str(r.seed) for r in recs)}
            for col, key, _ in TABLE_METRICS:
                values = [r.test_metric(task, key) for r in recs]
                entry[f"{col}_values"] = values
                entry[f"{col}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
                entry[f"{col}_std"] = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else float("nan")
            n_test = [r.n_test for r in recs]
            entry.update({
                "prep_seconds_per_complex": prep_s,
                "train_seconds": float(np.mean([r.train_seconds for r in recs])),
                "seconds_per_epoch": float(np.mean([r.seconds_per_epoch for r in recs])),
                "best_epoch": float(np.mean([r.best_epoch for r in recs])),
                "inference_seconds_per_complex": float(np.mean([r.inference_seconds / max(1, n)
                                                                for r, n in zip(recs, n_test)])),
                "n_train": recs[0].n_train, "n_val": recs[0].n_val, "n_test": recs[0].n_test,
                "commits": " ".join(sorted({r.commit for r in recs})),
            })
            out.append(entry)
    return out


def _figures(bench: BenchmarkConfig, records: list[JobRecord], out_dir: Path) -> list[Path]:
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
                curves = [r.curves[task] for r in records if r.label == row.label and r.ok
                          and r.curves.get(task, {}).get("version") == CURVES_VERSION]
                if not curves:
                    continue
                mean = np.mean([c[key] for c in curves], axis=0)
                prevalence += [c["prevalence"] for c in curves]
                metric = "auroc" if kind == "roc" else "auprc"
                values = [r.test_metric(task, metric) for r in records
                          if r.label == row.label and r.ok]
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
    ok = [r for r in records if r.ok]
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
    commands = list(dict.fromkeys(r.command or f"absites bench {bench.name}"
                                  for r in sorted(ok, key=lambda r: r.date)))
    lines = [f"# {bench.title}", "",
             f"Benchmark `{bench.name}` (configs/bench/{bench.name}.yaml). Produced by "
             + ", then ".join(f"`{c}`" for c in commands) + " (a rerun only runs the missing jobs); tables "
             "written from the job records in `runs/`; not edited by hand.", "",
             f"* Splits: train = {bench.splits['train'].describe()} ({first.n_train} complexes), "
             f"val (early stopping, thresholds) = {bench.splits['val'].describe()} ({first.n_val}), "
             f"test = {bench.splits['test'].describe()} ({first.n_test}).",
             f"* Commit(s): {', '.join(sorted({r.commit for r in ok}))}; machine: {first.machine}; "
             f"{first.threads} torch thread(s) per job; dates {min(r.date for r in ok)[:10]}"
             f"–{max(r.date for r in ok)[:10]}.",
             f"* Seeds asked: {', '.join(map(str, bench.seeds))}. Training budget: "
             + "; ".join(f"{k} networks {', '.join(f'{a}={b}' for a, b in v.items())}" for k, v in bench.budget.items())
             + ".",
             "* Metrics on test, residue level, pooled over complexes; mean ± sample std over seeds. MCC, F1, "
             "precision and recall at the threshold that maximised MCC on val. Paratope: CDR residues (Chothia "
             "±2); epitope: all antigen residues, and apart its surface residues (relative SASA ≥ 0.05 in the "
             "antigen alone), where a burial prior helps less.",
             "* Times: preparation = median s per complex from scratch (graph record, plus surfaces for surface "
             "rows, one process); train = s per run incl. validation; inference = s per test complex.",
             ]
    if bench.note:
        lines += ["", bench.note.strip()]
    failed = [r for r in records if not r.ok]
    if failed:
        lines += ["", "Failed jobs: " + "; ".join(f"{r.label} seed {r.seed}: {r.error or '?'}"
                                                  for r in failed)]
    for task in TABLE_TASKS:
        rows = [e for e in summary if e["task"] == task]
        main = MAIN_METRIC[task]
        best = {col: max((e[f"{col}_mean"] for e in rows if np.isfinite(e[f"{col}_mean"])), default=np.nan)
                for col, _, _ in TABLE_METRICS}
        lines += ["", f"## {TASK_TITLES[task]} (main metric: {main.upper()})", "",
                  "| model | seeds | " + " | ".join(h for _, _, h in TABLE_METRICS)
                  + " | prep s | train s | s/epoch | infer s |",
                  "|---|---:|" + "---:|" * len(TABLE_METRICS) + "---:|---:|---:|---:|"]
        for e in rows:
            cells = []
            for col, _, _ in TABLE_METRICS:
                text = mean_std_text(e[f"{col}_values"])
                cells.append(f"**{text}**" if np.isclose(e[f"{col}_mean"], best[col]) else text)
            lines.append(f"| {e['model']} | {e['n_seeds']} | " + " | ".join(cells)
                         + f" | {e['prep_seconds_per_complex']:.2f} | {e['train_seconds']:.0f} "
                           f"| {e['seconds_per_epoch']:.1f} | {e['inference_seconds_per_complex']:.3f} |")
        base = [e for e in rows if row_kind(bench.row(e["model"])) == "baseline"]
        nets = [e for e in rows if row_kind(bench.row(e["model"])) == "network"]
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
        written += write_init_ablation(bench, ok, out_dir)
    return written


def write_summary_csv(path: str | Path, summary: list[dict]) -> Path:
    """Summary rows (dicts with the same keys) as CSV, floats to 4 decimals."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(summary[0]))
        writer.writeheader()
        for e in summary:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in e.items()})
    return path
