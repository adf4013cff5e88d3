"""Parsing rules on real sample files and on edits of them that exercise each rule."""

from __future__ import annotations

import functools
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


# --- the column-wise PDB reader against Biopython's (absites.structure.parse._residues_fast) ---

@functools.cache
def _chunk() -> tuple[str, ...]:
    """The first four residues of chains A and C of 1ahw (ATOM lines, 80 columns)."""
    lines = atom_lines(pdb_text(ENTRY))
    keep = [l for l in lines if l[21] in "AC" and int(l[22:26]) <= (4 if l[21] == "A" else 5)]
    return tuple(l.ljust(80) for l in keep)


def _atom(line: str, *, name: str | None = None, altloc: str | None = None, occ: float | None = None,
          dx: float = 0.0, resname: str | None = None, record: str | None = None, element: str | None = None,
          resseq: int | None = None, chain: str | None = None) -> str:
    """An edit of one 80-column atom line."""
    line = list(line)
    if record is not None:
        line[0:6] = record.ljust(6)
    if name is not None:
        line[12:16] = name
    if altloc is not None:
        line[16] = altloc
    if resname is not None:
        line[17:20] = resname.rjust(3)
    if chain is not None:
        line[21] = chain
    if resseq is not None:
        line[22:26] = f"{resseq:4d}"
    if dx:
        line[30:38] = f"{float(''.join(line[30:38])) + dx:8.3f}"
    if occ is not None:
        line[54:60] = f"{occ:6.2f}"
    if element is not None:
        line[76:78] = element.rjust(2)
    return "".join(line)


@functools.cache
def _variants() -> dict[str, tuple[list[str], bool]]:
    """name -> (atom lines, whether the fast reader takes the file itself)."""
    base = list(_chunk())
    ca = next(i for i, l in enumerate(base) if l[12:16] == " CA ")
    a_lines = [l for l in base if l[21] == "A"]
    first_res = [l for l in a_lines if int(l[22:26]) == 1]
    out = {"plain": (base, True)}
    # altlocs of one atom: equal occupancy (the first wins), a better second one (it wins)
    for label, (o1, o2) in {"altloc tie": (0.5, 0.5), "altloc better second": (0.4, 0.6)}.items():
        lines = list(base)
        lines[ca:ca + 1] = [_atom(base[ca], altloc="A", occ=o1), _atom(base[ca], altloc="B", occ=o2, dx=0.7)]
        out[label] = (lines, True)
    lines = list(base)  # a blank altloc then an altloc of the same atom: Biopython nests them
    lines[ca + 1:ca + 1] = [_atom(base[ca], altloc="B", occ=0.3, dx=0.7)]
    out["blank then altloc"] = (lines, False)
    # a point mutation: residue 1 as ASP (altloc A) and as ALA (altloc B) under one number
    mutant = [_atom(l, altloc="B", occ=0.4, resname="ALA", dx=0.3) for l in first_res[:5]]
    lines = [_atom(l, altloc="A", occ=0.6) if l in first_res else l for l in base]
    at = max(i for i, l in enumerate(lines) if l[21] == "A" and int(l[22:26]) == 1) + 1
    out["point mutation"] = (lines[:at] + mutant + lines[at:], False)
    out["residue defined twice"] = (base + [_atom(l, dx=5.0) for l in first_res], False)
    # waters of chain A after chain C (the chain resumes), and a ligand numbered like a protein residue
    water = _atom(first_res[0], record="HETATM", name=" O  ", resname="HOH", resseq=501, element="O")
    ligand = _atom(first_res[1], record="HETATM", name=" C1 ", resname="NAG", resseq=2, element="C")
    out["waters after other chains"] = (base + [water], True)
    out["ligand numbered like a residue"] = (base + [ligand], True)
    out["hydrogens"] = (base[:ca + 1] + [_atom(base[ca], name=" HA ", element="H", dx=1.0)] + base[ca + 1:], True)
    out["no element column"] = ([l[:76] for l in base], False)
    out["names differ only in spaces"] = (base[:ca + 1] + [_atom(base[ca], name="CA  ", dx=0.5)] + base[ca + 1:],
                                          False)
    half = len(base) // 2
    out["two models"] = (["MODEL        1"] + base + ["ENDMDL", "MODEL        2"] + [_atom(l, dx=9.0) for l in base]
                         + ["ENDMDL"], True)
    out["atoms after END"] = (base[:half] + ["END   "] + base[half:], True)
    out["atoms after CONECT"] = (base[:half] + ["CONECT    1    2"] + base[half:], True)
    return out


