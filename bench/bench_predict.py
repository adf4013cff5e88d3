"""End-to-end seconds of `absites predict` on a Fab–antigen complex: cold start, CPU, surfaces included.

Usage: python bench/bench_predict.py [--repeats 5] [--complex 1ahw_BA_C] [--fast]
Runs the installed console script in a fresh process each time (imports, model
loading, parsing, numbering, graph, both surfaces with eigenpairs, prediction,
every output file) and prints each wall time and the median. Goal (issue 14): <= 5 s.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from absites.config import resolve_data_root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--complex", default="1ahw_BA_C")
    ap.add_argument("--fast", action="store_true", help="time `predict --fast` (partner-free baselines only)")
    args = ap.parse_args()
    structure = resolve_data_root() / "sample" / "structures" / f"{args.complex}.pdb.gz"
    exe = shutil.which("absites", path=str(Path(sys.executable).parent)) or "absites"
    times = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            proc = subprocess.run([exe, "predict", str(structure), "--out", out, "--no-progress",
                                   *(["--fast"] if args.fast else [])], capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                sys.exit(f"absites predict failed:\n{proc.stderr}")
            n_files = len(list(Path(out).iterdir()))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_predict: absites predict {structure.name}{' --fast' if args.fast else ''} (Fab + antigen), "
          "cold start, CPU, "
          f"commit {commit or '?'}, {platform.machine()}, python {platform.python_version()}")
    print(f"runs: {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s; "
          f"{n_files} output files")


if __name__ == "__main__":
    main()
