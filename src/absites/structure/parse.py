"""Read PDB / mmCIF files (optionally gzipped) into a :class:`Structure` of arrays.

Rules (each covered by a test):

* first model only;
* alternate locations: the highest-occupancy altloc of every atom (Biopython's
  ``DisorderedAtom`` default) and, for residues present as several residue
  types (point heterogeneity), the residue type with the highest mean occupancy;
* MSE is read as MET (atom SE becomes SD, element S); other common modified
  residues map to their parent (:data:`MODIFIED_PARENT`);
* insertion codes are kept in residue ids;
* waters, ions, ligands and nucleotides are excluded; a HETATM residue counts as
  protein only if it is a known modified residue or carries N, CA and C;
* residues with missing atoms are kept with the atoms they have, but a model
  of C-alpha traces only (> 90% one-atom residues) is rejected: contacts,
  SASA and surfaces would be silently wrong;
* amino acids of unknown type become ``UNK`` and are counted;
* hydrogens and deuteriums are dropped (every downstream rule uses heavy atoms).

PDB files and the ``_atom_site`` loop of mmCIF files are read column-wise with NumPy (:func:`_residues_fast`);
files outside the plain case that reader declines go through Biopython's parsers. Both feed the same rules
above, and they give equal structures on every PDB file of the project's data and on mmCIF copies of them
(tested on edited files and sample files).
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import math
import os
import stat
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from absites.errors import ChainError, StructureFileError
from absites.structure.residues import (
    AA_INDEX,
    MODIFIED_PARENT,
    NUCLEOTIDES,
    UNK,
    UNK_INDEX,
    WATERS,
)

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024  # decompressed; a whole ribosome is ~50 MB
CIF_SUFFIXES = (".cif", ".mmcif", ".bcif")
STRUCTURE_SUFFIXES = (".pdb", ".ent", ".pdb1", *CIF_SUFFIXES)
MAX_COORD_ANGSTROM = float(np.finfo(np.float32).max)  # coordinates are stored as float32; larger is unreadable
FAST_PDB = True  # files through the column-wise reader (Biopython when it declines); False: Biopython always


def structure_stem(path: str | Path) -> str:
    """A structure file's name without its format suffixes: ``model.rank1.pdb.gz`` -> ``model.rank1``.

    Only ``.gz`` and a structure suffix are removed, so names that differ before them stay different.
    """
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    for suffix in STRUCTURE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True, eq=False)
class Structure:
    """Protein atoms and residues of the first model of one file.

    Shapes:
        atom_coords: ``(A, 3)`` float32, Å.
        atom_names, atom_elements: ``(A,)`` str.
        atom_residue: ``(A,)`` int64, index into the residue arrays.
        res_chain, res_icode, res_name: ``(R,)`` str (``res_name`` is the
            normalised three-letter code, ``UNK`` for unknown types).
        res_seqnum: ``(R,)`` int64, author residue number.
        res_aa: ``(R,)`` int64, index into :data:`absites.structure.residues.VOCAB`.
    """

    source: str
    atom_coords: np.ndarray
    atom_names: np.ndarray
    atom_elements: np.ndarray
    atom_residue: np.ndarray
    res_chain: np.ndarray
    res_seqnum: np.ndarray
    res_icode: np.ndarray
    res_name: np.ndarray
    res_aa: np.ndarray
    n_unknown: int = 0
    non_protein_chains: tuple[str, ...] = field(default=())

    @property
    def n_atoms(self) -> int:
        return int(self.atom_coords.shape[0])

    @property
    def n_residues(self) -> int:
        return int(self.res_chain.shape[0])

    @property
    def chains(self) -> tuple[str, ...]:
        """Protein chain ids in file order."""
        _, first = np.unique(self.res_chain, return_index=True)
        return tuple(self.res_chain[np.sort(first)].tolist())

    def residue_ids(self) -> list[str]:
        """Human-readable ids ``chain:resseq[icode]`` for messages and outputs."""
        return [f"{c}:{n}{i}" for c, n, i in zip(self.res_chain, self.res_seqnum, self.res_icode)]

    def sequence(self, chain: str) -> str:
        """One-letter sequence of a chain (X for UNK) in file order."""
        from absites.structure.residues import ONE_LETTER

        return "".join(ONE_LETTER[n] for n in self.res_name[self.res_chain == chain])

    def select_chains(self, chains: list[str] | tuple[str, ...]) -> Structure:
        """A new Structure holding only ``chains``, residues renumbered ``0..R'-1``.

        Raises:
            ChainError: a chain id is not among the protein chains of the file.
        """
        present = set(self.chains)
        missing = [c for c in chains if c not in present]
        if missing:
            what = "non-protein chain" if set(missing) & set(self.non_protein_chains) else "no such chain"
            raise ChainError(
                f"{self.source}: chain(s) {', '.join(missing)} not found as protein chains "
                f"({what}); protein chains present: {', '.join(self.chains) or 'none'}"
            )
        res_keep = np.isin(self.res_chain, list(chains))
        new_index = np.cumsum(res_keep) - 1
        atom_keep = res_keep[self.atom_residue]
        return Structure(
            source=self.source,
            atom_coords=self.atom_coords[atom_keep],
            atom_names=self.atom_names[atom_keep],
            atom_elements=self.atom_elements[atom_keep],
            atom_residue=new_index[self.atom_residue[atom_keep]],
            res_chain=self.res_chain[res_keep],
            res_seqnum=self.res_seqnum[res_keep],
            res_icode=self.res_icode[res_keep],
            res_name=self.res_name[res_keep],
            res_aa=self.res_aa[res_keep],
            n_unknown=int((self.res_aa[res_keep] == UNK_INDEX).sum()),
            non_protein_chains=self.non_protein_chains,
        )


def _read_text(path: Path) -> str:
    """Bytes of ``path`` (gunzipped when gzip), decoded; clear errors for junk."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # a FIFO or device would block or never end
            raise StructureFileError(f"{path}: not a regular file (a pipe, socket or device)")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StructureFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise StructureFileError(f"{path}: is a directory, not a structure file") from None
    except OSError as exc:
        raise StructureFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except (EOFError, OSError, zlib.error) as exc:
            raise StructureFileError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise StructureFileError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB uncompressed")
    if not raw.strip():
        raise StructureFileError(f"{path}: file is empty")
    sample = np.frombuffer(raw[:65536], dtype=np.uint8)
    if (sample == 0).any() or int(((sample < 9) | ((sample > 13) & (sample < 32))).sum()) > sample.size // 100:
        raise StructureFileError(f"{path}: binary data, not a PDB or mmCIF text file")
    return raw.decode("utf-8", errors="replace")


