"""Batch preparation: manifest with skips, cache reuse, corruption detection, parallel == serial."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import pytest

from absites.config import FeatureConfig
from absites.data.cache import RecordCache
from absites.data.dataset import GraphTensors, batch_graphs, graph_tensors
from absites.data.records import load_graphs
from absites.data.index import ComplexEntry, read_index
from absites.data.prepare import prepare, read_manifest
from absites.errors import CacheError, DataIndexError
from absites.graph.build import ResidueGraph
from absites.structure.complex import ChainRoles
from conftest import SAMPLE, SAMPLE_INDEX, pdb_text, shift_chains, write_text

GOOD = ["1ahw_BA_C", "1egj_HL_A", "3o2d_HL_A"]


def bad_entries(tmp_path) -> list[ComplexEntry]:
    base = SAMPLE["1ahw_BA_C"]
    text = pdb_text(base)
    junk = tmp_path / "junk.pdb"
    junk.write_bytes(b"\x00\x01binary" * 100)
    return [
        ComplexEntry("truncated", write_text(tmp_path / "cut.pdb", text[: text.index("ATOM", len(text) // 2) + 40]), base.roles),
        ComplexEntry("empty", write_text(tmp_path / "empty.pdb", ""), base.roles),
        ComplexEntry("junk", junk, base.roles),
        ComplexEntry("wrong_chain", base.path, ChainRoles("B", "A", ("Q",))),
        ComplexEntry("apart", write_text(tmp_path / "apart.pdb", shift_chains(text, {"C"}, 300.0)), base.roles),
        ComplexEntry("nucleic_antigen", write_text(tmp_path / "dna.pdb", "".join(
            l[:17] + " DA" + l[20:] if l.startswith("ATOM") and l[21] == "C" else l
            for l in text.splitlines(keepends=True))), base.roles),
        ComplexEntry("missing_file", tmp_path / "nope.pdb", base.roles),
    ]


def test_prepare_skips_bad_items_and_records_reasons(tmp_path):
    entries = [SAMPLE[c] for c in GOOD] + bad_entries(tmp_path)
    manifest = tmp_path / "manifest.csv"
    results = prepare(entries, FeatureConfig(), tmp_path / "cache", workers=1, manifest_path=manifest, progress=False)
    status = {r.complex_id: r for r in results}
    assert all(status[c].status == "built" for c in GOOD)
    expected = {
        "truncated": "truncated coordinate record",
        "empty": "empty",
        "junk": "binary data",
        "wrong_chain": "chain(s) Q not found",
        "apart": "no heavy atoms within 4.5",
        "nucleic_antigen": "non-protein chain",
        "missing_file": "not found",
    }
    for cid, phrase in expected.items():
        assert status[cid].status == "skipped", (cid, status[cid])
        assert phrase in status[cid].reason, (cid, status[cid].reason)
    rows = {r["complex_id"]: r for r in read_manifest(manifest)}
    assert set(rows) == {e.complex_id for e in entries}
    assert rows["junk"]["reason"] == status["junk"].reason


def test_rerun_reuses_and_corrupt_record_is_rebuilt(tmp_path):
    entries = [SAMPLE[c] for c in GOOD]
    cache_root = tmp_path / "cache"
    first = prepare(entries, FeatureConfig(), cache_root, progress=False)
    again = prepare(entries, FeatureConfig(), cache_root, progress=False)
    assert [r.status for r in again] == ["cached"] * 3
    victim = first[1]
    data = open(victim.record, "rb").read()
    open(victim.record, "wb").write(data[: len(data) // 2])  # a half-written file
    cache = RecordCache(cache_root)
    assert cache.status(victim.key) == "corrupt"
    with pytest.raises(CacheError):
        cache.load(victim.key)
    third = {r.complex_id: r.status for r in prepare(entries, FeatureConfig(), cache_root, progress=False)}
    assert third[victim.complex_id] == "rebuilt"
    assert cache.status(victim.key) == "ok"


def test_config_change_gives_new_key(tmp_path):
    e = [SAMPLE["1ahw_BA_C"]]
    a = prepare(e, FeatureConfig(), tmp_path, progress=False)[0]
    b = prepare(e, dataclasses.replace(FeatureConfig(), contact_cutoff_angstrom=5.0), tmp_path, progress=False)[0]
    assert a.key != b.key and b.status == "built"


def test_parallel_equals_serial(tmp_path):
    entries = [SAMPLE[c] for c in GOOD]
    serial = prepare(entries, FeatureConfig(), tmp_path / "s", workers=1, progress=False)
    parallel = prepare(entries, FeatureConfig(), tmp_path / "p", workers=2, progress=False)
    assert sorted(r.key for r in serial) == sorted(r.key for r in parallel)
    for r in serial:
        a = RecordCache(tmp_path / "s").load(r.key)
        b = RecordCache(tmp_path / "p").load(r.key)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_records_round_trip_and_batch_like_pyg(tmp_path):
    """Our batch of two sample complexes equals PyG's ``Batch.from_data_list`` key by key (PyG is the reference)."""
    from torch_geometric.data import Batch, Data

    entries = [SAMPLE[c] for c in GOOD[:2]]
    manifest = tmp_path / "m.csv"
    prepare(entries, FeatureConfig(), tmp_path / "cache", manifest_path=manifest, progress=False)
    graphs = load_graphs(manifest, tmp_path / "cache")
    assert {g.complex_id for g in graphs} == set(GOOD[:2])
    assert all(isinstance(g, ResidueGraph) for g in graphs)
    ours = [graph_tensors(g) for g in graphs]
    keys = [f.name for f in dataclasses.fields(GraphTensors) if f.name != "batch"]
    reference = [Data(**{k: getattr(t, k) for k in keys}) for t in ours]
    for d in reference:
        d.validate(raise_on_error=True)
    want, got = Batch.from_data_list(reference), batch_graphs(ours)
    for k in keys + ["batch"]:
        assert torch.equal(getattr(got, k), getattr(want, k)), k
    assert got.num_nodes == want.num_nodes == sum(g.num_nodes for g in graphs)
    n0 = ours[0].num_nodes  # the second complex's edges are offset by the first one's residues
    np.testing.assert_array_equal(got.cross_edge_index[:, ours[0].cross_edge_index.shape[1]:].numpy(),
                                  ours[1].cross_edge_index.numpy() + n0)


