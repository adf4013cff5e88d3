"""Shape descriptors: analytic values on constructed proteins, and independence from the partner's pose; the gbm
that reads them (and the context descriptors of :mod:`absites.graph.context`)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from absites.config import FeatureConfig
from absites.graph import graph_from_complex
from absites.graph.context import CONTEXT_FEATURES
from absites.graph.shape import CONTACT_RADII, SHAPE_FEATURES, shape_features
from absites.metrics import task_mask
from absites.models.baselines import SklearnBaseline
from absites.structure.complex import load_complex
from conftest import SAMPLE

IDS = ["1ahw_BA_C", "1e6j_HL_P", "1jps_HL_T"]
COL = {name: i for i, name in enumerate(SHAPE_FEATURES)}


def protein(ca: np.ndarray, centroid: np.ndarray | None = None, rsa: np.ndarray | None = None,
            antibody: np.ndarray | None = None):
    """A stand-in graph with only what the descriptors read."""
    n = len(ca)

    @dataclasses.dataclass
    class Points:
        pos_ca: np.ndarray
        pos: np.ndarray
        rsa: np.ndarray
        is_antibody: np.ndarray

        @property
        def num_nodes(self):
            return n

    return Points(ca.astype(np.float32), (ca if centroid is None else centroid).astype(np.float32),
                  (np.full(n, 0.3) if rsa is None else rsa).astype(np.float32),
                  np.zeros(n, bool) if antibody is None else antibody)


def fibonacci_sphere(n: int, radius: float) -> np.ndarray:
    k = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1 - 2 * k / n), np.pi * (1 + 5 ** 0.5) * k
    return radius * np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], 1)


def test_a_hollow_sphere_has_nothing_above_its_residues_and_protrusion_one():
    ca = fibonacci_sphere(400, 20.0)
    f = shape_features(protein(ca, centroid=ca * 1.05))  # side chains point outward
    dist = np.linalg.norm(ca[:, None] - ca[None], axis=2)
    # every other point q of a sphere lies below the tangent plane at p: (q - p) · p̂ = q · p̂ - R ≤ 0
    np.testing.assert_array_equal(f[:, COL["hse_up"]], 0.0)
    np.testing.assert_allclose(f[:, COL["hse_down"]], ((dist <= 13.0).sum(1) - 1) / 20.0, rtol=1e-6)
    np.testing.assert_allclose(f[:, COL["protrusion"]], 1.0, rtol=1e-3)  # at the radius of gyration (the points' centre is 0 to 1e-3 Å)
    np.testing.assert_allclose(f[:, COL["log_size"]], np.log(400), rtol=1e-6)


def test_contact_numbers_along_a_strand_count_neighbours_at_3_8_angstrom():
    ca = np.zeros((21, 3))
    ca[:, 0] = 3.8 * np.arange(21)
    f = shape_features(protein(ca, centroid=ca + [0.0, 1.0, 0.0]))
    middle = 10
    for r in CONTACT_RADII:  # itself and floor(r / 3.8) residues on each side
        expected = 1 + 2 * min(int(r // 3.8), 10)
        assert f[middle, COL[f"contacts_{int(r)}"]] == pytest.approx(expected / (r ** 3 / 100))
    # the strand is flat: every neighbour lies in the plane through the side-chain direction
    assert f[middle, COL["hse_up"]] == 0.0 and f[middle, COL["hse_down"]] == 0.0


def test_patch_rsa_is_the_mean_over_the_ball_and_a_calpha_only_residue_gets_a_direction():
    ca = np.zeros((5, 3))
    ca[:, 0] = [0.0, 5.0, 9.0, 14.0, 40.0]
    rsa = np.array([0.1, 0.2, 0.3, 0.4, 0.9])
    f = shape_features(protein(ca, rsa=rsa))  # centroid == Cα: the fallback direction
    assert f[0, COL["rsa_mean_10"]] == pytest.approx((0.1 + 0.2 + 0.3) / 3)
    assert f[0, COL["rsa_mean_16"]] == pytest.approx((0.1 + 0.2 + 0.3 + 0.4) / 4)
    assert f[4, COL["rsa_mean_16"]] == pytest.approx(0.9)  # alone within 16 Å
    assert np.isfinite(f).all()
    # residue 0's direction points away from its neighbours' centre: all of them lie below it
    assert f[0, COL["hse_up"]] == 0.0 and f[0, COL["hse_down"]] == pytest.approx(2 / 20)  # 5 and 9 Å away


def test_each_protein_on_its_own_the_partner_pose_is_never_read(graphs):
    for g in graphs:
        ab = g.is_antibody.astype(bool)
        f = shape_features(g)
        assert f.shape == (g.num_nodes, len(SHAPE_FEATURES)) and f.dtype == np.float32 and np.isfinite(f).all()
        moved = g.pos_ca.copy(), g.pos.copy()
        for a in moved:  # the antibody 100 Å away: the complex is not one protein
            a[ab] += [100.0, 0.0, 0.0]
        f2 = shape_features(dataclasses.replace(g, pos_ca=moved[0], pos=moved[1]))
        np.testing.assert_allclose(f2, f, rtol=1e-5, atol=1e-6)
        # the antigen's size is its own, not the complex's
        np.testing.assert_allclose(f[~ab, COL["log_size"]], np.log((~ab).sum()), rtol=1e-6)
        # protrusion is a distance over the radius of gyration: its root mean square is one per protein
        for side in (ab, ~ab):
            assert np.sqrt((f[side, COL["protrusion"]] ** 2).mean()) == pytest.approx(1.0, rel=1e-4)


@pytest.fixture(scope="module")
def plain_gbm(graphs):
    return SklearnBaseline(seed=0, max_iter=20).fit(graphs[:2])


@pytest.mark.parametrize("option, names", [("shape", SHAPE_FEATURES), ("context", CONTEXT_FEATURES)])
def test_gbm_with_descriptors_reads_them_for_the_epitope_only_and_pickles(graphs, plain_gbm, option, names):
    train, query, plain = graphs[:2], graphs[2], plain_gbm
    model = SklearnBaseline(seed=0, max_iter=20, **{option: True}).fit(train)
    assert model.models["epitope"].n_features_in_ == plain.models["epitope"].n_features_in_ + len(names)
    assert model.models["paratope"].n_features_in_ == plain.models["paratope"].n_features_in_
    prob = model.predict(query)
    assert prob.shape == (query.num_nodes,) and ((prob >= 0) & (prob <= 1)).all()
    ab = query.is_antibody.astype(bool)
    np.testing.assert_allclose(plain.predict(query)[ab], prob[ab])  # the paratope model is the same
    assert not np.allclose(plain.predict(query)[task_mask(query, "epitope")], prob[~ab])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(query), prob)
    state = dict(plain.__dict__)
    del state[option]  # a gbm pickled before the option existed reads no such descriptors
    old = SklearnBaseline.__new__(SklearnBaseline)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(query), plain.predict(query))


def test_gbm_with_paratope_shape_reads_them_for_the_antibody_only_and_alone(graphs, plain_gbm):
    train, query, plain = graphs[:2], graphs[2], plain_gbm
    model = SklearnBaseline(seed=0, max_iter=20, paratope_shape=True).fit(train)
    assert model.models["paratope"].n_features_in_ == plain.models["paratope"].n_features_in_ + len(SHAPE_FEATURES)
    assert model.models["epitope"].n_features_in_ == plain.models["epitope"].n_features_in_
    prob = model.predict(query)
    ab = query.is_antibody.astype(bool)
    np.testing.assert_allclose(plain.predict(query)[~ab], prob[~ab])  # the epitope model is the same
    assert not np.allclose(plain.predict(query)[ab], prob[ab])
    # it computes the antibody's descriptors only: the same rows as for both proteins, the antigen's left zero
    mine = shape_features(query, ("antibody",))
    np.testing.assert_array_equal(mine[ab], shape_features(query)[ab])
    assert not mine[~ab].any()
    # the descriptors are the antibody's own: the antibody parsed alone gets the scores it gets in the complex
    entry = SAMPLE[IDS[2]]
    roles = dataclasses.replace(entry.roles, antigen=(), alone=True)
    alone = graph_from_complex(load_complex(entry.path, roles, IDS[2]), FeatureConfig(), require_contact=False)
    assert alone.num_nodes == ab.sum() and alone.is_antibody.all()
    np.testing.assert_allclose(model.predict(alone), prob[ab], rtol=1e-5, atol=1e-7)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(query), prob)
    state = dict(plain.__dict__)
    del state["paratope_shape"]  # a gbm pickled before the option existed reads no such descriptors
    old = SklearnBaseline.__new__(SklearnBaseline)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(query), plain.predict(query))
