"""PDB download against a local HTTP server on loopback (never the internet)."""

from __future__ import annotations

import gzip
import http.server
import threading
from functools import partial

import pytest

from absites.data.fetch import fetch_entries, fetch_entry
from absites.errors import FetchError
from absites.structure.parse import read_structure
from conftest import SAMPLE


@pytest.fixture()
def pdb_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "1AHW.pdb.gz").write_bytes(SAMPLE["1ahw_BA_C"].path.read_bytes())
    (root / "9BAD.pdb.gz").write_bytes(SAMPLE["1ahw_BA_C"].path.read_bytes()[:500])  # cut short
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_and_parses(tmp_path, pdb_server):
    path = fetch_entry("1ahw", tmp_path / "out", fmt="pdb", base_url=pdb_server)
    assert path.name == "1ahw.pdb.gz"
    assert gzip.decompress(path.read_bytes()) == gzip.decompress(SAMPLE["1ahw_BA_C"].path.read_bytes())
    assert read_structure(path).chains == ("A", "B", "C")


def test_fetch_env_url_and_reuse(tmp_path, pdb_server, monkeypatch):
    monkeypatch.setenv("ABSITES_PDB_URL", pdb_server)
    results = fetch_entries(["1AHW", "1ahw"], tmp_path, fmt="pdb")
    assert [r.status for r in results] == ["downloaded", "present"]


@pytest.mark.parametrize(
    "pdb_id, phrase",
    [("2xyz", "HTTP 404"), ("9bad", "incomplete or non-gzip"), ("abc", "not a PDB id"), ("1a/b", "not a PDB id")],
)
def test_fetch_errors(tmp_path, pdb_server, pdb_id, phrase):
    with pytest.raises(FetchError, match=phrase):
        fetch_entry(pdb_id, tmp_path, fmt="pdb", base_url=pdb_server, retries=0)
    assert not any(tmp_path.glob("*.gz"))


def test_batch_fetch_records_failures_and_continues(tmp_path, pdb_server):
    results = fetch_entries(["2xyz", "1ahw"], tmp_path, fmt="pdb", base_url=pdb_server, retries=0)
    assert [r.status for r in results] == ["failed", "downloaded"]


def test_unreachable_server(tmp_path):
    with pytest.raises(FetchError, match="failed after 1 tries"):
        fetch_entry("1ahw", tmp_path, base_url="http://127.0.0.1:9", retries=0, timeout_s=2)


@pytest.mark.parametrize("name,body,phrase", [
    ("7HTM.pdb.gz", b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "web page"),
    ("7NOC.pdb.gz", b"HEADER    IMMUNE SYSTEM                           01-JAN-00   7NOC\nEND\n", "without coordinate"),
    ("7OTH.pdb.gz", None, "returned entry 1AHW"),
])
def test_fetch_rejects_gzip_that_is_not_the_entry(tmp_path, pdb_server, name, body, phrase):
    """A server answering with gzip that is not the asked entry (an HTML error page, a file without
    coordinates, another entry) is a failure, never a 'downloaded' file."""
    from pathlib import Path
    from urllib.parse import urlparse

    www = tmp_path / "www"
    text = gzip.decompress(SAMPLE["1ahw_BA_C"].path.read_bytes())
    if body is None:  # another entry's file under this id
        body = b"HEADER    IMMUNE SYSTEM                           01-JAN-00   1AHW\n" + text
    (www / name).write_bytes(gzip.compress(body))
    pdb_id = Path(name).name.split(".")[0].lower()
    assert urlparse(pdb_server).hostname == "127.0.0.1"
    results = fetch_entries([pdb_id], tmp_path / "out", fmt="pdb", base_url=pdb_server, retries=0)
    assert results[0].status == "failed" and phrase in results[0].reason
    assert not any((tmp_path / "out").glob("*.gz")) if (tmp_path / "out").exists() else True
