"""Batch preparation: index entries -> cached residue-graph records, in parallel.

Each entry is parsed, numbered, labelled and featurised in a worker process
(joblib). A failing entry is recorded in the manifest with its reason and the
others carry on; a re-run reuses every verified record and rebuilds corrupt ones.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from joblib import Parallel, delayed
from tqdm import tqdm

from absites.config import FeatureConfig
from absites.data.cache import RecordCache, file_digest, record_key
from absites.data.index import ComplexEntry
from absites.errors import AbsitesError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("complex_id", "status", "reason", "key", "record", "n_residues", "seconds")


@dataclass(frozen=True)
class PrepareResult:
    complex_id: str
    status: str  # built | cached | rebuilt | skipped | failed
    reason: str = ""
    key: str = ""
    record: str = ""
    n_residues: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("built", "cached", "rebuilt")


def entry_key(entry: ComplexEntry, cfg: FeatureConfig) -> str:
    params = {"roles": entry.roles.key(), "complex_id": entry.complex_id, **cfg.as_dict()}
    return record_key(file_digest(entry.path), params)


def prepare_entry(entry: ComplexEntry, cfg: FeatureConfig, cache_root: str | Path) -> PrepareResult:
    """Build (or reuse) the record of one entry; never raises for bad input."""
    from absites.graph.build import graph_from_complex
    from absites.structure.complex import load_complex

    start = time.perf_counter()
    cache = RecordCache(cache_root)
    try:
        if not entry.path.exists():
            raise AbsitesError(f"{entry.path}: structure file not found")
        key = entry_key(entry, cfg)
        state = cache.status(key)
        if state == "ok":
            return PrepareResult(entry.complex_id, "cached", key=key, record=str(cache.path(key)),
                                 seconds=time.perf_counter() - start)
        graph = graph_from_complex(load_complex(entry.path, entry.roles, entry.complex_id), cfg)
        path = cache.save(key, graph.to_arrays())
        return PrepareResult(entry.complex_id, "rebuilt" if state == "corrupt" else "built", key=key,
                             record=str(path), n_residues=graph.num_nodes, seconds=time.perf_counter() - start)
    except AbsitesError as exc:
        return PrepareResult(entry.complex_id, "skipped", reason=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # a bug or a library failure: recorded, never loses the batch
        log.exception("unexpected failure on %s", entry.complex_id)
        return PrepareResult(entry.complex_id, "failed", reason=f"{type(exc).__name__}: {exc}",
                             seconds=time.perf_counter() - start)


def write_manifest(results: list[PrepareResult], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_COLUMNS)
        for r in sorted(results, key=lambda r: r.complex_id):
            writer.writerow([r.complex_id, r.status, r.reason, r.key, r.record, r.n_residues, f"{r.seconds:.3f}"])
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
) -> list[PrepareResult]:
    """Prepare every entry (``workers`` processes), write the manifest, return the results."""
    jobs = (delayed(prepare_entry)(e, cfg, str(cache_root)) for e in entries)
    if workers == 1:
        stream = (prepare_entry(e, cfg, cache_root) for e in entries)
    else:
        stream = Parallel(n_jobs=workers, return_as="generator_unordered")(jobs)
    results = []
    for result in tqdm(stream, total=len(entries), desc="prepare", unit="complex", disable=not progress):
        results.append(result)
        if not result.ok:
            log.warning("%s %s: %s", result.status, result.complex_id, result.reason)
    if manifest_path is not None:
        write_manifest(results, manifest_path)
    return results
