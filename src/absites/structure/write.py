"""Write a :class:`Structure` (or part of it) as PDB text, optionally with per-residue B-factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from absites.structure.parse import Structure


def pdb_text(structure: Structure, residue_mask: np.ndarray | None = None,
             residue_bfactor: np.ndarray | None = None) -> str:
    """ATOM records of the selected residues, with ``residue_bfactor[r]`` in the B-factor column.

    Args:
        residue_mask: ``(R,)`` bool, residues to write (all when None).
        residue_bfactor: ``(R,)`` values for columns 61–66 (0 when None).
    """
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
            f"ATOM  {serial % 100000:>5} {name} {s.res_name[r]:>3} {chain[:1]}{s.res_seqnum[r] % 10000:>4}"
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
