"""bench/bench_train.py's ``--params``: constructor overrides read as YAML scalars, and bad items named."""

from __future__ import annotations

import pytest

from conftest import bench_script


@pytest.fixture(scope="module")
def bench_train():
    return bench_script("bench_train")


def test_params_are_typed_yaml_scalars(bench_train):
    got = bench_train.parse_params("hidden=32, share_cross=false,fusion=late,dropout=0.25")
    assert got == {"hidden": 32, "share_cross": False, "fusion": "late", "dropout": 0.25}
    assert bench_train.parse_params("") == {}


@pytest.mark.parametrize("bad", ["hidden", "=3", "hidden=32,layers"])
def test_malformed_params_are_named(bench_train, bad):
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bench_train.parse_params(bad)
