"""Download entries from the PDB by id.

Files come from the RCSB download service (``{base}/{ID}.cif.gz`` or
``{base}/{ID}.pdb.gz``); the base URL can be changed with ``$ABSITES_PDB_URL``
(a mirror, or a local server in tests). Downloads are written atomically and
checked to be complete gzip data before they are kept.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from absites.errors import FetchError

log = logging.getLogger(__name__)

DEFAULT_PDB_URL = "https://files.rcsb.org/download"
PDB_URL_ENV = "ABSITES_PDB_URL"
PDB_ID = re.compile(r"^[0-9][A-Za-z0-9]{3}$")
FORMATS = {"cif": ".cif.gz", "pdb": ".pdb.gz"}


@dataclass(frozen=True)
class FetchResult:
    pdb_id: str
    path: Path | None
    status: str  # downloaded | present | failed
    reason: str = ""


def pdb_url(pdb_id: str, fmt: str = "cif", base_url: str | None = None) -> str:
    base = (base_url or os.environ.get(PDB_URL_ENV) or DEFAULT_PDB_URL).rstrip("/")
    return f"{base}/{pdb_id.upper()}{FORMATS[fmt]}"


def fetch_entry(
    pdb_id: str,
    out_dir: str | Path,
    fmt: str = "cif",
    base_url: str | None = None,
    timeout_s: float = 30.0,
    retries: int = 2,
    force: bool = False,
) -> Path:
    """Download one entry to ``out_dir/<id>.<fmt>.gz`` and return its path.

    Raises:
        FetchError: bad id or format, entry not found, network failure, or
            incomplete data.
    """
    pdb_id = pdb_id.strip().lower()
    if not PDB_ID.match(pdb_id):
        raise FetchError(f"{pdb_id!r} is not a PDB id (four characters, starting with a digit)")
    if fmt not in FORMATS:
        raise FetchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = Path(out_dir) / f"{pdb_id}{FORMATS[fmt]}"
    if target.exists() and not force:
        return target
    url = pdb_url(pdb_id, fmt, base_url)
    last = ""
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                data = response.read()
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise FetchError(f"{pdb_id}: not found at {url} (HTTP 404)") from None
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < retries:
            time.sleep(0.5 * 2**attempt)
    else:
        raise FetchError(f"{pdb_id}: download from {url} failed after {retries + 1} tries ({last})")
    try:
        text = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    except (OSError, EOFError) as exc:
        raise FetchError(f"{pdb_id}: {url} returned incomplete or non-gzip data ({exc})") from None
    if not text.strip():
        raise FetchError(f"{pdb_id}: {url} returned an empty file")
    _check_content(pdb_id, fmt, text, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    log.info("downloaded %s -> %s", url, target)
    return target


def _check_content(pdb_id: str, fmt: str, text: bytes, url: str) -> None:
    """Raise FetchError unless ``text`` is a coordinate file of entry ``pdb_id`` in format ``fmt``.

    A server (or a proxy) can answer with gzip that is not the entry: an HTML error page, another
    entry, an empty model. Checked: the format's coordinate records are there, and the entry id the
    file names (mmCIF ``data_`` block, PDB ``HEADER`` id code) is the one asked for.
    """
    head = text[:4096].decode("latin-1", errors="replace")
    lowered = head.lstrip().lower()
    if lowered.startswith(("<!doctype", "<html", "<?xml", "{")):
        raise FetchError(f"{pdb_id}: {url} returned a web page or message, not a structure file")
    if fmt == "cif":
        first = lowered.split(None, 1)[0] if lowered else ""
        if not first.startswith("data_"):
            raise FetchError(f"{pdb_id}: {url} returned something that is not mmCIF (no data_ block)")
        if first[5:] and first[5:] != pdb_id:
            raise FetchError(f"{pdb_id}: {url} returned entry {first[5:].upper()}, not {pdb_id.upper()}")
        if b"_atom_site." not in text:
            raise FetchError(f"{pdb_id}: {url} returned an mmCIF file without coordinates")
        return
    for line in head.splitlines():
        if line.startswith("HEADER") and line[62:66].strip() and line[62:66].strip().lower() != pdb_id:
            raise FetchError(f"{pdb_id}: {url} returned entry {line[62:66].strip()}, not {pdb_id.upper()}")
    if b"\nATOM  " not in text and b"\nHETATM" not in text and not text.startswith((b"ATOM  ", b"HETATM")):
        raise FetchError(f"{pdb_id}: {url} returned a PDB file without coordinate records")


def fetch_entries(pdb_ids: list[str], out_dir: str | Path, fmt: str = "cif", **kwargs) -> list[FetchResult]:
    """Download several entries; a failure is recorded and the rest carry on."""
    results = []
    for pdb_id in pdb_ids:
        existed = (Path(out_dir) / f"{pdb_id.strip().lower()}{FORMATS.get(fmt, '')}").exists()
        try:
            path = fetch_entry(pdb_id, out_dir, fmt, **kwargs)
            results.append(FetchResult(pdb_id, path, "present" if existed and not kwargs.get("force") else "downloaded"))
        except FetchError as exc:
            results.append(FetchResult(pdb_id, None, "failed", str(exc)))
    return results
