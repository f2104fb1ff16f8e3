"""clamp (clip), forward and backward, on the elementwise map kernel.

The conventions every family on the map kernel follows are in kernels/map_ops.py.

clamp's bounds are both DeviceArrays or both Python numbers (PyTorch's overloads), either may be None.
Its backward with tensor bounds (grad, x, min, max -> three gradients) needs more than the map kernel's
three inputs and two outputs, so it has its own small kernel, `clamp_backward_kernel`.

`OPS` maps "clamp" and "clip" to a `map_ops.BinaryOp`: clamp(out, x, min=, max=) /
clamp_backward(grad_x, grad_min, grad_max, grad, x, min=, max=), whose reference returns
(grad_x, grad_min | None, grad_max | None).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .activations_ref import keep_where
from .device_array import DeviceArray
from .elementwise import BLOCK, NUM_WARPS, launch_map
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .map_ops import (
    BinaryOp,
    Operand,
    copy_op,
    encode_scalar,
    is_array,
    map_spec,
    map_specs,
    opmath,
    scalar_param,
    scalar_ref,
)
from .strided import cast_to, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2


# ================================================================ clamp
@triton.jit
def _clamp_math(x, lo, hi, HAS_LO: tl.constexpr, HAS_HI: tl.constexpr):
    # min(max(x, lo), hi): lo > hi gives hi, as PyTorch; a NaN in x or in a bound gives NaN.
    r = x
    if HAS_LO:
        r = tl.where(r < lo, lo, r)
        r = tl.where(lo != lo, lo, r)
    if HAS_HI:
        r = tl.where(r > hi, hi, r)
        r = tl.where(hi != hi, hi, r)
    return r


@triton.jit
def _clamp(x, lo, hi, p0, p1):
    return _clamp_math(x, lo, hi, True, True)


@triton.jit
def _clamp_min(x, lo, p0, p1):
    return _clamp_math(x, lo, x, True, False)


@triton.jit
def _clamp_max(x, hi, p0, p1):
    return _clamp_math(x, x, hi, False, True)


@triton.jit
def _clamp_scalar(x, lo, hi):
    return _clamp_math(x, scalar_param(lo, x), scalar_param(hi, x), True, True)


@triton.jit
def _clamp_min_scalar(x, lo, p1):
    return _clamp_math(x, scalar_param(lo, x), x, True, False)


@triton.jit
def _clamp_max_scalar(x, hi, p1):
    return _clamp_math(x, x, scalar_param(hi, x), False, True)


@triton.jit
def _clamp_scalar_backward(grad, x, lo, hi):
    # PyTorch: the gradient passes where min <= x <= max, bounds included.
    return tl.where((x >= scalar_param(lo, x)) & (x <= scalar_param(hi, x)), grad, tl.zeros_like(grad))


@triton.jit
def _clamp_min_scalar_backward(grad, x, lo, p1):
    return tl.where(x >= scalar_param(lo, x), grad, tl.zeros_like(grad))


@triton.jit
def _clamp_max_scalar_backward(grad, x, hi, p1):
    return tl.where(x <= scalar_param(hi, x), grad, tl.zeros_like(grad))


@fast_jit
def clamp_backward_kernel(
    gx_ptr, gmin_ptr, gmax_ptr,  # gradient outputs for x, min, max (one not NEEDed aliases another)
    g_ptr, x_ptr, min_ptr, max_ptr,  # upstream grad, x and the bounds (an absent bound aliases x_ptr)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    gxs0, gxs1, gxs2, gxs3,  # grad-x strides
    gns0, gns1, gns2, gns3,  # grad-min strides
    gms0, gms1, gms2, gms3,  # grad-max strides
    gs0, gs1, gs2, gs3,  # grad strides
    xs0, xs1, xs2, xs3,  # x strides
    ns0, ns1, ns2, ns3,  # min strides
    ms0, ms1, ms2, ms3,  # max strides
    HAS_MIN: tl.constexpr,  # min is a tensor (not None)
    HAS_MAX: tl.constexpr,  # max is a tensor (not None)
    NEED_X: tl.constexpr,  # write grad-x
    NEED_MIN: tl.constexpr,  # write grad-min (needs HAS_MIN)
    NEED_MAX: tl.constexpr,  # write grad-max (needs HAS_MAX)
    BLOCK: tl.constexpr,  # elements per program
):
    # clamp's backward with tensor bounds: four inputs and up to three outputs, more than the map
    # kernel's 3 -> 2, so one pass of its own. PyTorch's clamp_backward_min_max conventions:
    # x gets the gradient where min <= x <= max; min where x < min < max; max where x > max or max < min.
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    g = compute_type(tl.load(g_ptr + strided_offsets(idx, size1, size2, size3, gs0, gs1, gs2, gs3),
                             mask=mask))
    x = compute_type(tl.load(x_ptr + strided_offsets(idx, size1, size2, size3, xs0, xs1, xs2, xs3),
                             mask=mask))
    zero = tl.zeros_like(g)
    if HAS_MIN:
        lo = compute_type(tl.load(min_ptr + strided_offsets(idx, size1, size2, size3, ns0, ns1, ns2, ns3),
                                  mask=mask))
    if HAS_MAX:
        hi = compute_type(tl.load(max_ptr + strided_offsets(idx, size1, size2, size3, ms0, ms1, ms2, ms3),
                                  mask=mask))
    if HAS_MIN:
        if HAS_MAX:
            x_passes = (x >= lo) & (x <= hi)
            min_takes = (x < lo) & (lo < hi)
            max_takes = (x > hi) | (hi < lo)
        else:
            x_passes = x >= lo
            min_takes = x < lo
    else:
        x_passes = x <= hi
        max_takes = x > hi
    if NEED_X:
        tl.store(gx_ptr + strided_offsets(idx, size1, size2, size3, gxs0, gxs1, gxs2, gxs3),
                 cast_to(tl.where(x_passes, g, zero), gx_ptr.dtype.element_ty), mask=mask)
    if NEED_MIN:
        tl.store(gmin_ptr + strided_offsets(idx, size1, size2, size3, gns0, gns1, gns2, gns3),
                 cast_to(tl.where(min_takes, g, zero), gmin_ptr.dtype.element_ty), mask=mask)
    if NEED_MAX:
        tl.store(gmax_ptr + strided_offsets(idx, size1, size2, size3, gms0, gms1, gms2, gms3),
                 cast_to(tl.where(max_takes, g, zero), gmax_ptr.dtype.element_ty), mask=mask)


def _clamp_backward_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: the item sizes of every operand read or written, summed.
    return Cost(float(numel) * itemsizes, float(numel) * 3)


# The map kernel's trade-off: wider blocks amortise the strided index math over 4-7 operands.
CLAMP_BACKWARD_TUNING = Tunable(
    "clamp.clamp_backward",
    space=[dict(BLOCK=BLOCK, num_warps=NUM_WARPS), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
           dict(BLOCK=4096, num_warps=8)],
    heuristic=lambda key: dict(BLOCK=BLOCK, num_warps=NUM_WARPS),
    cost=_clamp_backward_cost,
)


def _bounds_kind(lo, hi) -> str:
    if (lo is None or is_array(lo)) and (hi is None or is_array(hi)):
        return "tensor" if lo is not None or hi is not None else "none"
    if not is_array(lo) and not is_array(hi):
        return "scalar"
    raise TypeError("clamp: pass min and max both as DeviceArrays or both as Python numbers "
                    "(PyTorch's overloads do not mix them)")


def clamp(out: DeviceArray, x: DeviceArray, min: Operand | None = None,  # noqa: A002 - PyTorch's names
          max: Operand | None = None) -> None:  # noqa: A002
    """out = min(max(x, min), max) for every dtype but bool.

    min and max: both DeviceArrays (x's dtype) or both Python numbers (rounded to x's dtype), either
    may be None (both None copies x). min > max gives max; NaN in x or a bound gives NaN.
    """
    kind = _bounds_kind(min, max)
    if kind == "none":
        launch_map(copy_op, [out], [x])
    elif kind == "tensor":
        if min is not None and max is not None:
            launch_map(_clamp, [out], [x, min, max])
        elif min is not None:
            launch_map(_clamp_min, [out], [x, min])
        else:
            launch_map(_clamp_max, [out], [x, max])
    elif min is not None and max is not None:
        launch_map(_clamp_scalar, [out], [x], encode_scalar(min, x.dtype), encode_scalar(max, x.dtype))
    elif min is not None:
        launch_map(_clamp_min_scalar, [out], [x], encode_scalar(min, x.dtype))
    else:
        launch_map(_clamp_max_scalar, [out], [x], encode_scalar(max, x.dtype))


def clamp_backward(grad_x: DeviceArray | None, grad_min: DeviceArray | None, grad_max: DeviceArray | None,
                   grad: DeviceArray, x: DeviceArray, min: Operand | None = None,  # noqa: A002
                   max: Operand | None = None) -> None:  # noqa: A002
    """Gradients of clamp, as PyTorch (floats): x gets grad where min <= x <= max (bounds included);
    a tensor min gets it where x < min < max, a tensor max where x > max or max < min.

    Scalar bounds have no gradient (grad_min/grad_max None); any output may be None.
    """
    kind = _bounds_kind(min, max)
    if kind == "none":
        if grad_x is not None:
            launch_map(copy_op, [grad_x], [grad])
        return
    if kind == "scalar":
        if grad_min is not None or grad_max is not None:
            raise ValueError("clamp_backward: a Python-number bound has no gradient")
        if grad_x is None:
            return
        if min is not None and max is not None:
            launch_map(_clamp_scalar_backward, [grad_x], [grad, x], encode_scalar(min, x.dtype),
                       encode_scalar(max, x.dtype))
        elif min is not None:
            launch_map(_clamp_min_scalar_backward, [grad_x], [grad, x], encode_scalar(min, x.dtype))
        else:
            launch_map(_clamp_max_scalar_backward, [grad_x], [grad, x], encode_scalar(max, x.dtype))
        return
    need = (grad_x is not None, grad_min is not None and min is not None,
            grad_max is not None and max is not None)
    if not any(need):
        return
    outs = [grad_x, grad_min, grad_max]
    first = next(o for o, n in zip(outs, need) if n)
    outs = [o if n else first for o, n in zip(outs, need)]
    ins = [grad, x] + [b for b in (min, max) if b is not None]
    arrays = outs + [grad, x, min if min is not None else x, max if max is not None else x]
    written = [o for o, n in zip(outs, need) if n]
    itemsizes = sum(a.dtype.itemsize for a in written + ins)
    # An output sharing an input's storage (an in-place backward) would change under repeated trials.
    repeatable = all(o.storage is not i.storage for o in written for i in ins)
    flags = (min is not None, max is not None, *need)
    for shape4, strides4, offsets in launch_slices(grad.shape, arrays):
        views = [a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets)]
        numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, views=views, numel=numel, shape4=shape4):
            clamp_backward_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                *views, numel, shape4[1], shape4[2], shape4[3], *[s for v in views for s in v.strides],
                HAS_MIN=flags[0], HAS_MAX=flags[1], NEED_X=flags[2], NEED_MIN=flags[3], NEED_MAX=flags[4],
                **config,
            )

        key = (grad.dtype.name, *flags, next_pow2(numel))
        tuning.launch(CLAMP_BACKWARD_TUNING, key, dict(numel=numel, itemsizes=itemsizes), run, repeatable)


def clamp_ref(x: np.ndarray, min=None, max=None) -> np.ndarray:  # noqa: A002
    (r,) = opmath(x)
    dt = np.asarray(x).dtype
    if r.dtype.kind == "f" and not (min is None and max is None) and np.ndim(min) == 0 and np.ndim(max) == 0:
        y = _clip_scalars(r, r is not x, *(None if b is None else opmath(scalar_ref(x, b))[0] for b in (min, max)))
        if y is not None:
            return y.astype(dt, copy=False)
    for bound, pick in ((min, np.maximum), (max, np.minimum)):
        if bound is not None:
            b = opmath(scalar_ref(x, bound))[0]
            # np.maximum/minimum propagate a NaN from either side, like PyTorch's clamp.
            r = pick(r, b)
    return np.asarray(r).astype(dt)


def _clip_scalars(r: np.ndarray, own: bool, lo, hi) -> np.ndarray | None:
    """min(max(r, lo), hi) as np.maximum/minimum give it (a tie gives the bound), in np.clip's one pass (np.maximum
    with a scalar runs a scalar loop: 3x np.clip; the old two passes and copy 7x). A missing bound is an infinite
    one (max(r, -inf) and min(r, inf) are r). np.clip gives r on a tie instead, which differs only for zeros of
    the other sign: where the last bound to tie is +0 every zero result must be +0 (r + 0 makes -0 so); a -0 or
    NaN bound (a NaN bound's payload) is left to the ufuncs (None)."""
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    zero = hi if hi == 0 else lo if lo == 0 else None
    if np.isnan(lo) or np.isnan(hi) or (zero is not None and np.signbit(zero)):
        return None
    y = np.clip(r, lo, hi, out=r if own else np.empty_like(r))  # (an out: a 0-d r gives an array, not a scalar)
    return y if zero is None else np.add(y, 0, out=y)


def clamp_backward_ref(grad: np.ndarray, x: np.ndarray, min=None,  # noqa: A002
                       max=None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:  # noqa: A002
    g, x32 = np.broadcast_arrays(*opmath(grad, x))
    lo = None if min is None else opmath(scalar_ref(x, min))[0]
    hi = None if max is None else opmath(scalar_ref(x, max))[0]
    grad = np.broadcast_to(grad, g.shape)
    ok = None
    for bound, test in ((lo, np.greater_equal), (hi, np.less_equal)):
        if bound is not None:
            ok = test(x32, bound) if ok is None else np.logical_and(ok, test(x32, bound), out=ok)
    grad_x = grad.copy() if ok is None else keep_where(grad, ok)  # grad where ok, else +0 (np.where's bits)
    grad_min = grad_max = None
    if isinstance(min, np.ndarray):
        takes = (x32 < lo) & (lo < hi) if hi is not None else x32 < lo
        grad_min = keep_where(grad, takes)
    if isinstance(max, np.ndarray):
        takes = (x32 > hi) | (hi < lo) if lo is not None else x32 > hi
        grad_max = keep_where(grad, takes)
    return grad_x, grad_min, grad_max


# ================================================================ registry
OPS: dict[str, BinaryOp] = {
    "clamp": BinaryOp(clamp, clamp_backward, clamp_ref, clamp_backward_ref),
    "clip": BinaryOp(clamp, clamp_backward, clamp_ref, clamp_backward_ref),
}


# ================================================================ AOT / tuning declarations
def _clamp_backward_signature(dtype: str) -> dict[str, str]:
    sig = {f"{n}_ptr": f"*{dtype}" for n in ("gx", "gmin", "gmax", "g", "x", "min", "max")}
    sig.update(numel="i32", size1="i32", size2="i32", size3="i32")
    for operand in ("gx", "gn", "gm", "g", "x", "n", "m"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    return sig


# (OP, inputs, outputs, dtype, p0 type, input dtypes, output dtype): every OP once, plus the dtypes
# that take another code path.
_SPEC_OPS = [
    (_clamp, 3, 1, "fp32", "fp32", None, None), (_clamp, 3, 1, "i32", "fp32", None, None),
    (_clamp_min, 2, 1, "bf16", "fp32", None, None), (_clamp_max, 2, 1, "fp64", "fp32", None, None),
    (_clamp_scalar, 1, 1, "fp32", "fp32", None, None), (_clamp_scalar, 1, 1, "fp64", "i64", None, None),
    (_clamp_min_scalar, 1, 1, "u8", "i32", None, None), (_clamp_max_scalar, 1, 1, "fp16", "fp32", None, None),
    (_clamp_scalar_backward, 2, 1, "fp32", "fp32", None, None),
    (_clamp_min_scalar_backward, 2, 1, "fp64", "i64", None, None),
    (_clamp_max_scalar_backward, 2, 1, "bf16", "fp32", None, None), (copy_op, 1, 1, "fp32", "fp32", None, None),
]
# OPs whose p1 is a second scalar of the same kind as p0.
_TWO_SCALARS = {_clamp_scalar, _clamp_scalar_backward}

SPECS = map_specs("clamp", _SPEC_OPS, _TWO_SCALARS) + [
    map_spec("clamp", _clamp_scalar, "i32", 1, 1, p0="i32", p1=1),  # clamp(x, 0, 1) on a GPU
] + [
    KernelSpec(f"clamp.clamp_backward[{dtype}:{flags}]", clamp_backward_kernel,
               _clamp_backward_signature(dtype),
               dict(HAS_MIN="min" in flags, HAS_MAX="max" in flags, NEED_X=True, NEED_MIN="min" in flags,
                    NEED_MAX="max" in flags),
               [CLAMP_BACKWARD_TUNING.heuristic(())], CLAMP_BACKWARD_TUNING.all_configs())
    for dtype, flags in (("fp32", "min,max"), ("bf16", "min,max"), ("fp64", "min"), ("fp16", "max"))
]
