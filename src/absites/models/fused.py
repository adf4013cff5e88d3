"""GATv2's attention scores fused by ``torch.compile`` for training on the CPU.

GATv2 scores a (target ``i``, source ``j``) pair as ``a · LeakyReLU(x_i + x_j [+ e_ij])`` per head, a sum
over channels after a nonlinearity, so no matrix product separates it: eagerly, every pair's
``(heads, channels)`` vector is written and read again by the add, the LeakyReLU, the product with ``a``
and the sum, forward and backward. On two cores those passes were the larger part of a GATv2 epoch
(bench/RESULTS.md, issue 14). Inductor fuses them into one loop per direction that never stores the
per-channel tensor, and recomputes it in the backward.

* :func:`pair_score` — all (query, key) pairs of two residue sets: the dense cross layers
  (:mod:`absites.models.bipartite`).
* :func:`edge_score` — along edges: :class:`FusedGATv2Conv`, PyG's ``GATv2Conv`` with its score fused
  (same parameters, so checkpoints of either load in the other).

Both compile once per process on the first training call (~5 s; dynamic shapes, so complexes of every
size share the code), after a probe against the eager function on that call's own inputs, values and
gradients. A failed probe (no C++ compiler, an unsupported platform) keeps the eager function with a
warning, as does ``ABSITES_COMPILE=0``. Inference (no gradients) and other devices run eagerly: one
forward does not repay a compile, and the GPU path is not timed yet.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATv2Conv
from torch_geometric.utils import softmax

from absites.models.dropout import dropout
from absites.models.layers import narrow_linear

log = logging.getLogger(__name__)


def _eager_pair_score(xq: Tensor, xk: Tensor, att: Tensor, slope: float) -> Tensor:
    """``(Lq, H, C), (Lk, H, C), (H, C) -> (H, Lq, Lk)``, heads first (contiguous): the layout of the batched
    matrix products that turn the scores into messages, so neither direction copies the score tensor."""
    return (F.leaky_relu(xq.unsqueeze(1) + xk.unsqueeze(0), slope) * att).sum(-1).permute(2, 0, 1).contiguous()


def _eager_edge_score(xi: Tensor, xj: Tensor, e: Tensor, att: Tensor, slope: float) -> Tensor:
    """``(E, H, C) × 3, (H, C) -> (E, H)``."""
    return (F.leaky_relu(xi + xj + e, slope) * att).sum(-1)


class _Fused:
    """An eager score function, replaced by its compiled form for CPU training once a probe agrees."""

    def __init__(self, eager: Callable[..., Tensor]):
        self.eager = eager
        self.impl: Callable[..., Tensor] | None = None

    def __call__(self, *tensors: Tensor, slope: float) -> Tensor:
        if not (torch.is_grad_enabled() and tensors[0].device.type == "cpu"):
            return self.eager(*tensors, slope)
        if self.impl is None:
            self.impl = self._probe(tensors, slope)
        return self.impl(*tensors, slope)

    def _probe(self, tensors: tuple[Tensor, ...], slope: float) -> Callable[..., Tensor]:
        if os.environ.get("ABSITES_COMPILE", "1") == "0":
            return self.eager
        try:
            compiled = torch.compile(self.eager, dynamic=True)
            inputs = [t.detach().clone().requires_grad_(True) for t in tensors]
            got = compiled(*inputs, slope)
            got_grads = torch.autograd.grad(got.square().sum(), inputs)
            want = self.eager(*inputs, slope)
            want_grads = torch.autograd.grad(want.square().sum(), inputs)
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
            # gradients by relative norm: where a pre-activation sits within rounding of LeakyReLU's kink,
            # the two summation orders may take different sides of it, a different slope for that element
            for a, b in zip(got_grads, want_grads):
                if float((a - b).norm()) > 1e-3 * float(b.norm()) + 1e-6:
                    raise AssertionError(f"gradients differ by {float((a - b).norm() / b.norm().clamp(min=1e-12)):.2e} "
                                         "(relative norm)")
            return compiled
        except Exception as exc:  # noqa: BLE001 — any compiler failure: the eager function computes the same
            first = str(exc).splitlines()[0] if str(exc) else ""
            log.warning("%s: torch.compile unavailable here (%s: %s); running eagerly", self.eager.__name__,
                        type(exc).__name__, first)
            return self.eager


_pair = _Fused(_eager_pair_score)
_edge = _Fused(_eager_edge_score)


def pair_score(xq: Tensor, xk: Tensor, att: Tensor, slope: float) -> Tensor:
    """GATv2 scores of every (query, key) pair: ``(Lq, H, C), (Lk, H, C), (H, C) -> (H, Lq, Lk)``."""
    return _pair(xq, xk, att, slope=slope)


def edge_score(xi: Tensor, xj: Tensor, e: Tensor, att: Tensor, slope: float) -> Tensor:
    """GATv2 scores along edges (target, source, edge term): ``(E, H, C) × 3, (H, C) -> (E, H)``."""
    return _edge(xi, xj, e, att, slope=slope)


class FusedGATv2Conv(GATv2Conv):
    """PyG's ``GATv2Conv`` with edge features, its edge score computed by :func:`edge_score` and its edge
    projection by :func:`absites.models.layers.narrow_linear` and its attention dropout by
    :func:`absites.models.dropout.dropout` (one random byte per element); everything else (self loops, softmax,
    messages) is PyG's own."""

    def edge_update(self, x_j: Tensor, x_i: Tensor, edge_attr: Optional[Tensor], index: Tensor,
                    ptr: Optional[Tensor], dim_size: Optional[int]) -> Tensor:
        if edge_attr is None or self.lin_edge is None:
            return super().edge_update(x_j, x_i, edge_attr, index, ptr, dim_size)
        e = narrow_linear(edge_attr.view(edge_attr.shape[0], -1), self.lin_edge.weight, self.lin_edge.bias)
        e = e.view(-1, self.heads, self.out_channels)
        alpha = edge_score(x_i, x_j, e, self.att.view(self.heads, self.out_channels), self.negative_slope)
        alpha = softmax(alpha, index, ptr, dim_size)
        return dropout(alpha, self.dropout, self.training)
