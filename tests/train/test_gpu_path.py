"""The GPU path, checked on CPU: bfloat16 autocast through every network, and the GPU timing script's dry run."""

from __future__ import annotations

import pytest
import torch

from absites.registry import select_inputs
from absites.config import load_training_config
from absites.train.loop import build_model, collate, input_dim, loss_fn, make_samples
from conftest import DATA_ROOT, bench_script

IDS = ["1ahw_BA_C", "1egj_HL_A"]


@pytest.mark.parametrize("name,params", [("epmp", {}), ("egnn", {}), ("gatv2", {}),
                                         ("egnn", {"fusion": "cross_attention"}),
                                         ("diffusionnet", {"width": 16, "blocks": 2}),
                                         ("diffusionnet", {"width": 16, "blocks": 1, "fusion": "cross_attention"}),
                                         ("pointnet", {"width": 16}),
                                         ("joint", {"hidden": 16, "layers": 1})])
def test_every_network_runs_forward_and_backward_under_bf16_autocast(graphs, surfaces, name, params):
    """CUDA training autocasts to bfloat16; CPU autocast takes the same dtype paths (mixed-dtype index_add,
    sparse products) and so catches what would fail on the first GPU step."""
    surf = surfaces if name in ("diffusionnet", "pointnet", "joint") else None
    samples = make_samples(graphs, surf)
    torch.manual_seed(0)
    model = build_model(name, params, input_dim(samples))
    b = collate(samples, torch.device("cpu"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(**select_inputs(model, b["inputs"]))
    loss = loss_fn(logits, b, load_training_config("default"))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_gpu_config_asks_for_the_gpu_settings():
    cfg = load_training_config("gpu")
    assert cfg.device == "cuda" and cfg.amp and not cfg.compile and cfg.batch_size > load_training_config().batch_size


@pytest.mark.slow
def test_gpu_timing_script_dry_run_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("ABSITES_DATA_ROOT", str(DATA_ROOT))
    bench = bench_script("bench_gpu")
    out = tmp_path / "gpu.md"
    table = bench.main(["--device", "cpu", "--data", "sample", "--limit", "2", "--epochs", "2", "--workers", "1",
                        "--models", "egnn,diffusionnet", "--out", str(out)])
    rows = [line for line in table.splitlines() if line.startswith("| egnn") or line.startswith("| diffusionnet")]
    assert len(rows) == 2 and out.read_text() == table
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[1]) == 2 and float(cells[2]) > 0 and float(cells[3]) > 0  # trained, timed
        assert 0.0 <= float(cells[5]) <= 1.0 and cells[7] == "no"  # validation scored; no compiling on CPU


@pytest.mark.gpu
def test_gpu_timing_script_on_cuda(tmp_path, monkeypatch):
    """The real thing (make test-all on a machine with a CUDA device): every network, bf16, eager (compiled rows are `--compile both`)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    monkeypatch.setenv("ABSITES_DATA_ROOT", str(DATA_ROOT))
    bench = bench_script("bench_gpu")
    table = bench.main(["--data", "sample", "--limit", "4", "--epochs", "2", "--workers", "2",
                        "--out", str(tmp_path / "gpu.md")])
    assert table.startswith("# bench_gpu: cuda")
    for name in ("epmp", "egnn", "gatv2", "diffusionnet"):
        assert any(line.startswith(f"| {name}") for line in table.splitlines()), table
