"""Seconds per epoch of every network on one accelerator (or a CPU dry run), as a Markdown table.

Usage: python bench/bench_gpu.py [--device cuda] [--training gpu] [--epochs 3] [--data default]
       [--models epmp,egnn,gatv2,diffusionnet,pointnet,joint] [--surface-config fast] [--limit N]
       [--out bench/gpu_timing.md]

Prepares the GEP train / val records (cached, all cores), then trains each network for
``--epochs`` epochs with ``configs/training/<training>.yaml`` (gpu.yaml: batch 16, bf16
autocast, torch.compile) and writes one row per model: seconds per epoch (first epoch,
which includes compiling, and the mean of the others), peak accelerator memory, the
validation paratope / epitope AUPRC after the last epoch, and whether the compiled
model ran. ``--compile both`` gives each model an eager row and then a compiled row
(``off``: eager only; ``on``: compiled only; ``config``: as the training config says). A model that fails gets a
row saying why and the others still run; the table is rewritten to ``--out`` after every
row, so a run cut short keeps what it measured. ``--device cpu --data sample --limit 4
--epochs 1`` is the dry run the tests use. Prepared to run in one go on a lent GPU
(``device`` tool).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from absites import registry
from absites.config import (
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
)
from absites.provenance import git_revision
from absites.train.loop import fit, make_samples
from absites.train.run import load_split

MODELS = tuple(n for n in registry.names()
               if not (registry.get(n).is_baseline or registry.get(n).is_ensemble))  # every network


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--training", default="gpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default="default")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--surface-config", default="fast")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train / val complexes")
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--compile", choices=("config", "off", "on", "both"), default="config",
                    help="torch.compile as the training config says, never, always, or an eager and a compiled row each")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (after every row)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    device = torch.device(args.device)
    data, features = load_data_config(args.data), load_feature_config("default")
    surface = load_surface_config(args.surface_config)
    base = dataclasses.replace(load_training_config(args.training), device=args.device, epochs=args.epochs,
                               patience=args.epochs + 1)
    splits = {}
    t0 = time.perf_counter()
    for needs_surface in (False, True):
        cfg = surface if needs_surface else None
        parts = [load_split(s, data, features, cfg, workers=args.workers, limit=args.limit) for s in ("train", "val")]
        splits[needs_surface] = [make_samples(p.graphs, p.surfaces) for p in parts]
    prepare_s = time.perf_counter() - t0
    modes = {"config": [base.compile], "off": [False], "on": [True], "both": [False, True]}[args.compile]
    if device.type != "cuda":
        modes = [False]  # nothing compiles off CUDA (maybe_compile): one row per model
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    header = [f"# bench_gpu: {args.device} ({gpu}), training config {args.training} (batch {base.batch_size}, "
              f"amp {base.amp}, compile {args.compile if args.compile != 'config' else base.compile}), "
              f"surfaces {args.surface_config}, data {args.data}, {args.epochs} epochs, "
              f"commit {git_revision() or '?'}, torch {torch.__version__}; preparing train + val took "
              f"{prepare_s:.0f} s with {args.workers} workers",
              "| model | train complexes | epoch 1 s (incl. compile) | later epochs s | peak GiB | "
              "val paratope AUPRC | val epitope AUPRC | compiled |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    lines: list[str] = []
    for compile_ in modes:  # every eager row first: a run cut short while compiling keeps them
        for name in args.models.split(","):
            lines.append(_row(name, dataclasses.replace(base, compile=compile_), splits, device))
            print(lines[-1], flush=True)
            table = "\n".join(header + lines) + "\n"
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(table)
    print(table)
    return table


def _row(name: str, cfg, splits: dict, device: torch.device) -> str:
    """One table row: ``name`` trained with ``cfg``; a failure becomes a row naming it."""
    compiled = cfg.compile and device.type == "cuda"
    try:
        model = load_model_config(name)
        train, val = splits[model.needs_surfaces]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with _count_fallbacks() as fallbacks:
            result = fit(name, model.params, cfg, train, val, None)
    except Exception as exc:  # noqa: BLE001 - one model's failure must not lose the others' rows
        logging.getLogger(__name__).exception("%s failed", name)
        reason = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")[:160]
        return f"| {name} | | | | | | | failed ({reason}) |"
    seconds = [h["seconds"] for h in result.history]
    last = result.history[-1]
    later = float(np.mean(seconds[1:])) if len(seconds) > 1 else float("nan")
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    state = "yes" if compiled and not fallbacks else ("fell back" if compiled else "no")
    return (f"| {name} | {len(train)} | {seconds[0]:.2f} | {later:.2f} | {peak:.2f} | "
            f"{last.get('paratope_auprc', float('nan')):.3f} | {last.get('epitope_auprc', float('nan')):.3f} | {state} |")


class _count_fallbacks:
    """Counts the 'compiled model failed' warnings of the training loop while active."""

    def __enter__(self) -> list[str]:
        self.seen: list[str] = []
        self.handler = logging.Handler()
        self.handler.emit = lambda record: self.seen.append(record.getMessage())  # type: ignore[method-assign]
        self.handler.addFilter(lambda r: "training eagerly" in r.getMessage())
        logging.getLogger("absites.train.loop").addHandler(self.handler)
        return self.seen

    def __exit__(self, *exc) -> None:
        logging.getLogger("absites.train.loop").removeHandler(self.handler)


if __name__ == "__main__":
    main()
