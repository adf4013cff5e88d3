"""Write a :class:`Structure` (or part of it) as PDB or mmCIF text, optionally with per-residue B-factors.

mmCIF is written directly from the arrays (any coordinate, residue number or chain id survives);
PDB's fixed columns cannot hold every structure, so :func:`pdb_limits` says what does not fit and
:func:`pdb_text` refuses such a structure instead of writing wrapped numbers or cut chain ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from absites.errors import AbsitesError
from absites.structure.parse import Structure


def pdb_limits(structure: Structure, residue_mask: np.ndarray | None = None) -> list[str]:
    """Why the selected residues cannot be written as fixed-width PDB ([] when they can)."""
    s = structure
    keep = np.ones(s.n_residues, bool) if residue_mask is None else np.asarray(residue_mask, bool)
    atoms = keep[s.atom_residue]
    problems = []
    long_chains = sorted({c for c in s.res_chain[keep] if len(c) != 1})
    if long_chains:
        problems.append(f"chain id(s) {', '.join(repr(c) for c in long_chains)} not one character")
    nums = s.res_seqnum[keep]
    if nums.size and (nums.max() > 9999 or nums.min() < -999):
        problems.append(f"residue numbers outside -999..9999 (from {nums.min()} to {nums.max()})")
    xyz = s.atom_coords[atoms]
    if xyz.size and (xyz.max() >= 10000.0 or xyz.min() <= -1000.0):
        problems.append("coordinates outside the PDB range -999.999..9999.999 Å")
    if int(atoms.sum()) > 99999:
        problems.append(f"{int(atoms.sum())} atoms (more than 99,999)")
    return problems


def pdb_text(structure: Structure, residue_mask: np.ndarray | None = None,
             residue_bfactor: np.ndarray | None = None) -> str:
    """ATOM records of the selected residues, with ``residue_bfactor[r]`` in the B-factor column.

    Args:
        residue_mask: ``(R,)`` bool, residues to write (all when None).
        residue_bfactor: ``(R,)`` values for columns 61–66 (0 when None).

    Raises:
        AbsitesError: the structure does not fit PDB's columns (:func:`pdb_limits`); write mmCIF.
    """
    problems = pdb_limits(structure, residue_mask)
    if problems:
        raise AbsitesError(f"{structure.source}: cannot be written as PDB ({'; '.join(problems)}); use mmCIF")
    s = structure
    keep = np.ones(s.n_residues, bool) if residue_mask is None else np.asarray(residue_mask, bool)
    bf = np.zeros(s.n_residues) if residue_bfactor is None else np.asarray(residue_bfactor, float)
    lines = []
    serial = 0
    prev_chain = None
    for a in np.flatnonzero(keep[s.atom_residue]):
        r = s.atom_residue[a]
        chain = s.res_chain[r]
        if prev_chain is not None and chain != prev_chain:
            lines.append("TER")
        prev_chain = chain
        serial += 1
        name = s.atom_names[a]
        name = f" {name:<3}" if len(name) < 4 and len(s.atom_elements[a]) == 1 else f"{name:<4}"
        x, y, z = s.atom_coords[a]
        lines.append(
            f"ATOM  {serial:>5} {name} {s.res_name[r]:>3} {chain}{s.res_seqnum[r]:>4}"
            f"{(s.res_icode[r] or ' ')[:1]}   {x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{bf[r]:6.2f}"
            f"          {s.atom_elements[a]:>2}"
        )
    lines += ["TER", "END"]
    return "\n".join(lines) + "\n"


def write_pdb(structure: Structure, path: str | Path, residue_mask: np.ndarray | None = None,
              residue_bfactor: np.ndarray | None = None) -> Path:
    path = Path(path)
    path.write_text(pdb_text(structure, residue_mask, residue_bfactor))
    return path


def _cif_token(value: str) -> str:
    """A value as an mmCIF token (quoted when it holds spaces or starts like syntax)."""
    if value == "":
        return "?"
    if any(c.isspace() for c in value) or value[0] in "_#$'\"[];" or value in (".", "?"):
        return f"'{value}'" if "'" not in value else f'"{value}"'
    return value


def cif_text(structure: Structure, residue_bfactor: np.ndarray | None = None, name: str = "absites",
             decimals: int = 4) -> str:
    """An mmCIF ``_atom_site`` loop of every atom, with ``residue_bfactor[r]`` as B_iso (``decimals`` places).

    Author chain ids, residue numbers and insertion codes are kept as read (any length, any size).
    """
    s = structure
    bf = np.zeros(s.n_residues) if residue_bfactor is None else np.asarray(residue_bfactor, float)
    block = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "absites"
    lines = [f"data_{block}", "#", "loop_"]
    lines += [f"_atom_site.{k}" for k in (
        "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
        "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
        "B_iso_or_equiv", "auth_seq_id", "auth_comp_id", "auth_asym_id", "auth_atom_id", "pdbx_PDB_model_num")]
    chains = list(dict.fromkeys(s.res_chain.tolist()))
    entity = {c: i + 1 for i, c in enumerate(chains)}
    seq_in_chain = np.zeros(s.n_residues, dtype=np.int64)
    for c in chains:
        idx = np.flatnonzero(s.res_chain == c)
        seq_in_chain[idx] = np.arange(1, idx.size + 1)
    for a in range(s.n_atoms):
        r = s.atom_residue[a]
        chain, comp, atom = str(s.res_chain[r]), str(s.res_name[r]), str(s.atom_names[a])
        x, y, z = (float(v) for v in s.atom_coords[a])
        lines.append(" ".join([
            "ATOM", str(a + 1), _cif_token(str(s.atom_elements[a]) or "X"), _cif_token(atom), ".", comp,
            _cif_token(chain), str(entity[chain]), str(seq_in_chain[r]), _cif_token(str(s.res_icode[r])),
            f"{x:.3f}", f"{y:.3f}", f"{z:.3f}", "1.00", f"{bf[r]:.{decimals}f}", str(int(s.res_seqnum[r])),
            comp, _cif_token(chain), _cif_token(atom), "1"]))
    lines.append("#")
    return "\n".join(lines) + "\n"
