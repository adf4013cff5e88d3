"""Epitope scores from the antigen alone: partner-free runs on GEP val / test and the docking cases.

Usage: python bench/antigen_alone.py [--runs DIR,DIR,...]
       (default: the shipped antigen-alone member, the one `alone.json` names, and
       runs/bench/gep-plus/gbm-templates/seed42 when it exists: the earlier antigen-alone model)

`absites predict --antigen` (and `--fast`) hands an antigen without its antibody to a partner-free model.
Such a model reads each protein on its own, except for the epitope templates, which weigh known epitopes by
how alike the antibodies are; with no antibody they weigh by antigen identity only. This script scores each
complex's antigen that way (the graph's CDR annotation cleared, so the templates see no antibody) and prints
pooled epitope AUROC / AUPRC / MCC at the run's validation threshold: GEP val and test (the gep-plus splits)
and the 94 docking cases, bound and unbound (unbound residues that map onto bound ones; bound labels).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from absites.config import DEFAULT_MODEL_DIR, PROJECT_ROOT, FeatureConfig, load_data_config, load_feature_config
from absites.evaluate.bench_config import load_benchmark_config
from absites.evaluate.unbound import build_cases
from absites.metrics import auprc, auroc, threshold_metrics
from absites.train.run import load_run, load_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    shipped = json.loads((DEFAULT_MODEL_DIR / "alone.json").read_text())["epitope"]
    default = [DEFAULT_MODEL_DIR / shipped,
               PROJECT_ROOT / "runs" / "bench" / "gep-plus" / "gbm-templates" / "seed42"]
    ap.add_argument("--runs", default=",".join(str(p) for p in default if p.exists()))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = load_benchmark_config("gep-plus")
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    sets = {part: [(g, None) for g in load_split(bench.splits[part], data, features, None, workers=1).graphs]
            for part in ("val", "test")}
    cases = build_cases(data.data_root() / "docking_unbound" / "index.csv", FeatureConfig()).values()  # bad ones logged
    sets.update({"docking bound": [(rec.bound, None) for rec in cases],
                 "docking unbound": [(rec.unbound, rec.u_to_b >= 0) for rec in cases]})
    print("| run | " + " | ".join(f"{k} AUROC / AUPRC / MCC" for k in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for run in [Path(r) for r in args.runs.split(",") if r]:
        fn, _, thresholds = load_run(run)
        cells = []
        for items in sets.values():
            alone = [dataclasses.replace(g, cdr=np.zeros_like(g.cdr)) for g, _ in items]  # no antibody to weigh
            preds = fn(alone)
            ys, ps = [], []
            for g, mapped in items:
                keep = ~g.is_antibody.astype(bool) & (True if mapped is None else mapped)
                ys.append(g.y[keep].astype(bool))
                ps.append(preds[g.complex_id][keep])
            y, p = np.concatenate(ys), np.concatenate(ps)
            mcc = threshold_metrics(y, p, thresholds["epitope"])["mcc"]
            cells.append(f"{auroc(y, p):.3f} / {auprc(y, p):.3f} / {mcc:.3f}")
        name = f"{run.parent.name}/{run.name}" if run.name.startswith("seed") else run.name
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
