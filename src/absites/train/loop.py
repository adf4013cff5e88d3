"""Training and prediction for every network, on CPU or CUDA (mixed precision on CUDA).

* Loss: ``BCE(antibody) + 2 · BCE(antigen)`` (weights configurable); each term a
  mean over its residues with a per-complex positive weight ``n_neg / n_pos``
  (the reference's setting; ``pos_weight: none`` turns it off). The antibody
  term covers all antibody residues by default (``paratope_residues: all``), so
  that predictions outside CDRs mean something to a user; ``cdr`` restricts it
  to the CDR residues the paratope is scored on (the reference's graphs held
  only those).
* AdamW, cosine or constant schedule, gradient clipping, early stopping on the
  validation score (mean of paratope and epitope AUPRC), mini-batches of complexes;
  ``selection: per_task`` keeps the best epoch of each task instead (paratope AUPRC
  for antibody residues, epitope AUPRC for antigen residues: :mod:`absites.models.per_task`).
* Seeds fixed and recorded; device chosen automatically unless given.
* Checkpoints hold model + optimiser + scheduler state, configs, metrics,
  epoch, seed and code version; ``resume=True`` continues from ``last.pt``.
* Started by ``torchrun``, training runs with DistributedDataParallel (NCCL on
  GPUs, gloo on CPU): each rank takes its shard of the epoch's complexes,
  gradients are averaged, and rank 0 alone writes checkpoints and logs. Every
  rank evaluates validation itself (same weights, same data: same decision).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from absites.config import TrainingConfig
from absites.data.dataset import GraphTensors, batch_graphs, graph_tensors
from absites.metrics import auprc
from absites.metrics import gather
from absites.graph.build import FEATURE_NAMES, ResidueGraph
from absites import registry
from absites.registry import select_inputs
from absites.models.layers import scatter
from absites.models.per_task import TASKS, PerTaskNetwork
from absites.models.surface import MeshTensors, collate_surfaces, mesh_tensors
from absites.provenance import available_cpus, code_version
from absites.train.balance import apply_init_scale, param_groups, split_balance

log = logging.getLogger(__name__)

@dataclass
class Sample:
    """One complex: its graph's tensors and, for surface models, its two meshes."""

    graph: ResidueGraph
    data: GraphTensors
    meshes: tuple[MeshTensors, MeshTensors] | None = None

    def to(self, device: torch.device) -> Sample:
        """The same complex with its tensors on ``device`` (moved once, not per step)."""
        meshes = None if self.meshes is None else (self.meshes[0].to(device), self.meshes[1].to(device))
        return Sample(self.graph, self.data.to(device), meshes)


def make_samples(graphs: list[ResidueGraph], surfaces: dict[str, tuple] | None = None,
                 max_eigs: int | None = None) -> list[Sample]:
    out = []
    for g in graphs:
        meshes = None
        if surfaces is not None:
            ab, ag = surfaces[g.complex_id]
            meshes = (mesh_tensors(ab, g, max_eigs), mesh_tensors(ag, g, max_eigs))
        out.append(Sample(g, graph_tensors(g), meshes))
    return out


def input_dim(samples: list[Sample]) -> int:
    """Width of the model input: residue features, or vertex features for surface models."""
    s = samples[0]
    return int(s.meshes[0].x.shape[1]) if s.meshes is not None else int(s.data.x.shape[1])


