"""Shrake–Rupley SASA: analytic sphere and agreement with Biopython on a real chain."""

from __future__ import annotations

import gzip

import numpy as np
from Bio.PDB import PDBParser
from Bio.PDB.SASA import ShrakeRupley

from absites.structure.parse import read_structure
from absites.structure.sasa import atom_sasa, residue_rsa
from conftest import SAMPLE


def test_isolated_atom_is_full_sphere():
    area = atom_sasa(np.zeros((1, 3)), np.array([1.7]))
    np.testing.assert_allclose(area[0], 4 * np.pi * 3.1**2)


def test_two_overlapping_atoms_lose_the_cap():
    # two spheres of radius R = 3.1 (1.7 + probe) at distance d: each loses a cap of
    # height h = R - d/2, area 2*pi*R*h
    d, r = 3.0, 3.1
    area = atom_sasa(np.array([[0.0, 0, 0], [d, 0, 0]]), np.array([1.7, 1.7]), n_points=4000)
    expected = 4 * np.pi * r**2 - 2 * np.pi * r * (r - d / 2)
    np.testing.assert_allclose(area, expected, rtol=0.01)


def test_matches_biopython_on_antigen_chain():
    entry = SAMPLE["1ahw_BA_C"]
    s = read_structure(entry.path, ["C"])
    sasa, rsa = residue_rsa(s.atom_coords, s.atom_elements, s.atom_residue, s.res_aa)
    with gzip.open(entry.path, "rt") as fh:
        chain = PDBParser(QUIET=True).get_structure("x", fh)[0]["C"]
    ShrakeRupley().compute(chain, level="R")
    bio = np.array([r.sasa for r in chain if r.id[0] == " "])
    assert bio.shape == sasa.shape
    assert np.corrcoef(bio, sasa)[0, 1] > 0.99
    assert abs(sasa.sum() / bio.sum() - 1) < 0.02
    assert (rsa >= 0).all() and np.median(rsa) < 1


def test_atom_radii_per_element_unknown_and_empty():
    from absites.structure.sasa import DEFAULT_RADIUS_ANGSTROM, atom_radii

    radii = atom_radii(np.array(["C", "O", "SE", "C", "XX", "N"]))
    np.testing.assert_array_equal(radii, [1.70, 1.52, 1.90, 1.70, DEFAULT_RADIUS_ANGSTROM, 1.55])
    assert atom_radii(np.array([], dtype="<U2")).shape == (0,)
