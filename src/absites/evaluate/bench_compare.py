"""The effect of training data, side by side: one test split, its models trained on different pools.

A ``kind: compare`` benchmark config runs nothing. It names, per test split, the benchmarks whose job
records to read (each one a training pool: the split's own train set, the id-disjoint and the
antigen-disjoint pools of ``absites split``) and writes from those records

* ``table.md`` / ``table.csv``: per model and pool, mean ± std over seeds of the main metrics on test;
* ``curves.png``: the networks' validation curves (mean over seeds, per epoch), to show whether the
  epoch budget let them flatten.

A source benchmark with no finished record yet is listed as missing, never an error: the table fills in
as the benchmarks it reads finish.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from absites.errors import ConfigError
from absites.evaluate.bench_config import check_source, load_benchmark_config, read_kind, row_kind
from absites.evaluate.bench_records import load_records
from absites.evaluate.bench_tables import mean_std_text

# (task, metric key in the record, header): what a reader compares across pools
COLUMNS = (("paratope", "auprc", "paratope AUPRC"), ("paratope", "auroc", "paratope AUROC"),
           ("epitope_surface", "auroc", "epitope AUROC, surface"), ("epitope", "auroc", "epitope AUROC, all"),
           ("epitope", "mcc_at_val", "epitope MCC"))
CURVE_KEYS = (("paratope_auprc", "val paratope AUPRC"), ("epitope_auprc", "val epitope AUPRC"))


@dataclass(frozen=True)
class CompareSource:
    bench: str
    pool: str  # how the table names this benchmark's training pool
    rows: tuple[str, ...] | None = None  # None: every row of the benchmark


@dataclass(frozen=True)
class CompareSection:
    title: str
    sources: tuple[CompareSource, ...]


@dataclass(frozen=True)
class CompareConfig:
    name: str
    title: str
    sections: tuple[CompareSection, ...]
    note: str = ""


def is_compare_config(raw: dict) -> bool:
    return raw.get("kind") == "compare"


def load_compare_config(name_or_path: str | Path) -> CompareConfig:
    """``configs/bench/<name>.yaml`` (or a path) with ``kind: compare``; every benchmark and row it names
    is checked to exist.

    Raises:
        ConfigError: not a compare config, unknown keys, or a benchmark / row that does not exist.
    """
    path, raw = read_kind(name_or_path, "compare")
    return compare_config(path.stem, raw, path)


def compare_config(name: str, raw: dict, path: Path) -> CompareConfig:
    unknown = sorted(set(raw) - {"kind", "title", "note", "sections"})
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: kind, note, sections, title")
    try:
        sections = tuple(
            CompareSection(s["title"], tuple(CompareSource(src["bench"], src["pool"],
                                                           tuple(src["rows"]) if src.get("rows") else None)
                                             for src in s["sources"]))
            for s in raw["sections"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: sections need title and sources of bench/pool[/rows]: {exc}") from None
    for section in sections:
        for src in section.sources:
            check_source(src.bench, src.rows)
    return CompareConfig(name, raw.get("title", name), sections, raw.get("note", ""))


def _mean_std(values: list[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    mean = float(v.mean()) if v.size else float("nan")
    return mean, float(v.std(ddof=1)) if v.size > 1 else float("nan")


def _section_rows(section: CompareSection, results_root: Path) -> tuple[list[dict], list[str]]:
    """Table rows (grouped by model, pools in config order) and the sources with no record yet."""
    rows, missing = [], []
    for src in section.sources:
        bench = load_benchmark_config(src.bench)
        recs = [r for r in load_records(bench.name, results_root / bench.name) if r.ok]
        if not recs:
            missing.append(src.bench)
            continue
        for row in bench.rows:
            if src.rows is not None and row.label not in src.rows:
                continue
            mine = [r for r in recs if r.label == row.label]
            if mine:
                rows.append({"model": row.label, "pool": src.pool, "bench": bench.name,
                             "network": row_kind(row) == "network", "records": mine})
    order = list(dict.fromkeys(r["model"] for r in rows))
    pools = [s.pool for s in section.sources]
    rows.sort(key=lambda r: (order.index(r["model"]), pools.index(r["pool"])))
    return rows, missing


def _curves_figure(sections: list[tuple[CompareSection, list[dict]]], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [(s, [r for r in rows if r["network"]]) for s, rows in sections]
    drawn = [(s, rows) for s, rows in drawn if rows]
    if not drawn:
        return None
    fig, axes = plt.subplots(len(drawn), len(CURVE_KEYS), figsize=(6 * len(CURVE_KEYS), 3.6 * len(drawn)),
                             squeeze=False)
    styles = ["-", "--", ":", "-."]
    for (section, rows), line in zip(drawn, axes):
        models = list(dict.fromkeys(r["model"] for r in rows))
        pools = list(dict.fromkeys(s.pool for s in section.sources))
        for ax, (key, label) in zip(line, CURVE_KEYS):
            for r in rows:
                histories = [[h[key] for h in rec.history if key in h] for rec in r["records"]]
                length = max(len(h) for h in histories)
                # mean over the seeds still running at each epoch (early stopping ends some sooner)
                mean = [np.mean([h[e] for h in histories if len(h) > e]) for e in range(length)]
                colour = plt.get_cmap("tab10")(models.index(r["model"]) % 10)
                ax.plot(np.arange(1, length + 1), mean, styles[pools.index(r["pool"]) % len(styles)],
                        color=colour, lw=1.4, marker="o", ms=2.5,
                        label=f"{r['model']} — {r['pool']} (n={len(r['records'])})")
            ax.set(xlabel="epoch", ylabel=label, title=f"{section.title}: {label}")
            ax.grid(alpha=0.3)
        line[0].legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_compare(cfg: CompareConfig, results_root: str | Path, command: str = "") -> list[Path]:
    """``results/<name>/table.md``, ``table.csv`` and ``curves.png`` from the source benchmarks' records."""
    results_root = Path(results_root)
    out_dir = results_root / cfg.name
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {cfg.title}", "",
             f"Comparison `{cfg.name}` (configs/bench/{cfg.name}.yaml), written by "
             f"`{command or f'absites bench {cfg.name}'}` from the job records of the benchmarks it names; "
             "nothing is trained here and nothing is edited by hand.", "",
             "* Test metrics, residue level, pooled over complexes; mean ± sample std over seeds. Epitope MCC at "
             "the threshold that maximised MCC on val. Paratope: CDR residues (Chothia ±2). Epitope, surface: "
             "antigen residues with relative SASA ≥ 0.05 in the antigen alone.",
             "* n train: complexes in the training pool (after `absites split`'s removals)."]
    if cfg.note:
        lines += ["", cfg.note.strip()]
    csv_rows, figure_input = [], []
    for section in cfg.sections:
        rows, missing = _section_rows(section, results_root)
        figure_input.append((section, rows))
        lines += ["", f"## {section.title}", "",
                  "| model | pool | n train | seeds | " + " | ".join(h for _, _, h in COLUMNS) + " | best epoch |",
                  "|---|---|---:|---:|" + "---:|" * len(COLUMNS) + "---:|"]
        values = [{(task, key): [rec.test_metric(task, key) for rec in r["records"]] for task, key, _ in COLUMNS}
                  for r in rows]
        stats = [{col: _mean_std(v) for col, v in row_values.items()} for row_values in values]
        best = {(task, key): max((s[(task, key)][0] for s in stats if np.isfinite(s[(task, key)][0])), default=np.nan)
                for task, key, _ in COLUMNS}
        for r, row_values, row_stats in zip(rows, values, stats):
            recs = r["records"]
            cells, entry = [], {"section": section.title, "model": r["model"], "pool": r["pool"],
                                "benchmark": r["bench"], "n_train": recs[0].n_train, "n_seeds": len(recs)}
            for task, key, _ in COLUMNS:
                (mean, std), text = row_stats[(task, key)], mean_std_text(row_values[(task, key)])
                cells.append(f"**{text}**" if np.isfinite(mean) and np.isclose(mean, best[(task, key)]) else text)
                entry[f"{task}_{key}_mean"], entry[f"{task}_{key}_std"] = mean, std
            epochs = [rec.best_epoch + 1 for rec in recs if rec.history]
            budget = max((rec.epochs_run for rec in recs), default=0)
            epoch_text = f"{np.mean(epochs):.1f} of {budget}" if epochs else "–"
            lines.append(f"| {r['model']} | {r['pool']} | {recs[0].n_train} | {len(recs)} | "
                         + " | ".join(cells) + f" | {epoch_text} |")
            csv_rows.append(entry)
        if missing:
            lines += ["", "Not run yet: " + ", ".join(f"`absites bench {m}`" for m in missing) + "."]
    figure = _curves_figure(figure_input, out_dir / "curves.png")
    if figure is not None:
        lines += ["", "`curves.png`: validation curves of the networks (mean over seeds at each epoch; a "
                  "seed stopped early leaves the mean). Best epoch: mean 1-based epoch of the checkpoint kept, "
                  "of the most epochs any seed ran."]
    (out_dir / "table.md").write_text("\n".join(lines) + "\n")
    written = [out_dir / "table.md"]
    if csv_rows:
        with (out_dir / "table.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(csv_rows[0]))
            writer.writeheader()
            for e in csv_rows:
                writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in e.items()})
        written.append(out_dir / "table.csv")
    return written + ([figure] if figure is not None else [])