def test_index_reading():
    entries = read_index(SAMPLE_INDEX)
    assert len(entries) == 30 and all(e.path.exists() for e in entries)
    assert {e.split for e in entries} == {"train", "val", "test"}
    assert len(read_index(SAMPLE_INDEX, split="test")) == 10
    kb5 = next(e for e in entries if e.complex_id == "1kb5_HL_AB")
    assert kb5.roles.antigen == ("A", "B")
    assert [e.complex_id for e in read_index(SAMPLE_INDEX, ids=["3gjf"])] == ["3gjf_HL_AC"]


def test_index_errors(tmp_path):
    with pytest.raises(DataIndexError, match="not found"):
        read_index(tmp_path / "none.csv")
    write_text(tmp_path / "bad.csv", "complex_id,file\nx,y.pdb\n")
    with pytest.raises(DataIndexError, match="missing column"):
        read_index(tmp_path / "bad.csv")


def test_single_domain_antibody_index_row(tmp_path):
    write_text(tmp_path / "i.csv", "complex_id,heavy_chain,light_chain,antigen_chains,file\nnb,B,NA,C,x.pdb\n")
    assert read_index(tmp_path / "i.csv")[0].roles.light is None


def test_example_index_of_the_data_folder_prepares(tmp_path):
    """data/example_index.csv (the layout data/README.md documents) is accepted by `absites prepare
    --index`: the same rows, with `file` pointing at the sample's copies of those entries."""
    import csv as _csv

    from click.testing import CliRunner

    from absites.cli import cli
    from absites.config import PROJECT_ROOT

    example = PROJECT_ROOT / "data" / "example_index.csv"
    rows = list(_csv.DictReader(example.open()))
    assert [r["complex_id"] for r in rows] == ["1ahw_BA_C", "3gjf_HL_AC"]
    for r in rows:
        assert r["file"] == f"pdb/{r['pdb_id']}.cif.gz"  # where `absites fetch` puts them
        r["file"] = str(SAMPLE[r["complex_id"]].path)
    index = tmp_path / "example_index.csv"
    with index.open("w", newline="") as fh:
        w = _csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = CliRunner().invoke(cli, ["prepare", "--index", str(index), "--cache-dir", str(tmp_path / "cache"),
                                   "--workers", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert '"built": 2' in res.output
