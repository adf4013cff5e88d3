"""Small building blocks shared by the graph, surface and joint networks; torch only.

Kept free of PyTorch Geometric so that a surface network (and ``absites predict`` with one) does not
import it: PyG's import pulls in ``torch._dynamo`` and costs ~1.3 s of a cold prediction (issue 14).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from absites.models.dropout import Dropout


def mlp(sizes: list[int], dropout: float = 0.0, final_act: bool = False) -> nn.Sequential:
    """Linear layers of the given widths, SiLU + dropout between them (and after the last if ``final_act``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_act:
            layers += [nn.SiLU(), Dropout(dropout)]
    return nn.Sequential(*layers)


def scatter(src: Tensor, index: Tensor, dim_size: int, reduce: str = "sum") -> Tensor:
    """Rows of ``src`` reduced into ``dim_size`` groups by ``index`` (sum, mean or max); empty groups are 0.

    The same arithmetic as ``torch_geometric.utils.scatter`` along dim 0 (``scatter_add_`` then a
    division by the clamped count for the mean; ``scatter_reduce_`` amax for the max), so results are
    identical (tested against it).
    """
    if reduce not in ("sum", "mean", "max"):
        raise ValueError(f"unknown reduce {reduce!r}; sum, mean or max")
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    out = src.new_zeros((dim_size, *src.shape[1:]))
    if reduce == "max":
        return out.scatter_reduce_(0, expanded, src, reduce="amax", include_self=False)
    out = out.scatter_add_(0, expanded, src)
    if reduce == "mean":
        count = src.new_zeros(dim_size).scatter_add_(0, index, src.new_ones(src.shape[0])).clamp(min=1)
        out = out / count.view(-1, *([1] * (src.dim() - 1)))
    return out


class _NarrowLinear(torch.autograd.Function):
    """``x W^T + b`` whose weight gradient is computed as ``(x^T g)^T``: see :func:`narrow_linear`."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return nn.functional.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_w = (x.t().contiguous() @ grad).t() if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def narrow_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``nn.functional.linear`` for many rows of few input features (edge features: ``(E, 4)`` with E ~ 10^4–10^5).

    Same value and gradients. Autograd's weight gradient of a linear layer is ``g^T x``, a ``(out, E) × (E, in)``
    product; on the CPU that layout ran 5× slower than the same numbers as ``(x^T g)^T`` with ``x^T`` made
    contiguous (``E`` = 58 k, 4 → 64 features: 16.0 against 2.8 ms, 2 threads), and GATv2's edge layers compute one per
    layer and step (bench/RESULTS.md, issue 14). Other devices, autocast and inference use the plain layer.
    (EGNN's edge term, 5 features, gained nothing from it in an interleaved comparison and keeps the plain layer.)
    """
    if (x.device.type != "cpu" or x.dim() != 2 or not (torch.is_grad_enabled() and weight.requires_grad)
            or torch.is_autocast_enabled(x.device.type)):  # autocast: its dtypes are the plain layer's business
        return nn.functional.linear(x, weight, bias)
    return _NarrowLinear.apply(x, weight, bias)
