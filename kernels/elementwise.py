"""The elementwise map kernel, and the ops of the foundation: copy/cast, fill, add, mul, neg.

One kernel (`map_kernel`) serves every elementwise op: the op's scalar math is a small
`@triton.jit` function passed as the constexpr OP, with up to three inputs, two outputs and two
scalar parameters. Operands are strided (broadcasting is a zero stride), so no input is copied.
`launch_map` sends dense same-layout operands to the flat kernel and 2-D row-pitched ones (a bias
row vector) to the row kernel of `elementwise_flat`; only what needs it runs the N-d strided path.
Each op's NumPy forward and backward references sit beside its Triton math.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray, contiguous_strides
from .elementwise_flat import (
    FLAT_TUNING,
    flat_layout,
    flat_map_kernel,
    flat_signature,
    launch_flat,
    launch_planned,
    launch_rows,
    plan_fact,
    remember_plan,
    row_heuristic_config,
    row_layout,
    row_map_kernel,
    row_signature,
    row_space_configs,
)
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .quiet_numpy import quiet
from .strided import cast_to, collapse, compute_type, launch_slices, strided_offsets
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4


def _map_cost(numel: int, itemsizes: int) -> Cost:
    return Cost(float(numel) * itemsizes, float(numel))


def map_config(narrowest: int) -> dict:
    """The strided map kernel's heuristic config for operands whose narrowest itemsize is `narrowest`.

    8 elements per thread (two 128-bit accesses of a 32-bit operand, one of a 16-bit one); an op with a
    1-byte operand (bool, int8, uint8) takes 16, so that operand too moves 16 contiguous bytes per
    thread: one 128-bit access instead of a 64-bit one. Ops with 1-byte operands are cheap (comparisons,
    bit ops, casts), so the wider block spills nothing even beside fp64 operands.
    """
    return dict(BLOCK=2 * BLOCK, num_warps=NUM_WARPS) if narrowest == 1 else dict(BLOCK=BLOCK, num_warps=NUM_WARPS)


# Wider blocks amortise the per-program index math, more warps per block hide more latency; 8
# elements per thread at most (16 for 1-byte operands) and no 16-warp blocks (both spill fp64 asin on
# sm_80/sm_90). The key's third field is the narrowest operand's itemsize.
MAP_TUNING = Tunable(
    "elementwise.map",
    space=[dict(BLOCK=1024, num_warps=4), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
           dict(BLOCK=1024, num_warps=8), dict(BLOCK=2048, num_warps=4)],
    heuristic=lambda key: map_config(key[2]),
    cost=_map_cost,
)
MAP_SHIPPED = MAP_TUNING.all_configs()[:1]  # the heuristic's config for 2- to 8-byte operands
MAP_SHIPPED_NARROW = [map_config(1)]  # ... and for ops with a 1-byte operand
MAP_SPACE = MAP_TUNING.all_configs()[:4]  # compiled by the AOT check's --full: <= 8 elements per thread
MAP_SPACE_NARROW = MAP_TUNING.all_configs()  # ... and with 16 per thread for ops with a 1-byte operand


@fast_jit
def map_kernel(
    out0_ptr, out1_ptr,  # outputs (out1 unused when N_OUT == 1)
    in0_ptr, in1_ptr, in2_ptr,  # inputs (unused ones when N_IN < 3)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    o0s0, o0s1, o0s2, o0s3,  # out0 strides
    o1s0, o1s1, o1s2, o1s3,  # out1 strides
    i0s0, i0s1, i0s2, i0s3,  # in0 strides
    i1s0, i1s1, i1s2, i1s3,  # in1 strides
    i2s0, i2s1, i2s2, i2s3,  # in2 strides
    p0, p1,  # scalar parameters of OP (alpha, bounds, slopes, ...)
    OP: tl.constexpr,  # @triton.jit fn(*inputs, p0, p1) -> value, or (value0, value1) when N_OUT == 2
    N_IN: tl.constexpr,  # inputs read: 1, 2 or 3
    N_OUT: tl.constexpr,  # outputs written: 1 or 2
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    # Masked lanes read 1, inside the domain of every OP (0 would be 0/0, log(0), ... in the interpreter).
    x0 = compute_type(tl.load(in0_ptr + strided_offsets(idx, size1, size2, size3, i0s0, i0s1, i0s2, i0s3),
                              mask=mask, other=1.0))
    if N_IN == 1:
        result = OP(x0, p0, p1)
    elif N_IN == 2:
        x1 = compute_type(tl.load(in1_ptr + strided_offsets(idx, size1, size2, size3, i1s0, i1s1, i1s2, i1s3),
                                  mask=mask, other=1.0))
        result = OP(x0, x1, p0, p1)
    else:
        x1 = compute_type(tl.load(in1_ptr + strided_offsets(idx, size1, size2, size3, i1s0, i1s1, i1s2, i1s3),
                                  mask=mask, other=1.0))
        x2 = compute_type(tl.load(in2_ptr + strided_offsets(idx, size1, size2, size3, i2s0, i2s1, i2s2, i2s3),
                                  mask=mask, other=1.0))
        result = OP(x0, x1, x2, p0, p1)
    if N_OUT == 1:
        tl.store(out0_ptr + strided_offsets(idx, size1, size2, size3, o0s0, o0s1, o0s2, o0s3),
                 cast_to(result, out0_ptr.dtype.element_ty), mask=mask)
    else:
        tl.store(out0_ptr + strided_offsets(idx, size1, size2, size3, o0s0, o0s1, o0s2, o0s3),
                 cast_to(result[0], out0_ptr.dtype.element_ty), mask=mask)
        tl.store(out1_ptr + strided_offsets(idx, size1, size2, size3, o1s0, o1s1, o1s2, o1s3),
                 cast_to(result[1], out1_ptr.dtype.element_ty), mask=mask)


def launch_map(op, outs: list[DeviceArray], ins: list[DeviceArray], p0=0.0, p1=0.0) -> None:
    """Run `op` elementwise: every operand is already broadcast (viewed) to the output shape.

    The cheapest kernel the layout allows runs it: flat for dense same-layout operands, rows for a
    2-D launch with unit column strides (x[M, N] + b[N]), else the N-d strided map kernel. A contiguous
    launch of one output that was made before is repeated by its remembered plan (elementwise_flat).
    """
    planned = launch_planned(op, outs, ins, p0, p1)
    if planned is True:
        return
    _launch_map(op, outs, ins, p0, p1)
    if planned is not None:
        remember_plan(planned, op, outs, ins, p0, p1)


def _launch_map(op, outs: list[DeviceArray], ins: list[DeviceArray], p0, p1) -> None:
    shape = outs[0].shape
    if outs[0].numel() == 0:
        return
    arrays = outs + ins
    # Timing an in-place call (an output sharing an input's storage) would apply the op once per trial.
    if len(outs) == 1:
        storage = outs[0].storage
        repeatable = True
        for i in ins:
            if i.storage is storage:
                repeatable = False
    else:
        repeatable = all(o.storage is not i.storage for o in outs for i in ins)
    strides = outs[0].strides
    if strides == _contiguous(shape):
        for a in arrays:
            if a.strides != strides:
                break
        else:  # every operand contiguous: what flat_layout would find
            launch_flat(op, outs, ins, p0, p1, repeatable)
            return
    scalars = flat_layout(shape, arrays, len(outs))
    if scalars is not None:
        launch_flat(op, outs, ins, p0, p1, repeatable, scalars)
        return
    cshape, cstrides = collapse(shape, [a.strides for a in arrays])
    # A 2-D launch on the strided kernel would divide every index by N; the row kernel tiles rows x
    # columns instead (cheaper than a per-element modulo for the row vector alone, and its row vector
    # loads need no index math at all).
    if row_layout(cshape, cstrides, len(outs)):
        launch_rows(op, outs, ins, cshape, cstrides, p0, p1, repeatable)
        return
    _launch_strided(op, outs, ins, p0, p1, repeatable)


_CONTIGUOUS: dict = {}  # shape -> its contiguous strides (the common case of launch_map, one dict read)


def _contiguous(shape: tuple) -> tuple:
    strides = _CONTIGUOUS.get(shape)
    if strides is None:
        if len(_CONTIGUOUS) >= 4096:
            _CONTIGUOUS.clear()
        strides = _CONTIGUOUS[shape] = contiguous_strides(shape)
    return strides


def _launch_strided(op, outs: list[DeviceArray], ins: list[DeviceArray], p0, p1, repeatable: bool) -> None:
    shape = outs[0].shape
    arrays = outs + ins
    itemsizes = sum(a.dtype.itemsize for a in arrays)
    for shape4, strides4, offsets in launch_slices(shape, arrays):
        views = [a.view_as(shape4, s, off) for a, s, off in zip(arrays, strides4, offsets)]
        o = views[: len(outs)]
        i = views[len(outs):]
        o_all = o + [o[0]] * (2 - len(o))
        i_all = i + [i[0]] * (3 - len(i))
        launch_numel = shape4[0] * shape4[1] * shape4[2] * shape4[3]

        def run(config, o_all=o_all, i_all=i_all, launch_numel=launch_numel, shape4=shape4):
            map_kernel[(triton.cdiv(launch_numel, config["BLOCK"]),)](
                *o_all, *i_all, launch_numel, shape4[1], shape4[2], shape4[3],
                *o_all[0].strides, *o_all[1].strides, *i_all[0].strides, *i_all[1].strides, *i_all[2].strides,
                p0, p1, OP=op, N_IN=len(ins), N_OUT=len(outs), **config,
            )

        key = (op.__name__, outs[0].dtype.name, min(a.dtype.itemsize for a in arrays), next_pow2(launch_numel))
        tuning.launch(MAP_TUNING, key, dict(numel=launch_numel, itemsizes=itemsizes), run, repeatable)


class MapOp(NamedTuple):
    """What a launch wrapper declares it runs (`runs_map`): `launch_map(op, [out], inputs, p0, p1)` and nothing
    else."""

    op: Any  # the @triton.jit map op
    p0: Any  # its scalar parameters, as the wrapper passes them
    p1: Any
    f0: Any  # what a plan's key holds of each (elementwise_flat.plan_fact): None, never planned
    f1: Any


def runs_map(op, p0=0.0, p1=0.0) -> Callable:
    """Declare that the decorated launch wrapper, called with its output and inputs alone (`wrapper(out, *ins)`, no
    other argument), is exactly `launch_map(op, [out], list(ins), p0, p1)`: its `map_op` attribute, a `MapOp`.
    Hot paths read it to launch a remembered plan straight from tensors' storages (elementwise_flat.launch_dense),
    calling the wrapper itself whenever that declines; a wrapper that checks, casts or picks its op per call must not
    declare one."""
    declared = MapOp(op, p0, p1, plan_fact(p0), plan_fact(p1))

    def declare(wrapper: Callable) -> Callable:
        wrapper.map_op = declared
        return wrapper

    return declare


# Every kernel launch_map may run, for tests that count launches by patching each one's `run`.
MAP_KERNELS = (map_kernel, flat_map_kernel, row_map_kernel)


# ---------------------------------------------------------------- copy / cast and fill
@triton.jit
def _identity(x, p0, p1):
    return x


@triton.jit
def _constant(x, value, p1):
    # Reads its (stride-0) input only to learn the launch shape; writes `value`.
    return tl.zeros_like(x) + value


@runs_map(_identity)
def copy(out: DeviceArray, src: DeviceArray) -> None:
    """out[...] = src, casting to out's dtype; src is already broadcast to out's shape."""
    launch_map(_identity, [out], [src])


def fill(out: DeviceArray, value) -> None:
    """out[...] = value (any strides)."""
    launch_map(_constant, [out], [out.view_as(out.shape, (0,) * out.ndim)], value)


def copy_ref(out: np.ndarray, src: np.ndarray) -> None:
    np.copyto(out, src, casting="unsafe")


def fill_ref(out: np.ndarray, value) -> None:
    out[...] = value


# ---------------------------------------------------------------- add, mul, neg
@triton.jit
def _add(a, b, alpha, p1):
    return a + b * alpha


@triton.jit
def _add_no_alpha(a, b, p0, p1):
    return a + b


@triton.jit
def _mul(a, b, p0, p1):
    return a * b


@triton.jit
def _neg(x, p0, p1):
    return -x


@triton.jit
def _scale(x, alpha, p1):
    return x * alpha


@triton.jit
def _mul_backward(grad, a, b, p0, p1):
    return grad * b, grad * a


@runs_map(_add_no_alpha)  # alpha 1, its default: the only call the declaration covers
def add(out: DeviceArray, a: DeviceArray, b: DeviceArray, alpha=1) -> None:
    """out = a + alpha * b."""
    if alpha == 1:
        launch_map(_add_no_alpha, [out], [a, b])
    else:
        launch_map(_add, [out], [a, b], alpha)


@runs_map(_add, -1)
def add_minus(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = a + (-1) * b: a - b as `add(out, a, b, -1)` computes it (the cuda sub of ops/elementwise)."""
    launch_map(_add, [out], [a, b], -1)