def _same_structures(path, monkeypatch):
    """The structure the fast reader gives for ``path`` (or the error message), asserted equal to what
    Biopython's reading gives."""
    import absites.structure.parse as parse

    monkeypatch.setattr(parse, "FAST_PDB", True)
    try:
        got = read_structure(path)
    except StructureFileError as exc:
        got = str(exc)
    monkeypatch.setattr(parse, "FAST_PDB", False)
    try:
        expected = read_structure(path)
    except StructureFileError as exc:
        expected = str(exc)
    monkeypatch.setattr(parse, "FAST_PDB", True)
    if isinstance(got, str) or isinstance(expected, str):
        assert got == expected
        return got
    for field in ("atom_coords", "atom_names", "atom_elements", "atom_residue", "res_chain", "res_seqnum",
                  "res_icode", "res_name", "res_aa"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field), err_msg=field)
    assert (got.n_unknown, got.non_protein_chains) == (expected.n_unknown, expected.non_protein_chains)
    return got


@pytest.mark.parametrize("name", sorted(_variants()))
@pytest.mark.parametrize("crlf", [False, True])
def test_fast_reader_equals_biopython_or_declines(tmp_path, monkeypatch, name, crlf):
    import absites.structure.parse as parse

    lines, fast = _variants()[name]
    text = ("\r\n" if crlf else "\n").join(["REMARK   test", *lines, "END"]) + "\n"
    path = write_text(tmp_path / "edit.pdb", text)
    assert (parse._residues_fast(text) is not None) == fast
    got = _same_structures(path, monkeypatch)
    assert not isinstance(got, str), got
    if name == "altloc tie" or name == "altloc better second":  # the chosen altloc's coordinates
        ca = atom_lines(text)[[l[12:16] for l in atom_lines(text)].index(" CA ") + (name != "altloc tie")]
        assert got.atom_coords[got.atom_names == "CA"][0][0] == pytest.approx(float(ca[30:38]), abs=1e-3)


def test_fast_reader_equals_biopython_on_sample_files(monkeypatch):
    for cid in sorted(SAMPLE)[:6]:
        assert not isinstance(_same_structures(SAMPLE[cid].path, monkeypatch), str), cid


def _as_mmcif(pdb_text: str) -> str:
    """``pdb_text`` as Biopython reads it, written back as mmCIF (altlocs, waters and ligands kept)."""
    from io import StringIO

    structure = PDBParser(QUIET=True).get_structure("edit", StringIO(pdb_text))
    out = StringIO()
    writer = MMCIFIO()
    writer.set_structure(structure)
    writer.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(_variants()))
def test_fast_mmcif_reader_equals_biopython(tmp_path, monkeypatch, name):
    lines, _ = _variants()[name]
    text = _as_mmcif("\n".join(["REMARK   test", *lines, "END"]) + "\n")
    _same_structures(write_text(tmp_path / "edit.cif", text), monkeypatch)


def test_fast_mmcif_reader_declines_what_it_cannot_split_and_reads_the_rest(tmp_path, monkeypatch):
    import absites.structure.parse as parse

    text = _as_mmcif("\n".join(_chunk()) + "\nEND\n")
    head, rows = text.split("ATOM ", 1)
    rows = "ATOM " + rows
    atom_rows = [r for r in rows.splitlines() if r.startswith(("ATOM", "HETATM"))]
    cases = {  # edited text, whether the fast reader takes it
        "as written": (text, True),
        "CRLF": (text.replace("\n", "\r\n"), True),
        "blank line between rows": (head + "\n".join(atom_rows[:5] + [""] + atom_rows[5:]) + "\n#\n", True),
        "second model": (head + "\n".join(atom_rows + [r.replace(" 1 ", " 2 ") for r in atom_rows[-3:]])
                         + "\n#\n", True),
        "quoted atom name": (text.replace(" CA  ", ' "CA" ', 1), False),
        "comment inside the loop": (head + "\n".join(atom_rows[:5] + ["# a comment"] + atom_rows[5:]) + "\n#\n",
                                    False),
        "no type_symbol": ("\n".join(l for l in text.splitlines() if "type_symbol" not in l) + "\n", False),
        "unreadable coordinate": (text.replace("-8.273", "?", 1), False),
    }
    if "type_symbol" in text:  # drop the column's values with its name: the rows lose their third token
        kept = []
        for line in cases["no type_symbol"][0].splitlines():
            parts = line.split()
            kept.append(" ".join(parts[:2] + parts[3:]) if line.startswith(("ATOM", "HETATM")) else line)
        cases["no type_symbol"] = ("\n".join(kept) + "\n", False)
    for name, (edited, fast) in cases.items():
        assert (parse._residues_fast(edited, "cif") is not None) == fast, name
        _same_structures(write_text(tmp_path / f"{name.replace(' ', '_')}.cif", edited), monkeypatch)
