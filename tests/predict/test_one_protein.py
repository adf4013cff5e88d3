"""Predicting from one protein alone, and from an antibody chain numbering cannot place."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest
from scipy.stats import spearmanr

from absites.errors import AbsitesError
from absites.predict.run import load_default_models, predict_file, predict_one_protein
from absites.structure.parse import read_structure
from absites.structure.write import write_pdb
from conftest import SAMPLE

E = SAMPLE["1ahw_BA_C"]  # heavy B, light A, antigen C (tissue factor)


@pytest.fixture(scope="module")
def shipped():
    return load_default_models()


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """1ahw split into an antibody file and an antigen file."""
    root = tmp_path_factory.mktemp("parts")
    s = read_structure(E.path)
    ab, ag = root / "ab.pdb", root / "ag.pdb"
    write_pdb(s.select_chains(["B", "A"]), ab)
    write_pdb(s.select_chains(["C"]), ag)
    return ab, ag


@pytest.fixture(scope="module")
def partner_free(shipped):
    """The models that serve one protein alone: the shipped partner-free members (the shipped ensembles
    read the partner through their network)."""
    return {task: m.for_one_protein() for task, m in shipped.items()}


@pytest.fixture(scope="module")
def complex_rows(partner_free, tmp_path_factory):
    (pred,) = predict_file(E.path, tmp_path_factory.mktemp("full"), partner_free, write_surfaces=False)
    return {(r["chain"], r["resseq"], r["icode"]): r for r in csv.DictReader(pred.outputs["csv"].open())}


def _rows(pred):
    return list(csv.DictReader(pred.outputs["csv"].open()))


def test_shipped_ensembles_hand_one_protein_to_partner_free_members(shipped, partner_free):
    for task in ("paratope", "epitope"):
        assert shipped[task].meta["model"] == "ensemble" and not shipped[task].partner_free
        assert partner_free[task].partner_free and partner_free[task].meta["model"] == "gbm"


def test_antibody_alone_equals_the_partner_free_complex_prediction(shipped, parts, complex_rows, tmp_path):
    """The partner-free paratope model reads no antigen information, so the antibody alone gets exactly the
    paratope probabilities it gets in the complex; the output says which mode ran."""
    pred = predict_one_protein(parts[0], tmp_path, shipped, "antibody")
    assert pred.mode == "antibody alone" and pred.roles.heavy == "B" and pred.roles.light == "A"
    rows = _rows(pred)
    assert {r["role"] for r in rows} == {"H", "L"} and len(rows) == sum(r["role"] != "Ag" for r in complex_rows.values())
    for r in rows:
        full = complex_rows[(r["chain"], r["resseq"], r["icode"])]
        assert r["prob"] == full["prob"] and r["cdr"] == full["cdr"]
        assert "antibody alone" in r["call_rule"]
    assert {"png", "html", "ply_antibody"} <= set(pred.outputs) and "ply_antigen" not in pred.outputs


def test_antigen_alone_gives_antibody_agnostic_scores(shipped, parts, complex_rows, tmp_path):
    pred = predict_one_protein(parts[1], tmp_path, shipped, "antigen", write_surfaces=False)
    assert pred.mode == "antigen alone" and pred.roles.antigen == ("C",)
    rows = _rows(pred)
    assert len(rows) == sum(r["role"] == "Ag" for r in complex_rows.values())
    alone = np.array([float(r["prob"]) for r in rows])
    together = np.array([float(complex_rows[(r["chain"], r["resseq"], r["icode"])]["prob"]) for r in rows])
    # the shipped epitope model weighs its templates (other tissue-factor complexes) by how alike their
    # antibodies are to this one: alone, antigen identity weighs them, so scores move but keep most of their
    # order (Spearman 0.77 for the shipped shape + template gbm, 0.8+ for the earlier template gbm)
    assert not np.allclose(alone, together)
    assert spearmanr(alone, together).statistic > 0.7
    assert any(n.startswith("epitope templates:") and "homologous antigen" in n for n in pred.notes)
    assert sum(int(r["pred"]) for r in rows) == 19  # the epitope call: top 19 (no ties in these scores)


def test_one_protein_mode_refuses_a_model_that_reads_the_partner(parts, tmp_path):
    from absites.predict.run import TaskModel

    partner = TaskModel("paratope", lambda g, s=None: {}, {"model": "egnn"}, 0.5, False)
    models = {"paratope": partner, "epitope": partner}
    with pytest.raises(AbsitesError, match="egnn.*reads the antigen"):
        predict_one_protein(parts[0], tmp_path, models, "antibody", write_surfaces=False)


def test_antibody_alone_needs_an_antibody(parts, shipped, tmp_path):
    with pytest.raises(AbsitesError, match="no antibody chain"):
        predict_one_protein(parts[1], tmp_path, shipped, "antibody", write_surfaces=False)


def test_cli_one_protein_modes(parts, tmp_path):
    from click.testing import CliRunner

    from absites.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["predict", "--antibody", str(parts[0]), "--out", str(tmp_path / "a"), "--no-surfaces"])
    assert res.exit_code == 0, res.output
    assert "antibody alone" in res.output and (tmp_path / "a" / "ab_residues.csv").exists()
    res = runner.invoke(cli, ["predict", "--antigen", str(parts[1]), "--out", str(tmp_path / "b"), "--no-surfaces"])
    assert res.exit_code == 0, res.output
    assert "antigen alone" in res.output and (tmp_path / "b" / "ag_residues.csv").exists()


def test_explicit_unnumberable_chain_is_predicted_with_a_warning(shipped, tmp_path, caplog):
    """1ahw's tissue factor (chain C, no antibody variable domain) named as the heavy chain: ANARCI cannot
    number it; it is predicted anyway, every residue scored as paratope candidate, with a warning."""
    with caplog.at_level(logging.WARNING):
        (pred,) = predict_file(E.path, tmp_path, shipped, heavy="C", antigen=("B",), write_surfaces=False)
    assert any("cannot number" in r.message and "chain C" in r.message for r in caplog.records)
    rows = [r for r in _rows(pred) if r["chain"] == "C"]
    assert rows and all(r["role"] == "H" and r["numbering"] == "" and r["cdr"] == "" for r in rows)
    assert all("not numbered" in r["call_rule"] for r in rows)
    prob = np.array([float(r["prob"]) for r in rows])
    assert np.isfinite(prob).all() and prob.std() > 0
    assert any("not numbered" in n for n in pred.notes)


def test_automatic_detection_still_skips_unnumberable_chains(shipped, tmp_path):
    from absites.errors import ChainError

    s = read_structure(E.path)
    only_antigen = tmp_path / "tf.pdb"
    write_pdb(s.select_chains(["C"]), only_antigen)
    with pytest.raises(ChainError, match="no antibody chain found"):
        predict_file(only_antigen, tmp_path, shipped, write_surfaces=False)


def test_fast_mode_is_the_partner_free_members_on_a_complex(partner_free, complex_rows, tmp_path):
    """`predict --fast`: the shipped gradient boosting for both sides of a complex, nothing else."""
    from click.testing import CliRunner

    from absites.cli import cli

    fast = load_default_models(fast=True)
    assert {t: m.meta["model"] for t, m in fast.items()} == {"paratope": "gbm", "epitope": "gbm"}
    assert all(not m.needs_surfaces for m in fast.values())
    res = CliRunner().invoke(cli, ["predict", str(E.path), "--out", str(tmp_path / "f"), "--no-surfaces", "--fast"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "f" / "1ahw_BA_C_residues.csv").open()))
    assert all(r["prob"] == complex_rows[(r["chain"], r["resseq"], r["icode"])]["prob"] for r in rows)
    res = CliRunner().invoke(cli, ["predict", str(E.path), "--out", str(tmp_path / "g"), "--fast",
                                   "--epitope-model", str(tmp_path)])
    assert res.exit_code != 0 and "--fast" in res.output
