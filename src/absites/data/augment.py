"""Perturbed copies of complexes: Gaussian noise on every atom, labels of the clean structure.

Used two ways: to test trained models on slightly wrong structures (``absites robustness``) and to
train models that hold on unbound or modelled inputs (``coord_noise`` in a training config: one extra
noisy copy of every training complex per σ). Everything downstream of the coordinates — relative SASA,
kNN edges and distances, surfaces and their spectra — is rebuilt from the noisy atoms; numbering
(CDRs) and labels are those of the clean structure. The draw is fixed per (complex, σ, seed), so the
copies are cached like any record and shared by every run that asks for them.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from pathlib import Path

import numpy as np

from absites.config import FeatureConfig, SurfaceConfig
from absites.data.cache import SURFACE_RECORD_VERSION, RecordCache, file_digest, record_key
from absites.data.index import ComplexEntry
from absites.errors import AbsitesError
from absites.graph.build import ResidueGraph, graph_from_complex
from absites.structure.complex import load_complex
from absites.surface.build import ProteinSurface, complex_surfaces

log = logging.getLogger(__name__)


def perturb(complex_, sigma: float, seed: int):
    """A copy of ``complex_`` with N(0, σ²) added to every atom coordinate (Å)."""
    rng = np.random.default_rng(seed)
    coords = complex_.structure.atom_coords
    noisy = (coords + rng.normal(0.0, sigma, coords.shape)).astype(coords.dtype)
    return dataclasses.replace(complex_, structure=dataclasses.replace(complex_.structure, atom_coords=noisy))


def noisy_id(complex_id: str, sigma: float) -> str:
    return f"{complex_id}~noise{sigma:g}"


def noisy_records(entry: ComplexEntry, features: FeatureConfig, sigma: float, seed: int = 0,
                  surfaces: dict[str, SurfaceConfig] | None = None, rename: bool = False):
    """(graph, {surface name: (ab, ag)}) of one noisy copy of ``entry``.

    ``rename``: give the copy its own complex id (``<id>~noise<σ>``), for training beside the clean one.

    Raises:
        AbsitesError: the entry cannot be prepared, or noise changed its residue count.
    """
    cid = noisy_id(entry.complex_id, sigma) if rename else entry.complex_id
    clean_complex = load_complex(entry.path, entry.roles, cid)
    clean = graph_from_complex(clean_complex, features)
    draw = zlib.crc32(f"{entry.complex_id}:{sigma}:{seed}".encode())
    noisy_complex = perturb(clean_complex, sigma, draw)
    noisy = graph_from_complex(noisy_complex, features, require_contact=False)
    if noisy.num_nodes != clean.num_nodes:
        raise AbsitesError(f"{entry.complex_id}: residue count changed under noise")
    noisy = dataclasses.replace(noisy, y=clean.y)  # labels of the true structure
    surf = {name: complex_surfaces(noisy_complex, noisy, cfg, features.contact_cutoff_angstrom)
            for name, cfg in (surfaces or {}).items()}
    return noisy, surf


def _cached_copy(entry: ComplexEntry, features: FeatureConfig, sigma: float, seed: int,
                 surface: SurfaceConfig | None, cache_root: str):
    """(graph, surfaces or None, reason) of one training copy, from the cache when there."""
    try:
        params = {"roles": entry.roles.key(), "complex_id": entry.complex_id, **features.as_dict(),
                  "noise": sigma, "noise_seed": seed, "surface": surface.as_dict() if surface else None}
        key = record_key(file_digest(entry.path), params, SURFACE_RECORD_VERSION)
        cache = RecordCache(cache_root, namespace="noisy")
        if cache.status(key) == "ok":
            arrays = cache.load(key)
            graph = ResidueGraph.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("g_")})
            surf = (ProteinSurface.from_arrays(arrays, "ab_"), ProteinSurface.from_arrays(arrays, "ag_")) if surface else None
            return graph, surf, ""
        graph, surfs = noisy_records(entry, features, sigma, seed, {"s": surface} if surface else None, rename=True)
        surf = surfs.get("s")
        arrays = {f"g_{k}": v for k, v in graph.to_arrays().items()}
        if surf:
            arrays.update({**surf[0].to_arrays("ab_"), **surf[1].to_arrays("ag_")})
        cache.save(key, arrays)
        return graph, surf, ""
    except AbsitesError as exc:
        return None, None, f"{entry.complex_id} σ={sigma}: {exc}"


def noisy_training_copies(entries: list[ComplexEntry], features: FeatureConfig, sigmas: tuple[float, ...],
                          cache_root: str | Path, surface: SurfaceConfig | None = None, workers: int = 1,
                          seed: int = 0):
    """One noisy copy of every entry per σ (cached): (graphs, {complex id: surfaces} or None, skipped)."""
    from joblib import Parallel, delayed

    jobs = [(e, s) for s in sigmas for e in entries]
    if workers > 1:
        out = Parallel(n_jobs=workers)(delayed(_cached_copy)(e, features, s, seed, surface, str(cache_root))
                                       for e, s in jobs)
    else:
        out = [_cached_copy(e, features, s, seed, surface, str(cache_root)) for e, s in jobs]
    graphs = [g for g, _, why in out if not why]
    surfaces = {g.complex_id: s for g, s, why in out if not why} if surface else None
    skipped = [why for _, _, why in out if why]
    return graphs, surfaces, skipped
