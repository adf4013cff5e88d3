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

from absites.models.dropout import Dropout

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
        self.dropout = Dropout(dropout)

    def forward(self, h: Tensor, is_antibody: Tensor, batch: Tensor, valid: Tensor | None = None) -> Tensor:
        """``valid``: residues that may be attended to (e.g. those with surface vertices); all by default."""
        from torch_geometric.utils import to_dense_batch  # here: surface networks without this fusion skip PyG

        z = self.norm(h)
        delta = torch.zeros_like(h)
        keep = torch.ones_like(is_antibody) if valid is None else valid
        n_complex = int(batch[-1]) + 1 if batch.numel() else 0
        sides = []
        for side in (is_antibody, ~is_antibody):  # every complex's residues of one protein, padded
            idx = side.nonzero().squeeze(1)
            dense_idx, mask = to_dense_batch(idx, batch[idx], batch_size=n_complex)
            sides.append((dense_idx, mask, mask & keep[dense_idx]))
        for (q_idx, q_mask, _), (k_idx, _, k_valid) in ((sides[0], sides[1]), (sides[1], sides[0])):
            if q_idx.shape[1] == 0 or k_idx.shape[1] == 0:
                continue
            has_key = k_valid.any(dim=1)  # a complex whose partner has no valid residue gets no message
            padding = ~k_valid & has_key.unsqueeze(1)  # rows with no valid key stay unmasked (no NaN), zeroed below
            keys = z.index_select(0, k_idx.reshape(-1)).view(*k_idx.shape, -1)
            queries = z.index_select(0, q_idx.reshape(-1)).view(*q_idx.shape, -1)
            out, _ = self.attn(queries, keys, keys, key_padding_mask=padding, need_weights=False)
            out = out * has_key[:, None, None].to(out.dtype)
            delta = delta.index_copy(0, q_idx[q_mask], out[q_mask].to(delta.dtype))
        return h + self.dropout(delta)
