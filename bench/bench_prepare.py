"""Seconds per complex for parse + numbering + labels + SASA + graph, on one core.

Usage: python bench/bench_prepare.py [--sample] [--limit N]
Prints the median and 90th percentile of each stage over the index (the full
index by default). Goal (issue 2): parse + labels + graph <= 0.3 s median.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from absites.config import FeatureConfig, resolve_data_root  # noqa: E402
from absites.data.index import read_index  # noqa: E402
from absites.errors import AbsitesError  # noqa: E402
from absites.graph.build import build_residue_graph, protein_rsa  # noqa: E402
from absites.structure.complex import load_complex  # noqa: E402
from absites.structure.labels import interface_labels  # noqa: E402
from absites.structure.numbering import annotate_antibody  # noqa: E402

STAGES = ("parse", "numbering", "labels", "sasa", "graph")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", action="store_true", help="the 30-complex sample instead of the full index")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    root = resolve_data_root()
    entries = read_index(root / ("sample/index.csv" if args.sample else "index.csv"))[: args.limit]
    cfg = FeatureConfig()
    times = {s: [] for s in STAGES}
    skipped = []
    for e in entries:
        try:
            t0 = time.perf_counter()
            c = load_complex(e.path, e.roles, e.complex_id)
            t1 = time.perf_counter()
            ann = annotate_antibody(c, cfg.cdr_definition, cfg.cdr_flank)
            t2 = time.perf_counter()
            labels = interface_labels(c, cfg.contact_cutoff_angstrom)
            t3 = time.perf_counter()
            rsa = protein_rsa(c, cfg.sasa_points)
            t4 = time.perf_counter()
            build_residue_graph(c, ann, labels, rsa, cfg)
            t5 = time.perf_counter()
        except AbsitesError as exc:
            skipped.append(f"{e.complex_id}: {exc}")
            continue
        for s, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            times[s].append(dt)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_prepare: {len(times['parse'])} complexes ({'sample' if args.sample else 'full index'}), "
          f"1 core, commit {commit or '?'}, {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'stage':<28}{'median s':>10}{'p90 s':>10}{'total s':>10}")
    rows = [(s, np.array(times[s])) for s in STAGES]
    for name, arr in rows:
        print(f"{name:<28}{np.median(arr):>10.3f}{np.percentile(arr, 90):>10.3f}{arr.sum():>10.1f}")
    core = np.array(times["parse"]) + np.array(times["labels"]) + np.array(times["graph"])
    full = core + np.array(times["numbering"]) + np.array(times["sasa"])
    print(f"{'parse+labels+graph':<28}{np.median(core):>10.3f}{np.percentile(core, 90):>10.3f}{core.sum():>10.1f}")
    print(f"{'all stages (record)':<28}{np.median(full):>10.3f}{np.percentile(full, 90):>10.3f}{full.sum():>10.1f}")
    for s in skipped:
        print(f"skipped {s}")


if __name__ == "__main__":
    main()
