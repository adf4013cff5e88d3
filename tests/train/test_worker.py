"""The network worker of a cold ``absites predict``: same probabilities and notes as loading here; failures fall back."""

from __future__ import annotations

import importlib
import logging
import sys

import numpy as np
import pytest

from absites.config import DEFAULT_MODEL_DIR, FeatureConfig, SurfaceConfig
from absites.errors import AbsitesError, ConfigError
from absites.train import worker as worker_module
from absites.train.worker import NetworkWorker, RemoteRun, network_runs, start_for
from absites.train.run import load_run
from conftest import SAMPLE

MEMBER = (DEFAULT_MODEL_DIR / "members" / "diffusionnet").resolve()  # the shipped network member


@pytest.fixture(scope="module")
def member_inputs():
    """1ahw_BA_C's graph and surfaces as ``predict`` builds them for the shipped network member."""
    from absites.graph.build import graph_from_complex
    from absites.structure.complex import load_complex
    from absites.structure.labels import atom_partner_distance
    from absites.surface.build import protein_surface

    here, meta, _ = load_run(MEMBER)
    e = SAMPLE["1ahw_BA_C"]
    complex_ = load_complex(e.path, e.roles, e.complex_id)
    features, surface = FeatureConfig(**meta["features"]), SurfaceConfig(**meta["surface"])
    graph = graph_from_complex(complex_, features)
    distance = atom_partner_distance(complex_)
    surfaces = tuple(protein_surface(complex_, graph, side, surface, features.contact_cutoff_angstrom, distance)
                     for side in ("antibody", "antigen"))
    return here, graph, {graph.complex_id: surfaces}


def test_the_shipped_ensembles_name_their_network_member():
    assert network_runs(DEFAULT_MODEL_DIR / "paratope") == [MEMBER]
    assert network_runs(DEFAULT_MODEL_DIR / "epitope") == [MEMBER]
    assert network_runs(DEFAULT_MODEL_DIR / "members" / "gbm") == []  # a baseline needs no torch


@pytest.fixture(scope="module")
def worker():
    """One worker process for the module's tests (each start imports torch: seconds)."""
    w = NetworkWorker()
    yield w
    w.close()
    assert w.proc.poll() is not None


@pytest.fixture
def fresh_threads():
    """This process at the torch thread count of a fresh one, as the worker runs: earlier tests of the session set
    their own, and with another count the products sum in another order (on an AVX-512 machine the probabilities
    then differ in the 8th digit)."""
    import subprocess

    import torch

    default = int(subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                                 capture_output=True, text=True, check=True).stdout)
    before = torch.get_num_threads()
    torch.set_num_threads(default)
    yield default
    torch.set_num_threads(before)


def test_worker_gives_the_probabilities_and_notes_of_loading_here(member_inputs, worker, fresh_threads):
    here, graph, surfaces = member_inputs
    worker.load(MEMBER)
    remote = RemoteRun(worker, MEMBER)
    got, want = remote([graph], surfaces), here([graph], surfaces)
    assert got.keys() == want.keys() == {graph.complex_id}
    assert np.array_equal(got[graph.complex_id], want[graph.complex_id])  # to the bit
    assert remote.notes(graph, "epitope") == here.notes(graph, "epitope")
    assert remote.local is None  # served by the worker, not loaded here
    # an error inside the worker comes back as an error here, and the worker carries on
    with pytest.raises(ConfigError, match="needs batch key.*surfaces"):  # the class raised in one process
        remote([graph], None)
    assert np.array_equal(remote([graph], surfaces)[graph.complex_id], want[graph.complex_id])


def test_a_worker_that_cannot_start_falls_back_to_loading_here(member_inputs, caplog):
    here, graph, surfaces = member_inputs
    broken = NetworkWorker(command=(sys.executable, "-c", "import sys; sys.exit(3)"))
    try:
        broken.load(MEMBER)
        remote = RemoteRun(broken, MEMBER)
        with caplog.at_level(logging.WARNING, logger="absites.train.worker"):
            got = remote([graph], surfaces)
        assert np.array_equal(got[graph.complex_id], here([graph], surfaces)[graph.complex_id])
        assert remote.local is not None and "loading it in this process" in caplog.text
    finally:
        broken.close()


def test_a_run_the_worker_could_not_load_is_loaded_here(member_inputs, worker, tmp_path):
    _, graph, surfaces = member_inputs
    worker.load(tmp_path)  # no checkpoint there: the worker replies with an error
    with pytest.raises(worker_module.WorkerFailed, match="checkpoint"):
        worker.call("predict", tmp_path, [graph], surfaces)
    with pytest.raises(AbsitesError, match="checkpoint"):  # and loading it here says the same
        RemoteRun(worker, tmp_path)([graph], surfaces)


def test_no_worker_where_it_cannot_help(monkeypatch):
    started = []
    monkeypatch.setattr(worker_module, "shared_worker", lambda: started.append(1))
    monkeypatch.setenv(worker_module.ENV, "0")
    start_for([DEFAULT_MODEL_DIR / "paratope"])
    monkeypatch.setenv(worker_module.ENV, "1")
    importlib.import_module("torch")  # imported here already: loading in this process costs nothing more
    start_for([DEFAULT_MODEL_DIR / "paratope"])
    assert started == [] and not worker_module.worker_wanted()
