"""Parsing rules on real sample files and on edits of them that exercise each rule."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from Bio.PDB import MMCIFIO, PDBParser

from absites.errors import ChainError, StructureFileError
from absites.structure.parse import read_structure
from conftest import SAMPLE, pdb_text, write_text

ENTRY = SAMPLE["1ahw_BA_C"]


def atom_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("ATOM  ", "HETATM"))]


def test_reads_sample_chains_and_counts():
    s = read_structure(ENTRY.path)
    assert s.chains == ("A", "B", "C")
    # one residue per distinct (chain, resseq, icode) of ATOM records
    ids = {(l[21], l[22:27]) for l in atom_lines(pdb_text(ENTRY)) if l.startswith("ATOM")}
    assert s.n_residues == len(ids)
    assert s.n_atoms == sum(1 for l in atom_lines(pdb_text(ENTRY)) if l[76:78].strip() != "H")
    assert s.atom_coords.dtype == np.float32 and s.atom_coords.shape == (s.n_atoms, 3)


def test_insertion_codes_kept():
    s = read_structure(SAMPLE["1bgx_HL_T"].path, ["H"])
    assert {"H:31A", "H:52A", "H:82A", "H:82B"} <= set(s.residue_ids())


def test_mse_read_as_met(tmp_path):
    text = pdb_text(ENTRY)
    lines = text.splitlines(keepends=True)
    met = [l for l in lines if l.startswith("ATOM") and l[17:20] == "MET"]
    assert met, "sample needs a MET"
    key = met[0][21:27]
    edited = []
    for l in lines:
        if l.startswith("ATOM") and l[21:27] == key:
            l = "HETATM" + l[6:17] + "MSE" + l[20:]
            if l[12:16] == " SD ":
                l = l[:12] + "SE  " + l[16:76] + "SE" + l[78:]
        edited.append(l)
    s0 = read_structure(write_text(tmp_path / "orig.pdb", text))
    s1 = read_structure(write_text(tmp_path / "mse.pdb", "".join(edited)))
    assert s1.n_residues == s0.n_residues and s1.n_atoms == s0.n_atoms
    i = s1.residue_ids().index(f"{key[0]}:{int(key[1:5])}{key[5].strip()}")
    assert s1.res_name[i] == "MET"
    names = set(s1.atom_names[s1.atom_residue == i])
    assert "SD" in names and "SE" not in names
    assert "S" in set(s1.atom_elements[s1.atom_residue == i])


def test_altloc_highest_occupancy(tmp_path):
    lines = pdb_text(ENTRY).splitlines(keepends=True)
    k = next(i for i, l in enumerate(lines) if l.startswith("ATOM") and l[12:16] == " CA ")
    ca = lines[k]
    low = ca[:16] + "A" + ca[17:54] + "  0.30" + ca[60:]
    high_x = float(ca[30:38]) + 1.0
    high = ca[:16] + "B" + ca[17:30] + f"{high_x:8.3f}" + ca[38:54] + "  0.70" + ca[60:]
    lines[k:k + 1] = [low, high]
    s = read_structure(write_text(tmp_path / "alt.pdb", "".join(lines)))
    res = s.atom_residue[np.flatnonzero(s.atom_names == "CA")[0]]
    ca_atoms = np.flatnonzero((s.atom_residue == res) & (s.atom_names == "CA"))
    assert ca_atoms.size == 1
    assert s.atom_coords[ca_atoms[0], 0] == pytest.approx(high_x, abs=1e-3)


def test_waters_ions_ligands_excluded_unknown_counted(tmp_path):
    text = pdb_text(ENTRY)
    last = atom_lines(text)[-1]
    x, y, z = (float(last[30 + 8 * i:38 + 8 * i]) for i in range(3))
    extra = [
        f"HETATM99991  O   HOH W 901    {x + 5:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           O\n",
        f"HETATM99992 CA    CA C 902    {x + 6:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00          CA\n",
        f"HETATM99993  C1  NAG C 903    {x + 7:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           C\n",
        f"HETATM99994  O5  NAG C 903    {x + 8:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           O\n",
    ]
    unknown = [  # a polymer residue of unknown type with a backbone
        f"ATOM  99995  N   XYZ C 904    {x + 9:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           N\n",
        f"ATOM  99996  CA  XYZ C 904    {x + 10:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           C\n",
        f"ATOM  99997  C   XYZ C 904    {x + 11:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           C\n",
    ]
    base = read_structure(ENTRY.path)
    s = read_structure(write_text(tmp_path / "het.pdb", text.replace("END", "".join(extra + unknown) + "END", 1)
                                  if "\nEND" in text else text + "".join(extra + unknown)))
    assert s.n_residues == base.n_residues + 1
    assert s.n_unknown == base.n_unknown + 1
    assert s.res_name[-1] == "UNK"
    assert "W" not in s.chains


def test_missing_atoms_kept(tmp_path):
    lines = pdb_text(ENTRY).splitlines(keepends=True)
    target = next(l for l in lines if l.startswith("ATOM") and l[17:20] == "TRP")[21:27]
    kept = [l for l in lines if not (l.startswith("ATOM") and l[21:27] == target and l[12:16].strip() not in ("N", "CA"))]
    s = read_structure(write_text(tmp_path / "miss.pdb", "".join(kept)))
    base = read_structure(ENTRY.path)
    assert s.n_residues == base.n_residues
    i = s.residue_ids().index(f"{target[0]}:{int(target[1:5])}{target[5].strip()}")
    assert sorted(s.atom_names[s.atom_residue == i]) == ["CA", "N"]


def test_first_model_only(tmp_path):
    body = "".join(l + "\n" for l in atom_lines(pdb_text(ENTRY)))
    moved = "".join(f"{l[:30]}{float(l[30:38]) + 50:8.3f}{l[38:]}\n" for l in atom_lines(pdb_text(ENTRY)))
    s = read_structure(write_text(tmp_path / "models.pdb", f"MODEL        1\n{body}ENDMDL\nMODEL        2\n{moved}ENDMDL\nEND\n"))
    base = read_structure(ENTRY.path)
    np.testing.assert_allclose(s.atom_coords, base.atom_coords)


@pytest.mark.parametrize("gz", [False, True])
def test_mmcif_matches_pdb(tmp_path, gz):
    with gzip.open(ENTRY.path, "rt") as fh:
        bio = PDBParser(QUIET=True).get_structure("x", fh)
    io_ = MMCIFIO()
    io_.set_structure(bio)
    cif = tmp_path / "x.cif"
    io_.save(str(cif))
    if gz:
        gz_path = tmp_path / "x.cif.gz"
        gz_path.write_bytes(gzip.compress(cif.read_bytes()))
        cif = gz_path
    a, b = read_structure(ENTRY.path), read_structure(cif)
    assert a.residue_ids() == b.residue_ids()
    np.testing.assert_allclose(a.atom_coords, b.atom_coords, atol=1e-3)


def test_select_chains_and_sequence():
    s = read_structure(ENTRY.path, ["C"])
    assert s.chains == ("C",)
    assert len(s.sequence("C")) == s.n_residues


# ---- bad input: each gives a StructureFileError / ChainError naming the file ----

def _gz_truncated(tmp_path):
    data = ENTRY.path.read_bytes()
    p = tmp_path / "cut.pdb.gz"
    p.write_bytes(data[: len(data) // 2])
    return p


def _text_truncated(tmp_path):
    text = pdb_text(ENTRY)
    cut = text.index("ATOM", len(text) // 2) + 35  # inside the x coordinate of a record
    return write_text(tmp_path / "cut.pdb", text[:cut])


BAD_FILES = {
    "empty": lambda t: write_text(t / "empty.pdb", ""),
    "whitespace": lambda t: write_text(t / "blank.pdb", "\n  \n"),
    "binary": lambda t: (t / "junk.pdb").write_bytes(bytes(range(256)) * 40) and t / "junk.pdb",
    "not_structure": lambda t: write_text(t / "notes.pdb", "hello, this is a shopping list\nmilk\n"),
    "truncated_gzip": _gz_truncated,
    "truncated_record": _text_truncated,
    "bad_cif": lambda t: write_text(t / "bad.cif", "data_x\nloop_\n_atom_site.id\n1\n"),
    "missing": lambda t: t / "does_not_exist.pdb",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_raise_clear_error(tmp_path, kind):
    path = BAD_FILES[kind](tmp_path)
    with pytest.raises(StructureFileError) as err:
        read_structure(path)
    assert str(path) in str(err.value)


def test_missing_chain_names_chain_and_file():
    with pytest.raises(ChainError, match=r"chain\(s\) Z not found") as err:
        read_structure(ENTRY.path, ["A", "Z"])
    assert str(ENTRY.path) in str(err.value)


def test_nucleic_acid_chain_is_not_protein(tmp_path):
    lines = pdb_text(ENTRY).splitlines(keepends=True)
    edited = [l[:17] + " DA" + l[20:] if l.startswith("ATOM") and l[21] == "C" else l for l in lines]
    path = write_text(tmp_path / "dna.pdb", "".join(edited))
    with pytest.raises(ChainError, match="non-protein chain"):
        read_structure(path, ["A", "B", "C"])


def test_calpha_only_model_rejected(tmp_path):
    lines = [l for l in pdb_text(ENTRY).splitlines(keepends=True) if l.startswith("ATOM") and l[12:16] == " CA "]
    with pytest.raises(StructureFileError, match="C-alpha-only"):
        read_structure(write_text(tmp_path / "ca.pdb", "".join(lines)))
