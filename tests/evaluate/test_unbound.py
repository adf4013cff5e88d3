"""Bound versus unbound benchmark: label transfer by alignment, on real docking cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from absites.config import FeatureConfig
from absites.evaluate.unbound import (
    ScoredRun,
    align_residues,
    build_cases,
    case_records,
    mapping_counts,
    models_fingerprint,
    pair_chains,
    read_cases,
    score_run,
    scored_pairs,
    surface_configs,
)
from tests.conftest import DATA_ROOT

CASES_INDEX = DATA_ROOT / "docking_unbound" / "index.csv"
pytestmark = pytest.mark.skipif(not CASES_INDEX.exists(), reason="docking_unbound/ not in the data root")


@pytest.fixture(scope="module")
def cases():
    return {c.case_id: c for c in read_cases(CASES_INDEX)}


def test_alignment_keeps_only_identical_aligned_residues():
    # an N-terminal extension, one substitution (D->K) and one deletion (G) in the second sequence
    m = align_residues("MSTACDEFGHIKLMN", "ACKEFHIKLMN")
    assert m[:3].tolist() == [-1, -1, -1]  # MST: no partner
    assert m[3:5].tolist() == [0, 1]  # A C
    assert m[5] == -1  # D aligned to K: not identical, not scored
    assert m[6:8].tolist() == [3, 4]  # E F
    assert m[8] == -1  # G deleted
    assert m[9:].tolist() == [5, 6, 7, 8, 9, 10]
    assert align_residues("", "ACD").size == 0


def test_chains_are_paired_by_sequence_not_by_order():
    a, b = "MKTAYIAKQRQISFVKSHFSRQ", "GSHMLEDPVDAFQLGVAKDLQRRL"
    pairs = pair_chains({"A": a, "B": b}, {"X": b[2:], "Y": a})
    assert {(p, q) for p, q, _ in pairs} == {("A", "Y"), ("B", "X")}
    for p, q, m in pairs:
        assert (m >= 0).sum() == (len(a) if p == "A" else len(b) - 2)


def test_read_cases_records_a_row_with_a_missing_file(tmp_path):
    text = CASES_INDEX.read_text().splitlines()
    header, first, second = text[0], text[1], text[2]
    broken = second.replace("_l_u.pdb.gz", "_missing.pdb.gz")
    index = tmp_path / "index.csv"
    index.write_text("\n".join([header, first, broken]) + "\n")
    (tmp_path / "structures").symlink_to(CASES_INDEX.parent / "structures")
    skipped: list[str] = []
    got = read_cases(index, skipped)
    assert [c.case_id for c in got] == [first.split(",")[0]]
    assert len(skipped) == 1 and "_missing.pdb.gz" in skipped[0] and ":3:" in skipped[0]


def test_labels_come_from_the_bound_pair(cases):
    """6her (a nanobody and its antigen, solved apart): every scored unbound residue carries the label of
    the identical bound residue it aligns to; the bound pair's contact counts are those of the index."""
    rec = case_records(cases["6her"], FeatureConfig(), {})
    counts = mapping_counts(rec)
    ab = rec.bound.is_antibody.astype(bool)
    assert int(rec.bound.y[ab].sum()) == 15 and int(rec.bound.y[~ab].sum()) == 18  # n_paratope / n_epitope of the index
    mapped = rec.u_to_b >= 0
    assert np.array_equal(rec.unbound.y[mapped], rec.bound.y[rec.u_to_b[mapped]])
    assert np.all(rec.unbound.res_name[mapped] == rec.bound.res_name[rec.u_to_b[mapped]])
    assert counts["unmapped_unbound"] == int((~mapped).sum()) > 0  # the unbound nanobody has extra residues
    iu, ib = scored_pairs(rec, "paratope")
    assert counts["scored_paratope"] == iu.size > 0 and np.all(rec.unbound.cdr[iu] > 0) and np.all(rec.bound.cdr[ib] > 0)
    # the unbound structures differ from the bound ones: the inputs are really other coordinates
    assert not np.allclose(rec.unbound.pos[mapped], rec.bound.pos[rec.u_to_b[mapped]], atol=0.05)


