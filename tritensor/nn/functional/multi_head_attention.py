"""nn.functional's multi_head_attention_forward, as PyTorch 2.5 writes it in torch.nn.functional.

The projections are F.linear, the attention itself is F.scaled_dot_product_attention when the weights are not
wanted, and an explicit baddbmm/bmm + softmax + dropout when they are (the weights are a result then), exactly
where PyTorch does each. The private helpers (_canonical_mask, _none_or_dtype, _mha_shape_check, _in_projection*)
keep PyTorch's names because nn.MultiheadAttention and the Transformer layers call them as PyTorch's modules do.
"""

from __future__ import annotations

import math
import warnings

from ... import dtypes as D
from ...creation import zeros
from ...ops.api import baddbmm, bmm, cat, linear, pad, zeros_like  # bound ops: autocast casts, export traces
from ...tensor import Tensor
from .activation import softmax
from .attention import scaled_dot_product_attention
from .dropout import dropout

__all__ = ["multi_head_attention_forward"]


def _none_or_dtype(input: Tensor | None) -> D.dtype | None:
    """The dtype of `input`, None for None (PyTorch's helper for the mask-type mismatch warning)."""
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type: D.dtype | None, other_name: str,
                    target_type: D.dtype, check_other: bool = True) -> Tensor | None:
    """A bool mask (True = masked out) as an additive float mask of `target_type` (0 / -inf); a float mask as is.

    Other dtypes are an AssertionError; a mask whose dtype differs from `other_type` warns (deprecated in PyTorch).
    """
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != D.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if not is_float:
        mask = zeros_like(mask, dtype=target_type).masked_fill_(mask, float("-inf"))
    return mask


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                     attn_mask: Tensor | None, num_heads: int) -> bool:
    """Whether the inputs are batched (3-D query) or not (2-D), with PyTorch's AssertionErrors on the ranks."""
    if query.dim() == 3:
        assert key.dim() == 3 and value.dim() == 3, (
            "For batched (3-D) `query`, expected `key` and `value` to be 3-D"
            f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None:
            assert key_padding_mask.dim() == 2, (
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            assert attn_mask.dim() in (2, 3), (
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        assert key.dim() == 2 and value.dim() == 2, (
            "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
            f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None:
            assert key_padding_mask.dim() == 1, (
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            assert attn_mask.dim() in (2, 3), (
                "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected_shape = (num_heads, query.shape[0], key.shape[0])
                assert attn_mask.shape == expected_shape, (
                    f"Expected `attn_mask` shape to be {expected_shape} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor,
                          b: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v projected by the packed (3E, E) weight: one matmul for self-attention (q is k is v), two for
    encoder-decoder attention (k is v), three otherwise, as PyTorch."""
    E = q.size(-1)
    if k is v:
        if q is k:
            proj = linear(q, w, b)
            # (3, E) and not (E, 3): the same order as chunk(), each part contiguous
            proj = proj.unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        q_proj = linear(q, w_q, b_q)
        kv_proj = linear(k, w_kv, b_kv)
        kv_proj = kv_proj.unflatten(-1, (2, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
        return q_proj, kv_proj[0], kv_proj[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q: Tensor, k: Tensor, v: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, b_q: Tensor | None = None,
                   b_k: Tensor | None = None, b_v: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v projected by separate weights (E, Eq), (E, Ek), (E, Ev), with PyTorch's shape assertions."""
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    assert w_q.shape == (Eq, Eq), f"expecting query weights shape of {(Eq, Eq)}, but got {w_q.shape}"
    assert w_k.shape == (Eq, Ek), f"expecting key weights shape of {(Eq, Ek)}, but got {w_k.shape}"
    assert w_v.shape == (Eq, Ev), f"expecting value weights shape of {(Eq, Ev)}, but got {w_v.shape}"
    assert b_q is None or b_q.shape == (Eq,), f"expecting query bias shape of {(Eq,)}, but got {b_q.shape}"
    assert b_k is None or b_k.shape == (Eq,), f"expecting key bias shape of {(Eq,)}, but got {b_k.shape}"
    assert b_v is None or b_v.shape == (Eq,), f"expecting value bias shape of {(Eq,)}, but got {b_v.shape}"
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _prepare_attn_mask(attn_mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool,
                       need_weights: bool, target_type: D.dtype) -> tuple[Tensor | None, bool]:
    """attn_mask in additive float form and the is_causal hint left for SDPA, as PyTorch decides them."""
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        # The hint alone goes to SDPA (which builds the causal mask itself); the mask is dropped.
        return None, True
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", target_type, check_other=False)
    if key_padding_mask is not None:
        # The padding mask is merged into attn_mask below, which is then no longer causal.
        is_causal = False
    return attn_mask, is_causal


def _check_3d_attn_mask(attn_mask: Tensor, tgt_len: int, src_len: int, bsz: int, num_heads: int) -> Tensor:
    """attn_mask as (1 or bsz * num_heads, L, S), with PyTorch's RuntimeErrors on a wrong shape."""
    if attn_mask.dim() == 2:
        correct_2d_size = (tgt_len, src_len)
        if attn_mask.shape != correct_2d_size:
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{correct_2d_size}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.dim() == 3:
        correct_3d_size = (bsz * num_heads, tgt_len, src_len)
        if attn_mask.shape != correct_3d_size:
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{correct_3d_size}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _static_kv(static: Tensor, name: str, bsz: int, num_heads: int, head_dim: int) -> Tensor:
    """A caller's precomputed (bsz * num_heads, S, head_dim) key or value, shape-checked as PyTorch."""
    assert static.size(0) == bsz * num_heads, (
        f"expecting {name}.size(0) of {bsz * num_heads}, but got {static.size(0)}")
    assert static.size(2) == head_dim, f"expecting {name}.size(2) of {head_dim}, but got {static.size(2)}"
    return static


def _weights_path(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None, dropout_p: float,
                  is_causal: bool) -> tuple[Tensor, Tensor]:
    """(output, weights) of attention over (B*H, L, hd) q and (B*H, S, hd) k/v, computed explicitly."""
    q_scaled = q * math.sqrt(1.0 / float(q.shape[-1]))
    assert not (is_causal and attn_mask is None), "FIXME: is_causal not implemented for need_weights"
    if attn_mask is not None:
        weights = baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
    else:
        weights = bmm(q_scaled, k.transpose(-2, -1))
    weights = softmax(weights, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, p=dropout_p)
    return bmm(weights, v), weights


def _sdpa_path(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None, dropout_p: float, is_causal: bool,
               bsz: int, num_heads: int) -> Tensor:
    """(N, num_heads, L, hd) attention of (N*H, L, hd) q over (N*H, S, hd) k/v by F.scaled_dot_product_attention."""
    tgt_len, src_len, head_dim = q.shape[1], k.shape[1], q.shape[2]
    # SDPA takes (N, num_heads, L, S) masks: a (1, L, S) mask broadcasts, a per-head one is viewed so
    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    return scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)


def _merge_key_padding(attn_mask: Tensor | None, key_padding_mask: Tensor, bsz: int, num_heads: int,
                       src_len: int) -> Tensor:
    """The (N, S) float key_padding_mask added to attn_mask as (N * num_heads, 1, S), or alone without one."""
    assert key_padding_mask.shape == (bsz, src_len), (
        f"expecting key_padding_mask shape of {(bsz, src_len)}, but got {key_padding_mask.shape}")
    key_padding_mask = (key_padding_mask.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                        .reshape(bsz * num_heads, 1, src_len))
    return key_padding_mask if attn_mask is None else attn_mask + key_padding_mask


def _project(query: Tensor, key: Tensor, value: Tensor, in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
             use_separate_proj_weight: bool, q_proj_weight: Tensor | None, k_proj_weight: Tensor | None,
             v_proj_weight: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """The in-projections of (L, N, E) query and (S, N, E*) key/value, packed or separate, as PyTorch."""
    if not use_separate_proj_weight:
        assert in_proj_weight is not None, "use_separate_proj_weight is False but in_proj_weight is None"
        return _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    assert q_proj_weight is not None, "use_separate_proj_weight is True but q_proj_weight is None"
    assert k_proj_weight is not None, "use_separate_proj_weight is True but k_proj_weight is None"
    assert v_proj_weight is not None, "use_separate_proj_weight is True but v_proj_weight is None"
    b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    return _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v)


def _add_bias_kv(k: Tensor, v: Tensor, bias_k: Tensor | None, bias_v: Tensor | None, static_k: Tensor | None,
                 static_v: Tensor | None, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                 bsz: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """k and v (S, N, E) with bias_k/bias_v appended as one more source position (the masks padded to match)."""
    if bias_k is not None and bias_v is not None:
        assert static_k is None, "bias cannot be added to static key."
        assert static_v is None, "bias cannot be added to static value."
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    else:
        assert bias_k is None
        assert bias_v is None
    return k, v, attn_mask, key_padding_mask


def _add_zero_attn(k: Tensor, v: Tensor, attn_mask: Tensor | None,
                   key_padding_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """(B*H, S, hd) k and v with a zero source position appended (the masks padded to match)."""
    zero_attn_shape = (k.shape[0], 1, k.shape[2])
    k = cat([k, zeros(zero_attn_shape, dtype=k.dtype, device=k.device)], dim=1)
    v = cat([v, zeros(zero_attn_shape, dtype=v.dtype, device=v.device)], dim=1)
    if attn_mask is not None:
        attn_mask = pad(attn_mask, (0, 1))
    if key_padding_mask is not None:
        key_padding_mask = pad(key_padding_mask, (0, 1))
    return k, v, attn_mask, key_padding_mask


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
    add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
    training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
    attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
    static_v: Tensor | None = None, average_attn_weights: bool = True, is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention of query (L, N, E) or (L, E) over key/value (S, N, E*) or (S, E*).

    Returns (attn_output (L, N, E) or (L, E), weights or None): the weights only when need_weights, averaged
    over heads ((N, L, S)) when average_attn_weights, else per head ((N, num_heads, L, S)). key_padding_mask
    (N, S) and attn_mask (L, S) or (N * num_heads, L, S) are bool (True = may NOT attend) or float (added to
    the scores). is_causal is a hint that attn_mask is the causal mask (an attn_mask is still required).
    bias_k/bias_v (1, 1, E) append one key/value position, add_zero_attn a zero one; static_k/static_v
    replace the projected (N * num_heads, S, E / num_heads) keys/values. Dropout acts only when training.
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        # Pretend to be batched (a batch of one at dim 1) and squeeze it away at the end.
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)

    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    attn_mask, is_causal = _prepare_attn_mask(attn_mask, key_padding_mask, is_causal, need_weights, query.dtype)

    assert embed_dim == embed_dim_to_check, (
        f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    assert head_dim * num_heads == embed_dim, f"embed_dim {embed_dim} not divisible by num_heads {num_heads}"
    if use_separate_proj_weight:
        # separate projections allow key and value their own feature sizes
        assert key.shape[:2] == value.shape[:2], (
            f"key's sequence and batch dims {key.shape[:2]} do not match value's {value.shape[:2]}")
    else:
        assert key.shape == value.shape, f"key shape {key.shape} does not match value shape {value.shape}"

    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight, q_proj_weight,
                       k_proj_weight, v_proj_weight)

    if attn_mask is not None:
        attn_mask = _check_3d_attn_mask(attn_mask, tgt_len, src_len, bsz, num_heads)

    k, v, attn_mask, key_padding_mask = _add_bias_kv(k, v, bias_k, bias_v, static_k, static_v, attn_mask,
                                                     key_padding_mask, bsz)

    # heads become batch entries: (L, N, E) -> (N * num_heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        k = _static_kv(static_k, "static_k", bsz, num_heads, head_dim)
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        v = _static_kv(static_v, "static_v", bsz, num_heads, head_dim)

    if add_zero_attn:
        k, v, attn_mask, key_padding_mask = _add_zero_attn(k, v, attn_mask, key_padding_mask)

    src_len = k.size(1)
    if key_padding_mask is not None:
        attn_mask = _merge_key_padding(attn_mask, key_padding_mask, bsz, num_heads, src_len)

    if not training:
        dropout_p = 0.0

    if need_weights:
        attn_output, weights = _weights_path(q, k, v, attn_mask, dropout_p, is_causal)
        attn_output = attn_output.transpose(0, 1).contiguous().view(tgt_len * bsz, embed_dim)
        attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
        attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            attn_output, weights = attn_output.squeeze(1), weights.squeeze(0)
        return attn_output, weights

    attn_output = _sdpa_path(q, k, v, attn_mask, dropout_p, is_causal, bsz, num_heads)
    attn_output = attn_output.permute(2, 0, 1, 3).contiguous().view(bsz * tgt_len, embed_dim)
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
    attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
    if not is_batched:
        attn_output = attn_output.squeeze(1)
    return attn_output, None
