"""scaled_dot_product_attention registered over kernels/attention*.py: flash attention on cuda, NumPy on cpu.

The public function checks the arguments with PyTorch's messages, then brings every operand to the 4-d form
the kernels take, with autograd-aware views so that broadcasting is summed back by the views' own backward:
query (Z, Hq, L, E), key (Z, Hk, S, E), value (Z, Hk, S, Ev) and the mask (Z, Hq, L, S), where Z is the
product of the batch dims (every dim before the head dim), Hk divides Hq (grouped-query attention, or a key /
value head broadcast over the query heads, which is the same indexing: head h reads kv head h // (Hq // Hk)).
A dim broadcast by stride 0 stays a stride-0 view: the mask in particular is never copied to (L, S) per head
(only batch dims beyond two that broadcast in a pattern no single stride describes force a copy).

The Function saves the inputs, the output and the row log-sum-exp (cuda) for the backward, which recomputes
the probabilities block by block (no L x S matrix is kept). With create_graph the backward is the same
recomputation written with differentiable tensor ops (PyTorch's math path), so higher-order gradients work.

`__all__` is empty: torch has no top-level scaled_dot_product_attention; nn.functional imports the function.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import attention as K
from ..kernels import attention_backward as KB
from ..kernels import attention_ref as R
from ..tensor import Tensor
from .broadcast import broadcast_shapes, sum_to
from .copy import _contiguous_copy
from .dropout import draw_seed

__all__: list[str] = []

# PyTorch prints dtypes in these messages through caffe2::TypeMeta (C++ names), not as torch.float32.
_TYPEMETA = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
             "bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
             "int32": "int", "int64": "long int"}


def _typemeta(dtype: D.dtype) -> str:
    return _TYPEMETA.get(dtype.name, dtype.name)


def _shape(shape: tuple) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


# ---------------------------------------------------------------- argument checks
def _check_types(query, key, value, attn_mask) -> None:
    for pos, (name, t) in enumerate((("query", query), ("key", key), ("value", value)), 1):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' (position {pos}) must be Tensor, "
                            f"not {type(t).__name__}")
    if attn_mask is not None and not isinstance(attn_mask, Tensor):
        raise TypeError("scaled_dot_product_attention(): argument 'attn_mask' (position 4) must be Tensor, "
                        f"not {type(attn_mask).__name__}")


def _validate(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None) -> None:
    """PyTorch's validate_sdpa_input (same order, same messages, the doubled space included)."""
    if not (query.dtype is key.dtype and query.dtype is value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_typemeta(query.dtype)} key.dtype: {_typemeta(key.dtype)} and value.dtype: "
                           f"{_typemeta(value.dtype)} instead.")
    if not (query.device == key.device and query.device == value.device):
        raise RuntimeError("Expected query, key, and value to have the same device type, but got query.device: "
                           f"{query.device} key.device: {key.device} and value.device: {value.device} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead.")
    if attn_mask is not None:
        m = attn_mask.dtype
        if not (m is D.bool or m is D.float32 or m is query.dtype):
            raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {_typemeta(m)} and  query.dtype: {_typemeta(query.dtype)} instead.")
        if attn_mask.device != query.device:
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                               f"{query.device} and {attn_mask.device}!")
    if not query.dtype.is_floating_point:
        # PyTorch's math path fails in its first matmul (CPU) for integer inputs.
        raise RuntimeError(f"\"baddbmm_cpu\" not implemented for '{D.scalar_type_name(query.dtype)}'")


def _heads(t: Tensor) -> int:
    return t._shape[-3] if t.ndim >= 3 else 1


def _batch_error(batch: int, expected: int, got: int) -> RuntimeError:
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {expected}] but "
                        f"got: [{batch}, {got}].")


