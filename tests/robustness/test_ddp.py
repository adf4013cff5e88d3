"""DistributedDataParallel on CPU: two gloo processes, one epoch, identical weights on both ranks."""

from __future__ import annotations

import pytest

import os
import socket

import torch
import torch.multiprocessing as mp

from absites.config import FeatureConfig, TrainingConfig
from absites.graph import graph_from_complex
from absites.structure.complex import load_complex
from absites.train.loop import fit, make_samples, shard
from conftest import SAMPLE

IDS = ["1ahw_BA_C", "1egj_HL_A", "3o2d_HL_A"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    graphs = [graph_from_complex(load_complex(SAMPLE[c].path, SAMPLE[c].roles, c), FeatureConfig()) for c in IDS]
    samples = make_samples(graphs)
    cfg = TrainingConfig(epochs=1, batch_size=1, patience=5, scheduler="constant", device="cpu")
    result = fit("epmp", {}, cfg, samples, [], None)
    torch.save(result.model.state_dict(), os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_shard_pads_like_distributed_sampler():
    import numpy as np

    order = np.array([4, 0, 3, 1, 2])
    parts = [shard(order, r, 2) for r in (0, 1)]
    assert [len(p) for p in parts] == [3, 3]
    assert sorted(np.concatenate(parts).tolist()) == [0, 1, 2, 3, 4, 4]
