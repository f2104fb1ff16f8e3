"""nn.functional's scaled_dot_product_attention (the flash-attention kernels are ops/attention.py's)."""

from __future__ import annotations

from ...ops.attention import scaled_dot_product_attention as _sdpa
from ...tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention softmax(query @ key^T * scale + attn_mask) @ value, PyTorch's F.scaled_dot_product_attention.

    Args:
        query: (N, ..., Hq, L, E).
        key: (N, ..., H, S, E).
        value: (N, ..., H, S, Ev); Ev may differ from E.
        attn_mask: None, a bool tensor (True: the key takes part) or a float tensor added to the scores (float32
            or query's dtype), broadcastable to (N, ..., Hq, L, S). A float mask that requires grad gets one.
        dropout_p: probability of zeroing an attention probability (the rest are scaled by 1 / (1 - p));
            applied whenever it is > 0, as PyTorch does (pass 0.0 in evaluation). The mask comes from a Philox
            seed drawn from the default Generator (tt.manual_seed), so cpu and cuda drop the same entries.
        is_causal: keep key j for query i only when j <= i (top-left aligned); not together with attn_mask.
        scale: the scores' factor, 1 / sqrt(E) by default.
        enable_gqa: grouped-query attention: Hq a multiple of H, query head h attends with key/value head
            h // (Hq // H).

    Returns:
        (N, ..., Hq, L, Ev). A query row that keeps no key gives 0 (and a zero gradient).

    On cuda this runs the fused flash-attention kernels (online softmax, no L x S matrix in memory); on cpu
    a NumPy implementation of the same computation.
    """
    return _sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
