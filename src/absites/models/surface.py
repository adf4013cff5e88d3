"""O-GEP surface networks: DiffusionNet and a PointNet-style network (PiNet), pooled to residues.

Both encode the antibody and the antigen surface separately (own weights), then,
as in the reference, each vertex gets the partner's global max-pooled feature
appended before the per-vertex head. Vertex logits are pooled to residues (mean,
as the reference; max as an option) through ``vertex_residue``; residues with no
vertex (buried) get a learned constant logit.

DiffusionNet (Sharp, Attaiki, Crane & Ovsjanikov 2022), written here: per block,
spectral diffusion ``Φ diag(exp(-λ t_c)) Φᵀ M x`` with a learned time per
channel, spatial-gradient features ``tanh(Re(conj(∇x) · A ∇x))`` from the
tangent-plane gradient operators, and a per-vertex MLP with a residual.

``fusion: cross_attention`` adds early antibody–antigen fusion inside the
encoder: after every DiffusionNet block (after the encoder for PointNet), vertex
features are mean-pooled to residues, the residues of each protein attend to
those of its partner (:class:`absites.models.fusion.ResidueCrossAttention`),
and the change is broadcast back to the vertices. The late partner vector stays.

Shapes: a :class:`SurfaceBatch` holds several meshes; vertex arrays are
concatenated and ``vertex_residue`` already indexes the residues of the whole
graph batch (offsets applied by :func:`collate_surfaces`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from absites.models.fusion import ResidueCrossAttention, check_fusion
from absites.models.layers import mlp, scatter


class _FixedSparseProduct(torch.autograd.Function):
    """``a @ x`` for a constant CSR ``a``; the backward applies the stored CSR transpose ``at``."""

    @staticmethod
    def forward(ctx, a: Tensor, at: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(at)
        return a @ x

    @staticmethod
    def backward(ctx, grad: Tensor):
        (at,) = ctx.saved_tensors
        return None, None, at @ grad


class SparseOperator:
    """A constant sparse matrix applied to dense features: ``op @ x`` differentiates with respect to ``x`` only.

    Kept in CSR together with its CSR transpose: on the CPU a CSR product is ~2.5x faster than torch's COO
    ``sparse.mm``, and the stored transpose makes the backward as fast as the forward (torch's own backward
    of a CSR product transposes the matrix at every step). Profiled in ``bench/RESULTS.md`` (issue 14).
    """

    def __init__(self, matrix: Tensor, transpose: Tensor):
        self.matrix, self.transpose = matrix, transpose

    @staticmethod
    def _csr(m) -> Tensor:
        m = m.tocsr()
        m.sort_indices()
        with warnings.catch_warnings():  # "CSR support is in beta": the product used here is long stable
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                           torch.from_numpy(m.indices.astype(np.int64)),
                                           torch.from_numpy(m.data.astype(np.float32)), m.shape,
                                           check_invariants=False)

    @classmethod
    def from_scipy(cls, m) -> SparseOperator:
        return cls(cls._csr(m), cls._csr(m.T))

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    def to(self, device) -> SparseOperator:
        return SparseOperator(self.matrix.to(device), self.transpose.to(device))

    def __matmul__(self, x: Tensor) -> Tensor:
        return _FixedSparseProduct.apply(self.matrix, self.transpose, x)


@dataclass
class MeshTensors:
    """One mesh's tensors (torch). ``vertex_residue`` is local to its complex until collated."""

    x: Tensor  # (V, D) vertex features
    pos: Tensor  # (V, 3)
    mass: Tensor  # (V,)
    evals: Tensor  # (k,)
    evecs: Tensor  # (V, k)
    gradient: SparseOperator  # (2V, V): rows [∇_X; ∇_Y] of the tangent-plane gradient
    vertex_residue: Tensor  # (V,) long
    is_antibody: bool

    def to(self, device) -> MeshTensors:
        return MeshTensors(*(getattr(self, f).to(device) for f in
                             ("x", "pos", "mass", "evals", "evecs", "gradient", "vertex_residue")),
                           self.is_antibody)


def mesh_tensors(surface, graph, max_eigs: int | None = None) -> MeshTensors:
    """Torch tensors of a :class:`absites.surface.build.ProteinSurface` with its graph's residue features."""
    gx, gy = surface.grad_matrices()
    k = max_eigs or surface.evals.shape[0]
    centred = surface.vertices - surface.vertices.mean(axis=0, keepdims=True)
    return MeshTensors(
        x=torch.from_numpy(surface.vertex_features(graph).astype(np.float32)),
        pos=torch.from_numpy(centred.astype(np.float32)),
        mass=torch.from_numpy(surface.mass.astype(np.float32)),
        evals=torch.from_numpy(surface.evals[:k].astype(np.float32)),
        evecs=torch.from_numpy(surface.evecs[:, :k].astype(np.float32)),
        gradient=SparseOperator.from_scipy(sp.vstack([gx, gy])),
        vertex_residue=torch.from_numpy(surface.vertex_residue.astype(np.int64)),
        is_antibody=surface.protein == "antibody",
    )


