"""PDB writing round-trips through the parser."""

from __future__ import annotations

import numpy as np

from absites.structure.parse import read_structure
from absites.structure.write import write_pdb
from conftest import SAMPLE


def test_round_trip_with_bfactors(tmp_path):
    s = read_structure(SAMPLE["1bgx_HL_T"].path)  # has insertion codes
    bf = np.linspace(0, 1, s.n_residues)
    mask = s.res_chain != "T"
    path = write_pdb(s, tmp_path / "x.pdb", residue_mask=mask, residue_bfactor=bf)
    back = read_structure(path)
    assert back.residue_ids() == [rid for rid, m in zip(s.residue_ids(), mask) if m]
    np.testing.assert_allclose(back.atom_coords, s.atom_coords[mask[s.atom_residue]], atol=1e-3)
    from Bio.PDB import PDBParser

    atoms = list(PDBParser(QUIET=True).get_structure("x", str(path)).get_atoms())
    res_index = np.flatnonzero(mask)[back.atom_residue]
    np.testing.assert_allclose([a.get_bfactor() for a in atoms], np.round(bf[res_index], 2), atol=1e-6)
