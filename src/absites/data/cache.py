"""Content-addressed on-disk cache of per-complex records.

Key = SHA-256 over the input file's bytes, the chain roles, every parameter
that changes the record, and :data:`RECORD_VERSION`. A record is an ``.npz``
(no pickles) written to a temporary file and renamed into place, with a
``.sha256`` sidecar written after it; a record whose sidecar is missing or
disagrees is corrupt and gets rebuilt. The optional ``.meta.json`` summary
carries its own checksum: an edited or truncated summary makes the record
corrupt too (rebuilt, never read as it is). Temporary files left by a writer
that was killed are removed by :meth:`RecordCache.clean_stale` once they are old.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from absites.errors import CacheError

RECORD_VERSION = "graph-1"
SURFACE_RECORD_VERSION = "surface-1"


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_key(input_digest: str, params: dict[str, Any], version: str = RECORD_VERSION) -> str:
    payload = json.dumps({"input": input_digest, "params": params, "version": version}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordCache:
    """A folder of ``<key>.npz`` records with ``<key>.npz.sha256`` checksums."""

    def __init__(self, root: str | Path, namespace: str = "graphs"):
        self.root = Path(root) / namespace

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def save(self, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> Path:
        """Write a record (and an optional small JSON summary read back by :meth:`meta`)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        data = buf.getvalue()
        target = self.path(key)
        if meta is not None:
            body = json.dumps(meta, sort_keys=True)
            sealed = {"meta": meta, "sha256": hashlib.sha256(body.encode()).hexdigest()}
            _atomic_write(target.with_suffix(".meta.json"), json.dumps(sealed).encode())
        _atomic_write(target, data)
        _atomic_write(target.with_suffix(".npz.sha256"), hashlib.sha256(data).hexdigest().encode())
        return target

    def meta(self, key: str) -> dict[str, Any]:
        """The verified JSON summary saved with a record ({} when there is none).

        Raises:
            CacheError: the summary exists but was altered (checksum, shape).
        """
        path = self.path(key).with_suffix(".meta.json")
        if not path.exists():
            return {}
        meta = self._verified_meta(path)
        if meta is None:
            raise CacheError(f"cache summary {path} is corrupt (edited, truncated or written by an older version)")
        return meta

    @staticmethod
    def _verified_meta(path: Path) -> dict[str, Any] | None:
        try:
            sealed = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(sealed, dict) or not isinstance(sealed.get("meta"), dict):
            return None
        body = json.dumps(sealed["meta"], sort_keys=True)
        return sealed["meta"] if hashlib.sha256(body.encode()).hexdigest() == sealed.get("sha256") else None

    def status(self, key: str) -> str:
        """``missing``, ``ok`` or ``corrupt`` (record checksum absent or wrong, or an altered summary)."""
        target = self.path(key)
        if not target.exists():
            return "missing"
        sidecar = target.with_suffix(".npz.sha256")
        if not sidecar.exists():
            return "corrupt"
        try:
            if file_digest(target) != sidecar.read_text().strip():
                return "corrupt"
        except (OSError, UnicodeDecodeError):
            return "corrupt"
        meta = target.with_suffix(".meta.json")
        if meta.exists() and self._verified_meta(meta) is None:
            return "corrupt"
        return "ok"

    def clean_stale(self, max_age_seconds: float = 3600.0) -> int:
        """Delete temporary files older than ``max_age_seconds`` (left by killed writers); returns how many.

        Younger ones may belong to a writer still running (a concurrent ``prepare``) and are kept.
        """
        if not self.root.exists():
            return 0
        now, removed = time.time(), 0
        for tmp in self.root.glob("*/.*.tmp"):
            try:
                if now - tmp.stat().st_mtime > max_age_seconds:
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def load(self, key: str) -> dict[str, np.ndarray]:
        """Arrays of a record, verified.

        Raises:
            CacheError: missing or corrupt record.
        """
        state = self.status(key)
        if state != "ok":
            raise CacheError(f"cache record {self.path(key)} is {state}")
        try:
            with np.load(self.path(key), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise CacheError(f"cache record {self.path(key)} is unreadable: {exc}") from None
