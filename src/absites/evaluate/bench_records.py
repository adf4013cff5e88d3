"""Benchmark job records: one typed, versioned record per (row, seed), read and written here only.

A record is the JSON file ``results/<benchmark>/runs/<row>/seed<N>.json``: what ran (benchmark, row,
model, seed, parameters, commit, machine, command, date), whether it finished, and what it measured
(sizes, times, learning curve, validation and test metrics, thresholds, ROC / PR points). Records
written before versions existed read as version 1; unknown keys are an error (a misspelt field never
passes silently).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from absites.errors import AbsitesError

RECORD_VERSION = 2  # 1: the untyped records of earlier code (same fields, no "version")


@dataclass
class JobRecord:
    benchmark: str
    label: str
    model: str
    seed: int
    surface: str | None = None
    params: dict = field(default_factory=dict)
    commit: str = ""
    machine: str = ""
    threads: int = 1
    command: str = ""
    date: str = ""
    status: str = "failed"  # ok | failed
    error: str = ""
    training: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    skipped: list = field(default_factory=list)
    train_seconds: float = float("nan")
    train_wall_seconds: float = float("nan")
    seconds_per_epoch: float = float("nan")
    best_epoch: int = -1
    epochs_run: int = 0
    history: list = field(default_factory=list)
    inference_seconds: float = float("nan")
    val_metrics: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    test_metrics: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    version: int = RECORD_VERSION

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def test_metric(self, task: str, key: str) -> float:
        return float(self.test_metrics.get(task, {}).get(key, float("nan")))


def read_record(path: str | Path) -> JobRecord:
    """The record at ``path``.

    Raises:
        AbsitesError: not JSON, or fields a record does not have.
    """
    path = Path(path)
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AbsitesError(f"{path}: not a readable job record ({exc})") from None
    raw.setdefault("version", 1)
    known = {f.name for f in dataclasses.fields(JobRecord)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AbsitesError(f"{path}: unknown job-record field(s) {', '.join(unknown)}")
    return JobRecord(**raw)


def write_record(path: str | Path, record: JobRecord) -> Path:
    """Write ``record`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(record), indent=1, default=float))
    tmp.replace(path)
    return path


def load_records(bench_name: str, out_dir: str | Path) -> list[JobRecord]:
    """Every record of benchmark ``bench_name`` under ``out_dir/runs``."""
    records = [read_record(p) for p in sorted((Path(out_dir) / "runs").glob("*/seed*.json"))]
    return [r for r in records if r.benchmark == bench_name]
