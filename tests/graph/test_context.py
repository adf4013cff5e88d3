"""Context descriptors: sequons against the glycans a crystal structure shows, Cα geometry of ideal helices and
strands, chain breaks, and independence from the partner's pose (the gbm that reads them: test_shape.py)."""

from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pytest

from absites.graph.context import CONTEXT_FEATURES, context_features, linked, sequons
from conftest import SAMPLE

IDS = ["1eo8_HL_A", "1egj_HL_A", "1ahw_BA_C"]
COL = {name: i for i, name in enumerate(CONTEXT_FEATURES)}


def glycosylated_asn(path) -> set[tuple[str, int]]:
    """(chain, number) of every Asn whose ND2 is bonded (< 2 Å) to the C1 of a NAG in the file: the N-linked
    glycans the crystal structure shows."""
    lines = gzip.open(path, "rt").read().splitlines()

    def xyz(line):
        return np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])

    c1 = np.array([xyz(ln) for ln in lines if ln.startswith("HETATM") and ln[17:20] == "NAG" and ln[12:16] == " C1 "])
    nd2 = [(ln[21], int(ln[22:26]), xyz(ln)) for ln in lines
           if ln.startswith("ATOM") and ln[17:20] == "ASN" and ln[12:16] == " ND2"]
    return {(chain, num) for chain, num, x in nd2 if len(c1) and np.linalg.norm(c1 - x, axis=1).min() < 2.0}


def test_every_glycan_the_structure_shows_sits_on_a_sequon(graphs):
    # influenza haemagglutinin (1eo8: Asn 81, 165 and 285 carry NAG) and an antibody glycosylated in its light
    # chain's CDR1 region (1egj: Asn L26)
    for cid, g in zip(IDS[:2], graphs[:2]):
        shown = glycosylated_asn(SAMPLE[cid].path)
        assert shown, cid
        marked = set(zip(g.res_chain[sequons(g)], g.res_seqnum[sequons(g)].tolist()))
        assert shown <= marked, (cid, shown - marked)
        assert all(name == "ASN" for name in g.res_name[sequons(g)])
    f = context_features(graphs[0])
    ag = ~graphs[0].is_antibody.astype(bool)
    on_sequon = sequons(graphs[0]) & ag
    assert (f[on_sequon, COL["sequon_distance"]] < 0.2).all()  # its own side-chain centroid: a few Å
    assert (f[on_sequon, COL["sequons_8"]] >= 1).all()


def chain_graph(ca: np.ndarray, names: list[str], chain: str = "A"):
    n = len(ca)

    @dataclasses.dataclass
    class Chain:
        pos_ca: np.ndarray
        pos: np.ndarray
        res_name: np.ndarray
        res_chain: np.ndarray
        is_antibody: np.ndarray

        @property
        def num_nodes(self):
            return n

    return Chain(ca.astype(np.float32), ca.astype(np.float32), np.array(names), np.array([chain] * n),
                 np.zeros(n, bool))


def ideal_helix(n: int) -> np.ndarray:
    # α-helix Cα trace: radius 2.3 Å, 100° and 1.5 Å rise per residue, right-handed
    t = np.deg2rad(100.0) * np.arange(n)
    return np.stack([2.3 * np.cos(t), 2.3 * np.sin(t), 1.5 * np.arange(n)], axis=1)


def ideal_strand(n: int) -> np.ndarray:
    # a flat zigzag, 3.3 Å along the strand and ±0.95 Å across per residue: Cα–Cα 3.8 Å, torsion 180°
    return np.stack([3.3 * np.arange(n), 0.95 * (-1.0) ** np.arange(n), np.zeros(n)], axis=1)


