"""Where one training epoch spends its time, per network, on the GEP train subset (CPU).

Usage: python bench/profile_train.py [--models epmp,egnn,gatv2,diffusionnet] [--surface-config coarse]
       [--threads 2] [--batch-size 4] [--top 8]

For each model: one warm-up epoch, then one epoch under ``torch.profiler`` (CPU
activities); prints seconds per epoch and the top operators by self CPU time
as Markdown, for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from absites.config import (
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
)
from absites.registry import select_inputs
from absites.train.loop import build_model, input_dim, loss_fn, make_samples, pick_device
from absites.train.run import load_split


def one_epoch(model, samples, cfg, device, collate):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.train()
    order = np.random.permutation(len(samples))
    t0 = time.perf_counter()
    for start in range(0, len(order), cfg.batch_size):
        b = collate([samples[i] for i in order[start:start + cfg.batch_size]], device)
        loss = loss_fn(model(**select_inputs(model, b["inputs"])), b, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="epmp,egnn,gatv2,diffusionnet")
    ap.add_argument("--surface-config", default="fast")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    from absites.train import loop

    data, features = load_data_config("default"), load_feature_config("default")
    surface = load_surface_config(args.surface_config)
    cfg = load_training_config("default")
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    device = pick_device("cpu")
    for name in args.models.split(","):
        mcfg = load_model_config(name)
        split = load_split("train", data, features, surface if mcfg.needs_surfaces else None, workers=2)
        samples = make_samples(split.graphs, split.surfaces)
        torch.manual_seed(0)
        np.random.seed(0)
        model = build_model(name, mcfg.params, input_dim(samples))
        warm = one_epoch(model, samples, cfg, device, loop.collate)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            timed = one_epoch(model, samples, cfg, device, loop.collate)
        print(f"\n### {name}: {len(samples)} complexes, batch {cfg.batch_size}, {args.threads} threads — "
              f"epoch {warm:.2f} s (warm-up), {timed:.2f} s (profiled)\n")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    main()
