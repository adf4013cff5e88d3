"""Per-protein surface records: mesh, vertex features and labels, spectral operators.

Vertex features (names from :func:`vertex_feature_names`): the residue features
of the vertex's residue (:data:`absites.graph.build.FEATURE_NAMES`), then the
geometric ones: outward normal, mean and Gaussian curvature, HKS and WKS. Only
the geometric part is stored; residue features are joined on load
(:meth:`ProteinSurface.vertex_features`), as they are cheap and already in the
graph record.

Curvatures: mean curvature ``H = ½ ⟨(L x) / m, n⟩`` from the cotan Laplacian
(``L`` positive semi-definite, so ``L x / m = 2 H n``; ``H = 1/R`` on a sphere);
Gaussian curvature ``K`` = angle defect / vertex area (``1/R²`` on a sphere).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp

from absites.config import SurfaceConfig
from absites.errors import SurfaceError
from absites.graph.build import FEATURE_NAMES, ResidueGraph
from absites.structure.complex import Complex
from absites.structure.labels import atom_partner_distance, vertex_labels
from absites.surface.spectral import hks, point_cloud_operators, spectral_operators, wks


def geometric_feature_names(cfg: SurfaceConfig) -> tuple[str, ...]:
    return (
        ("normal_x", "normal_y", "normal_z", "mean_curvature", "gaussian_curvature")
        + tuple(f"hks_{i}" for i in range(cfg.hks_scales))
        + tuple(f"wks_{i}" for i in range(cfg.wks_energies))
    )


def vertex_feature_names(cfg: SurfaceConfig) -> tuple[str, ...]:
    return FEATURE_NAMES + geometric_feature_names(cfg)


def curvatures(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray,
               laplacian: sp.spmatrix, mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Gaussian curvature per vertex (1/Å and 1/Å²). Shapes ``(V,)``."""
    import trimesh  # here: reading a surface record (a predict worker, a training process) needs no mesh library

    mean = 0.5 * ((laplacian @ vertices) / mass[:, None] * normals).sum(axis=1)
    defects = trimesh.Trimesh(vertices, faces, process=False).vertex_defects
    return mean, defects / mass


@dataclass(frozen=True, eq=False)
class ProteinSurface:
    """The surface of one protein of a complex (a cached record).

    Shapes:
        vertices, normals: ``(V, 3)`` float32. faces: ``(F, 3)`` int32.
        vertex_residue: ``(V,)`` int32 index into the complex's residues (graph order).
        geom: ``(V, G)`` float32 geometric vertex features. y: ``(V,)`` float32 vertex labels.
        mass: ``(V,)``; evals: ``(k,)``; evecs: ``(V, k)`` float32.
        grad_x / grad_y as COO triplets: ``grad_rows``, ``grad_cols`` int32 and
        ``grad_x_vals``, ``grad_y_vals`` float32 (same sparsity pattern).
        buried_interface: ``(B,)`` int64 binding residues of this protein with no vertex.
    """

    complex_id: str
    protein: str  # antibody | antigen
    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    vertex_residue: np.ndarray
    geom: np.ndarray
    y: np.ndarray
    mass: np.ndarray
    evals: np.ndarray
    evecs: np.ndarray
    grad_rows: np.ndarray
    grad_cols: np.ndarray
    grad_x_vals: np.ndarray
    grad_y_vals: np.ndarray
    buried_interface: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def vertex_features(self, graph: ResidueGraph) -> np.ndarray:
        """Residue features of each vertex's residue joined to the geometric ones. Shape ``(V, F + G)``."""
        return np.concatenate([graph.x[self.vertex_residue], self.geom], axis=1)

    def grad_matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        n = self.n_vertices
        make = lambda v: sp.csr_matrix((v, (self.grad_rows, self.grad_cols)), shape=(n, n))  # noqa: E731
        return make(self.grad_x_vals), make(self.grad_y_vals)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> ProteinSurface:
        values = {f.name: arrays[prefix + f.name] for f in fields(cls)}
        values["complex_id"], values["protein"] = str(values["complex_id"]), str(values["protein"])
        return cls(**values)


