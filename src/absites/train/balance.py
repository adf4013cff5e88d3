"""Per-layer initialisation scales and learning-rate multipliers (unbalanced initialisation).

Kunin et al. ("Get rich quick", arXiv 2406.06158) show that with piecewise-linear
activations the balance between layers sets how fast features are learned: for
a neuron with input weights ``w`` (learning rate ``η_w``) and readout weight
``a`` (``η_a``) the quantity ``δ = η_w a² − η_a ‖w‖²`` is conserved by gradient
flow; ``δ > 0`` ("upstream": earlier layers small at initialisation, or learning
faster than the readout) speeds up feature learning, ``δ < 0`` ("downstream")
slows it towards the lazy regime.

Any model takes two optional entries in its ``params`` (configs/model/*.yaml or
a benchmark row), popped before the model is built:

* ``init_scale``: multiplies the initial weight matrices (parameters with two or
  more dimensions; biases, norms and scalars keep their values);
* ``lr_scale``: multiplies the learning rate of those parameters (all of them,
  biases included, through optimiser parameter groups).

Each is a mapping whose keys are ``upstream`` (every parameter outside the
readout), ``readout`` (the model's last ``nn.Linear``, the one that produces the
logit) or a parameter-name prefix (e.g. ``embed`` or ``layers.0``) for one layer;
the longest matching prefix wins over ``readout`` / ``upstream``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from absites.errors import ConfigError

BALANCE_KEYS = ("init_scale", "lr_scale")


def split_balance(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """(constructor parameters, {init_scale: ..., lr_scale: ...})."""
    model_params = {k: v for k, v in params.items() if k not in BALANCE_KEYS}
    balance = {}
    for key in BALANCE_KEYS:
        spec = params.get(key) or {}
        if not isinstance(spec, dict) or not all(isinstance(v, (int, float)) and v > 0 for v in spec.values()):
            raise ConfigError(f"model params: {key} must map layer names to positive numbers, not {spec!r}")
        balance[key] = {str(k): float(v) for k, v in spec.items()}
    return model_params, balance


def readout_names(model: nn.Module) -> set[str]:
    """Parameter names of the model's last ``nn.Linear`` (its readout)."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return set()
    return {f"{last}.{p}" for p, _ in model.get_submodule(last).named_parameters()}


def scale_for(name: str, spec: dict[str, float], readout: set[str]) -> float:
    prefixes = [k for k in spec if k not in ("upstream", "readout") and (name == k or name.startswith(k + "."))]
    if prefixes:
        return spec[max(prefixes, key=len)]
    return spec.get("readout" if name in readout else "upstream", 1.0)


@torch.no_grad()
def apply_init_scale(model: nn.Module, spec: dict[str, float]) -> None:
    if not spec:
        return
    readout = readout_names(model)
    for name, param in model.named_parameters():
        if param.dim() >= 2:
            param.mul_(scale_for(name, spec, readout))


def param_groups(model: nn.Module, spec: dict[str, float], lr: float) -> list[dict[str, Any]]:
    """Optimiser parameter groups, one per learning-rate multiplier."""
    readout = readout_names(model)
    groups: dict[float, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        groups.setdefault(scale_for(name, spec, readout) if spec else 1.0, []).append(param)
    return [{"params": ps, "lr": lr * m, "lr_scale": m} for m, ps in sorted(groups.items())]
