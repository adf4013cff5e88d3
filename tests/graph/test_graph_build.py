"""Residue graphs: features, kNN edges checked against brute force, cross edges, options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from absites.config import FeatureConfig
from absites.graph.build import FEATURE_NAMES, graph_from_complex, knn_edges
from absites.structure.complex import load_complex
from conftest import SAMPLE


@pytest.fixture(scope="module")
def complex_1ahw():
    e = SAMPLE["1ahw_BA_C"]
    return load_complex(e.path, e.roles, e.complex_id)


@pytest.fixture(scope="module")
def graph_1ahw(complex_1ahw):
    return graph_from_complex(complex_1ahw, FeatureConfig())


def test_features(graph_1ahw, complex_1ahw):
    g = graph_1ahw
    assert g.x.shape == (complex_1ahw.structure.n_residues, len(FEATURE_NAMES))
    assert np.isfinite(g.x).all()
    aa = g.x[:, :21]
    np.testing.assert_array_equal(aa.sum(1), 1)
    cdr = g.x[:, [i for i, n in enumerate(FEATURE_NAMES) if n.startswith("cdr_")]]
    np.testing.assert_array_equal(cdr.sum(1), 1)
    np.testing.assert_array_equal(cdr[:, 0] == 0, g.cdr > 0)
    role = g.x[:, -3:]
    np.testing.assert_array_equal(role[:, 2] == 1, ~g.is_antibody)
    assert (g.rsa >= 0).all() and 0.1 < np.median(g.rsa) < 0.6


def test_labels_in_graph(graph_1ahw):
    # 1ahw: 23 paratope and 22 epitope residues at 4.5 A (index.csv)
    assert int(graph_1ahw.y[graph_1ahw.is_antibody].sum()) == 23
    assert int(graph_1ahw.y[~graph_1ahw.is_antibody].sum()) == 22


def test_intra_edges_match_brute_force(graph_1ahw):
    g = graph_1ahw
    ei = g.edge_index
    assert (ei[0] != ei[1]).all()
    assert (g.is_antibody[ei[0]] == g.is_antibody[ei[1]]).all(), "no intra edge crosses proteins"
    pairs = set(map(tuple, ei.T))
    assert all((j, i) in pairs for i, j in pairs), "symmetric"
    assert (g.edge_attr[:, 0] <= 10.0 + 1e-4).all()
    # brute force on the antigen
    idx = np.flatnonzero(~g.is_antibody)
    pts = g.pos_ca[idx].astype(np.float64)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    expected = set()
    for i in range(len(idx)):
        for j in np.argsort(d[i])[:15]:
            if d[i, j] <= 10.0:
                expected |= {(idx[i], idx[j]), (idx[j], idx[i])}
    got = {p for p in pairs if not g.is_antibody[p[0]]}
    assert got == expected


def test_sequence_separation(graph_1ahw):
    g = graph_1ahw
    same = g.res_chain[g.edge_index[0]] == g.res_chain[g.edge_index[1]]
    assert (g.edge_attr[~same, 1] == -1).all()
    assert (g.edge_attr[same, 1] >= 1).all()


def test_cross_edges_cdr_bipartite(graph_1ahw):
    g = graph_1ahw
    n_cdr, n_ag = int((g.cdr > 0).sum()), int((~g.is_antibody).sum())
    assert g.cross_edge_index.shape == (2, 2 * n_cdr * n_ag)
    src, dst = g.cross_edge_index
    assert (g.is_antibody[src] != g.is_antibody[dst]).all()


def test_cross_edges_radius_and_none(complex_1ahw):
    g = graph_from_complex(complex_1ahw, FeatureConfig(cross_edges="radius", cross_radius_angstrom=8.0,
                                                       allow_bound_pose=True))
    assert g.cross_edge_index.shape[1] > 0 and (g.cross_edge_attr[:, 0] <= 8.0 + 1e-4).all()
    assert graph_from_complex(complex_1ahw, FeatureConfig(cross_edges="none")).cross_edge_index.shape == (2, 0)


def test_knn_edges_small_inputs():
    assert knn_edges(np.zeros((1, 3)), 15, 10.0).shape == (2, 0)
    e = knn_edges(np.array([[0, 0, 0], [1, 0, 0], [50, 0, 0]], dtype=float), 15, 10.0)
    assert {tuple(p) for p in e.T} == {(0, 1), (1, 0)}


def test_knn_edges_equal_brute_force_sorted_and_unique():
    """Every pair where one point is among the other's k nearest within the radius, both ways, once each, sorted by
    (source, target); random points dense enough that many neighbourhoods are mutual and some are cut by the radius."""
    rng = np.random.default_rng(0)
    points = rng.random((300, 3)) * 30.0
    k, radius = 15, 6.0
    dist = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    want = {(i, int(j)) for i in range(len(points)) for j in nearest[i] if dist[i, j] <= radius}
    want |= {(j, i) for i, j in want}
    e = knn_edges(points, k, radius)
    assert e.dtype == np.int64 and e.shape == (2, len(want))
    assert {tuple(p) for p in e.T.tolist()} == want
    order = np.lexsort((e[1], e[0]))
    assert (order == np.arange(e.shape[1])).all()


def test_options_change_graph(complex_1ahw, graph_1ahw):
    g = graph_from_complex(complex_1ahw, dataclasses.replace(FeatureConfig(), knn_k=5, edge_coordinates="centroid"))
    assert g.edge_index.shape[1] < graph_1ahw.edge_index.shape[1]


def test_single_domain_antibody():
    """A nanobody-like complex: the sample's light chain dropped from the roles."""
    from absites.structure.complex import ChainRoles

    e = SAMPLE["1ahw_BA_C"]
    c = load_complex(e.path, ChainRoles(e.roles.heavy, None, e.roles.antigen))
    g = graph_from_complex(c, FeatureConfig())
    assert set(g.res_chain) == {"B", "C"}
    assert set(np.unique(g.cdr[g.cdr > 0])) == {1, 2, 3}  # H1-H3 only
    assert g.y[g.is_antibody].sum() > 0 and g.y[~g.is_antibody].sum() > 0