@dataclass
class SurfaceBatch:
    """Meshes of a batch of complexes, in complex order (antibody, antigen, antibody, antigen, ...)."""

    meshes: list[MeshTensors]
    complex_of_mesh: list[int]

    def to(self, device) -> SurfaceBatch:
        return SurfaceBatch([m.to(device) for m in self.meshes], self.complex_of_mesh)


def collate_surfaces(per_complex: list[tuple[MeshTensors, MeshTensors]], residues_per_complex: list[int]) -> SurfaceBatch:
    """Batch the surfaces of several complexes; ``vertex_residue`` is offset into the batch's residues.

    Args:
        residues_per_complex: residue count of each complex's graph, in batch order
            (PyG's ``Batch`` puts complex ``i``'s residues at ``sum(counts[:i])``).
    """
    offsets = np.concatenate([[0], np.cumsum(residues_per_complex)[:-1]])
    meshes, owner = [], []
    for c, (pair, off) in enumerate(zip(per_complex, offsets)):
        for m in pair:
            meshes.append(MeshTensors(m.x, m.pos, m.mass, m.evals, m.evecs, m.gradient,
                                      m.vertex_residue + int(off), m.is_antibody))
            owner.append(c)
    return SurfaceBatch(meshes, owner)


def pool_to_residues(vertex_logit: Tensor, vertex_residue: Tensor, n_residues: int, buried_logit: Tensor,
                     how: str = "mean") -> Tensor:
    """Vertex logits -> residue logits (mean or max); residues without vertices get ``buried_logit``.

    Pooled in float32 whatever the autocast dtype of the vertex logits (bfloat16 sums lose residues' means).
    """
    vertex_logit = vertex_logit.float()
    out = buried_logit.float().expand(n_residues).clone()
    if how not in ("mean", "max"):
        raise ValueError(f"unknown pooling {how!r}")
    has = torch.bincount(vertex_residue, minlength=n_residues) > 0
    pooled = scatter(vertex_logit, vertex_residue, n_residues, how)
    return torch.where(has, pooled, out)


class LearnedDiffusion(nn.Module):
    """Spectral heat diffusion with one learned time per channel."""

    def __init__(self, channels: int, init_time: float = 0.0):
        super().__init__()
        self.log_time = nn.Parameter(torch.full((channels,), init_time))

    def forward(self, x: Tensor, mass: Tensor, evals: Tensor, evecs: Tensor) -> Tensor:
        t = torch.exp(self.log_time) * 10.0  # Å² scale of protein surfaces
        coeffs = evecs.T @ (mass.unsqueeze(1) * x)  # (k, C)
        coeffs = coeffs * torch.exp(-evals.unsqueeze(1) * t.unsqueeze(0))
        return evecs @ coeffs


class SpatialGradientFeatures(nn.Module):
    """``tanh(Re(conj(g) · A g))`` per channel, with ``g = ∇_X x + i ∇_Y x`` and a learned complex ``A``."""

    def __init__(self, channels: int):
        super().__init__()
        self.a_re = nn.Linear(channels, channels, bias=False)
        self.a_im = nn.Linear(channels, channels, bias=False)

    def forward(self, gx: Tensor, gy: Tensor) -> Tensor:
        b_re = self.a_re(gx) - self.a_im(gy)
        b_im = self.a_re(gy) + self.a_im(gx)
        return torch.tanh(gx * b_re + gy * b_im)


class DiffusionNetBlock(nn.Module):
    def __init__(self, channels: int, dropout: float = 0.1):
        super().__init__()
        self.diffusion = LearnedDiffusion(channels)
        self.gradient = SpatialGradientFeatures(channels)
        self.mlp = mlp([3 * channels, channels, channels], dropout)

    def forward(self, x, mesh: MeshTensors):
        xd = self.diffusion(x, mesh.mass, mesh.evals, mesh.evecs)
        # sparse products in float32, outside autocast (which would cast only their dense operand to bf16)
        with torch.autocast(xd.device.type, enabled=False):
            gx, gy = (mesh.gradient @ xd.float()).chunk(2)
        return x + self.mlp(torch.cat([x, xd, self.gradient(gx, gy)], dim=1))


class DiffusionNetEncoder(nn.Module):
    def __init__(self, in_dim: int, width: int = 64, blocks: int = 3, dropout: float = 0.1):
        super().__init__()
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(DiffusionNetBlock(width, dropout) for _ in range(blocks))

    def forward(self, mesh: MeshTensors) -> Tensor:
        h = self.inp(mesh.x)
        for block in self.blocks:
            h = block(h, mesh)
        return h


