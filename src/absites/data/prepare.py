"""Batch preparation: index entries -> cached residue-graph records, in parallel.

Each entry is parsed, numbered, labelled and featurised in a worker process
(joblib: local processes, or a Dask cluster through joblib's Dask backend); with a surface config, its antibody and antigen surfaces (meshes,
spectral operators, descriptors) are built and cached too. A failing entry is recorded in the manifest with its reason and the
others carry on; a re-run reuses every verified record and rebuilds corrupt ones.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from joblib import Parallel, delayed
from tqdm import tqdm

from absites.config import FeatureConfig, SurfaceConfig
from absites.data.cache import SURFACE_RECORD_VERSION, RecordCache, file_digest, record_key
from absites.data.index import ComplexEntry
from absites.errors import AbsitesError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("complex_id", "status", "reason", "key", "record", "n_residues", "seconds",
                    "surface_status", "surface_key", "surface_record", "n_vertices", "buried_interface")


@dataclass(frozen=True)
class PrepareResult:
    complex_id: str
    status: str  # built | cached | rebuilt | skipped | failed
    reason: str = ""
    key: str = ""
    record: str = ""
    n_residues: int = 0
    seconds: float = 0.0
    surface_status: str = ""  # "" (not asked) | built | cached | rebuilt | skipped | failed
    surface_key: str = ""
    surface_record: str = ""
    n_vertices: int = 0  # antibody + antigen
    buried_interface: str = ""  # binding residues no surface vertex represents, "chain:resseq" list

    @property
    def ok(self) -> bool:
        return self.status in ("built", "cached", "rebuilt")


def entry_key(entry: ComplexEntry, cfg: FeatureConfig, surface_cfg: SurfaceConfig | None = None) -> str:
    params = {"roles": entry.roles.key(), "complex_id": entry.complex_id, **cfg.as_dict()}
    if surface_cfg is not None:
        params["surface"] = surface_cfg.as_dict()
        return record_key(file_digest(entry.path), params, SURFACE_RECORD_VERSION)
    return record_key(file_digest(entry.path), params)


def _surface_step(entry, cfg, surface_cfg, cache_root, graph, complex_) -> dict:
    """Build (or reuse) the surface record; returns the PrepareResult surface fields."""
    from absites.structure.complex import load_complex
    from absites.surface.build import complex_surfaces

    cache = RecordCache(cache_root, namespace="surfaces")
    key = entry_key(entry, cfg, surface_cfg)
    state = cache.status(key)
    if state == "ok":
        return {"surface_status": "cached", "surface_key": key, "surface_record": str(cache.path(key)),
                **cache.meta(key)}
    try:
        complex_ = complex_ or load_complex(entry.path, entry.roles, entry.complex_id)
        surfaces = complex_surfaces(complex_, graph, surface_cfg, cfg.contact_cutoff_angstrom)
    except AbsitesError as exc:
        return {"surface_status": "skipped", "reason": f"surface: {exc}"}
    arrays = {**surfaces[0].to_arrays("ab_"), **surfaces[1].to_arrays("ag_")}
    ids = graph.res_chain.astype(str)
    buried = [f"{ids[i]}:{graph.res_seqnum[i]}{graph.res_icode[i]}" for s in surfaces for i in s.buried_interface]
    meta = {"n_vertices": sum(s.n_vertices for s in surfaces), "buried_interface": " ".join(buried)}
    path = cache.save(key, arrays, meta)
    return {"surface_status": "rebuilt" if state == "corrupt" else "built", "surface_key": key,
            "surface_record": str(path), **meta}


def prepare_entry(entry: ComplexEntry, cfg: FeatureConfig, cache_root: str | Path,
                  surface_cfg: SurfaceConfig | None = None) -> PrepareResult:
    """Build (or reuse) the graph record (and the surface record when ``surface_cfg``) of one entry.

    Never raises for bad input: the result says what was skipped and why.
    """
    from absites.graph.build import ResidueGraph, graph_from_complex
    from absites.structure.complex import load_complex

    start = time.perf_counter()
    cache = RecordCache(cache_root)
    try:
        if not entry.path.exists():
            raise AbsitesError(f"{entry.path}: structure file not found")
        key = entry_key(entry, cfg)
        state = cache.status(key)
        complex_ = None
        if state == "ok":
            status = "cached"
            graph = ResidueGraph.from_arrays(cache.load(key)) if surface_cfg is not None else None
            n_res = graph.num_nodes if graph is not None else 0
        else:
            status = "rebuilt" if state == "corrupt" else "built"
            complex_ = load_complex(entry.path, entry.roles, entry.complex_id)
            graph = graph_from_complex(complex_, cfg)
            cache.save(key, graph.to_arrays())
            n_res = graph.num_nodes
        extra = _surface_step(entry, cfg, surface_cfg, cache_root, graph, complex_) if surface_cfg else {}
        return PrepareResult(entry.complex_id, status, key=key, record=str(cache.path(key)), n_residues=n_res,
                             seconds=time.perf_counter() - start, **extra)
    except AbsitesError as exc:
        return PrepareResult(entry.complex_id, "skipped", reason=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # a bug or a library failure: recorded, never loses the batch
        log.exception("unexpected failure on %s", entry.complex_id)
        return PrepareResult(entry.complex_id, "failed", reason=f"{type(exc).__name__}: {exc}",
                             seconds=time.perf_counter() - start)


def write_manifest(results: list[PrepareResult], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")  # per process: benchmark jobs share manifests
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_COLUMNS)
        for r in sorted(results, key=lambda r: r.complex_id):
            writer.writerow([r.complex_id, r.status, r.reason, r.key, r.record, r.n_residues, f"{r.seconds:.3f}",
                             r.surface_status, r.surface_key, r.surface_record, r.n_vertices, r.buried_interface])
    tmp.replace(path)
    return path


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def prepare(
    entries: list[ComplexEntry],
    cfg: FeatureConfig,
    cache_root: str | Path,
    workers: int = 1,
    manifest_path: str | Path | None = None,
    progress: bool = True,
    surface_cfg: SurfaceConfig | None = None,
    backend: str = "local",
    scheduler: str | None = None,
) -> list[PrepareResult]:
    """Prepare every entry, write the manifest, return the results.

    Args:
        workers: local processes (joblib's loky backend); 1 runs in this process.
        backend: ``local`` or ``dask`` (joblib's Dask backend on the cluster at
            ``scheduler``, e.g. ``tcp://10.0.0.5:8786``; needs ``pip install absites[dask]``).
            The cache folder must be shared by the workers (a network file system).
    """
    for namespace in ("graphs", "surfaces"):
        removed = RecordCache(cache_root, namespace).clean_stale()
        if removed:
            log.info("removed %d stale temporary file(s) from %s", removed, Path(cache_root) / namespace)
    jobs = (delayed(prepare_entry)(e, cfg, str(cache_root), surface_cfg) for e in entries)
    results: list[PrepareResult] = []

    def collect(stream) -> None:
        for result in tqdm(stream, total=len(entries), desc="prepare", unit="complex", disable=not progress):
            results.append(result)
            if not result.ok or result.surface_status in ("skipped", "failed"):
                log.warning("%s %s: %s", result.status, result.complex_id, result.reason)

    if backend == "dask":
        try:
            from dask.distributed import Client
            from joblib import parallel_backend
        except ImportError:
            raise AbsitesError("--backend dask needs dask[distributed]: pip install 'absites[dask]'") from None
        if not scheduler:
            raise AbsitesError("--backend dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise AbsitesError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            with parallel_backend("dask"):  # registers joblib's Dask backend on this client
                collect(Parallel(return_as="generator_unordered")(jobs))
        finally:
            client.close()
    elif backend != "local":
        raise AbsitesError(f"unknown backend {backend!r}: local or dask")
    elif workers == 1:
        collect(prepare_entry(e, cfg, cache_root, surface_cfg) for e in entries)
    else:
        collect(Parallel(n_jobs=workers, return_as="generator_unordered")(jobs))
    if manifest_path is not None:
        write_manifest(results, manifest_path)
    return results
