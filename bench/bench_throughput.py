"""Prepare throughput (complexes per minute) on the full index with 1 and 2 local workers.

Usage: python bench/bench_throughput.py [--workers 1,2] [--limit N]
Each run starts from an empty cache (graph records: parse, numbering, labels,
SASA, graph), so it measures work, not cache hits.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time

from absites.config import FeatureConfig, resolve_data_root
from absites.data.index import read_index
from absites.data.prepare import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    entries = read_index(resolve_data_root() / "index.csv")[: args.limit]
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            results = prepare(entries, FeatureConfig(), cache, workers=workers, progress=False)
            seconds = time.perf_counter() - t0
        ok = sum(r.ok for r in results)
        rows.append((workers, seconds, ok, len(results) - ok))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_throughput: {len(entries)} complexes of the full index, empty cache each run, "
          f"commit {commit or '?'}, {os.cpu_count()} CPUs, {platform.machine()}")
    print("| workers | seconds | complexes / minute | built | skipped | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for workers, seconds, ok, skipped in rows:
        print(f"| {workers} | {seconds:.1f} | {60 * len(entries) / seconds:.1f} | {ok} | {skipped} | "
              f"{rows[0][1] / seconds:.2f} |")


if __name__ == "__main__":
    main()
