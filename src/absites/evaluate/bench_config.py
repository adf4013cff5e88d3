"""Benchmark configs: which parts form train / val / test, the seeds, the budget and the rows.

A benchmark config (``configs/bench/<name>.yaml``) names the train / val / test
parts (index column, value, optionally a ``sets`` member), the seeds, the
training budget (epoch caps and patience for graph and surface networks) and
the rows: a model config, optionally a surface config and parameter overrides.
Also where each job's record and run directory live.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from absites.config import (
    CONFIG_DIR,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
    load_yaml,
)
from absites.data.index import SplitSpec
from absites.errors import ConfigError
from absites.provenance import git_revision

log = logging.getLogger(__name__)

BENCH_TASKS = ("paratope", "epitope")  # the tasks trained, thresholded and drawn
# the tables also lead the epitope with its surface residues: over all residues burial alone scores ~0.67
TABLE_TASKS = ("paratope", "epitope_surface", "epitope")
TASK_TITLES = {"paratope": "paratope", "epitope": "epitope, all antigen residues",
               "epitope_surface": "epitope, surface residues (RSA ≥ 0.05)"}
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


def bench_config_path(name_or_path: str | Path) -> Path:
    """``configs/bench/<name>.yaml`` for a bare name, else the path given (either kind of benchmark)."""
    path = Path(name_or_path)
    return path if path.suffix else CONFIG_DIR / "bench" / f"{name_or_path}.yaml"


def read_kind(name_or_path: str | Path, kind: str) -> tuple[Path, dict]:
    """(path, YAML) of a benchmark config that must be of ``kind`` (``unbound``, ``compare``).

    Raises:
        ConfigError: the config is of another kind.
    """
    path = bench_config_path(name_or_path)
    raw = load_yaml(path)
    if raw.get("kind") != kind:
        raise ConfigError(f"{path}: not a benchmark of kind {kind!r} (kind: {kind})")
    return path, raw


def check_source(bench_name: str, rows) -> BenchmarkConfig:
    """The benchmark another config reads from, with every row it names checked to exist (a misspelt
    benchmark or row fails at config load, not after hours of work)."""
    bench = load_benchmark_config(bench_name)
    for row in rows or ():
        bench.row(row)
    return bench


def load_benchmark_config(name_or_path: str | Path) -> BenchmarkConfig:
    path = bench_config_path(name_or_path)
    raw = load_yaml(path)
    if raw.get("kind"):  # unbound / compare: read by absites.evaluate.unbound / bench_compare
        raise ConfigError(f"{path}: a benchmark of kind {raw['kind']!r}, not one that trains models; "
                          "absites bench runs every kind")
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
        model = load_model_config(r.model, r.params)  # unknown model names and parameters fail here, not hours later
        if r.surface:
            load_surface_config(r.surface)
        if model.spec.is_ensemble:
            members = ensemble_members(r)
            by_label = {x.label: x for x in rows}
            bad = [m for m in members if m not in by_label or row_kind(by_label[m]) == "ensemble"]
            if not members or bad:
                raise ConfigError(f"{path}: ensemble row {r.label} needs params.members naming trained rows of this "
                                  f"benchmark (not ensembles); unknown or invalid: {', '.join(bad) or 'none given'}")
    return BenchmarkConfig(name=path.stem, title=raw.get("title", path.stem), splits=splits, rows=rows,
                           seeds=tuple(int(s) for s in raw.get("seeds", (42, 40, 63, 64, 65))),
                           budget=raw.get("budget", {}) or {}, note=raw.get("note", ""),
                           data=raw.get("data", "default"), features=raw.get("features", "default"),
                           training=raw.get("training", "default"), init_ablation=ablation)


def row_configs(bench: BenchmarkConfig, row: BenchRow, seed: int, threads: int = 0):
    model = load_model_config(row.model, row.params)
    training = load_training_config(bench.training)
    kind = "surface" if model.needs_surfaces else "graph"
    overrides = {**bench.budget.get(kind, {}), **row.training, "seed": seed, "threads": threads}
    try:
        training = dataclasses.replace(training, **overrides)
    except TypeError as exc:
        raise ConfigError(f"bench {bench.name}: bad training override for {row.label}: {exc}") from None
    surface = load_surface_config(row.surface or "default") if model.needs_surfaces else None
    return model, training, surface


def row_kind(row: BenchRow) -> str:
    """``baseline``, ``network`` or ``ensemble`` (tables compare networks with baselines; an ensemble that
    mixes both is neither)."""
    spec = load_model_config(row.model).spec
    return "ensemble" if spec.is_ensemble else "baseline" if spec.is_baseline else "network"


def ensemble_members(row: BenchRow) -> list[str]:
    """The row labels an ensemble row combines ([] for any other row)."""
    model = load_model_config(row.model)
    return list({**model.params, **row.params}.get("members") or []) if model.spec.is_ensemble else []


def row_surface(bench: BenchmarkConfig, row: BenchRow) -> str | None:
    """The surface config a row reads (an ensemble: its first surface-reading member's), else None."""
    for member in ensemble_members(row):
        name = row_surface(bench, bench.row(member))
        if name:
            return name
    return (row.surface or "default") if load_model_config(row.model).needs_surfaces else None


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