def test_unbound_equal_to_bound_scores_the_same(cases):
    """A case whose 'unbound' files are its bound files maps every residue to itself, and a model scores
    the two columns identically: the unbound column differs only by the structures it is given."""
    from absites.predict.run import DEFAULT_MODEL_DIR

    case = cases["6jb8"]
    same = dataclasses.replace(case, files={**case.files, "r_u": case.files["r_b"], "l_u": case.files["l_b"]},
                               chains={**case.chains, "r_u": case.chains["r_b"], "l_u": case.chains["l_b"]})
    run = ScoredRun("shipped defaults", 0, DEFAULT_MODEL_DIR / "paratope", DEFAULT_MODEL_DIR / "epitope")
    rec = case_records(same, FeatureConfig(), surface_configs([run]))  # the shipped ensembles read surfaces
    assert np.array_equal(rec.u_to_b, np.arange(rec.bound.num_nodes))
    row = score_run(run, {"6jb8": rec})
    for task in ("paratope", "epitope"):
        for m in ("auroc", "auprc", "mcc"):
            assert row[f"{task}_{m}_bound"] == pytest.approx(row[f"{task}_{m}_unbound"])
        assert 0.5 < row[f"{task}_auroc_bound"] <= 1.0


def _two_cases(tmp_path):
    """An index of two docking cases (6her, 6jb8) in ``tmp_path``, reading the data's structures."""
    lines = CASES_INDEX.read_text().splitlines()
    index = tmp_path / "cases" / "index.csv"
    index.parent.mkdir()
    index.write_text("\n".join([lines[0]] + [l for l in lines[1:] if l.startswith(("6her,", "6jb8,"))]) + "\n")
    (index.parent / "structures").symlink_to(CASES_INDEX.parent / "structures")
    return index


def test_build_cases_skips_and_records_a_case_that_cannot_be_built(tmp_path):
    index = _two_cases(tmp_path)
    lines = index.read_text().splitlines()
    (index.parent / "bad.pdb").write_text("HEADER    TRUNCATED BEFORE ITS FIRST ATOM\n")
    broken = lines[2].split(",")
    column = lines[0].split(",").index("file_l_u")
    broken[column] = "bad.pdb"
    index.write_text("\n".join(lines[:2] + [",".join(broken)]) + "\n")
    skipped: list[str] = []
    got = build_cases(index, FeatureConfig(), skipped=skipped)
    assert list(got) == [lines[1].split(",")[0]]
    assert len(skipped) == 1 and skipped[0].startswith(broken[0] + ": ") and "bad.pdb" in skipped[0]