def _matmul_check(a_shape: tuple, b_shape: tuple) -> tuple:
    """The batch shape of a @ b (PyTorch's matmul rules and messages for >= 2-d operands)."""
    if len(a_shape) == 2 and len(b_shape) == 2:
        if a_shape[1] != b_shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a_shape[0]}x{a_shape[1]} and "
                               f"{b_shape[0]}x{b_shape[1]})")
        return ()
    batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
    if a_shape[-1] != b_shape[-2]:
        raise _batch_error(math.prod(batch), a_shape[-1], b_shape[-2])
    return batch


def _check_mask(mask: Tensor, scores: tuple) -> None:
    """attn.add_(mask): the mask must broadcast to the scores' shape without growing it."""
    full = broadcast_shapes(scores, mask._shape)
    if full != tuple(scores):
        raise RuntimeError(f"output with shape {_shape(scores)} doesn't match the broadcast shape {_shape(full)}")


def _plan(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, is_causal: bool,
          enable_gqa: bool) -> tuple[tuple, int]:
    """(the output's leading dims, kv heads) after PyTorch's math-path checks, in its order."""
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    q_shape, k_shape, v_shape = query._shape, key._shape, value._shape
    gqa = False
    if enable_gqa:
        for t in (query, key, value):
            if t.ndim < 3:
                raise IndexError(f"Dimension out of range (expected to be in range of [-{t.ndim}, {t.ndim - 1}], "
                                 "but got -3)")
        hq, hk, hv = q_shape[-3], k_shape[-3], v_shape[-3]
        if not (hq == hk == hv) and not (hq % hk == 0 and hq % hv == 0):
            # PyTorch's message, cut short as in its source.
            raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
        gqa = not hq == hk == hv
        if gqa:  # the matmuls see the repeated kv heads
            k_shape = k_shape[:-3] + (hq,) + k_shape[-2:]
            v_shape = v_shape[:-3] + (hq,) + v_shape[-2:]
    kt_shape = k_shape[:-2] + (k_shape[-1], k_shape[-2])
    scores = _matmul_check(q_shape, kt_shape) + (q_shape[-2], k_shape[-2])
    if attn_mask is not None:
        _check_mask(attn_mask, scores)
    lead = _matmul_check(scores, v_shape)
    return lead, (1 if gqa else 0)


# ---------------------------------------------------------------- the autograd Function
def _allow_tf32(q: Tensor) -> bool:
    from ..backends import cuda as cuda_flags

    return q.dtype is D.float32 and bool(cuda_flags.matmul.allow_tf32)


def _inner(t: Tensor) -> Tensor:
    """t with a contiguous last dim (the kernels index the head dim without a stride); other dims keep their
    strides, so broadcast (stride-0) batch and head dims are not copied unless the last dim needs it."""
    if t._shape[-1] <= 1 or t.stride()[-1] == 1:
        return t
    return _contiguous_copy(t)


# The cpu forward keeps its probabilities for the backward up to this size (a small model's attention: the
# recomputation cost as much as the rest of the backward); beyond it the backward recomputes them, so memory
# stays that of the inputs as on cuda (flash attention keeps only lse).
_KEEP_PROBS_BYTES = 1 << 22


def _stat_dtype(q: Tensor) -> D.dtype:
    """lse / delta: fp32, fp64 for fp64 inputs (an fp32 lse would cap fp64 gradients at fp32 accuracy)."""
    return D.float64 if q.dtype is D.float64 else D.float32