def build_model(name: str, params: dict[str, Any], in_dim: int) -> nn.Module:
    """The network ``name`` with constructor ``params`` (``init_scale`` / ``lr_scale`` are left out:
    :mod:`absites.train.balance` applies them when training starts)."""
    spec = registry.get(name)
    if spec.is_baseline:
        networks = [n for n in registry.names() if not registry.get(n).is_baseline]
        raise ValueError(f"{name} is a baseline, not a network; networks: {', '.join(networks)}")
    split_balance(params)  # validates init_scale / lr_scale
    return spec.build(in_dim, **params)


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next training step instead of returning it to the system.

    A training step allocates and frees the same large tensors (per-edge and per-pair activations, a few
    MB to tens of MB) over and over. glibc returns freed blocks above its trim threshold to the kernel,
    and serves blocks above its mmap threshold with fresh ``mmap`` pages, so every step pays page faults
    and page zeroing again; its adaptive thresholds drift as tensor sizes vary, which is why GATv2
    epochs slowed from ~2.2 to ~2.9 s after a few epochs on two cores. With a 1 GiB trim threshold, a
    256 MiB top pad and the largest mmap threshold (32 MiB), 3 of 4 twelve-epoch runs kept flat epochs
    (bench/RESULTS.md, issue 14). A training process keeps up to ~1 GiB more resident memory. No effect
    (False) off glibc or with ``ABSITES_MALLOC=0``; :func:`fit` calls it for every CPU training (setting
    the same values again changes nothing).
    """
    import ctypes
    import ctypes.util
    import platform

    if os.environ.get("ABSITES_MALLOC", "1") == "0" or platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 256 << 20), (_M_MMAP_THRESHOLD, 32 << 20)))


def maybe_compile(model: nn.Module, enabled: bool, device: torch.device) -> nn.Module:
    """``torch.compile`` (dynamic shapes: every batch has other sizes) on CUDA when asked; else the model."""
    if not enabled or device.type != "cuda":
        return model
    try:
        return torch.compile(model, dynamic=True)
    except Exception as exc:  # noqa: BLE001 - compiling is an optimisation: eager is always right
        log.warning("torch.compile unavailable (%s); training eagerly", exc)
        return model


def make_optimizer(model: nn.Module, lr_scale: dict[str, float], cfg: TrainingConfig) -> torch.optim.AdamW:
    """AdamW over the model's parameter groups, as one fused kernel on CPU and CUDA.

    PyTorch's default AdamW on CPU updates one parameter tensor at a time, a dozen small operators each: for
    GATv2's 51 tensors that was ~3 ms of every step, 58 ms of a 20-step epoch on two cores, against 17 ms
    fused (bench/RESULTS.md, issue 14). The fused kernel computes the same update (to float rounding);
    other devices and non-float parameters keep the default implementation.
    """
    groups = param_groups(model, lr_scale, cfg.lr)
    params = [p for g in groups for p in g["params"]]
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64,
                                                                                   torch.float16, torch.bfloat16)
                                 for p in params)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def pick_device(wanted: str = "auto") -> torch.device:
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)


def distributed_context(device: torch.device) -> tuple[int, int]:
    """(rank, world size); joins the process group when started by ``torchrun`` (WORLD_SIZE > 1).

    NCCL on CUDA, gloo on CPU. Outside ``torchrun`` this is (0, 1) and nothing happens.
    """
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def shard(order: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's share of an epoch's order, padded so every rank takes the same number of steps
    (as ``torch.utils.data.DistributedSampler`` does)."""
    if world == 1:
        return order
    total = int(np.ceil(len(order) / world)) * world
    padded = np.concatenate([order, order[: total - len(order)]])
    return padded[rank:total:world]


def own_frames(pos: torch.Tensor, batch: torch.Tensor, is_antibody: torch.Tensor) -> torch.Tensor:
    """Each protein's coordinates centred on its own centroid: what a model may know of geometry is each
    protein alone, never where the antibody sits relative to the antigen (the bound pose)."""
    group = batch * 2 + is_antibody.long()
    return pos - scatter(pos, group, int(group.max()) + 1 if group.numel() else 0, "mean")[group]


def collate(samples: list[Sample], device: torch.device) -> dict[str, Any]:
    """A model's inputs. The leakage rule lives here: no distance or offset across the two proteins of a
    complex reaches a model (coordinates in each protein's own frame; no cross-edge attributes)."""
    batch = batch_graphs([s.data for s in samples]).to(device)
    pos = own_frames(batch.pos_ca, batch.batch, batch.is_antibody)
    inputs = {"x": batch.x, "pos": pos, "edge_index": batch.edge_index, "edge_attr": batch.edge_attr,
              "cross_edge_index": batch.cross_edge_index, "is_antibody": batch.is_antibody,
              "batch": batch.batch, "n_residues": batch.num_nodes}
    if samples[0].meshes is not None:
        inputs["surfaces"] = collate_surfaces([s.meshes for s in samples],
                                              [s.graph.num_nodes for s in samples]).to(device)
    return {"inputs": inputs, "y": batch.y, "batch": batch.batch, "cdr": batch.cdr, "is_antibody": batch.is_antibody,
            "n_complexes": len(samples)}


