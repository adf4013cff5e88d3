"""Scale-out and interruptions: Dask backend, prepare killed midway, huge structures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from absites.config import FeatureConfig
from absites.data.cache import RecordCache
from absites.data.prepare import prepare, read_manifest
from absites.structure.parse import read_structure
from absites.structure.roles import detect_roles
from conftest import SAMPLE, SAMPLE_INDEX, pdb_text, write_text

IDS = ["1ahw_BA_C", "1egj_HL_A", "3o2d_HL_A"]


@pytest.mark.slow
def test_dask_backend_matches_local(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    entries = [SAMPLE[c] for c in IDS]
    local = prepare(entries, FeatureConfig(), tmp_path / "local", workers=1, progress=False)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None, processes=True)
    try:
        remote = prepare(entries, FeatureConfig(), tmp_path / "dask", progress=False, backend="dask",
                         scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert sorted(r.key for r in local) == sorted(r.key for r in remote)
    assert all(r.status == "built" for r in remote)
    for r in local:
        a, b = RecordCache(tmp_path / "local").load(r.key), RecordCache(tmp_path / "dask").load(r.key)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.slow
def test_prepare_killed_midway_then_rerun(tmp_path):
    """Twelve sample complexes (an index of them): killed after three records, then finished on both cores."""
    import csv

    with SAMPLE_INDEX.open() as fh:
        rows = list(csv.DictReader(fh))[:12]
    for r in rows:
        r["file"] = str((SAMPLE_INDEX.parent / r["file"]).resolve())
    index = tmp_path / "twelve.csv"
    with index.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cache, manifest = tmp_path / "cache", tmp_path / "manifest.csv"
    cmd = [sys.executable, "-m", "absites.cli", "prepare", "--index", str(index), "--cache-dir", str(cache),
           "--manifest", str(manifest), "--no-progress", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(cache.glob("graphs/*/*.npz.sha256"))) < 3:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name.split(".")[0] for p in cache.glob("graphs/*/*.npz.sha256")}
    assert 3 <= len(finished) < 12, "killed after some but not all records"
    done = subprocess.run(cmd[:-1] + ["2"], capture_output=True, text=True)  # the rest on both cores
    assert done.returncode == 0, done.stderr
    rows = read_manifest(manifest)
    status = {r["key"]: r["status"] for r in rows}
    assert len(rows) == 12 and set(status.values()) <= {"cached", "built"}
    assert all(status[k] == "cached" for k in finished)  # nothing finished was recomputed
    assert sum(s == "built" for s in status.values()) == 12 - len(finished)
    assert all(RecordCache(cache).status(r["key"]) == "ok" for r in rows)  # no corrupt record left


@pytest.mark.slow
def test_structure_over_50000_atoms(tmp_path):
    """Twelve copies of a sample complex (about 59 000 atoms) in one file, 200 A apart."""
    e = SAMPLE["1ahw_BA_C"]
    lines = [l for l in pdb_text(e).splitlines(keepends=True) if l.startswith("ATOM  ")]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    out, serial = [], 0
    for copy in range(12):
        rename = {c: letters[3 * copy + i] for i, c in enumerate("ABC")}
        for l in lines:
            serial += 1
            x = float(l[30:38]) + 200.0 * copy
            out.append(f"ATOM  {serial % 100000:>5}{l[11:21]}{rename[l[21]]}{l[22:30]}{x:8.3f}{l[38:]}")
    path = write_text(tmp_path / "big.pdb", "".join(out))
    s = read_structure(path)
    assert s.n_atoms > 50_000 and len(s.chains) == 36
    roles = detect_roles(s)
    assert len(roles) == 12 and all(len(r.antigen) == 1 for r in roles)
    from absites.data.index import ComplexEntry

    last = roles[-1]
    (res,) = prepare([ComplexEntry("big_last_copy", path, last)], FeatureConfig(), tmp_path / "c", progress=False)
    assert res.status == "built" and res.n_residues == read_structure(e.path).n_residues


@pytest.mark.slow
def test_training_killed_and_resumed_matches_uninterrupted(sample_cache, tmp_path):
    import torch

    env = {**os.environ, "ABSITES_CACHE_DIR": str(sample_cache), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "absites.cli", "train", "--model", "epmp", "--training", "quick", "--data",
            "sample", "--epochs", "5", "--workers", "1"]
    full = subprocess.run(base + ["--out", str(tmp_path / "full")], env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    run = tmp_path / "killed"
    proc = subprocess.Popen(base + ["--out", str(run)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (run / "last.pt").exists():
            try:
                if torch.load(run / "last.pt", weights_only=False)["epoch"] >= 1:
                    break
            except Exception:  # being written: the rename is atomic, but be patient
                pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    epoch_at_kill = torch.load(run / "last.pt", weights_only=False)["epoch"]
    assert epoch_at_kill < 4, "killed before the end"
    resumed = subprocess.run(base + ["--out", str(run), "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    b = torch.load(run / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"]  # early stopping decides the same way after a resume
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)


@pytest.mark.slow
def test_bad_input_corpus_plus_sample_batch(tmp_path):
    """Every bad input is skipped with its reason; every sample complex is still done."""
    from absites.data.index import ComplexEntry
    from absites.structure.complex import ChainRoles

    base = SAMPLE["1ahw_BA_C"]
    text = pdb_text(base)
    atoms = [l for l in text.splitlines(keepends=True) if l.startswith("ATOM")]
    junk = tmp_path / "junk.pdb"
    junk.write_bytes(bytes(range(256)) * 50)
    corpus = {
        "truncated": (write_text(tmp_path / "cut.pdb", text[: text.index("ATOM", len(text) // 2) + 40]), base.roles),
        "empty": (write_text(tmp_path / "empty.pdb", ""), base.roles),
        "junk": (junk, base.roles),
        "wrong_chain": (base.path, ChainRoles("B", "A", ("Z",))),
        "calpha_only": (write_text(tmp_path / "ca.pdb", "".join(l for l in atoms if l[12:16] == " CA ")), base.roles),
        "apart": (write_text(tmp_path / "apart.pdb", "".join(
            f"{l[:30]}{float(l[30:38]) + 300:8.3f}{l[38:]}" if l[21] == "C" else l for l in atoms)), base.roles),
        "nucleic_antigen": (write_text(tmp_path / "dna.pdb", "".join(l[:17] + " DA" + l[20:] if l[21] == "C" else l
                                                                     for l in atoms)), base.roles),
    }
    expected = {"truncated": "truncated", "empty": "empty", "junk": "binary", "wrong_chain": "Z not found",
                "calpha_only": "C-alpha-only", "apart": "no heavy atoms within", "nucleic_antigen": "non-protein"}
    entries = list(SAMPLE.values()) + [ComplexEntry(k, p, r) for k, (p, r) in corpus.items()]
    results = {r.complex_id: r for r in prepare(entries, FeatureConfig(), tmp_path / "cache", workers=2,
                                                 manifest_path=tmp_path / "m.csv", progress=False)}
    assert all(results[c].status == "built" for c in SAMPLE)
    for name, phrase in expected.items():
        assert results[name].status == "skipped" and phrase in results[name].reason, (name, results[name].reason)
    assert len(read_manifest(tmp_path / "m.csv")) == len(entries)
