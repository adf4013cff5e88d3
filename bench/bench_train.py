"""Seconds per training epoch and validation metrics per model on the GEP train subset (CPU).

Usage: python bench/bench_train.py [--models epmp,egnn,...] [--epochs N] [--surface-epochs N]
       [--surface-config fast] [--threads 2] [--params hidden=32,layers=2]

Trains each model on the GEP epitope split's train complexes present in the data
(78 of 103) with early stopping on its val complexes (22 of 28), seed 42, and
prints one row per model: seconds per epoch (the mean over the epochs run, and their median: the
mean includes the first epoch's one-off costs, e.g. GATv2's ~3 s compile of its fused scores), best epoch, and
validation AUROC / AUPRC / MCC (at the val-chosen threshold) for paratope (CDR
residues) and epitope. ``--params`` overrides constructor parameters of every listed model (YAML scalars), e.g.
to see how an epoch's time scales with width or depth; the row's label names them. Run directories go to
runs/bench-train/<label>. Surface models use
``--surface-config`` (default ``fast``, the training default); the epoch caps default to the
benchmark budget (12 graph / 5 surface epochs, patience 4 / 3).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import statistics
import subprocess
import time

import torch
import yaml

from absites import registry
from absites.config import (
    PROJECT_ROOT,
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
)
from absites.provenance import machine_description
from absites.train.run import train_run

MODELS = tuple(n for n in registry.names() if n != "joint")  # joint: too slow for this table on 2 cores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--epochs", type=int, default=12, help="epoch cap for graph networks")
    ap.add_argument("--surface-epochs", type=int, default=5, help="epoch cap for surface networks")
    ap.add_argument("--surface-config", default="fast")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all available cores)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", default="", help="KEY=VALUE[,KEY=VALUE]: constructor parameters for every model")
    args = ap.parse_args()
    overrides = parse_params(args.params)
    logging.basicConfig(level=logging.WARNING)
    data, features = load_data_config("default"), load_feature_config("default")
    surface = load_surface_config(args.surface_config)
    rows = []
    for name in args.models.split(","):
        model = load_model_config(name)
        if overrides:
            model = dataclasses.replace(model, params={**model.params, **overrides})
            name = name + "[" + ",".join(f"{k}={v}" for k, v in overrides.items()) + "]"
        training = load_training_config("default")
        cap = args.surface_epochs if model.needs_surfaces else args.epochs
        patience = 3 if model.needs_surfaces else 4
        training = dataclasses.replace(training, epochs=min(training.epochs, cap), patience=patience,
                                       threads=args.threads)
        t0 = time.perf_counter()
        run_dir = PROJECT_ROOT / "runs" / "bench-train" / re.sub(r"[^\w.-]+", "-", name).strip("-")
        result = train_run(model, training, data, features, surface, run_dir, workers=args.workers)
        p, e = result.val_metrics["paratope"], result.val_metrics["epitope"]
        history = json.loads((result.out_dir / "best.json").read_text())["history"]
        median = statistics.median(h["seconds"] for h in history) if history else float("nan")
        rows.append((name, result.seconds_per_epoch, median, result.best_epoch, time.perf_counter() - t0,
                     p["auroc"], p["auprc"], p.get("mcc_at_val", float("nan")),
                     e["auroc"], e["auprc"], e.get("mcc_at_val", float("nan"))))
        print(f"done {name}: {rows[-1]}", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\n# bench_train: GEP split subset present in the data (train 78 / val 22), seed 42, CPU "
          f"({torch.get_num_threads()} threads), commit {commit or '?'}, {machine_description()}, "
          f"epoch caps {args.epochs} (graph) / {args.surface_epochs} (surface), patience 4 / 3, "
          f"surfaces {args.surface_config}")
    print("| model | s / epoch | median epoch s | best epoch | total s | paratope AUROC | paratope AUPRC "
          "| paratope MCC@val | epitope AUROC | epitope AUPRC | epitope MCC@val |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} | {r[4]:.0f} | " + " | ".join(f"{v:.3f}" for v in r[5:])
              + " |")


def parse_params(text: str) -> dict:
    """``"hidden=32,share_cross=false"`` -> ``{"hidden": 32, "share_cross": False}`` (values read as YAML scalars)."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--params: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


if __name__ == "__main__":
    main()
