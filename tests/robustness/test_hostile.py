"""Hostile inputs and misuses (issue 16), each built from a real sample structure: nothing lost, nothing
silently wrong, every failure one clear line naming the problem."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from absites.cli import cli
from absites.config import DataConfig, FeatureConfig, ModelConfig, SurfaceConfig, TrainingConfig
from absites.data.cache import RecordCache
from absites.errors import AbsitesError, StructureFileError
from absites.predict.outputs import EPITOPE_CALL_SIZE
from absites.predict.run import load_default_models, predict_batch, predict_file
from absites.structure.parse import read_structure, structure_stem
from absites.structure.write import cif_text, pdb_limits
from absites.train.run import train_run
from conftest import DATA_ROOT, SAMPLE, SAMPLE_INDEX, pdb_text, write_text

E = SAMPLE["1ahw_BA_C"]  # Fab (H=B, L=A) + tissue factor (C)
TEXT = pdb_text(E)


def with_coordinate(text: str, value: str, nth: int = 100) -> str:
    """``text`` with the x coordinate of its ``nth`` ATOM record replaced by ``value`` (8 columns)."""
    lines, seen = text.splitlines(keepends=True), 0
    for i, line in enumerate(lines):
        if line.startswith("ATOM  "):
            seen += 1
            if seen == nth:
                lines[i] = f"{line[:30]}{value:>8}{line[38:]}"
                break
    return "".join(lines)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-models")
    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(root / "cache"))
    train_run(ModelConfig("prior"), TrainingConfig(), data, FeatureConfig(), SurfaceConfig(), root / "prior")
    return load_default_models(root / "prior", root / "prior")


# 1. non-finite coordinates
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39", "-1e300"])
@pytest.mark.filterwarnings("error::RuntimeWarning")  # 1e39 fits float64, not float32: no NumPy warning leaks
def test_non_finite_coordinates_are_a_clear_error(tmp_path, value):
    path = write_text(tmp_path / "bad.pdb", with_coordinate(TEXT, value))
    with pytest.raises(StructureFileError, match=r"non-finite or out-of-range coordinate .* line \d+, chain"):
        read_structure(path)


@pytest.mark.parametrize("value", ["nan", "1e39"])
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_non_finite_coordinates_in_mmcif(tmp_path, value):
    text = cif_text(read_structure(E.path)).replace(" 1.00 0.0000", " 1.00 0.0000", 1)
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("ATOM "))
    cells = lines[first].split()
    cells[10] = value
    lines[first] = " ".join(cells)
    path = write_text(tmp_path / "bad.cif", "\n".join(lines) + "\n")
    with pytest.raises(StructureFileError, match="non-finite or out-of-range coordinates"):
        read_structure(path)


def test_prepare_file_with_nan_exits_non_zero_without_traceback(tmp_path):
    path = write_text(tmp_path / "bad.pdb", with_coordinate(TEXT, "nan"))
    proc = subprocess.run([sys.executable, "-m", "absites.cli", "prepare", "--file", str(path), "--heavy", "B",
                           "--light", "A", "--antigen", "C", "--cache-dir", str(tmp_path / "cache"), "--no-progress"],
                          capture_output=True, text=True, env={**os.environ, "ABSITES_DATA_ROOT": str(DATA_ROOT)})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "non-finite" in proc.stderr


# 2. outputs that fixed-width PDB cannot hold
def test_mmcif_output_keeps_long_chain_ids_and_big_numbers(tmp_path, models):
    s = read_structure(E.path)
    from dataclasses import replace

    renamed = replace(s, res_chain=np.array([{"B": "HH", "A": "LL", "C": "AG"}[c] for c in s.res_chain]),
                      res_seqnum=s.res_seqnum + 12000)
    src = write_text(tmp_path / "big.cif", cif_text(renamed))
    (pred,) = predict_file(src, tmp_path / "out", models, write_surfaces=False)
    assert "pdb" not in pred.outputs  # refused, not wrapped
    back = read_structure(pred.outputs["cif"])
    assert back.n_residues == s.n_residues and set(back.chains) == {"HH", "LL", "AG"}
    assert back.res_seqnum.min() >= 12000
    rows = list(csv.DictReader(pred.outputs["csv"].open()))
    prob = {(r["chain"], int(r["resseq"])): float(r["prob"]) for r in rows}
    from Bio.PDB import MMCIFParser

    st = MMCIFParser(QUIET=True).get_structure("x", str(pred.outputs["cif"]))
    for res in st[0].get_residues():
        b = {a.get_bfactor() for a in res}
        assert b == {prob[(res.get_parent().id, res.id[1])]}


def test_pdb_limits_name_what_does_not_fit():
    s = read_structure(E.path)
    from dataclasses import replace

    far = replace(s, atom_coords=s.atom_coords - np.float32(2000.0))
    assert pdb_limits(s) == []
    assert any("coordinates" in p for p in pdb_limits(far))


# 3. output folder problems, before any computing
def test_output_folder_that_is_a_file_fails_before_computing(tmp_path):
    target = write_text(tmp_path / "afile", "x")
    result = CliRunner().invoke(cli, ["predict", str(E.path), "--out", str(target), "--no-surfaces"])
    assert result.exit_code == 2 and "is a file" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    from absites.predict.run import prepare_out_dir

    with pytest.raises(AbsitesError, match="cannot write"):
        prepare_out_dir(ro / "sub")


def test_batch_survives_an_unexpected_exception(tmp_path, models, monkeypatch):
    import absites.predict.run as run

    good = write_text(tmp_path / "in" / "good.pdb", TEXT) if (tmp_path / "in").mkdir() is None else None
    other = write_text(tmp_path / "in" / "other.pdb", TEXT)
    real = run.predict_file

    def flaky(path, *a, **k):
        if Path(path).name == "other.pdb":
            raise KeyError("boom")
        return real(path, *a, **k)

    monkeypatch.setattr(run, "predict_file", flaky)
    done, failed = predict_batch([good, other], tmp_path / "out", models, write_surfaces=False, progress=False)
    assert [d.name for d in done] == ["good"] and "KeyError" in failed[0][1]


# 4. name collisions
def test_names_keep_everything_before_the_structure_suffix(tmp_path, models):
    assert structure_stem("complex.rank1.pdb.gz") == "complex.rank1"
    assert structure_stem("x.model.cif") == "x.model"
    folder = tmp_path / "in"
    folder.mkdir()
    a = write_text(folder / "complex.rank1.pdb", TEXT)
    b = write_text(folder / "complex.rank2.pdb", TEXT)
    c = write_text(folder / "complex.rank1.cif", cif_text(read_structure(E.path)))
    done, failed = predict_batch([a, b, c], tmp_path / "out", models, write_surfaces=False, progress=False)
    assert not failed and sorted(d.name for d in done) == ["complex.rank1", "complex.rank1_2", "complex.rank2"]
    assert len({d.outputs["csv"] for d in done}) == 3


def test_second_run_into_one_folder_keeps_the_first_runs_manifest_rows(tmp_path, models):
    a = write_text(tmp_path / "a.pdb", TEXT)
    b = write_text(tmp_path / "b.pdb", TEXT)
    bad = write_text(tmp_path / "c.pdb", "junk\n")
    predict_batch([a, bad], tmp_path / "out", models, write_surfaces=False, progress=False)
    predict_batch([b, bad], tmp_path / "out", models, write_surfaces=False, progress=False)
    rows = {r["name"]: r["status"] for r in csv.DictReader((tmp_path / "out" / "manifest.csv").open())}
    assert rows == {"a": "ok", "b": "ok", "c": "skipped"}


def test_concurrent_run_into_the_same_folder_is_refused(tmp_path):
    from absites.predict.run import OutputLock

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / ".absites-predict.lock").write_text(str(holder.pid))
        with pytest.raises(AbsitesError, match="another absites predict"):
            with OutputLock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with OutputLock(out):  # the holder is gone: its stale lock is taken over
        assert (out / ".absites-predict.lock").read_text() == str(os.getpid())
    assert not (out / ".absites-predict.lock").exists()


# 5. FIFOs and other non-regular files
def test_fifo_in_a_batch_folder_is_left_out_and_a_fifo_argument_fails(tmp_path):
    from absites.cli import _expand_inputs

    folder = tmp_path / "in"
    folder.mkdir()
    write_text(folder / "good.pdb", TEXT)
    os.mkfifo(folder / "pipe.pdb")
    assert [p.name for p in _expand_inputs((folder,), None)] == ["good.pdb"]
    with pytest.raises(StructureFileError, match="not a regular file"):
        read_structure(folder / "pipe.pdb")


# 6. cache sidecars
def test_edited_surface_summary_is_rebuilt_and_stale_temporaries_removed(tmp_path):
    from absites.data.prepare import prepare

    cfg = SurfaceConfig(grid_angstrom=1.25, marching_step=2, k_eig=16)
    first = prepare([E], FeatureConfig(), tmp_path, progress=False, surface_cfg=cfg)[0]
    cache = RecordCache(tmp_path, "surfaces")
    meta = cache.path(first.surface_key).with_suffix(".meta.json")
    meta.write_text(json.dumps({"n_vertices": "lots", "unexpected": 1}))  # valid JSON, wrong content
    stale = cache.path(first.surface_key).parent / ".junk.npz.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    again = prepare([E], FeatureConfig(), tmp_path, progress=False, surface_cfg=cfg)[0]
    assert again.surface_status == "rebuilt" and again.n_vertices == first.n_vertices
    assert not stale.exists()
    assert prepare([E], FeatureConfig(), tmp_path, progress=False, surface_cfg=cfg)[0].surface_status == "cached"


# 7. silently wrong science
def test_duplicate_residue_numbers_warn(tmp_path, caplog):
    lines = TEXT.splitlines(keepends=True)
    atoms = [line for line in lines if line.startswith("ATOM  ") and line[21] == "C"]
    first_res = [line for line in atoms if line[22:27] == atoms[0][22:27]]
    tail = [line for line in lines if not line.startswith(("ATOM", "HETATM", "TER", "END"))]
    text = "".join([line for line in lines if line.startswith(("ATOM", "HETATM"))] + first_res + tail)
    with caplog.at_level(logging.WARNING):
        read_structure(write_text(tmp_path / "dup.pdb", text))
    assert "used twice" in caplog.text and "C:" in caplog.text


def test_mmcif_without_type_symbol_gets_elements_from_atom_names(tmp_path, caplog):
    text = cif_text(read_structure(E.path))
    lines = text.splitlines()
    col = lines.index("_atom_site.type_symbol") - lines.index("_atom_site.group_PDB")
    out = []
    for line in lines:
        if line == "_atom_site.type_symbol":
            continue
        if line.startswith("ATOM "):
            cells = line.split()
            del cells[col]
            line = " ".join(cells)
        out.append(line)
    with caplog.at_level(logging.WARNING):
        s = read_structure(write_text(tmp_path / "notype.cif", "\n".join(out) + "\n"))
    assert "type_symbol" in caplog.text
    assert set(s.atom_elements[s.atom_names == "CA"]) == {"C"}
    np.testing.assert_array_equal(s.atom_elements, read_structure(E.path).atom_elements)


def test_antigen_or_light_without_heavy_are_used(tmp_path, models):
    (pred,) = predict_file(E.path, tmp_path, models, antigen=("C",), write_surfaces=False)
    assert pred.roles.heavy == "B" and pred.roles.antigen == ("C",)
    (pred,) = predict_file(E.path, tmp_path, models, light="A", write_surfaces=False)
    assert (pred.roles.heavy, pred.roles.light) == ("B", "A")


def test_overlapping_separate_partners_warn(tmp_path, models, caplog):
    s = read_structure(E.path)
    from absites.structure.write import write_pdb

    ab = write_pdb(s, tmp_path / "ab.pdb", residue_mask=np.isin(s.res_chain, ["A", "B"]))
    ag_struct = s.select_chains(["C"])
    from dataclasses import replace

    moved = replace(ag_struct, atom_coords=ag_struct.atom_coords - ag_struct.atom_coords.mean(0)
                    + s.atom_coords[np.isin(s.res_chain[s.atom_residue], ["A", "B"])].mean(0))
    ag = write_pdb(moved, tmp_path / "ag.pdb")
    with caplog.at_level(logging.WARNING):
        predict_file(ab, tmp_path / "out", models, antigen_file=ag, write_surfaces=False)
    assert "overlap in space" in caplog.text


def test_an_antigen_too_small_for_a_surface_names_itself(tmp_path, models):
    s = read_structure(E.path)
    from absites.structure.write import write_pdb

    ab = write_pdb(s, tmp_path / "ab.pdb", residue_mask=np.isin(s.res_chain, ["A", "B"]))
    ag = write_text(tmp_path / "ag.pdb", "ATOM      1  N   ALA C   1      11.104   6.134  -6.504  1.00  0.00           N\n")
    with pytest.raises(AbsitesError, match=r"the antigen \(chain\(s\) C\): a surface needs at least 4 atoms, got 1"):
        predict_file(ab, tmp_path / "out", models, antigen_file=ag)


# 8. messages
def test_mmcif_named_pdb_says_so(tmp_path):
    path = write_text(tmp_path / "really_cif.pdb", cif_text(read_structure(E.path)))
    with pytest.raises(StructureFileError, match="mmCIF file named like a PDB"):
        read_structure(path)


@pytest.mark.parametrize("chain,why", [(" ", "blank chain id"), ("Z", "not in the file")])
def test_chain_messages_say_why(tmp_path, models, chain, why):
    from absites.errors import ChainError

    with pytest.raises(ChainError, match=why):
        predict_file(E.path, tmp_path, models, heavy=chain, write_surfaces=False)


# 9. batch and exit semantics
def test_bad_index_row_is_skipped_and_recorded(tmp_path):
    index = tmp_path / "index.csv"
    with SAMPLE_INDEX.open() as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r["complex_id"] in ("1ahw_BA_C", "1egj_HL_A")]
    for r in keep:
        r["file"] = str((SAMPLE_INDEX.parent / r["file"]).resolve())
    keep.append({**keep[0], "complex_id": "broken", "heavy_chain": ""})
    with index.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(keep)
    manifest = tmp_path / "m.csv"
    result = CliRunner().invoke(cli, ["prepare", "--index", str(index), "--cache-dir", str(tmp_path / "c"),
                                      "--manifest", str(manifest), "--no-progress"])
    assert result.exit_code == 0, result.output
    status = {r["complex_id"]: r["status"] for r in csv.DictReader(manifest.open())}
    assert status == {"1ahw_BA_C": "built", "1egj_HL_A": "built", "broken": "skipped"}


def test_predict_exits_non_zero_when_every_input_failed(tmp_path):
    a = write_text(tmp_path / "a.pdb", "junk\n")
    b = write_text(tmp_path / "b.pdb", with_coordinate(TEXT, "nan"))
    proc = subprocess.run([sys.executable, "-m", "absites.cli", "predict", str(a), str(b), "--out",
                           str(tmp_path / "out"), "--no-surfaces", "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no input could be predicted" in proc.stderr


def test_list_file_skips_comments_and_resolves_relative_paths(tmp_path):
    from absites.cli import _expand_inputs

    (tmp_path / "lists").mkdir()
    write_text(tmp_path / "lists" / "x.pdb", TEXT)
    listing = write_text(tmp_path / "lists" / "inputs.txt", "# my complexes\n\nx.pdb\n  # indented comment\n")
    assert _expand_inputs((), listing) == [tmp_path / "lists" / "x.pdb"]


def test_usage_errors_come_before_the_models_load(monkeypatch):
    import absites.predict.run as run

    def no(*a, **k):
        raise AssertionError("models loaded before the usage check")

    monkeypatch.setattr(run, "load_default_models", no)
    result = CliRunner().invoke(cli, ["predict"])
    assert result.exit_code == 2 and "no structure given" in result.output
    result = CliRunner().invoke(cli, ["predict", "--antibody", str(E.path), "--antigen", "C"])
    assert result.exit_code == 2 and "takes a structure file" in result.output
    result = CliRunner().invoke(cli, ["predict", "--antigen", "A,B"])  # chain ids without a complex
    assert result.exit_code == 2 and "not a file" in result.output
    result = CliRunner().invoke(cli, ["predict", "--antigen", str(E.path), "--heavy", "B"])
    assert result.exit_code == 2 and "do not apply to an antigen alone" in result.output


# 10. an epitope call column people can use
def test_epitope_call_is_top_k_and_says_so(tmp_path, models):
    (pred,) = predict_file(E.path, tmp_path, models, write_surfaces=False)
    rows = list(csv.DictReader(pred.outputs["csv"].open()))
    ag = [r for r in rows if r["role"] not in ("H", "L")]
    called = [r for r in ag if r["pred"] == "1"]
    cut = min(float(r["prob"]) for r in called)
    # exactly the top k, plus any residue tied with the k-th (equal scores, equal calls)
    assert len([r for r in called if float(r["prob"]) > cut]) < EPITOPE_CALL_SIZE <= len(called)
    assert {float(r["threshold"]) for r in ag} == {cut}
    assert all(r["call_rule"].startswith(f"top {EPITOPE_CALL_SIZE} antigen residues") for r in ag)
    assert min(float(r["prob"]) for r in called) >= max(float(r["prob"]) for r in ag if r["pred"] == "0")
    assert all("MCC-optimal" in r["call_rule"] for r in rows if r["role"] in ("H", "L"))


def test_folder_batch_of_every_hostile_class_finishes_every_good_file(tmp_path):
    """One folder: two good complexes and a file of each failing class. Every good one is predicted, every
    bad one is listed with a one-line reason, no traceback, exit 0 because something succeeded."""
    from dataclasses import replace

    folder = tmp_path / "in"
    folder.mkdir()
    s = read_structure(E.path)
    write_text(folder / "good.rank1.pdb", TEXT)
    write_text(folder / "good.rank2.pdb", TEXT)  # same stem before the rank: must not overwrite rank1
    write_text(folder / "nan.pdb", with_coordinate(TEXT, "nan"))
    write_text(folder / "cif_named.pdb", cif_text(s))
    write_text(folder / "empty.pdb", "")
    write_text(folder / "truncated.pdb", TEXT[: len(TEXT) // 2].rsplit("\n", 1)[0][:-20] + "\n")
    write_text(folder / "no_antibody.pdb", "".join(line for line in TEXT.splitlines(keepends=True)
                                                  if not (line.startswith("ATOM") and line[21] in "AB")))
    big = replace(s, res_seqnum=s.res_seqnum + 20000)  # predicted, but only as mmCIF
    write_text(folder / "big_numbers.cif", cif_text(big))
    os.mkfifo(folder / "pipe.pdb")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "absites.cli", "predict", str(folder), "--out", str(out),
                           "--no-surfaces", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = {r["name"]: r for r in csv.DictReader((out / "manifest.csv").open())}
    assert {n for n, r in rows.items() if r["status"] == "ok"} == {"good.rank1", "good.rank2", "big_numbers"}
    bad = {n: r["reason"] for n, r in rows.items() if r["status"] != "ok"}
    assert set(bad) == {"nan", "cif_named", "empty", "truncated", "no_antibody"}
    assert all(reason and "\n" not in reason for reason in bad.values())
    assert (out / "good.rank1_residues.csv").exists() and (out / "good.rank2_residues.csv").exists()
    assert (out / "big_numbers_prob.cif").exists() and not (out / "big_numbers_prob.pdb").exists()


def test_scfv_chain_has_both_domains_numbered(tmp_path, caplog):
    """1ahw's light chain (A) appended to its heavy chain (B) as one chain: an scFv. Both halves keep their
    CDRs (the same Chothia ±2 CDR residues as the two-chain Fab), with a warning saying what was found."""
    from dataclasses import replace

    from absites.graph import graph_from_complex
    from absites.structure.complex import ChainRoles, make_complex
    from absites.structure.roles import detect_roles
    from absites.structure.write import write_pdb

    s = read_structure(E.path)
    fab = graph_from_complex(make_complex(s, E.roles, "fab"), FeatureConfig())
    light = s.res_chain == "A"
    scfv = replace(s, res_chain=np.where(light, "B", s.res_chain), res_seqnum=np.where(light, s.res_seqnum + 1000,
                                                                                         s.res_seqnum))
    path = write_pdb(scfv, tmp_path / "scfv.pdb")
    back = read_structure(path)
    assert back.chains == ("B", "C") or set(back.chains) == {"B", "C"}
    assert detect_roles(back) == [ChainRoles("B", None, ("C",))]
    with caplog.at_level(logging.WARNING):
        g = graph_from_complex(make_complex(back, ChainRoles("B", None, ("C",)), "scfv"), FeatureConfig())
    assert "two variable domains" in caplog.text
    assert sorted(g.cdr[g.cdr > 0].tolist()) == sorted(fab.cdr[fab.cdr > 0].tolist())
    assert {n[0] for n in g.numbering if n} == {"H", "L"}
    assert int(g.y[g.is_antibody.astype(bool)].sum()) == int(fab.y[fab.is_antibody.astype(bool)].sum())