def test_helix_and_strand_geometry_from_the_calpha_trace():
    helix = context_features(chain_graph(ideal_helix(15), ["ALA"] * 15))
    torsion = np.degrees(np.arctan2(helix[:, COL["ca_torsion_sin"]], helix[:, COL["ca_torsion_cos"]]))
    np.testing.assert_allclose(torsion[1:-2], 50.0, atol=1.0)  # the Cα virtual torsion of an α-helix
    assert np.isnan(torsion[[0, -2, -1]]).all()  # no residue before / two after
    np.testing.assert_allclose(helix[1:-1, COL["ca_angle"]] * 180, 90.4, atol=1.0)  # virtual bond angle
    np.testing.assert_allclose(helix[4:-5, COL["helix_share"]], 1.0)
    assert (helix[:, COL["strand_share"]] == 0).all()

    strand = context_features(chain_graph(ideal_strand(15), ["VAL"] * 15))
    np.testing.assert_allclose(np.abs(strand[1:-2, COL["ca_torsion_cos"]]), 1.0, atol=1e-6)
    assert (strand[1:-2, COL["ca_torsion_cos"]] < 0).all()
    np.testing.assert_allclose(strand[1:-1, COL["ca_angle"]] * 180,
                               np.degrees(2 * np.arctan2(3.3 / 2, 0.95)), atol=0.1)
    np.testing.assert_allclose(strand[4:-5, COL["strand_share"]], 1.0)
    assert (strand[:, COL["helix_share"]] == 0).all()


def test_a_chain_break_unlinks_residues_and_a_sequon_across_it_does_not_count():
    ca = ideal_strand(8)
    ca[4:] += [10.0, 0.0, 0.0]  # residues 3 and 4 are 13 Å apart: a gap in the model
    g = chain_graph(ca, ["ALA", "ALA", "ALA", "ASN", "GLY", "SER", "ASN", "GLY"])
    assert linked(g).tolist() == [False, True, True, True, False, True, True, True]
    assert not sequons(g).any()  # N-G-S across the gap, and an N two residues before the end
    f = context_features(g)
    assert np.isnan(f[[3, 4], COL["ca_angle"]]).all() and not np.isnan(f[[1, 2, 5, 6], COL["ca_angle"]]).any()
    assert (f[:, COL["sequon_distance"]] == 1.0).all() and (f[:, COL["sequons_24"]] == 0).all()

    g = chain_graph(ideal_strand(6), ["ALA", "ASN", "GLY", "THR", "ASN", "PRO"])
    assert sequons(g).tolist() == [False, True, False, False, False, False]
    g = chain_graph(ideal_strand(5), ["ALA", "ASN", "PRO", "SER", "ALA"])
    assert not sequons(g).any()  # X = Pro is no sequon
    two = chain_graph(ideal_strand(5), ["ALA", "ASN", "GLY", "SER", "ALA"])
    two.res_chain[2:] = "B"  # consecutive in the file, same place, other chain
    assert not sequons(two).any()


def test_each_protein_on_its_own_the_partner_pose_is_never_read(graphs):
    for g in graphs:
        ab = g.is_antibody.astype(bool)
        f = context_features(g)
        assert f.shape == (g.num_nodes, len(CONTEXT_FEATURES)) and f.dtype == np.float32
        assert np.isfinite(f[:, :COL["ca_angle"]]).all() and np.isfinite(f[:, COL["helix_share"]:]).all()
        moved = g.pos_ca.copy(), g.pos.copy()
        for a in moved:
            a[ab] += [100.0, 0.0, 0.0]
        np.testing.assert_allclose(context_features(dataclasses.replace(g, pos_ca=moved[0], pos=moved[1])), f,
                                   rtol=1e-4, atol=1e-4)  # float32 coordinates moved by 100 Å
        # real proteins: most residues are linked to the one before, and helices and strands are found
        assert linked(g).mean() > 0.9
        assert f[:, COL["helix_share"]].max() > 0.5 or f[:, COL["strand_share"]].max() > 0.5


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_proteins(n):
    f = context_features(chain_graph(ideal_strand(n), ["ASN"] * n))
    assert f.shape == (n, len(CONTEXT_FEATURES))
