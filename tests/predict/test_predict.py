"""absites predict: chain roles, outputs people can load, unbound / nanobody / batch cases."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from Bio.PDB import PDBParser

from absites.config import DataConfig, FeatureConfig, ModelConfig, SurfaceConfig, TrainingConfig
from absites.errors import ChainError
from absites.predict.run import load_default_models, predict_batch, predict_file
from absites.structure.parse import read_structure
from absites.structure.roles import detect_roles
from absites.structure.write import write_pdb
from absites.train.run import train_run
from conftest import SAMPLE, SAMPLE_INDEX, pdb_text, shift_chains, write_text

E = SAMPLE["1ahw_BA_C"]


@pytest.fixture(scope="module")
def prior_run(tmp_path_factory):
    """A prior baseline trained on the sample's train split (seconds, no surfaces)."""
    root = tmp_path_factory.mktemp("models")
    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(root / "cache"))
    run = root / "prior"
    train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), SurfaceConfig(), run)
    return run


@pytest.fixture(scope="module")
def models(prior_run):
    return load_default_models(prior_run, prior_run)  # the same run serves both tasks


@pytest.mark.parametrize("complex_id", sorted(SAMPLE))
def test_automatic_roles_match_index(complex_id):
    e = SAMPLE[complex_id]
    assert detect_roles(read_structure(e.path)) == [e.roles]


def test_outputs_and_bfactors_equal_csv(models, tmp_path):
    (pred,) = predict_file(E.path, tmp_path, models)
    assert pred.in_contact and pred.roles == E.roles
    assert {"csv", "json", "pdb", "cif", "ply_antibody", "ply_antigen", "png", "html"} <= set(pred.outputs)
    rows = list(csv.DictReader(pred.outputs["csv"].open()))
    assert len(rows) == pred.n_residues
    assert rows[0].keys() >= {"pdb_id", "chain", "resseq", "icode", "resname", "role", "cdr", "prob", "pred"}
    prob = {(r["chain"], int(r["resseq"]), r["icode"]): float(r["prob"]) for r in rows}
    structure = PDBParser(QUIET=True).get_structure("p", str(pred.outputs["pdb"]))
    n = 0
    for atom in structure.get_atoms():
        res = atom.get_parent()
        key = (res.get_parent().id, res.id[1], res.id[2].strip())
        # the PDB column holds two decimals (F6.2): equal to the CSV value to that precision
        assert abs(atom.get_bfactor() - prob[key]) <= 0.005 + 1e-9
        n += 1
    assert n > 1000
    from Bio.PDB import MMCIFParser

    cif = MMCIFParser(QUIET=True).get_structure("c", str(pred.outputs["cif"]))
    for atom in cif.get_atoms():  # the mmCIF carries the CSV's value exactly
        res = atom.get_parent()
        assert atom.get_bfactor() == pytest.approx(prob[(res.get_parent().id, res.id[1], res.id[2].strip())], abs=1e-9)
    assert json.loads(pred.outputs["json"].read_text())[0]["prob"] == float(rows[0]["prob"])
    # thresholds from validation decide the predicted label
    assert all(int(r["pred"]) == int(float(r["prob"]) >= float(r["threshold"])) for r in rows)


def test_html_is_self_contained(models, tmp_path):
    (pred,) = predict_file(E.path, tmp_path, models)
    page = pred.outputs["html"].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network resource"
    assert "import " not in page.split('id="absites-data"')[0]
    blob = page.split('<script type="application/json" id="absites-data">')[1].split("</script>")[0]
    data = json.loads(blob)
    names = [m["name"] for m in data["meshes"]]
    assert names == ["antibody", "antigen"]
    for m in data["meshes"]:
        assert len(m["vertices"]) == 3 * len(m["prob"]) and max(m["faces"]) < len(m["prob"])


def test_single_domain_antibody(models, tmp_path):
    s = read_structure(E.path)
    nb = write_pdb(s, tmp_path / "nb.pdb", residue_mask=s.res_chain != E.roles.light)
    (pred,) = predict_file(nb, tmp_path / "out", models, write_surfaces=False)
    assert pred.roles.light is None and pred.roles.heavy == E.roles.heavy and pred.roles.antigen == E.roles.antigen


def test_separate_antibody_and_antigen_files(models, tmp_path):
    s = read_structure(E.path)
    ab = write_pdb(s, tmp_path / "ab.pdb", residue_mask=s.res_chain != "C")
    ag = write_pdb(s, tmp_path / "ag.pdb", residue_mask=s.res_chain == "C")
    (pred,) = predict_file(ab, tmp_path / "out", models, antigen_file=ag, write_surfaces=False)
    assert pred.roles.antigen == ("C",) and pred.in_contact