def loss_fn(logits: torch.Tensor, b: dict[str, Any], cfg: TrainingConfig) -> torch.Tensor:
    """Weighted BCE over paratope (CDR) and epitope residues, per-complex positive weights."""
    y, ab = b["y"], b["is_antibody"]
    total = logits.new_zeros(())
    para = ab & (b["cdr"] > 0) if cfg.paratope_residues == "cdr" else ab
    for mask, weight in ((para, cfg.antibody_weight), (~ab, cfg.antigen_weight)):
        group = b["batch"][mask]
        yy, ll = y[mask], logits[mask].float()
        n = torch.zeros(b["n_complexes"], device=y.device).index_add_(0, group, torch.ones_like(yy))
        pos = torch.zeros(b["n_complexes"], device=y.device).index_add_(0, group, yy)
        if cfg.pos_weight == "per_complex":
            pw = ((n - pos) / pos.clamp(min=1)).clamp(max=100.0)[group]
        else:
            pw = torch.ones_like(yy)
        per = nn.functional.binary_cross_entropy_with_logits(ll, yy, reduction="none")
        per = per * torch.where(yy > 0.5, pw, torch.ones_like(pw))
        per_complex = torch.zeros_like(n).index_add_(0, group, per) / n.clamp(min=1)
        total = total + weight * per_complex[n > 0].mean()
    return total