def test_bench_command_writes_the_bound_unbound_table(tmp_path):
    """`absites bench CONFIG` with `kind: unbound`: two cases, the shipped models; a rerun keeps the rows."""
    import json

    from click.testing import CliRunner

    from absites.cli import cli

    index = _two_cases(tmp_path)
    config = tmp_path / "two-cases.yaml"
    config.write_text(f"kind: unbound\ntitle: two cases\ncases: {index}\nsources: []\nshipped: true\n")
    args = ["bench", str(config), "--out", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"), "--jobs", "1"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    out = tmp_path / "results" / "two-cases"
    table = (out / "table.md").read_text()
    assert "| shipped defaults |" in table and "Cases: 2 of" in table
    rows = json.loads((out / "runs.json").read_text())
    assert len(rows) == 1 and rows[0]["cases"] == ["6her", "6jb8"]
    for task in ("paratope", "epitope"):
        assert 0.0 < rows[0][f"{task}_auroc_unbound"] <= 1.0
    assert (out / "cases.csv").read_text().count("\n") == 3
    from absites.predict.run import DEFAULT_MODEL_DIR

    # a rerun keeps the shipped row while the shipped files are the same, and rescores it when they change
    rows[0]["paratope_auroc_bound"] = -1.0  # a marker: survives only if the row is kept
    (out / "runs.json").write_text(json.dumps(rows))
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert json.loads((out / "runs.json").read_text())[0]["paratope_auroc_bound"] == -1.0
    rows[0]["fingerprint"] = "models retrained since"
    (out / "runs.json").write_text(json.dumps(rows))
    assert CliRunner().invoke(cli, args).exit_code == 0
    again = json.loads((out / "runs.json").read_text())[0]
    assert again["paratope_auroc_bound"] > 0 and again["fingerprint"] == models_fingerprint(DEFAULT_MODEL_DIR)
    config.write_text(config.read_text() + "nonsense: 1\n")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "unknown key(s) nonsense" in str(res.exception or res.output)


def test_rows_scored_before_are_kept_when_their_runs_are_gone(tmp_path):
    """A benchmark row scored on these cases stays in the table after its run folder is gone: it is neither
    trained again (a baseline would be) nor dropped; one scored on other cases is listed as missing."""
    import json

    from absites.evaluate.unbound import load_unbound_config, run_unbound

    index = _two_cases(tmp_path)
    config = tmp_path / "kept.yaml"
    config.write_text(f"kind: unbound\ntitle: kept rows\ncases: {index}\nsources: [{{bench: gep, rows: [prior]}}]\n"
                      "shipped: false\n")
    cfg = load_unbound_config(config)
    metrics = {f"{t}_{m}_{s}": 0.5 for t in ("paratope", "epitope") for m in ("auroc", "auprc", "mcc")
               for s in ("bound", "unbound")}
    seeds = [42, 40, 63, 64, 65]
    stored = [{"label": "gep/prior", "seed": s, "n_train": 78, **metrics, "epitope_auroc_bound": 0.6 + s / 1000,
               "cases": ["6her", "6jb8"] if s != 65 else ["6her"]} for s in seeds]
    out = tmp_path / "results" / "kept"
    out.mkdir(parents=True)
    (out / "runs.json").write_text(json.dumps(stored))
    runs = tmp_path / "runs"
    run_unbound(cfg, tmp_path / "results", runs, workers=1)
    assert not runs.exists() or not any(runs.rglob("*.pt"))  # nothing trained
    rows = json.loads((out / "runs.json").read_text())
    assert [r["seed"] for r in rows] == seeds[:4]
    assert [r["epitope_auroc_bound"] for r in rows] == [0.6 + s / 1000 for s in seeds[:4]]
    table = (out / "table.md").read_text()
    assert "| gep/prior |" in table and "gep/prior seed 65" in table


def test_a_run_retrained_in_place_is_scored_again(tmp_path):
    """A stored row stands for a run while its folder, and for an ensemble its members' folders, hold the same
    files (model cards aside); rows stored before rows carried a fingerprint stand as they were."""
    import json

    from absites.evaluate.unbound import SHIPPED, reusable, run_fingerprint

    root = tmp_path / "gep-plus"
    for name, payload in (("gbm/seed1", b"forest"), ("net/seed1", b"weights")):
        (root / name).mkdir(parents=True)
        (root / name / "model.bin").write_bytes(payload)
    ens = root / "ensemble/seed1"
    ens.mkdir(parents=True)
    (ens / "ensemble.json").write_text(json.dumps({"members": ["../../gbm/seed1", "../../net/seed1"]}))
    before = run_fingerprint(ens)
    (root / "net/seed1" / "MODEL_CARD.md").write_text("a card changes nothing")
    assert run_fingerprint(ens) == before
    run = ScoredRun("gep-plus/ensemble", 1, ens, ens, before)
    assert reusable({"fingerprint": before}, run)
    (root / "net/seed1" / "model.bin").write_bytes(b"retrained")  # a member trained again (bench --force)
    assert run_fingerprint(ens) != before
    assert not reusable({"fingerprint": before}, dataclasses.replace(run, fingerprint=run_fingerprint(ens)))
    assert reusable({}, run) and not reusable(None, run)  # a row from before fingerprints; no row
    assert not reusable({}, dataclasses.replace(run, label=SHIPPED))  # the shipped row always had one