def protein_surface(complex_: Complex, graph: ResidueGraph, protein: str, cfg: SurfaceConfig,
                    cutoff_angstrom: float, atom_distance: np.ndarray | None = None) -> ProteinSurface:
    """Mesh, features, labels and operators of the antibody or the antigen of ``complex_``."""
    from absites.surface.mesh import molecular_surface  # trimesh: imported where meshes are made

    s = complex_.structure
    res_mask = complex_.is_antibody if protein == "antibody" else complex_.is_antigen
    atom_idx = np.flatnonzero(res_mask[s.atom_residue])
    try:
        mesh = molecular_surface(s.atom_coords[atom_idx], s.atom_elements[atom_idx], s.atom_residue[atom_idx],
                                 cfg.grid_angstrom, cfg.probe_angstrom, cfg.target_vertices, cfg.marching_step)
    except SurfaceError as exc:  # name the protein: the mesh only sees atoms
        chains = ", ".join(sorted(set(s.res_chain[res_mask].tolist()))) or "none"
        raise SurfaceError(f"{complex_.complex_id}: the {protein} (chain(s) {chains}): {exc}") from None
    ops = spectral_operators(mesh.vertices, mesh.faces, mesh.normals, cfg.k_eig)
    mean_c, gauss_c = curvatures(mesh.vertices, mesh.faces, mesh.normals, ops.laplacian, ops.mass)
    if cfg.operators == "point_cloud":  # DiffusionNet on the vertices as a point cloud
        ops = point_cloud_operators(mesh.vertices, mesh.normals, cfg.k_eig)
    descriptors = [hks(ops.evals, ops.evecs, cfg.hks_scales), wks(ops.evals, ops.evecs, cfg.wks_energies)]
    geom = np.concatenate([mesh.normals, mean_c[:, None], gauss_c[:, None], *descriptors], axis=1)
    if atom_distance is None:
        atom_distance = atom_partner_distance(complex_, cutoff_angstrom)
    vertex_atom = atom_idx[mesh.vertex_atom]
    y = vertex_labels(vertex_atom, atom_distance, graph.y.astype(bool), s.atom_residue, cutoff_angstrom)
    binding = np.flatnonzero(res_mask & graph.y.astype(bool))
    buried = np.setdiff1d(binding, np.unique(mesh.vertex_residue))
    gx, gy = ops.grad_x.tocoo(), ops.grad_y.tocoo()  # built on one pattern (gradient_operators)
    if not (np.array_equal(gx.row, gy.row) and np.array_equal(gx.col, gy.col)):
        raise AssertionError("grad_x and grad_y sparsity patterns differ")
    return ProteinSurface(
        complex_id=complex_.complex_id,
        protein=protein,
        vertices=mesh.vertices.astype(np.float32),
        faces=mesh.faces.astype(np.int32),
        normals=mesh.normals.astype(np.float32),
        vertex_residue=mesh.vertex_residue.astype(np.int32),
        geom=geom.astype(np.float32),
        y=y.astype(np.float32),
        mass=ops.mass.astype(np.float32),
        evals=ops.evals.astype(np.float32),
        evecs=ops.evecs.astype(np.float32),
        grad_rows=gx.row.astype(np.int32),
        grad_cols=gx.col.astype(np.int32),
        grad_x_vals=gx.data.astype(np.float32),
        grad_y_vals=gy.data.astype(np.float32),
        buried_interface=buried.astype(np.int64),
    )


def complex_surfaces(complex_: Complex, graph: ResidueGraph, cfg: SurfaceConfig,
                     cutoff_angstrom: float) -> tuple[ProteinSurface, ProteinSurface]:
    """Antibody and antigen surfaces, each from its own atoms in the bound conformation."""
    distance = atom_partner_distance(complex_, cutoff_angstrom)
    return tuple(protein_surface(complex_, graph, p, cfg, cutoff_angstrom, distance)  # type: ignore[return-value]
                 for p in ("antibody", "antigen"))