class ScaledDotProductAttention(Function):
    """softmax(q k^T * scale + mask) v with dropout on the probabilities, on the 4-d operands of the module
    docstring; the backward recomputes the probabilities from the saved inputs (and lse on cuda)."""

    differentiable_forward = False
    _state_in_saved = True  # besides _saved: numbers, and probs / lse (dropped by _release)

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, scale: float, causal: bool,
                dropout_p: float, seed: int) -> Tensor:
        ctx.args = (scale, causal, dropout_p, seed)
        ctx.probs = None
        if q.device.type == "cpu":
            out_np, _, probs = R.attention_forward_probs(q._host(), k._host(), v._host(),
                                                         None if mask is None else mask._host(), scale, causal,
                                                         dropout_p, seed)
            out, lse = Tensor._wrap(out_np), None
            if probs.nbytes <= _KEEP_PROBS_BYTES and any(ctx.needs_input_grad):
                ctx.probs = probs  # the backward's own recomputation of them, done once (same bits)
        else:
            Z, Hq, L, _ = q._shape
            out = Tensor._empty((Z, Hq, L, v._shape[-1]), q.dtype, q.device)
            lse = Tensor._empty((Z * Hq, L), _stat_dtype(q), q.device)
            K.attention_forward(out._dev(), lse._dev(), _inner(q)._dev(), _inner(k)._dev(), _inner(v)._dev(),
                                None if mask is None else mask._dev(), scale, causal, dropout_p, seed,
                                _allow_tf32(q))
        ctx.lse = lse
        ctx.save_for_backward(q, k, v, mask, out)
        return out

    def _release(self) -> None:
        self.probs = self.lse = None

    def backward_fused(self, grad: Tensor):
        q, k, v, mask, out = self._saved_values()  # (out's values only: no output-with-history to rebuild)
        scale, causal, dropout_p, seed = self.args
        mask_grad = mask is not None and len(self.needs_input_grad) > 3 and bool(self.needs_input_grad[3])
        if q.device.type == "cpu":
            grads = R.attention_backward_ref(grad._host(), q._host(), k._host(), v._host(),
                                             None if mask is None else mask._host(), scale, causal, dropout_p, seed,
                                             mask_grad, self.probs)
            wrapped = [None if g is None else Tensor._wrap(g) for g in grads]
            return (*wrapped, None, None, None, None)
        dq = Tensor._empty(q._shape, q.dtype, q.device)
        dk = Tensor._empty(k._shape, k.dtype, k.device)
        dv = Tensor._empty(v._shape, v.dtype, v.device)
        Z, Hq, L, S = q._shape[0], q._shape[1], q._shape[2], k._shape[2]
        ds = Tensor._empty((Z, Hq, L, S), D.float32, q.device) if mask_grad else None
        delta = Tensor._empty((Z * Hq, L), _stat_dtype(q), q.device)
        gc = _inner(grad if grad._shape == out._shape else grad.expand(*out._shape))
        KB.attention_backward(dq._dev(), dk._dev(), dv._dev(), None if ds is None else ds._dev(), delta._dev(),
                              gc._dev(), _inner(q)._dev(), _inner(k)._dev(), _inner(v)._dev(), out._dev(),
                              self.lse._dev(), None if mask is None else mask._dev(), scale, causal, dropout_p, seed,
                              _allow_tf32(q))
        dmask = None if ds is None else sum_to(ds, mask._shape).to(mask.dtype)
        return dq, dk, dv, dmask, None, None, None, None

    @staticmethod
    def backward(ctx, grad):
        # create_graph: PyTorch's math path with differentiable tensor ops (materialises L x S per head).
        return _math_backward(ctx, grad)


