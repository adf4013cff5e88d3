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
"""

from __future__ import annotations

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
    sample = raw[:65536]
    if b"\x00" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 100:
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
            if not all(map(math.isfinite, xyz)):
                raise StructureFileError(f"{path}: non-finite coordinate (nan or inf) at line {lineno}, chain "
                                         f"{line[21]!r} residue {line[17:20].strip()} {line[22:27].strip()}: "
                                         f"{line.rstrip()[:80]!r}")
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
            structure = parser.get_structure(path.stem, io.StringIO(text))
    except (PDBConstructionException, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        kind = "mmCIF" if fmt == "cif" else "PDB"
        raise StructureFileError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    models = list(structure)
    if not models:
        raise StructureFileError(f"{path}: no model with coordinates")
    return models[0]


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
        _check_pdb_records(path, text)
    model = _parse_biopython(path, text, fmt)
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

    for chain in model:
        n_before = len(r_chain)
        for residue in chain:
            residue = _pick_residue(residue)
            hetflag, seqnum, icode = residue.id
            atoms = [a for a in residue.get_atoms() if (a.element or "").upper() not in ("H", "D")]
            if not atoms:
                continue
            resname = residue.get_resname().strip().upper()
            name = _classify(resname, hetflag, {a.get_id() for a in atoms})
            if name is None:
                continue
            r_index = len(r_chain)
            for atom in atoms:
                aname, elem = atom.get_id(), (atom.element or "").upper()
                if guess_elements:  # Biopython's guess reads CA as calcium; protein atom names say it directly
                    elem = "SE" if aname.upper().startswith("SE") else aname.lstrip("0123456789")[:1].upper()
                if resname == "MSE" and aname == "SE":
                    aname, elem = "SD", "S"
                coords.append(atom.get_coord())
                names.append(aname)
                elements.append(elem)
                atom_res.append(r_index)
            r_chain.append(chain.id)
            r_num.append(int(seqnum))
            r_icode.append(icode.strip())
            r_name.append(name)
        if len(r_chain) == n_before:
            non_protein.append(chain.id)

    if not r_chain:
        raise StructureFileError(f"{path}: no protein residues in the first model")
    coord_array = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    bad = np.flatnonzero(~np.isfinite(coord_array).all(axis=1))
    if bad.size:
        r = atom_res[bad[0]]
        raise StructureFileError(f"{path}: {bad.size} atom(s) with non-finite coordinates (nan or inf), first "
                                 f"{names[bad[0]]} of chain {r_chain[r]!r} residue {r_name[r]} {r_num[r]}{r_icode[r]}")
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
        atom_coords=np.asarray(coords, dtype=np.float32).reshape(-1, 3),
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