@torch.no_grad()
def predict(model: nn.Module, samples: list[Sample], device: torch.device, batch_size: int = 4,
            amp: bool = False) -> dict[str, np.ndarray]:
    """Probabilities per residue for each complex."""
    model.eval()
    out = {}
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        b = collate(chunk, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            logits = model(**select_inputs(model, b["inputs"])).float()
        prob = torch.sigmoid(logits).cpu().numpy()
        offset = 0
        for s in chunk:
            out[s.graph.complex_id] = prob[offset:offset + s.graph.num_nodes]
            offset += s.graph.num_nodes
    return out


def validation_score(graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, float]:
    scores = {}
    for task in ("paratope", "epitope"):
        pairs = gather(graphs, preds, task)
        scores[f"{task}_auprc"] = auprc(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    scores["score"] = float(np.nanmean(list(scores.values())))
    return scores


@dataclass
class FitResult:
    model: nn.Module
    best_epoch: int
    best_score: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    checkpoint: Path | None = None
    task_epochs: dict[str, int] | None = None  # selection: per_task — the epoch whose state serves each task


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def fit(model_name: str, model_params: dict[str, Any], cfg: TrainingConfig, train: list[Sample],
        val: list[Sample], out_dir: str | Path | None = None, resume: bool = False,
        extra_meta: dict[str, Any] | None = None) -> FitResult:
    """Train ``model_name`` on ``train`` with early stopping on ``val``; returns the best model (with
    ``selection: per_task``, a :class:`PerTaskNetwork` of each task's best state)."""
    per_task = cfg.selection == "per_task"
    if per_task and not val:
        raise ValueError("selection: per_task chooses each task's epoch on validation; give a validation split")

    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    rank, world = distributed_context(device)
    amp = cfg.amp and device.type == "cuda"
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or available_cpus())
        keep_freed_memory()
    train = [s.to(device) for s in train]  # once: no per-step host -> device copies
    val = [s.to(device) for s in val]
    in_dim = input_dim(train)
    model = build_model(model_name, model_params, in_dim)
    _, balance = split_balance(model_params)
    apply_init_scale(model, balance["init_scale"])
    model = model.to(device)
    net = maybe_compile(model, cfg.compile, device)  # what the steps run: compiled and/or DDP-wrapped
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=True)
        out_dir = out_dir if rank == 0 else None  # rank 0 alone writes checkpoints
    opt = make_optimizer(model, balance["lr_scale"], cfg)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
             if cfg.scheduler == "cosine" else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
    out_dir = Path(out_dir) if out_dir else None
    meta = {"model": model_name, "model_params": model_params, "training": dataclasses.asdict(cfg),
            "code_version": code_version(), "seed": cfg.seed, "feature_names": list(FEATURE_NAMES),
            **(extra_meta or {}), "in_dim": in_dim}
    start_epoch, best, best_epoch, best_state, history, bad = 0, -np.inf, -1, None, [], 0
    task_best = {t: {"score": -np.inf, "epoch": -1, "state": None} for t in TASKS}  # selection: per_task
    if resume and out_dir and (out_dir / "last.pt").exists():
        state = torch.load(out_dir / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, best, best_epoch, history, bad = (state["epoch"] + 1, state["best_score"], state["best_epoch"],
                                                       state["history"], state["bad_epochs"])
        best_state = state.get("best_model")
        task_best = state.get("task_best", task_best)
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        log.info("resumed from %s at epoch %d", out_dir / "last.pt", start_epoch)
    val_graphs = [s.graph for s in val]
    epoch_times = []
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order = shard(np.random.permutation(len(train)), rank, world)  # same permutation on every rank
        losses = []
        for start in range(0, len(order), cfg.batch_size):
            b = collate([train[i] for i in order[start:start + cfg.batch_size]], device)
            inputs = select_inputs(model, b["inputs"])  # the keys the model declares; a missing one fails here
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                try:
                    logits = net(**inputs)
                except Exception as exc:  # noqa: BLE001 - a compiled graph that fails falls back to eager
                    if net is model or not cfg.compile or world > 1:
                        raise
                    log.warning("compiled model failed (%s); training eagerly", exc)
                    net = model
                    logits = net(**inputs)
            loss = loss_fn(logits, b, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            losses.append(loss.detach())  # read once per epoch: no host <-> device sync per step
        sched.step()
        losses = [float(x) for x in torch.stack(losses).float().cpu()] if losses else [float("nan")]
        epoch_times.append(time.perf_counter() - t0)
        if val:
            scores = validation_score(val_graphs, predict(model, val, device, cfg.batch_size, amp))
        else:  # no validation set: select on the training loss, averaged over ranks
            mean_loss = torch.tensor(float(np.mean(losses)))
            if world > 1:
                torch.distributed.all_reduce(mean_loss)
                mean_loss /= world
            scores = {"score": -float(mean_loss)}
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": epoch_times[-1], **scores})
        if rank == 0:
            log.info("epoch %d loss %.4f val %s (%.1fs)", epoch, np.mean(losses), scores, epoch_times[-1])
        improved = scores["score"] > best
        if improved:
            best, best_epoch = scores["score"], epoch
            best_state = _snapshot(model)
        if per_task:  # patience counts epochs in which neither task improved
            better = [t for t in TASKS if scores[f"{t}_auprc"] > task_best[t]["score"]]
            state = _snapshot(model) if better else None  # one copy, shared by the tasks it serves
            for task in better:
                task_best[task] = {"score": scores[f"{task}_auprc"], "epoch": epoch, "state": state}
            improved = bool(better)
        bad = 0 if improved else bad + 1
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
            _save(out_dir / "last.pt", {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": epoch, "best_score": best, "best_epoch": best_epoch, "history": history,
                "bad_epochs": bad, "best_model": best_state, "task_best": task_best, "meta": meta,
                "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            })
        if bad >= cfg.patience:
            log.info("early stop at epoch %d (best %d)", epoch, best_epoch)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    task_epochs = None
    if per_task and all(task_best[t]["state"] is not None for t in TASKS):
        model = per_task_network(model_name, model_params, in_dim)
        for task in TASKS:
            getattr(model, task).load_state_dict(task_best[task]["state"])
        model = model.to(device)
        task_epochs = {t: int(task_best[t]["epoch"]) for t in TASKS}
        meta["per_task_epochs"] = task_epochs
        best_epoch = max(task_epochs.values())
        best = float(np.mean([task_best[t]["score"] for t in TASKS]))
    result = FitResult(model, best_epoch, float(best), history,
                       float(np.mean(epoch_times)) if epoch_times else 0.0, task_epochs=task_epochs)
    if out_dir:
        result.checkpoint = save_checkpoint(out_dir / "best.pt", model, meta, history, best_epoch, best)
    return result


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def per_task_network(name: str, params: dict[str, Any], in_dim: int) -> PerTaskNetwork:
    """The network ``name`` twice (its ``paratope`` and ``epitope`` states are loaded by the caller)."""
    return PerTaskNetwork(*(build_model(name, params, in_dim) for _ in TASKS))


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any], history, best_epoch, best_score,
                    thresholds: dict[str, float] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta,
                 "history": history, "best_epoch": best_epoch, "best_score": best_score,
                 "thresholds": thresholds or {}})
    (path.with_suffix(".json")).write_text(json.dumps(
        {"meta": meta, "best_epoch": best_epoch, "best_score": best_score, "history": history,
         "thresholds": thresholds or {}}, indent=1, default=str))
    return path


def load_checkpoint(path: str | Path, device: torch.device | None = None) -> tuple[nn.Module, dict[str, Any]]:
    state = torch.load(path, map_location=device or "cpu", weights_only=False)
    meta = state["meta"]
    build = per_task_network if meta.get("per_task_epochs") else build_model  # per_task: paratope.* and epitope.*
    model = build(meta["model"], meta["model_params"], meta["in_dim"])
    model.load_state_dict(state["model"])
    return model.to(device or "cpu"), state