def test_swapped_antibody_and_antigen_files_say_so(models, tmp_path):
    s = read_structure(E.path)
    ab = write_pdb(s, tmp_path / "ab.pdb", residue_mask=s.res_chain != "C")
    ag = write_pdb(s, tmp_path / "ag.pdb", residue_mask=s.res_chain == "C")
    with pytest.raises(ChainError, match=r"ag\.pdb: no antibody chain found .*chains C\).*files swapped"):
        predict_file(ag, tmp_path / "out", models, antigen_file=ab, write_surfaces=False)
    other = write_pdb(s, tmp_path / "other.pdb", residue_mask=s.res_chain == "C")  # no antibody in either file
    with pytest.raises(ChainError, match="no antibody chain found") as info:
        predict_file(ag, tmp_path / "out", models, antigen_file=other, write_surfaces=False)
    assert "files swapped" not in str(info.value)


def test_not_in_contact_predicts_and_says_so(models, tmp_path):
    far = write_text(tmp_path / "far.pdb", shift_chains(pdb_text(E), {"C"}, 150.0))
    (pred,) = predict_file(far, tmp_path / "out", models, write_surfaces=False)
    assert not pred.in_contact and pred.roles.antigen == ("C",)


def test_no_antibody_chain(models, tmp_path):
    s = read_structure(E.path)
    ag = write_pdb(s, tmp_path / "ag.pdb", residue_mask=s.res_chain == "C")
    with pytest.raises(ChainError, match="no antibody chain found"):
        predict_file(ag, tmp_path / "out", models)


def test_chosen_chains_and_missing_chain(models, tmp_path):
    (pred,) = predict_file(E.path, tmp_path, models, heavy="B", light="A", antigen=("C",), write_surfaces=False)
    assert pred.roles == E.roles
    with pytest.raises(ChainError, match="Q"):
        predict_file(E.path, tmp_path, models, heavy="B", antigen=("Q",), write_surfaces=False)


def test_several_copies_give_several_predictions(models, tmp_path):
    text = pdb_text(E)
    copy = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("ATOM  ", "HETATM")):
            chain = {"A": "D", "B": "E", "C": "F"}[line[21]]
            copy.append(f"{line[:21]}{chain}{line[22:30]}{float(line[30:38]) + 200:8.3f}{line[38:]}")
    two = write_text(tmp_path / "two.pdb", "".join(l for l in text.splitlines(keepends=True)
                                                   if l.startswith(("ATOM  ", "HETATM"))) + "".join(copy))
    preds = predict_file(two, tmp_path / "out", models, write_surfaces=False)
    assert sorted((p.roles.heavy, p.roles.light, p.roles.antigen) for p in preds) == [
        ("B", "A", ("C",)), ("E", "D", ("F",))]


def test_batch_skips_bad_files(models, tmp_path):
    junk = write_text(tmp_path / "junk.pdb", "nothing here\n")
    done, failed = predict_batch([E.path, junk], tmp_path / "out", models, write_surfaces=False, progress=False)
    assert len(done) == 1 and len(failed) == 1 and "junk.pdb" in failed[0][0]
    manifest = list(csv.DictReader((tmp_path / "out" / "manifest.csv").open()))
    assert {r["status"] for r in manifest} == {"ok", "skipped"}


def test_batch_in_processes_writes_what_one_process_writes(prior_run, tmp_path):
    """``workers=2``: the files are shared between two processes that load the models themselves; outputs,
    results, failures and manifest are those of one process, in input order."""
    junk = write_text(tmp_path / "junk.pdb", "nothing here\n")
    paths = [E.path, junk, SAMPLE["1egj_HL_A"].path, SAMPLE["1bgx_HL_T"].path]
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        runs[workers] = predict_batch(paths, out, write_surfaces=False, progress=False, workers=workers,
                                      model_dirs=(prior_run, prior_run, False))
    (one, failed_one), (two, failed_two) = runs[1], runs[2]
    assert [r.name for r in two] == [r.name for r in one] == ["1ahw_BA_C", "1egj_HL_A", "1bgx_HL_T"]
    assert failed_two == failed_one and len(failed_two) == 1 and "junk.pdb" in failed_two[0][0]
    for r in one:
        assert (tmp_path / "w2" / f"{r.name}_residues.csv").read_bytes() == r.outputs["csv"].read_bytes()
    manifests = [(tmp_path / f"w{w}" / "manifest.csv").read_text().replace(f"w{w}", "out") for w in (1, 2)]
    assert manifests[0] == manifests[1] and manifests[0].count("\n") == 5  # header + four inputs, in order