class PointNetEncoder(nn.Module):
    """Shared per-point MLP, global max pool, concatenated back (PointNet segmentation style)."""

    def __init__(self, in_dim: int, width: int = 64, dropout: float = 0.1):
        super().__init__()
        self.local = mlp([in_dim + 3, width, width], dropout, final_act=True)
        self.glob = mlp([width, 2 * width, 2 * width], dropout, final_act=True)
        self.out = mlp([3 * width, width, width], dropout, final_act=True)

    def forward(self, mesh: MeshTensors) -> Tensor:
        h = self.local(torch.cat([mesh.x, mesh.pos / 20.0], dim=1))
        g = self.glob(h).max(dim=0, keepdim=True).values.expand(h.shape[0], -1)
        return self.out(torch.cat([h, g], dim=1))


class SurfaceNet(nn.Module):
    """Antibody / antigen surface encoders + partner exchange + vertex head + pooling to residues."""

    needs = ("surfaces", "n_residues", "is_antibody", "batch")  # = forward's parameters

    def __init__(self, in_dim: int, encoder: str = "diffusionnet", width: int = 64, blocks: int = 3,
                 dropout: float = 0.1, pooling: str = "mean", augment_rotation: bool = True, fusion: str = "late"):
        super().__init__()
        make = {
            "diffusionnet": lambda: DiffusionNetEncoder(in_dim, width, blocks, dropout),
            "pointnet": lambda: PointNetEncoder(in_dim, width, dropout),
        }[encoder]
        self.encoder_name = encoder
        self.enc_ab, self.enc_ag = make(), make()
        self.fusion = check_fusion(fusion)
        if fusion == "cross_attention":
            stages = blocks if encoder == "diffusionnet" else 1
            self.cross = nn.ModuleList(ResidueCrossAttention(width, 4, dropout) for _ in range(stages))
            self.cross_proj = nn.ModuleList(nn.Linear(width, width) for _ in range(stages))
        self.head = mlp([2 * width, width, 1], dropout)
        self.buried_logit = nn.Parameter(torch.tensor(-3.0))
        self.pooling = pooling
        self.augment_rotation = augment_rotation and encoder == "pointnet"

    def _rotate(self, mesh: MeshTensors) -> MeshTensors:
        q, _ = torch.linalg.qr(torch.randn(3, 3, device=mesh.pos.device))
        return MeshTensors(mesh.x, mesh.pos @ q, mesh.mass, mesh.evals, mesh.evecs, mesh.gradient,
                           mesh.vertex_residue, mesh.is_antibody)

    def _fuse(self, stage: int, feats: list[Tensor], meshes: list[MeshTensors], n_residues: int,
              is_antibody: Tensor, batch: Tensor) -> list[Tensor]:
        """Vertices -> residues (mean), cross-protein attention, change broadcast back to the vertices."""
        idx = torch.cat([m.vertex_residue for m in meshes])
        count = torch.bincount(idx, minlength=n_residues)
        res = scatter(torch.cat(feats).float(), idx, n_residues, "mean")  # float32 sums
        delta = self.cross_proj[stage](self.cross[stage](res, is_antibody, batch, valid=count > 0) - res)
        return [f + delta[m.vertex_residue] for f, m in zip(feats, meshes)]

    def _encode(self, meshes: list[MeshTensors], n_residues: int, is_antibody: Tensor | None,
                batch: Tensor | None) -> list[Tensor]:
        encoders = [self.enc_ab if m.is_antibody else self.enc_ag for m in meshes]
        if self.fusion == "late":
            return [enc(m) for enc, m in zip(encoders, meshes)]
        if is_antibody is None or batch is None:
            raise ValueError("fusion: cross_attention needs is_antibody and batch (residue -> complex)")
        if self.encoder_name == "pointnet":
            return self._fuse(0, [enc(m) for enc, m in zip(encoders, meshes)], meshes, n_residues, is_antibody, batch)
        feats = [enc.inp(m.x) for enc, m in zip(encoders, meshes)]
        for b in range(len(self.cross)):
            feats = [enc.blocks[b](f, m) for enc, f, m in zip(encoders, feats, meshes)]
            feats = self._fuse(b, feats, meshes, n_residues, is_antibody, batch)
        return feats

    def forward(self, surfaces: SurfaceBatch, n_residues: int, is_antibody: Tensor | None = None,
                batch: Tensor | None = None) -> Tensor:
        meshes = [self._rotate(m) if self.training and self.augment_rotation else m for m in surfaces.meshes]
        feats = self._encode(meshes, n_residues, is_antibody, batch)
        globals_ = [h.max(dim=0).values for h in feats]
        vertex_logits, vertex_res = [], []
        for i, (mesh, h) in enumerate(zip(surfaces.meshes, feats)):
            owner = surfaces.complex_of_mesh[i]
            partner = [j for j, c in enumerate(surfaces.complex_of_mesh) if c == owner and j != i]
            g = globals_[partner[0]] if partner else torch.zeros_like(globals_[i])
            vertex_logits.append(self.head(torch.cat([h, g.expand(h.shape[0], -1)], dim=1)).squeeze(1))
            vertex_res.append(mesh.vertex_residue)
        return pool_to_residues(torch.cat(vertex_logits), torch.cat(vertex_res), n_residues, self.buried_logit,
                                self.pooling)
