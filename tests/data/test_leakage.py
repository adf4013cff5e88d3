"""Leakage control: pools from several indexes, held-out complexes kept out by id and by antigen identity."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
from click.testing import CliRunner

from absites.cli import cli
from absites.data.index import read_index
from absites.data.leakage import Identity, filter_pool, sequences_of
from absites.predict.run import combine_structures
from absites.structure.parse import read_structure
from absites.structure.write import write_pdb
from conftest import SAMPLE, SAMPLE_INDEX

TEST_IDS = sorted(c for c, e in SAMPLE.items() if e.split == "test")
TRAIN_IDS = sorted(c for c, e in SAMPLE.items() if e.split == "train")


@pytest.fixture(scope="module")
def chimera_index(tmp_path_factory):
    """The sample's train + val rows, plus 'chimera': a train complex's antibody with a test complex's antigen
    (another PDB id, another antibody, the same antigen sequence)."""
    root = tmp_path_factory.mktemp("leak")
    ab_entry, ag_entry = SAMPLE[TRAIN_IDS[0]], SAMPLE[TEST_IDS[0]]
    ab = read_structure(ab_entry.path).select_chains(ab_entry.roles.antibody)
    ag = read_structure(ag_entry.path).select_chains(ag_entry.roles.antigen)
    both = combine_structures(ab, ag)
    path = write_pdb(both, root / "chimera.pdb")
    with SAMPLE_INDEX.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] in ("train", "val")]
    for r in rows:
        r["file"] = str((SAMPLE_INDEX.parent / r["file"]).resolve())
    rows.append({**rows[0], "complex_id": "chimera", "pdb_id": "9zzz", "file": str(path),
                 "heavy_chain": ab_entry.roles.heavy, "light_chain": ab_entry.roles.light or "NA",
                 "antigen_chains": ";".join(both.chains[len(ab_entry.roles.antibody):])})
    index = root / "pool.csv"
    with index.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return index, root


@pytest.mark.slow
def test_no_test_antigen_survives_the_antigen_disjoint_pool(chimera_index, tmp_path):
    index, root = chimera_index
    out = tmp_path / "split"
    result = CliRunner().invoke(cli, ["split", "--pool", str(index), "--held-out", f"{SAMPLE_INDEX}::split=test",
                                      "--out", str(out), "--cache-dir", str(root / "cache")])
    assert result.exit_code == 0, result.output
    id_pool = {e.complex_id for e in read_index(out / "pool-id.csv")}
    antigen_pool = read_index(out / "pool-antigen.csv")
    assert "chimera" in id_pool and "chimera" not in {e.complex_id for e in antigen_pool}
    removed = {r["complex_id"]: r for r in csv.DictReader((out / "removed-antigen.csv").open())}
    assert removed["chimera"]["reason"] == "similar_antigen" and removed["chimera"]["held_out"] == TEST_IDS[0]
    # brute force, no prefilter: every antigen chain left in the pool is < 70 % identical to every test antigen
    pool_seqs, _ = sequences_of(antigen_pool, root / "cache")  # read once by the command: its cache
    test_seqs, _ = sequences_of([SAMPLE[c] for c in TEST_IDS], root / "cache")
    exact = Identity()
    for s in pool_seqs.values():
        for h in test_seqs.values():
            assert all(exact(a, b) < 0.7 for a in s.antigen for b in h.antigen), (s.complex_id, h.complex_id)
    assert all(e.path.exists() for e in antigen_pool)  # relative file paths resolve from the pool index


def test_held_out_pdb_and_identical_antibody_leave_the_id_pool():
    entries = [SAMPLE[c] for c in TRAIN_IDS[:3] + TEST_IDS[:2]]
    seqs, failed = sequences_of(entries)
    assert not failed
    held = {c: seqs[c] for c in TEST_IDS[:2]}
    pool = {c: seqs[c] for c in TRAIN_IDS[:3]}
    from dataclasses import replace

    pool["copy"] = replace(seqs[TEST_IDS[0]], complex_id="copy", pdb_id="9yyy")  # same antibody, new entry
    pool["same_entry"] = replace(seqs[TRAIN_IDS[0]], complex_id="same_entry", pdb_id=held[TEST_IDS[1]].pdb_id)
    kept, removed = filter_pool(pool, held, "id")
    reasons = {r.complex_id: r.reason for r in removed}
    assert reasons == {"copy": "same_antibody", "same_entry": "same_pdb"}
    assert sorted(kept) == sorted(TRAIN_IDS[:3])


def test_lcs_prefilter_bounds_the_identity():
    """The prefilter may only skip pairs whose identity is surely below the threshold."""
    rng = random.Random(0)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    ident = Identity()
    for _ in range(40):
        a = "".join(rng.choice(aa) for _ in range(rng.randint(30, 120)))
        b = list(a)
        for i in rng.sample(range(len(b)), k=rng.randint(0, len(b) // 2)):
            b[i] = rng.choice(aa)
        b = "".join(b)
        bound = ident._bound.score(a, b) / min(len(a), len(b))
        exact = ident(a, b)
        assert exact <= bound + 1e-9
        quick = ident(a, b, at_least=0.7)
        assert quick == exact if bound >= 0.7 else quick < 0.7  # below the bar: bound or memoised exact value
    assert ident("ACDEFGHIK", "ACDEFGHIK") == 1.0
    assert np.isclose(ident("AAAAAAAAAA", "AAAAACAAAA"), 0.9)


@pytest.mark.slow
def test_a_benchmark_part_can_read_the_pool_index(sample_cache, chimera_index, tmp_path):
    """SplitSpec.index: the training part of a benchmark reads a pool written by ``absites split``."""
    from absites.config import DataConfig, FeatureConfig
    from absites.data.index import SplitSpec
    from absites.train.run import load_split

    index, root = chimera_index
    out = tmp_path / "split"
    result = CliRunner().invoke(cli, ["split", "--pool", str(index), "--held-out", f"{SAMPLE_INDEX}::split=test",
                                      "--regime", "antigen", "--out", str(out), "--cache-dir", str(root / "cache")])
    assert result.exit_code == 0, result.output
    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    part = load_split(SplitSpec("train", index=str(out / "pool-antigen.csv")), data, FeatureConfig(), None,
                      workers=1)
    want = {e.complex_id for e in read_index(out / "pool-antigen.csv")}
    assert {g.complex_id for g in part.graphs} == want and "chimera" not in want
    assert not want & set(TEST_IDS)