@runs_map(_mul)
def mul(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    launch_map(_mul, [out], [a, b])


@runs_map(_neg)
def neg(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_neg, [out], [x])


def scale(out: DeviceArray, x: DeviceArray, alpha) -> None:
    """out = alpha * x (the backward of add's second operand)."""
    launch_map(_scale, [out], [x], alpha)


def mul_backward(grad_a: DeviceArray, grad_b: DeviceArray, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray) -> None:
    """grad_a = grad * b and grad_b = grad * a in one pass."""
    launch_map(_mul_backward, [grad_a, grad_b], [grad, a, b])


def add_ref(a: np.ndarray, b: np.ndarray, alpha=1) -> np.ndarray:
    # inf - inf is NaN and a finite sum may overflow to inf: IEEE answers, which PyTorch gives silently.
    if alpha == 1:
        return quiet(np.add, a, b)
    if alpha == -1:
        return quiet(np.subtract, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        # alpha in b's dtype (integers wrap, as in PyTorch) so NumPy does not widen the result.
        return np.add(a, np.multiply(b, np.array(alpha).astype(b.dtype)))


def mul_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return quiet(np.multiply, a, b)  # 0 * inf is NaN, as in PyTorch, silently


def neg_ref(x: np.ndarray) -> np.ndarray:
    return np.negative(x)


def mul_backward_ref(grad: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return grad * b, grad * a


def _map_signature(dtype: str, n_in: int, n_out: int) -> dict[str, str]:
    sig = {"out0_ptr": f"*{dtype}", "out1_ptr": f"*{dtype}", "in0_ptr": f"*{dtype}", "in1_ptr": f"*{dtype}",
           "in2_ptr": f"*{dtype}", "numel": "i32", "size1": "i32", "size2": "i32", "size3": "i32"}
    for operand in ("o0", "o1", "i0", "i1", "i2"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    sig.update(p0="fp32", p1="fp32")
    return sig


_SPEC_OPS = [(_identity, 1, 1), (_add, 2, 1), (_mul_backward, 3, 2)]
_ITEMSIZE = {"fp32": 4, "fp16": 2, "bf16": 2}

SPECS = [
    KernelSpec(f"elementwise.map[{op.__name__.strip('_')}:{dtype}]", map_kernel,
               _map_signature(dtype, n_in, n_out),
               dict(OP=op, N_IN=n_in, N_OUT=n_out), MAP_SHIPPED, MAP_SPACE)
    for op, n_in, n_out in _SPEC_OPS
    for dtype in ("fp32", "bf16")
] + [
    # The flat path's two variants: the unmasked bulk (128-bit accesses when aligned) and the masked tail.
    KernelSpec(f"elementwise.map_flat[{op.__name__.strip('_')}:{dtype}:{'tail' if masked else 'bulk'}]",
               flat_map_kernel, flat_signature(dtype), dict(OP=op, N_IN=n_in, N_OUT=n_out, MASKED=masked, SCALARS=0),
               [FLAT_TUNING.heuristic(("", "", _ITEMSIZE[dtype], 0))], FLAT_TUNING.all_configs()[:4])
    for op, n_in, n_out in _SPEC_OPS
    for dtype in ("fp32", "fp16", "bf16")
    for masked in (False, True)
] + [
    # The row path as a bias add runs it: input 1 is a row vector.
    KernelSpec(f"elementwise.map_rows[add:{dtype}:row_vector]", row_map_kernel, row_signature(dtype),
               dict(OP=_add, N_IN=2, N_OUT=1, ROW_VECTORS=2), [row_heuristic_config(_ITEMSIZE[dtype])],
               row_space_configs())
    for dtype in ("fp32", "fp16", "bf16")
]