def _math_backward(ctx, grad: Tensor) -> tuple:
    q, k, v, mask, _ = ctx.saved_tensors
    scale, causal, dropout_p, seed = ctx.args
    hq, hk = q._shape[1], k._shape[1]
    kx = k if hk == hq else k.repeat_interleave(hq // hk, dim=1)
    vx = v if hk == hq else v.repeat_interleave(hq // hk, dim=1)
    s = (q @ kx.transpose(-2, -1)) * scale
    L, S = s._shape[-2], s._shape[-1]
    if causal:
        s = s.masked_fill(~Tensor._from_host(np.tril(np.ones((L, S), dtype=bool)), q.device), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype is D.bool else s + mask
    empty = (s == float("-inf")).all(-1, keepdim=True)
    p = s.softmax(-1).masked_fill(empty, 0.0)
    dp = grad @ vx.transpose(-2, -1)
    pd = p
    if dropout_p > 0.0:
        keep = R.dropout_keep(p._shape, dropout_p, seed) if dropout_p < 1.0 else np.zeros(p._shape, dtype=bool)
        factor = Tensor._from_host(keep.astype(p.dtype.np) * (0.0 if dropout_p >= 1.0 else 1.0 / (1.0 - dropout_p)),
                                   q.device)
        pd, dp = p * factor, dp * factor
    dv = pd.transpose(-2, -1) @ grad
    ds = p * (dp - (dp * p).sum(-1, keepdim=True))
    dq = (ds @ kx) * scale
    dk = (ds.transpose(-2, -1) @ q) * scale
    if hk != hq:
        dk = dk.reshape(dk._shape[0], hk, hq // hk, *dk._shape[2:]).sum(2)
        dv = dv.reshape(dv._shape[0], hk, hq // hk, *dv._shape[2:]).sum(2)
    needs = ctx.needs_input_grad
    dmask = sum_to(ds, mask._shape).to(mask.dtype) if mask is not None and len(needs) > 3 and needs[3] else None
    return dq, dk, dv, dmask, None, None, None, None


# ---------------------------------------------------------------- the public function
def _as4(t: Tensor, batch: tuple, heads: int) -> Tensor:
    """t expanded to batch + (heads, rows, cols) and viewed as (Z, heads, rows, cols) (differentiable views)."""
    shape = tuple(batch) + (heads,) + t._shape[-2:]
    if t._shape != shape:
        t = t.expand(*shape)
    z = math.prod(batch)
    if t.ndim != 4:
        t = t.reshape(z, heads, *shape[-2:])
    return t


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, with dropout on the attention probabilities.

    query (N, ..., Hq, L, E), key (N, ..., H, S, E), value (N, ..., H, S, Ev) -> (N, ..., Hq, L, Ev); see
    nn.functional.scaled_dot_product_attention for the arguments."""
    _check_types(query, key, value, attn_mask)
    _validate(query, key, value, attn_mask)
    dropout_p = float(dropout_p)
    if dropout_p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    lead, _ = _plan(query, key, value, attn_mask, is_causal, enable_gqa)
    L, E, S, Ev = query._shape[-2], query._shape[-1], key._shape[-2], value._shape[-1]
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)
    batch, hq = (lead[:-1], lead[-1]) if lead else ((), 1)
    hk, hv = _heads(key), _heads(value)
    if hk != hv or hq % hk or (hk != hq and not enable_gqa and hk != 1):
        # Different kv head counts (grouped-query attention allows it) share no kernel index: repeat both.
        key = key.repeat_interleave(hq // hk, dim=-3) if hk != hq else key
        value = value.repeat_interleave(hq // hv, dim=-3) if hv != hq else value
        hk = hq
    q4 = _as4(query if query.ndim >= 3 else query.reshape(1, L, E), batch, hq)
    k4 = _as4(key if key.ndim >= 3 else key.reshape(1, S, E), batch, hk)
    v4 = _as4(value if value.ndim >= 3 else value.reshape(1, S, Ev), batch, hk)
    m4 = None
    if attn_mask is not None:
        target = tuple(batch) + (hq, L, S)
        m = attn_mask
        if m.ndim < len(target):
            m = m.reshape(*((1,) * (len(target) - m.ndim) + m._shape))
        m4 = _as4(m, batch, hq)
        if m4._shape[1:] != (hq, L, S):
            m4 = m4.expand(m4._shape[0], hq, L, S)
    out_shape = tuple(lead) + (L, Ev)
    if 0 in q4._shape or 0 in v4._shape or S == 0:
        return _empty_result(q4, v4, out_shape)
    seed = draw_seed() if dropout_p > 0.0 else 0
    out = ScaledDotProductAttention.apply(q4, k4, v4, m4, scale, bool(is_causal), max(dropout_p, 0.0), seed)
    return out.reshape(*out_shape) if out._shape != out_shape else out


def _empty_result(q4: Tensor, v4: Tensor, out_shape: tuple) -> Tensor:
    """No keys (S == 0: every row keeps none, so 0) or an empty output: zeros, attached to the graph."""
    zero = (q4.sum() + v4.sum()) * 0.0
    return (Tensor._full(out_shape, 0.0, q4.dtype, q4.device) + zero)