def _detect_format(path: Path, text: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix in STRUCTURE_SUFFIXES:
        if name.endswith(suffix):
            return "cif" if suffix in CIF_SUFFIXES else "pdb"
    head = text.lstrip()[:5]
    return "cif" if head.startswith("data_") else "pdb"


def _check_pdb_records(path: Path, text: str) -> None:
    """Reject truncated or malformed coordinate records before Biopython sees them."""
    n_coord = 0
    seen: set[tuple[str, str]] = set()  # (chain, resseq + icode) of residues already closed
    current: tuple[str, str] | None = None
    duplicates: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(("ATOM  ", "HETATM")):
            n_coord += 1
            rid = (line[21:22], line[22:27])
            if rid != current:
                if rid in seen and len(duplicates) < 5:
                    duplicates.append(f"{rid[0].strip() or '(blank)'}:{rid[1].strip()} (line {lineno})")
                if current is not None:
                    seen.add(current)
                current = rid
            try:
                xyz = float(line[30:38]), float(line[38:46]), float(line[46:54])
            except ValueError:
                tail = "last line" if lineno == text.count("\n") + (not text.endswith("\n")) else f"line {lineno}"
                raise StructureFileError(
                    f"{path}: malformed or truncated coordinate record at {tail}: {line.rstrip()[:80]!r}"
                ) from None
            if not all(math.isfinite(v) and abs(v) <= MAX_COORD_ANGSTROM for v in xyz):
                raise StructureFileError(f"{path}: non-finite or out-of-range coordinate (nan, inf or beyond "
                                         f"float32) at line {lineno}, chain {line[21]!r} residue "
                                         f"{line[17:20].strip()} {line[22:27].strip()}: {line.rstrip()[:80]!r}")
        elif line.startswith("ENDMDL") and n_coord:
            break  # first model only: the rest is never read
        elif line.startswith("TER"):
            current = None
    if duplicates:
        log.warning("%s: residue number(s) used twice in one chain, e.g. %s: only the first residue of each such "
                    "number is read; renumber the file to keep both", path, ", ".join(duplicates))
    if n_coord == 0:
        raise StructureFileError(f"{path}: no ATOM/HETATM records: not a PDB coordinate file")


def _parse_biopython(path: Path, text: str, fmt: str):
    from Bio import BiopythonWarning
    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionException, PDBConstructionWarning

    parser = MMCIFParser(QUIET=True) if fmt == "cif" else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            warnings.simplefilter("ignore", BiopythonWarning)
            # a coordinate beyond float32 becomes inf in Biopython's arrays (with NumPy's overflow warning);
            # read_structure rejects it with the atom named
            warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning)
            structure = parser.get_structure(path.stem, io.StringIO(text))
    except (PDBConstructionException, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        kind = "mmCIF" if fmt == "cif" else "PDB"
        raise StructureFileError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    models = list(structure)
    if not models:
        raise StructureFileError(f"{path}: no model with coordinates")
    return models[0]


@dataclass
class _FileResidue:
    """One residue as the file gives it (first model, altlocs resolved), before the protein rules."""

    hetflag: str  # " " (ATOM), "W" (water) or "H_<resname>" (other HETATM), as Biopython's residue ids
    seqnum: int
    icode: str
    resname: str
    names: list[str]
    elements: list[str]  # upper case
    coords: np.ndarray  # (k, 3) float32


def _residues_biopython(model) -> list[tuple[str, list[_FileResidue]]]:
    """Chains of a Biopython model, in model order, as :class:`_FileResidue` lists."""
    out = []
    for chain in model:
        residues = []
        for residue in chain:
            residue = _pick_residue(residue)
            hetflag, seqnum, icode = residue.id
            atoms = list(residue.get_atoms())
            residues.append(_FileResidue(
                hetflag, int(seqnum), icode, residue.get_resname(), [a.get_id() for a in atoms],
                [(a.element or "").upper() for a in atoms],
                np.array([a.get_coord() for a in atoms], dtype=np.float32).reshape(-1, 3)))
        out.append((chain.id, residues))
    return out


@functools.cache
def _known_elements() -> frozenset[str]:
    from Bio.Data.IUPACData import atom_weights

    return frozenset(e.upper() for e in atom_weights)


@dataclass
class _Columns:
    """The first model's atom records as arrays (one row per record, file order), before any residue rules."""

    het: np.ndarray  # bool: HETATM
    resname: np.ndarray  # str, stripped
    chain: np.ndarray  # str
    seqnum: np.ndarray  # int64
    icode: np.ndarray  # str, " " when none
    altloc: np.ndarray  # str, " " when none
    name: np.ndarray  # str: the atom name Biopython uses
    fullname: np.ndarray  # str: the name as written (PDB: with its spaces)
    element: np.ndarray  # str, upper case
    coords: np.ndarray  # (n, 3) float64
    occupancy: np.ndarray  # float64, NaN when missing


def _pdb_columns(text: str) -> _Columns | None:
    """The first model of a PDB file, column by column (80-column grid, NumPy casts); None if unreadable."""
    coord_lines: list[str] = []
    opened = False  # Biopython's model: from the first MODEL / ATOM / HETATM to ENDMDL, END, CONECT or a new MODEL
    for line in text.split("\n"):
        record = line[0:6]
        if record == "ATOM  " or record == "HETATM":
            opened = True
            coord_lines.append(line)
        elif record == "MODEL ":
            if opened:
                break
            opened = True
        elif opened and record in ("ENDMDL", "END   ", "CONECT"):
            break
    n = len(coord_lines)
    if n == 0:
        return None
    try:
        raw = "".join(line[:80].ljust(80) for line in coord_lines).encode("ascii")
    except UnicodeEncodeError:
        return None
    grid = np.frombuffer(raw, dtype="S1").reshape(n, 80)

    def column(i: int, j: int) -> np.ndarray:
        return np.ascontiguousarray(grid[:, i:j]).view(f"S{j - i}").ravel()

    try:
        coords = np.ascontiguousarray(grid[:, 30:54]).view("S8").reshape(n, 3).astype(np.float64)
        seqnum = column(22, 26).astype(np.int64)
        occ_raw = column(54, 60)
        filled = np.char.strip(occ_raw) != b""
        occupancy = np.full(n, np.nan)
        occupancy[filled] = occ_raw[filled].astype(np.float64)
    except ValueError:
        return None
    fullname = column(12, 16).astype("U4")
    values, code = np.unique(fullname, return_inverse=True)
    # atom names: stripped, unless they hold an inner space (Biopython keeps those whole)
    name = np.array([f.strip() if len(f.split()) == 1 else f for f in values.tolist()], dtype="U4")[code]
    return _Columns(het=column(0, 6) == b"HETATM", resname=np.char.strip(column(17, 20)).astype("U3"),
                    chain=column(21, 22).astype("U1"), seqnum=seqnum, icode=column(26, 27).astype("U1"),
                    altloc=column(16, 17).astype("U1"), name=name, fullname=fullname,
                    element=np.char.upper(np.char.strip(column(76, 78))).astype("U2"), coords=coords,
                    occupancy=occupancy)


_CIF_FIELDS = ("group_PDB", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "auth_asym_id",
               "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv")


def _blank_unset(values: np.ndarray) -> np.ndarray:
    """mmCIF's unset markers (``.``, ``?``) as the blank Biopython uses."""
    return np.where((values == ".") | (values == "?"), " ", values)


def _cif_columns(text: str) -> _Columns | None:
    """The first model of an mmCIF file's ``_atom_site`` loop, as Biopython's ``MMCIFParser`` reads it
    (author chain and residue numbers, ``label_atom_id`` names); None for anything but one data block with
    one atom_site loop of one unquoted row per line and every value Biopython needs readable."""
    if text.count("\ndata_") + text.startswith("data_") != 1:
        return None
    lines = text.split("\n")
    fields: list[str] = []
    rows: list[str] = []
    i = 0
    while i < len(lines) and not lines[i].startswith("_atom_site."):
        i += 1
    if i == 0 or lines[i - 1].strip() != "loop_":
        return None  # no atom_site loop (or a one-row key-value block)
    while i < len(lines) and lines[i].startswith("_atom_site."):
        fields.append(lines[i].strip()[len("_atom_site."):])
        i += 1
    ends = ("#", "_", ";", "loop_", "data_")
    while i < len(lines) and not lines[i].startswith(ends):
        if lines[i].strip():
            rows.append(lines[i])
        i += 1
    # a comment does not end a CIF loop: values after it would still be atoms
    j = i
    while j < len(lines) and (not lines[j].strip() or lines[j].startswith("#")):
        j += 1
    if j < len(lines) and not lines[j].startswith(("_", "loop_", "data_")):
        return None
    if "_atom_site." in "\n".join(lines[i:]) or not rows:
        return None  # a second atom_site block
    body = "\n".join(rows)
    if "'" in body or '"' in body:
        return None  # quoted values (primed atom names): MMCIF2Dict's tokenizer
    try:
        table = np.array(body.encode("ascii").split())  # bytes: NumPy casts them to numbers ~3x faster than str
    except UnicodeEncodeError:
        return None
    if table.size != len(rows) * len(fields):
        return None  # a row split over lines, or a short one
    table = table.reshape(len(rows), len(fields))
    index = {f: k for k, f in enumerate(fields)}
    seq_field = "auth_seq_id" if "auth_seq_id" in index else "label_seq_id"
    if any(f not in index for f in (*_CIF_FIELDS, seq_field, "id")):
        return None
    col = {f: table[:, index[f]] for f in (*_CIF_FIELDS, seq_field)}
    for f in ("group_PDB", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "auth_asym_id",
              "pdbx_PDB_ins_code"):
        col[f] = col[f].astype(str)
    try:  # Biopython reads these for every row of every model
        coords = np.stack([col[f].astype(np.float64) for f in ("Cartn_x", "Cartn_y", "Cartn_z")], axis=1)
        occupancy = col["occupancy"].astype(np.float64)
        col["B_iso_or_equiv"].astype(np.float64)
        seqnum = col[seq_field].astype(np.int64)
        models = table[:, index["pdbx_PDB_model_num"]].astype(np.int64) if "pdbx_PDB_model_num" in index else None
    except ValueError:
        return None
    n = len(rows) if models is None else int(np.argmax(models != models[0])) or len(rows)
    return _Columns(het=col["group_PDB"][:n] == "HETATM", resname=col["label_comp_id"][:n],
                    chain=col["auth_asym_id"][:n], seqnum=seqnum[:n], icode=_blank_unset(col["pdbx_PDB_ins_code"][:n]),
                    altloc=_blank_unset(col["label_alt_id"][:n]), name=col["label_atom_id"][:n],
                    fullname=col["label_atom_id"][:n], element=np.char.upper(col["type_symbol"][:n]),
                    coords=coords[:n], occupancy=occupancy[:n])


def _residues_fast(text: str, fmt: str = "pdb") -> list[tuple[str, list[_FileResidue]]] | None:
    """The first model of a PDB or mmCIF file read column-wise with NumPy: Biopython's ``PDBParser`` /
    ``MMCIFParser`` result (residue and atom order, highest-occupancy altlocs, elements, float32 coordinates),
    ~5x faster per file, PDB or mmCIF, with the gunzip and checks around it (bench/RESULTS.md).

    Returns None for anything outside the plain case, and the caller then asks Biopython: a residue id used
    twice in a chain (a redefined residue or a point mutation), an atom name twice in a residue without
    distinct altlocs, names that differ only in spaces, a missing or unknown element (Biopython guesses it
    from the name), an altloc atom without occupancy, a second model before the first ends, or any field
    NumPy cannot read. ``tests/structure/test_parse.py`` checks the two readers give equal structures.
    """
    c = _pdb_columns(text) if fmt == "pdb" else _cif_columns(text)
    if c is None or not (np.abs(c.coords) <= MAX_COORD_ANGSTROM).all():  # also false for nan
        return None
    n = c.coords.shape[0]
    known = _known_elements()
    if any(e not in known for e in np.unique(c.element).tolist()):
        return None
    water = c.het & ((c.resname == "HOH") | (c.resname == "WAT"))
    kind = np.where(water, 2, c.het.astype(np.int64))  # 0 ATOM, 1 HETATM, 2 water
    name_values, name_code = np.unique(c.name, return_inverse=True)
    full_code = np.unique(c.fullname, return_inverse=True)[1]

    # residues: a new one wherever the chain, record kind, number, insertion code or name changes
    start = np.ones(n, dtype=bool)
    start[1:] = ((c.chain[1:] != c.chain[:-1]) | (kind[1:] != kind[:-1]) | (c.seqnum[1:] != c.seqnum[:-1])
                 | (c.icode[1:] != c.icode[:-1]) | (c.resname[1:] != c.resname[:-1]))
    run = np.cumsum(start) - 1
    firsts = np.flatnonzero(start)
    r_chain, r_kind, r_name = c.chain[firsts].tolist(), kind[firsts].tolist(), c.resname[firsts].tolist()
    r_num, r_icode = c.seqnum[firsts].tolist(), c.icode[firsts].tolist()
    ids = set(zip(r_chain, r_kind, [nm if k == 1 else "" for nm, k in zip(r_name, r_kind)], r_num, r_icode))
    if len(ids) != len(firsts):
        return None  # a residue id again in the same chain: Biopython merges or nests it

    # atoms: one per (residue, name); several only as distinct altlocs of one full name, best occupancy wins
    key = run * len(name_values) + name_code
    _, group, counts = np.unique(key, return_inverse=True, return_counts=True)
    chosen = np.arange(n)  # the row whose coordinates and element the atom takes
    keep = np.ones(n, dtype=bool)  # the row that places the atom in its residue (its first)
    disordered = (counts[group] > 1) | (c.altloc != " ")
    if disordered.any():
        rows_of: dict[int, list[int]] = {}
        for i in np.flatnonzero(disordered):
            rows_of.setdefault(int(group[i]), []).append(int(i))
        for rows in rows_of.values():
            labels = [c.altloc[i] for i in rows]
            if (" " in labels or len(set(labels)) != len(labels) or len({full_code[i] for i in rows}) != 1
                    or not np.isfinite(c.occupancy[rows]).all()):
                return None
            best = rows[int(np.argmax(c.occupancy[rows]))]  # the first of the highest occupancy
            chosen[rows[0]] = best
            keep[rows[1:]] = False
    rows = np.flatnonzero(keep)
    xyz = c.coords[chosen[rows]].astype(np.float32)
    names = name_values[name_code[rows]].tolist()
    elements = c.element[chosen[rows]].tolist()
    bounds = np.searchsorted(run[rows], np.arange(len(firsts) + 1)).tolist()

    chains: dict[str, list[_FileResidue]] = {}  # first appearance order; a chain met again continues
    for r, (ch, k, nm, num, ic) in enumerate(zip(r_chain, r_kind, r_name, r_num, r_icode)):
        lo, hi = bounds[r], bounds[r + 1]
        flag = " " if k == 0 else ("W" if k == 2 else "H_" + nm)
        chains.setdefault(ch, []).append(_FileResidue(flag, num, ic, nm, names[lo:hi], elements[lo:hi], xyz[lo:hi]))
    return list(chains.items())


def _pick_residue(residue):
    """The residue type to use for a (possibly disordered) residue."""
    if residue.is_disordered() == 2:  # DisorderedResidue: several residue types
        children = list(residue.child_dict.values())

        def mean_occ(r):
            occ = [a.get_occupancy() or 0.0 for a in r.get_atoms()]
            return float(np.mean(occ)) if occ else 0.0

        return max(children, key=mean_occ)
    return residue


def _classify(resname: str, hetflag: str, atom_names: set[str]) -> str | None:
    """Normalised residue name for a protein residue, or None to exclude it."""
    if resname in AA_INDEX and resname != UNK:
        return resname
    if resname in MODIFIED_PARENT:
        return MODIFIED_PARENT[resname]
    if resname in WATERS or resname in NUCLEOTIDES or hetflag == "W":
        return None
    if hetflag.startswith("H_") and not {"N", "CA", "C"} <= atom_names:
        return None  # ligand, ion, sugar
    if hetflag == " " and "CA" not in atom_names and resname != UNK:
        return None  # a polymer residue with no alpha carbon: not an amino acid
    return UNK


def read_structure(path: str | Path, chains: list[str] | tuple[str, ...] | None = None) -> Structure:
    """Parse a PDB or mmCIF file (``.gz`` allowed) into a :class:`Structure`.

    Args:
        path: the file. Format from the extension, else from the content.
        chains: keep only these protein chains (all protein chains when None).

    Raises:
        StructureFileError: missing, empty, binary, truncated or malformed file,
            or a file with no protein residues.
        ChainError: a requested chain is absent or holds no protein.
    """
    path = Path(path)
    text = _read_text(path)
    fmt = _detect_format(path, text)
    if fmt == "pdb":
        if text.lstrip().startswith("data_") and "_atom_site." in text:
            raise StructureFileError(f"{path}: this is an mmCIF file named like a PDB file; rename it to .cif")
    # the fast reader declines every file the record checks would reject (unreadable or non-finite
    # coordinates, no coordinates, a residue number used twice): those get the checks, then Biopython
    chains_read = _residues_fast(text, fmt) if FAST_PDB else None
    if chains_read is None:
        if fmt == "pdb":
            _check_pdb_records(path, text)
        chains_read = _residues_biopython(_parse_biopython(path, text, fmt))
    guess_elements = fmt == "cif" and "_atom_site.type_symbol" not in text
    if guess_elements:
        log.warning("%s: no _atom_site.type_symbol column: elements taken from the protein atom names "
                    "(C, N, O, S; SE in MSE)", path)

    coords: list[np.ndarray] = []
    names: list[str] = []
    elements: list[str] = []
    atom_res: list[int] = []
    r_chain: list[str] = []
    r_num: list[int] = []
    r_icode: list[str] = []
    r_name: list[str] = []
    non_protein: list[str] = []

    for chain_id, residues in chains_read:
        n_before = len(r_chain)
        for residue in residues:
            r_names, r_elements, r_coords = residue.names, residue.elements, residue.coords
            if "H" in r_elements or "D" in r_elements:
                heavy = [k for k, e in enumerate(r_elements) if e not in ("H", "D")]
                r_names, r_elements, r_coords = ([r_names[k] for k in heavy], [r_elements[k] for k in heavy],
                                                 r_coords[heavy])
            if not r_names:
                continue
            resname = residue.resname.strip().upper()
            name = _classify(resname, residue.hetflag, set(r_names))
            if name is None:
                continue
            if guess_elements:  # Biopython's guess reads CA as calcium; protein atom names say it directly
                r_elements = ["SE" if a.upper().startswith("SE") else a.lstrip("0123456789")[:1].upper()
                              for a in r_names]
            if resname == "MSE" and "SE" in r_names:
                k = r_names.index("SE")
                r_names, r_elements = list(r_names), list(r_elements)
                r_names[k], r_elements[k] = "SD", "S"
            r_index = len(r_chain)
            names.extend(r_names)
            elements.extend(r_elements)
            coords.append(r_coords)
            atom_res.extend([r_index] * len(r_names))
            r_chain.append(chain_id)
            r_num.append(residue.seqnum)
            r_icode.append(residue.icode.strip())
            r_name.append(name)
        if len(r_chain) == n_before:
            non_protein.append(chain_id)

    if not r_chain:
        raise StructureFileError(f"{path}: no protein residues in the first model")
    coord_array = np.concatenate(coords).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(coord_array).all(axis=1))
    if bad.size:
        r = atom_res[bad[0]]
        raise StructureFileError(f"{path}: {bad.size} atom(s) with non-finite or out-of-range coordinates (nan, inf "
                                 f"or beyond float32), first {names[bad[0]]} of chain {r_chain[r]!r} residue "
                                 f"{r_name[r]} {r_num[r]}{r_icode[r]}")
    atoms_per_residue = np.bincount(np.asarray(atom_res), minlength=len(r_chain))
    if len(r_chain) >= 10 and np.mean(atoms_per_residue == 1) > 0.9:
        raise StructureFileError(
            f"{path}: a C-alpha-only (trace) model ({np.mean(atoms_per_residue == 1):.0%} of residues have one atom); "
            "absites needs all heavy atoms for contacts, solvent accessibility and surfaces"
        )
    res_name = np.array(r_name)
    res_aa = np.array([AA_INDEX[n] for n in r_name], dtype=np.int64)
    structure = Structure(
        source=str(path),
        atom_coords=coord_array.astype(np.float32),
        atom_names=np.array(names),
        atom_elements=np.array(elements),
        atom_residue=np.asarray(atom_res, dtype=np.int64),
        res_chain=np.array(r_chain),
        res_seqnum=np.asarray(r_num, dtype=np.int64),
        res_icode=np.array(r_icode),
        res_name=res_name,
        res_aa=res_aa,
        n_unknown=int((res_aa == UNK_INDEX).sum()),
        non_protein_chains=tuple(non_protein),
    )
    if structure.n_unknown:
        log.info("%s: %d residue(s) of unknown type read as UNK", path, structure.n_unknown)
    if chains is not None:
        structure = structure.select_chains(tuple(chains))
    return structure

