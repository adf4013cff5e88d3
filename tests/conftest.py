"""Shared fixtures: the real sample complexes of ../shared/data and helpers to make bad inputs."""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import pytest

from absites.config import CACHE_DIR_ENV, FeatureConfig, SurfaceConfig, TrainingConfig, resolve_data_root
from absites.data.index import ComplexEntry, read_index

DATA_ROOT = resolve_data_root()
BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
SAMPLE_INDEX = DATA_ROOT / "sample" / "index.csv"
FULL_INDEX = DATA_ROOT / "index.csv"

if not SAMPLE_INDEX.exists():  # fail loudly: these tests are about real structures
    raise RuntimeError(
        f"sample data not found at {SAMPLE_INDEX}; set ABSITES_DATA_ROOT to the folder holding index.csv and sample/"
    )


def sample_entries() -> list[ComplexEntry]:
    return read_index(SAMPLE_INDEX)


def full_index_rows() -> dict[str, dict[str, str]]:
    with FULL_INDEX.open(newline="") as fh:
        return {r["complex_id"]: r for r in csv.DictReader(fh)}


SAMPLE = {e.complex_id: e for e in sample_entries()}


@pytest.fixture(scope="session")
def sample() -> dict[str, ComplexEntry]:
    return SAMPLE


def pdb_text(entry: ComplexEntry) -> str:
    with gzip.open(entry.path, "rt") as fh:
        return fh.read()


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def shift_chains(text: str, chains: set[str], dx: float) -> str:
    """Move every ATOM/HETATM of ``chains`` by ``dx`` Å along x."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("ATOM  ", "HETATM")) and line[21] in chains:
            x = float(line[30:38]) + dx
            line = f"{line[:30]}{x:8.3f}{line[38:]}"
        out.append(line)
    return "".join(out)


# Model tests: two quick epochs, and coarse surfaces (~3x faster than the default ones).
QUICK = TrainingConfig(epochs=2, batch_size=2, patience=5, scheduler="constant")
COARSE = SurfaceConfig(grid_angstrom=1.5, k_eig=32)


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory) -> Path:
    """One record cache for the tests that train on the sample and do not test preparation itself: records are
    keyed by input and parameters (and each prepare call rewrites its manifest), so they share it safely and the
    sample is prepared once per session instead of once per test."""
    return tmp_path_factory.mktemp("sample-cache")


@pytest.fixture(scope="session", autouse=True)
def _cache_of_the_session(sample_cache):
    """``$ABSITES_CACHE_DIR`` for the whole session (a test may set its own): tests never write into the
    checkout's or the user's cache, and every test that reads a data config's default cache shares one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_ENV, str(sample_cache))
        yield


@pytest.fixture(scope="module")
def complexes(request):
    """The sample complexes named by the test module's ``IDS``, parsed once per module."""
    from absites.structure.complex import load_complex

    return [load_complex(SAMPLE[c].path, SAMPLE[c].roles, c) for c in request.module.IDS]


@pytest.fixture(scope="module")
def graphs(complexes):
    from absites.graph import graph_from_complex

    return [graph_from_complex(c, FeatureConfig()) for c in complexes]


@pytest.fixture(scope="module")
def surfaces(complexes, graphs):
    """Coarse surfaces of the module's complexes, keyed by complex id."""
    from absites.surface.build import complex_surfaces

    return {g.complex_id: complex_surfaces(c, g, COARSE, 4.5) for c, g in zip(complexes, graphs)}


def bench_script(name: str):
    """A fresh import of ``bench/<name>.py`` (the benchmark scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
