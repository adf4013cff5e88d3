"""Spectral operators on analytic shapes and invariance of descriptors on a protein mesh."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from absites.structure.complex import load_complex
from absites.surface.build import curvatures
from absites.surface.mesh import molecular_surface
from absites.surface.spectral import (
    SpectralError,
    eigenpairs,
    gradient_operators,
    hks,
    laplacian_and_mass,
    mesh_edges,
    point_cloud_operators,
    spectral_operators,
    tangent_frames,
    wks,
)
from conftest import SAMPLE

# Laplace-Beltrami on the unit sphere: eigenvalues l(l+1) with multiplicity 2l+1
SPHERE_EVALS = np.repeat([0.0, 2.0, 6.0, 12.0], [1, 3, 5, 7])


@pytest.fixture(scope="module")
def unit_sphere():
    return trimesh.creation.icosphere(subdivisions=5)  # 10242 vertices


def test_unit_sphere_eigenvalues(unit_sphere):
    L, mass = laplacian_and_mass(unit_sphere.vertices, unit_sphere.faces)
    evals, evecs = eigenpairs(L, mass, k=16)
    assert evals[0] == pytest.approx(0, abs=1e-8)
    np.testing.assert_allclose(evals[1:], SPHERE_EVALS[1:], rtol=0.02)
    np.testing.assert_allclose(mass.sum(), 4 * np.pi, rtol=0.01)
    np.testing.assert_allclose(evecs.T @ (mass[:, None] * evecs), np.eye(16), atol=1e-6)


def test_eigenpairs_are_reproducible_and_keep_the_whole_cluster(unit_sphere):
    # k = 16 cuts right after the sphere's 7-fold l = 3 cluster: every member must be there, every time
    L, mass = laplacian_and_mass(unit_sphere.vertices, unit_sphere.faces)
    first, second = eigenpairs(L, mass, k=16)[0], eigenpairs(L, mass, k=16)[0]
    np.testing.assert_array_equal(first, second)
    assert (np.abs(first[9:] - 12.0) < 0.25).sum() == 7


def test_eigenpairs_solve_the_generalised_problem_of_an_uneven_mesh():
    """The solver works on M^-1/2 L M^-1/2: on a mesh whose vertex masses differ by orders of magnitude its
    pairs must still be those of L x = λ M x (a dense generalised solve), M-orthonormal."""
    from scipy.linalg import eigh

    mesh = trimesh.creation.icosphere(subdivisions=2)  # 162 vertices
    v = mesh.vertices * np.array([1.0, 2.0, 0.5]) * (1 + 0.3 * np.sin(3 * mesh.vertices[:, :1]))  # warped
    L, mass = laplacian_and_mass(v, mesh.faces)
    assert mass.max() / mass.min() > 10
    evals, evecs = eigenpairs(L, mass, k=12)
    want, vecs = eigh(L.toarray(), np.diag(mass))
    np.testing.assert_allclose(evals[1:], want[1:12], rtol=1e-8)
    np.testing.assert_allclose(L @ evecs, mass[:, None] * evecs * evals, atol=1e-8)
    np.testing.assert_allclose(evecs.T @ (mass[:, None] * evecs), np.eye(12), atol=1e-8)
    with pytest.raises(SpectralError, match="1 vertices of zero mass"):
        eigenpairs(L, np.where(np.arange(len(mass)) == 5, 0.0, mass), k=12)


def test_point_cloud_sphere_eigenvalues(unit_sphere):
    ops = point_cloud_operators(unit_sphere.vertices, unit_sphere.vertex_normals, k=16)
    np.testing.assert_allclose(ops.evals[1:], SPHERE_EVALS[1:], rtol=0.05)


def test_sphere_curvatures(unit_sphere):
    r = 3.0
    v = unit_sphere.vertices * r
    L, mass = laplacian_and_mass(v, unit_sphere.faces)
    mean, gauss = curvatures(v, unit_sphere.faces, unit_sphere.vertex_normals, L, mass)
    np.testing.assert_allclose(np.median(mean), 1 / r, rtol=0.01)
    np.testing.assert_allclose(np.median(gauss), 1 / r**2, rtol=0.01)


def test_gradient_exact_on_plane():
    grid = trimesh.creation.box().subdivide().subdivide()  # use one flat face set: the top of a box
    top = grid.vertices[:, 2] > 0.49
    keep = np.all(top[grid.faces], axis=1)
    plane = trimesh.Trimesh(grid.vertices, grid.faces[keep], process=True)
    normals = np.tile([0.0, 0.0, 1.0], (len(plane.vertices), 1))
    frames = tangent_frames(normals)
    gx, gy = gradient_operators(plane.vertices, mesh_edges(plane.faces), frames)
    a = np.array([0.7, -1.3, 0.0])
    f = plane.vertices @ a
    np.testing.assert_allclose(gx @ f, frames[:, 0] @ a, atol=1e-6)
    np.testing.assert_allclose(gy @ f, frames[:, 1] @ a, atol=1e-6)


def test_two_components_rejected(unit_sphere):
    two = trimesh.util.concatenate([unit_sphere, unit_sphere.copy().apply_translation([5, 0, 0])])
    L, mass = laplacian_and_mass(two.vertices, two.faces)
    with pytest.raises(SpectralError, match="exactly one zero eigenvalue, found 2"):
        eigenpairs(L, mass, k=8)


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_hks_wks_invariant_under_rigid_motion():
    e = SAMPLE["1ahw_BA_C"]
    c = load_complex(e.path, e.roles)
    s = c.structure
    sel = c.is_antigen[s.atom_residue]
    mesh = molecular_surface(s.atom_coords[sel], s.atom_elements[sel], s.atom_residue[sel])
    rot, shift = _rotation(0), np.array([12.0, -40.0, 7.5])
    moved = mesh.vertices @ rot.T + shift
    a = spectral_operators(mesh.vertices, mesh.faces, mesh.normals, k=64)
    b = spectral_operators(moved, mesh.faces, mesh.normals @ rot.T, k=64)
    np.testing.assert_allclose(b.evals, a.evals, rtol=1e-6, atol=1e-12)
    for fn in (hks, wks):
        da, db = fn(a.evals, a.evecs), fn(b.evals, b.evecs)
        assert da.shape == (mesh.n_vertices, 16)
        np.testing.assert_allclose(db, da, rtol=1e-5, atol=1e-5 * np.abs(da).max())


def test_decimation_reaches_target():
    e = SAMPLE["1ahw_BA_C"]
    c = load_complex(e.path, e.roles)
    s = c.structure
    sel = c.is_antigen[s.atom_residue]
    mesh = molecular_surface(s.atom_coords[sel], s.atom_elements[sel], s.atom_residue[sel], target_vertices=3000)
    assert 2500 <= mesh.n_vertices <= 3100
    assert mesh.vertex_residue.max() < c.structure.n_residues


@pytest.mark.parametrize("complex_id", ["1ahw_BA_C", "1kb5_HL_AB"])
def test_sampled_distance_field_equals_the_full_transform_where_marching_cubes_reads_it(complex_id):
    """With marching_step 2 the field is computed at every 2nd voxel only (k-d tree to the boundary voxels):
    the same distances as the full Euclidean distance transform there, up to a cap above any cube the
    surface passes through, so marching cubes makes the same mesh."""
    from skimage.measure import marching_cubes

    from absites.structure.sasa import atom_radii
    from absites.surface.mesh import _ses_field

    e = SAMPLE[complex_id]
    c = load_complex(e.path, e.roles)
    s = c.structure
    sel = c.is_antibody[s.atom_residue]
    coords, radii = s.atom_coords[sel], atom_radii(s.atom_elements[sel])
    full, origin = _ses_field(coords, radii, 1.25, 1.4, marching_step=1)
    sampled, origin2 = _ses_field(coords, radii, 1.25, 1.4, marching_step=2)
    np.testing.assert_array_equal(origin2, origin)
    reference = full[::2, ::2, ::2]
    assert sampled.shape == reference.shape
    cap = sampled.max()
    assert 1.4 + 2 * 1.25 * 3**0.5 <= cap < reference.max()  # capped, and above every surface cube's corners
    below = reference < cap
    np.testing.assert_array_equal(sampled[below], reference[below])
    assert (sampled[~below] == cap).all()
    v1, f1, _, _ = marching_cubes(full, level=1.4, spacing=(1.25,) * 3, step_size=2)
    v2, f2, _, _ = marching_cubes(sampled, level=1.4, spacing=(2.5,) * 3)
    np.testing.assert_array_equal(f2, f1)
    np.testing.assert_allclose(v2, v1, rtol=0, atol=1e-9)