@pytest.mark.parametrize("deaths", [1, 2])
def test_batch_retries_then_records_the_files_of_a_process_that_died(prior_run, tmp_path, monkeypatch, deaths):
    """A batch process that dies (out of memory, a crash inside a library) stops the pool after one answer
    here: the files not answered are tried again in a new pool, and those a second death leaves are recorded
    as failed with the reason; the answers already in are kept and the manifest is written."""
    import joblib
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    pools = []

    class DiesAfterTheFirst:  # joblib.Parallel whose process dies after its first answer, ``deaths`` times
        def __init__(self, **kwargs):
            pools.append(kwargs)

        def __call__(self, calls):
            for f, args, kwargs in calls:
                yield f(*args, **kwargs)  # run here: the models load in this process
                if len(pools) <= deaths:
                    raise TerminatedWorkerError("A worker process was killed (SIGKILL)")

    monkeypatch.setattr(joblib, "Parallel", DiesAfterTheFirst)
    paths = [E.path, SAMPLE["1egj_HL_A"].path, SAMPLE["1bgx_HL_T"].path]
    done, failed = predict_batch(paths, tmp_path / "out", write_surfaces=False, progress=False, workers=2,
                                 model_dirs=(prior_run, prior_run, False))
    assert len(pools) == 2  # the first pool, and one more try
    status = [r["status"] for r in csv.DictReader((tmp_path / "out" / "manifest.csv").open())]
    if deaths == 1:  # the second pool answered the rest
        assert [r.name for r in done] == ["1ahw_BA_C", "1egj_HL_A", "1bgx_HL_T"] and not failed
        assert status == ["ok", "ok", "ok"]
    else:  # one answer per pool: the third file is recorded as failed
        assert [r.name for r in done] == ["1ahw_BA_C", "1egj_HL_A"]
        assert [p for p, _ in failed] == [str(paths[2])]
        assert "prediction process stopped (TerminatedWorkerError" in failed[0][1]
        assert status == ["ok", "ok", "failed"]


def test_cli_predict(prior_run, tmp_path):
    from click.testing import CliRunner

    from absites.cli import cli

    run_dir = prior_run
    res = CliRunner().invoke(cli, ["predict", str(E.path), "--out", str(tmp_path), "--no-surfaces",
                                   "--paratope-model", str(run_dir), "--epitope-model", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "H=B L=A Ag=C" in res.output and (tmp_path / "1ahw_BA_C_residues.csv").exists()
    probs = np.array([float(r["prob"]) for r in csv.DictReader((tmp_path / "1ahw_BA_C_residues.csv").open())])
    assert ((probs >= 0) & (probs <= 1)).all()


def test_cli_batch_on_two_processes(prior_run, tmp_path):
    from click.testing import CliRunner

    from absites.cli import cli

    folder = tmp_path / "in"
    folder.mkdir()
    for cid in ("1ahw_BA_C", "1egj_HL_A"):
        (folder / SAMPLE[cid].path.name).symlink_to(SAMPLE[cid].path)
    args = ["predict", str(folder), "--out", str(tmp_path / "out"), "--no-surfaces", "--no-progress",
            "--paratope-model", str(prior_run), "--epitope-model", str(prior_run)]
    res = CliRunner().invoke(cli, [*args, "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.index("1ahw_BA_C: H=B L=A Ag=C") < res.output.index("1egj_HL_A: H=H L=L Ag=A")  # input order
    assert (tmp_path / "out" / "1egj_HL_A_residues.csv").exists()
    res = CliRunner().invoke(cli, [*args, "--workers", "0"])
    assert res.exit_code == 2 and "--workers" in res.output


def test_shipped_default_models_predict(tmp_path):
    """`absites predict` works out of the box: the package ships a model per task with a model card."""
    from absites.predict.run import DEFAULT_MODEL_DIR

    for task in ("paratope", "epitope"):
        card = (DEFAULT_MODEL_DIR / task / "MODEL_CARD.md").read_text()
        assert f"default {task} model" in card and "## Test" in card
    (pred,) = predict_file(E.path, tmp_path, load_default_models(), write_surfaces=False)
    rows = list(csv.DictReader(pred.outputs["csv"].open()))
    prob = np.array([float(r["prob"]) for r in rows])
    role = np.array([r["role"] for r in rows])
    assert ((prob >= 0) & (prob <= 1)).all() and prob[role == "Ag"].std() > 0
