"""Surfaces of every sample complex, built once through ``prepare(surface_cfg=...)``."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from absites.config import FeatureConfig, SurfaceConfig, load_surface_config
from absites.data.records import load_graphs, load_surfaces
from absites.data.prepare import prepare, read_manifest
from absites.surface.build import vertex_feature_names
from absites.surface.export import write_ply
from conftest import SAMPLE


# The default (1 A) route in make test: the smallest sample complex (5 s; the others take 12-14 s each, and
# neither training nor predict uses this route by default). Every sample complex at that resolution, the largest
# (1bgx) and the two-chain antigens included, is the ``long`` test below (make test-all; ~2.5 min of 2 cores);
# the training default (fast) is tested on every sample complex in make test.
DEFAULT_ROUTE_IDS = ("1oaz_JN_B",)


def _prepare_all(root, cfg: SurfaceConfig, ids=tuple(SAMPLE)):
    manifest = root / "manifest.csv"
    results = prepare([SAMPLE[c] for c in ids], FeatureConfig(), root, workers=2, manifest_path=manifest,
                      progress=False, surface_cfg=cfg)
    graphs = {g.complex_id: g for g in load_graphs(manifest, root)}
    return root, manifest, results, graphs, load_surfaces(manifest, root)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The default surfaces (configs/surface/default.yaml: 1 A grid, 64 eigenpairs) of DEFAULT_ROUTE_IDS."""
    return _prepare_all(tmp_path_factory.mktemp("surface-cache"), SurfaceConfig(), DEFAULT_ROUTE_IDS)


@pytest.fixture(scope="module")
def prepared_all(tmp_path_factory):
    """The default surfaces of every sample complex."""
    return _prepare_all(tmp_path_factory.mktemp("surface-cache-all"), SurfaceConfig())


@pytest.fixture(scope="module")
def prepared_fast(tmp_path_factory):
    """The training-default surfaces (configs/surface/fast.yaml: 1.25 A field, marching cubes every 2nd voxel)."""
    return _prepare_all(tmp_path_factory.mktemp("surface-cache-fast"), load_surface_config("fast"))


@pytest.mark.slow
def test_default_route_builds_the_chosen_complexes(prepared):
    _, _, results, _, surfaces = prepared
    assert {r.complex_id: r.surface_status for r in results} == {c: "built" for c in DEFAULT_ROUTE_IDS}
    assert set(surfaces) == set(DEFAULT_ROUTE_IDS)
    for complex_id in DEFAULT_ROUTE_IDS:
        _check_surfaces(prepared, complex_id)


@pytest.mark.long
def test_default_route_on_every_sample_complex(prepared_all):
    _, _, results, _, surfaces = prepared_all
    assert {r.complex_id: r.surface_status for r in results} == {c: "built" for c in SAMPLE}
    assert set(surfaces) == set(SAMPLE)
    for complex_id in SAMPLE:
        _check_surfaces(prepared_all, complex_id)


@pytest.mark.parametrize("complex_id", sorted(SAMPLE))
def test_watertight_single_zero_mode_and_epitope_coverage(prepared_fast, complex_id):
    """Every sample complex on the training-default route."""
    _check_surfaces(prepared_fast, complex_id)


def _check_surfaces(prepared, complex_id):
    _, _, _, graphs, surfaces = prepared
    g = graphs[complex_id]
    for surf in surfaces[complex_id]:
        mesh = trimesh.Trimesh(surf.vertices, surf.faces, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert surf.evals[0] == pytest.approx(0.0, abs=1e-7) and surf.evals[1] > 1e-5
        assert np.isfinite(surf.geom).all()
    antigen = surfaces[complex_id][1]
    epitope = np.flatnonzero(g.y.astype(bool) & ~g.is_antibody.astype(bool))
    covered = np.unique(antigen.vertex_residue[antigen.y > 0])
    assert np.isin(epitope, covered).mean() >= 0.9


@pytest.mark.slow
def test_fast_route_is_coarse(prepared, prepared_fast):
    """The fast meshes hold ~2-4 k vertices per protein (median), several times fewer than the default ones,
    and keep the default's surface area to within ~10 % (coarser sampling cuts small crevices)."""
    fine = prepared[4]  # DEFAULT_ROUTE_IDS
    coarse = prepared_fast[4]  # every sample complex
    counts = [s.n_vertices for pair in coarse.values() for s in pair]
    assert 2000 <= np.median(counts) <= 4000
    ratio = [c.n_vertices / f.n_vertices for cid in fine for c, f in zip(coarse[cid], fine[cid])]
    assert max(ratio) < 0.25
    area = lambda s: trimesh.Trimesh(s.vertices, s.faces, process=False).area  # noqa: E731
    area_ratio = [area(c) / area(f) for cid in fine for c, f in zip(coarse[cid], fine[cid])]
    assert 0.85 <= np.median(area_ratio) <= 1.05


def test_vertex_maps_and_features(prepared_fast):
    _, _, _, graphs, surfaces = prepared_fast
    g = graphs["1ahw_BA_C"]
    ab, ag = surfaces["1ahw_BA_C"]
    assert g.is_antibody[ab.vertex_residue].all() and not g.is_antibody[ag.vertex_residue].any()
    x = ag.vertex_features(g)
    assert x.shape == (ag.n_vertices, len(vertex_feature_names(load_surface_config("fast"))))
    # a vertex is labelled only where its residue binds
    assert g.y[ag.vertex_residue[ag.y > 0]].all()
    gx, gy = ag.grad_matrices()
    assert gx.shape == (ag.n_vertices, ag.n_vertices) and gx.nnz == gy.nnz


def test_ply_export_round_trip(prepared_fast, tmp_path):
    _, _, _, _, surfaces = prepared_fast
    ag = surfaces["1ahw_BA_C"][1]
    prob = np.linspace(0, 1, ag.n_vertices)
    path = write_ply(ag, tmp_path / "ag.ply", {"probability": prob})
    back = trimesh.load(path, process=False)
    raw = back.metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_allclose(raw["probability"], prob, rtol=1e-6)
    np.testing.assert_array_equal(raw["label"], ag.y)
    assert len(back.vertices) == ag.n_vertices


def test_rerun_reuses_surfaces(prepared_fast):
    root, manifest, results, _, _ = prepared_fast
    first = {r["complex_id"]: r for r in read_manifest(manifest)}
    again = prepare([SAMPLE["1ahw_BA_C"]], FeatureConfig(), root, progress=False,
                    surface_cfg=load_surface_config("fast"))
    assert again[0].surface_status == "cached"
    assert again[0].n_vertices == int(first["1ahw_BA_C"]["n_vertices"])


def test_cli_export_ply(prepared_fast, tmp_path):
    from click.testing import CliRunner

    from absites.cli import cli

    root, manifest, *_ = prepared_fast
    result = CliRunner().invoke(cli, ["export-ply", "--manifest", str(manifest), "--cache-dir", str(root),
                                      "--ids", "1ahw_BA_C", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.ply")) == ["1ahw_BA_C_antibody.ply", "1ahw_BA_C_antigen.ply"]
