"""Antibody–antigen fusion: how the two proteins of a complex exchange information.

* ``late`` (the reference): each residue (or vertex) gets the partner's global
  max-pooled feature appended before the head — one vector crosses over.
* early fusion, ``cross_attention``: dense multi-head attention from every
  residue of one protein to every residue of its partner, inside the encoder
  (EpiFormer-style). Features only: no cross-protein distance enters, so the
  bound pose cannot leak into the prediction.

Shapes: ``h (N, C)`` residue features of a batch of complexes, ``is_antibody
(N,)`` bool, ``batch (N,)`` complex index of each residue.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

FUSIONS = ("late", "cross_attention")


def check_fusion(fusion: str, allowed: tuple[str, ...] = FUSIONS) -> str:
    if fusion not in allowed:
        raise ValueError(f"fusion must be one of {', '.join(allowed)}, not {fusion!r}")
    return fusion


def partner_pool(h: Tensor, is_antibody: Tensor, batch: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per residue, the max over its partner protein's residues (same complex): ``(N, C)``."""
    n_complex = int(batch.max()) + 1 if batch.numel() else 0
    group = batch * 2 + is_antibody.long()  # (complex, protein) slot
    keep = torch.ones_like(is_antibody) if valid is None else valid
    pooled = torch.full((2 * n_complex, h.shape[1]), -1e4, device=h.device, dtype=h.dtype)
    pooled = pooled.scatter_reduce(0, group[keep].unsqueeze(1).expand(-1, h.shape[1]), h[keep], reduce="amax",
                                   include_self=True)
    pooled = torch.where(pooled <= -1e4, torch.zeros_like(pooled), pooled)  # a protein with no valid residue
    partner = batch * 2 + (~is_antibody).long()
    return pooled[partner]


class ResidueCrossAttention(nn.Module):
    """Antibody residues attend to antigen residues of the same complex and vice versa (pre-norm, residual)."""

    def __init__(self, hidden: int, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, is_antibody: Tensor, batch: Tensor, valid: Tensor | None = None) -> Tensor:
        """``valid``: residues that may be attended to (e.g. those with surface vertices); all by default."""
        z = self.norm(h)
        delta = torch.zeros_like(h)
        keep = torch.ones_like(is_antibody) if valid is None else valid
        for c in torch.unique(batch).tolist():
            in_c = batch == c
            ab = torch.nonzero(in_c & is_antibody, as_tuple=True)[0]
            ag = torch.nonzero(in_c & ~is_antibody, as_tuple=True)[0]
            for queries, keys in ((ab, ag), (ag, ab)):
                keys = keys[keep[keys]]
                if queries.numel() == 0 or keys.numel() == 0:
                    continue
                out, _ = self.attn(z[queries].unsqueeze(0), z[keys].unsqueeze(0), z[keys].unsqueeze(0),
                                   need_weights=False)
                delta = delta.index_copy(0, queries, out.squeeze(0).to(delta.dtype))
        return h + self.dropout(delta)
