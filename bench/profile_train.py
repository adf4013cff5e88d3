"""Where one training epoch spends its time, per network, on the GEP train subset (CPU).

Usage: python bench/profile_train.py [--models epmp,egnn,gatv2,diffusionnet] [--surface-config coarse]
       [--threads 2] [--batch-size 4] [--top 8] [--device cuda]

For each model: one warm-up epoch, then one epoch under ``torch.profiler`` (CPU
activities); prints seconds per epoch and the top operators by self CPU time
as Markdown, for ``bench/RESULTS.md``. ``--device cuda`` profiles on the GPU with
``configs/training/gpu.yaml`` (bf16 autocast, its batch) and lists the operators
by self CUDA time, then by self CPU time (the host side that feeds the GPU).
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
from absites.train.loop import build_model, input_dim, loss_fn, make_optimizer, make_samples, pick_device
from absites.train.run import load_split


def one_epoch(model, samples, cfg, device, collate, amp=False):
    opt = make_optimizer(model, {}, cfg)
    model.train()
    order = np.random.permutation(len(samples))
    t0 = time.perf_counter()
    for start in range(0, len(order), cfg.batch_size):
        b = collate([samples[i] for i in order[start:start + cfg.batch_size]], device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(**select_inputs(model, b["inputs"]))
        loss = loss_fn(logits, b, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="epmp,egnn,gatv2,diffusionnet")
    ap.add_argument("--surface-config", default="fast")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    from absites.train import loop

    data, features = load_data_config("default"), load_feature_config("default")
    surface = load_surface_config(args.surface_config)
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    if device.type == "cpu":  # as every CPU training does (also --device auto): else page faults read as op time
        loop.keep_freed_memory()
    cfg = load_training_config("gpu" if cuda else "default")
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    for name in args.models.split(","):
        mcfg = load_model_config(name)
        split = load_split("train", data, features, surface if mcfg.needs_surfaces else None, workers=args.workers)
        samples = [s.to(device) for s in make_samples(split.graphs, split.surfaces)]
        torch.manual_seed(0)
        np.random.seed(0)
        model = build_model(name, mcfg.params, input_dim(samples)).to(device)
        warm = one_epoch(model, samples, cfg, device, loop.collate, amp=cuda)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            timed = one_epoch(model, samples, cfg, device, loop.collate, amp=cuda)
        where = torch.cuda.get_device_name(device) if cuda else f"{args.threads} threads"
        print(f"\n### {name}: {len(samples)} complexes, batch {cfg.batch_size}, {where} — "
              f"epoch {warm:.2f} s (warm-up), {timed:.2f} s (profiled)\n")
        for key in (("self_cuda_time_total", "self_cpu_time_total") if cuda else ("self_cpu_time_total",)):
            print(prof.key_averages().table(sort_by=key, row_limit=args.top))


if __name__ == "__main__":
    main()
