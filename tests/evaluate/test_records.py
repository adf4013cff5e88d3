"""Typed job records: every committed record reads, unknown fields fail, writing round-trips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from absites.errors import AbsitesError
from absites.evaluate.bench_records import RECORD_VERSION, JobRecord, read_record, write_record

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_every_committed_record_reads():
    paths = sorted(RESULTS.glob("*/runs/*/seed*.json"))
    assert len(paths) > 100
    for path in paths:
        rec = read_record(path)
        assert rec.version in (1, RECORD_VERSION) and rec.seed == int(path.stem.removeprefix("seed"))
        assert rec.benchmark == path.parents[2].name
        if rec.ok:
            assert 0.0 <= rec.test_metric("paratope", "auroc") <= 1.0 and rec.n_test > 0


def test_round_trip_and_unknown_fields(tmp_path):
    rec = JobRecord(benchmark="b", label="gbm", model="gbm", seed=42, status="ok", train_seconds=5.0,
                    train_wall_seconds=6.0, seconds_per_epoch=5.0, inference_seconds=0.1,
                    test_metrics={"paratope": {"auroc": 0.9}})  # finite times: NaN never equals itself
    path = write_record(tmp_path / "runs" / "gbm" / "seed42.json", rec)
    back = read_record(path)
    assert back == rec and back.version == RECORD_VERSION and back.ok
    raw = json.loads(path.read_text())
    del raw["version"]  # written by earlier code
    raw["tset_metrics"] = {}
    path.write_text(json.dumps(raw))
    with pytest.raises(AbsitesError, match="unknown job-record field.*tset_metrics"):
        read_record(path)
    del raw["tset_metrics"]
    path.write_text(json.dumps(raw))
    assert read_record(path).version == 1
    assert dataclasses.replace(read_record(path), version=RECORD_VERSION) == rec
