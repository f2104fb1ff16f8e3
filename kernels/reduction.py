"""Row reductions over a (M, R) strided view: sum, mean, prod, all/any/count_nonzero and their
backwards here, and the two generic kernels every reduction family launches (statistics: var/std,
norm, logsumexp; extrema: max/min, amax/amin, argmax/argmin).

The Tensor layer permutes the reduced dims last and collapses each group to one strided dim (copying
only when a group cannot be collapsed), so one kernel covers every `dim`. Each program owns BLOCK_M rows
and loops over R in BLOCK_R chunks: rows of any length share one compiled kernel per block shape.

One generic kernel, `reduce_kernel`, serves every forward op. Its constexprs pick:
  KIND  how elements combine: "add", "mul", "max"/"min" (value + first index, NaN wins),
        "lse" (online max-shifted sum of exponentials), "var" (two passes: mean, squared deviations);
  PRE   a per-element transform before combining: "id", "nonzero", "abs", "square", "pow" (|x|^p);
  POST  a per-row transform after: "id", "mean", "sqrt", "root" (s^(1/p)), "all", "any", "std".
Accumulation is fp32 for 16-bit floats, fp64 for fp64, int64 for integer/bool sums, products and
counts (as PyTorch), the input's own type for max/min. One backward kernel, `reduce_backward_kernel`,
likewise serves every differentiable op (OP picks the math; prod, amax/amin, norm(inf) and var/std
first take a per-row statistic in an extra pass over the row). `launch` / `launch_backward` run them
through `tuning.launch` (REDUCE_TUNING, REDUCE_BACKWARD_TUNING); SPECS lists every specialisation,
whichever family launches it; `OPS` maps op names to `reduce_ops.ReduceOp`s.
"""

from __future__ import annotations

import math

import numpy as np
import triton
import triton.language as tl

from . import reduction_split, tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .reduce_math import _post, _reduce_add_mul, _reduce_extremum, _reduce_logsumexp, _reduce_var, prod_rows
from .reduce_ops import ReduceOp, axis_tuple, expand_reduced, float_like
from .reduction_blocks import (
    HEURISTIC_CONFIGS,
    NARROW_HEURISTIC_CONFIGS,
    NARROW_ROW_BLOCKS,
    SPACE,
    contiguous_rows,
    dtype_aware,
    layout,
    row_heuristic,
    row_space,
    split_plan,
)
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable

# Keys: (constexpr variant..., dtype names, next_pow2(M), next_pow2(R), rows contiguous along R). Cost: forward
# reads M*R and writes M; backward reads x (M*R) and M row values, writes M*R.
# Keys hold x's dtype name at index 5: 1-byte rows (bool any/all/max) take tiles of 16 elements per thread.
_reduce_heuristic, _reduce_space = dtype_aware(5)
REDUCE_TUNING = Tunable("reduction.reduce", _reduce_space, _reduce_heuristic, lambda M, R, itemsize, out_itemsize: Cost(
    float(M) * R * itemsize + M * out_itemsize, float(M) * R), specs="reduction.")
REDUCE_BACKWARD_TUNING = Tunable("reduction.reduce_backward", row_space, row_heuristic, lambda M, R, itemsize: Cost(
    (2.0 * M * R + 2.0 * M) * itemsize, float(M) * R), specs="reduction.backward[")


# ================================================================ forward kernel
@fast_jit
def reduce_kernel(
    out_ptr,  # (M,) result (unused when OUT_VALUE is False)
    aux_ptr,  # (M,) second result: int64 index (max/min) or mean (var); unused unless OUT_AUX
    x_ptr,  # (M, R) input view
    M, R,  # rows, reduced length
    stride_xm, stride_xr,  # input strides (elements)
    stride_out, stride_aux,  # output strides (elements)
    p,  # fp32 parameter: norm order p, or var/std correction
    KIND: tl.constexpr,  # combine: "add", "mul", "max", "min", "lse", "var"
    PRE: tl.constexpr,  # element transform before combining: "id", "nonzero", "abs", "square", "pow"
    POST: tl.constexpr,  # row transform after combining: "id", "mean", "sqrt", "root", "all", "any", "std"
    OUT_VALUE: tl.constexpr,  # write the reduced value to out_ptr
    OUT_AUX: tl.constexpr,  # write the index (max/min) or the mean (var) to aux_ptr
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # reduced elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm  # (BLOCK_M, 1) row starts
    x_ty: tl.constexpr = x_ptr.dtype.element_ty
    flt_type: tl.constexpr = tl.float64 if x_ty == tl.float64 else tl.float32
    if KIND == "max" or KIND == "min":
        # Compare in the input's own type (16-bit floats upcast exactly; bool as int8).
        val_type: tl.constexpr = tl.int8 if x_ty == tl.int1 else (flt_type if x_ty.is_floating() else x_ty)
        value, aux = _reduce_extremum(x_rows, row_mask, R, stride_xr, p, KIND == "max", PRE, val_type,
                                      BLOCK_M, BLOCK_R)
    elif KIND == "lse":
        value = _reduce_logsumexp(x_rows, row_mask, R, stride_xr, flt_type, BLOCK_M, BLOCK_R)
        aux = value
    elif KIND == "var":
        value, aux = _reduce_var(x_rows, row_mask, R, stride_xr, p, flt_type, BLOCK_M, BLOCK_R)
    else:
        # Integer and bool sums/products and all counts accumulate in int64, as PyTorch does.
        int_acc: tl.constexpr = PRE == "nonzero" or (x_ty.is_int() and PRE == "id")
        acc_type: tl.constexpr = tl.int64 if int_acc else flt_type
        value = _reduce_add_mul(x_rows, row_mask, R, stride_xr, p, KIND, PRE, acc_type, BLOCK_M, BLOCK_R)
        aux = value
    value = _post(value, R, p, POST)
    if OUT_VALUE:
        tl.store(out_ptr + rows * stride_out, cast_to(value, out_ptr.dtype.element_ty), mask=row_mask)
    if OUT_AUX:
        tl.store(aux_ptr + rows * stride_aux, cast_to(aux, aux_ptr.dtype.element_ty), mask=row_mask)


def launch(out: DeviceArray | None, aux: DeviceArray | None, x: DeviceArray, kind: str, pre: str = "id",
           post: str = "id", p: float = 0.0, scratch: DeviceArray | None = None) -> None:
    """Reduce each row of x (M, R) into out/aux (M,) with one `reduce_kernel` launch, or, given `scratch`
    (int64, `reduction_split.scratch_numel(x)` elements) when the rows cannot fill the GPU, with the
    two-stage split path of kernels/reduction_split.py."""
    M, R = x.shape
    if M == 0:
        return
    if R == 0 and kind in ("max", "min"):
        raise ValueError(f"cannot reduce {kind} over an empty dimension: the operation has no identity")
    o = out if out is not None else aux
    a = aux if aux is not None else o
    if scratch is not None:
        if reduction_split.launch_split(out, aux, x, kind, pre, post, p, scratch):
            return

    def run(cfg):
        reduce_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            o, a, x, M, R, x.strides[0], x.strides[1], o.strides[0], a.strides[0], float(p),
            KIND=kind, PRE=pre, POST=post, OUT_VALUE=out is not None, OUT_AUX=aux is not None, **cfg)

    key = (kind, pre, post, out is not None, aux is not None, x.dtype.name, o.dtype.name, a.dtype.name, *layout(x))
    sizes = dict(M=M, R=R, itemsize=x.dtype.itemsize, out_itemsize=o.dtype.itemsize)
    tuning.launch(REDUCE_TUNING, key, sizes, run)


# ================================================================ backward kernel
@triton.jit
def _sign(x):
    return tl.where(x > 0, 1.0, tl.where(x < 0, -1.0, 0.0)).to(x.dtype)


@triton.jit
def _is_extreme(x, y):
    # The positions amax/amin's gradient flows to: equal to the result, or NaN when the result is.
    return (x == y) | ((x != x) & (y != y))


@triton.jit
def _row_stats(x_rows, row_mask, R, stride_xr, y, OP: tl.constexpr, acc_type: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """A pass over each row for what the gradient needs beyond x and the result: returns (a, b).

    prod: (number of zeros, product of the non-zeros); amax/amin and norm inf: (number of ties,
    unused); var/std: (mean, unused); other ops: unused zeros.
    """
    a = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    b = tl.full((BLOCK_M, BLOCK_R), 1, acc_type)
    if OP == "prod" or OP == "extremum" or OP == "norm_inf" or OP == "var" or OP == "std":
        for start in range(0, R, BLOCK_R):
            cols = start + tl.arange(0, BLOCK_R)
            mask = row_mask[:, None] & (cols < R)[None, :]
            x = tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=0)
            x = compute_type(x).to(acc_type)
            if OP == "prod":
                a += tl.where(mask & (x == 0), 1.0, 0.0)
                b *= tl.where(mask & (x != 0), x, 1.0)
            elif OP == "extremum":
                a += tl.where(mask & _is_extreme(x, y[:, None]), 1.0, 0.0)
            elif OP == "norm_inf":
                ax = tl.abs(x)
                a += tl.where(mask & ((ax == y[:, None]) | (ax != ax)), 1.0, 0.0)
            else:
                a += tl.where(mask, x, 0.0)
    if OP == "var" or OP == "std":
        return tl.sum(a, axis=1) / R, tl.sum(a, axis=1)
    elif OP == "prod":
        return tl.sum(a, axis=1), prod_rows(b, BLOCK_R)
    else:
        return tl.sum(a, axis=1), tl.sum(b, axis=1)


@triton.jit
def _grad_math(g, x, y, a, b, cols, R, p, OP: tl.constexpr):
    """d(result)/dx * grad for one tile; g, y, a, b are (BLOCK_M, 1) row values."""
    if OP == "sum":
        return g + tl.zeros_like(x)
    elif OP == "mean":
        return g / R + tl.zeros_like(x)
    elif OP == "prod":
        # No zero: grad * prod / x. One zero: only it gets grad * (product of the others). More: 0.
        no_zero = g * y / tl.where(x == 0, 1.0, x)
        return tl.where(a == 0, no_zero, tl.where((a == 1) & (x == 0), g * b, 0.0))
    elif OP == "extremum":
        # The gradient is split evenly among ties, as PyTorch's amax/amin.
        return tl.where(_is_extreme(x, y), g / tl.maximum(a, 1.0), 0.0)
    elif OP == "index":
        return tl.where(cols[None, :] == y, g, 0.0) + tl.zeros_like(x)
    elif OP == "var":
        return g * 2.0 * (x - a) / tl.maximum(R - p, 0.0)
    elif OP == "std":
        # A zero std gives a zero gradient (PyTorch masks it) instead of 0/0.
        safe = tl.where(y == 0, 1.0, y)
        return tl.where(y == 0, 0.0, g * (x - a) / (tl.maximum(R - p, 0.0) * safe))
    elif OP == "norm1":
        return g * _sign(x)
    elif OP == "norm2":
        return tl.where(y == 0, 0.0, g * x / tl.where(y == 0, 1.0, y))
    elif OP == "norm_inf":
        ax = tl.abs(x)
        return tl.where((ax == y) | (ax != ax), _sign(x) * g / tl.maximum(a, 1.0), 0.0)
    elif OP == "norm0":
        return tl.zeros_like(x)
    elif OP == "normp":
        # sign(x) * (|x| / norm)^(p-1) * grad, zero where x == 0 or norm == 0 (PyTorch's masks).
        ratio = tl.abs(x) / tl.where(y == 0, 1.0, y)
        scaled = tl.exp2((p - 1.0) * tl.log2(tl.where(x == 0, 1.0, ratio)))
        return tl.where((x == 0) | (y == 0), 0.0, g * _sign(x) * scaled)
    else:  # "lse"
        return g * tl.exp(x - y)


@fast_jit
def reduce_backward_kernel(
    grad_x_ptr,  # (M, R) output: gradient of x
    grad_ptr,  # (M,) gradient of the result
    x_ptr,  # (M, R) forward input (unused by sum/mean/index)
    y_ptr,  # (M,) forward result, or the int64 index for OP "index"
    M, R,  # rows, reduced length
    stride_gxm, stride_gxr,  # grad_x strides (elements)
    stride_xm, stride_xr,  # x strides (elements)
    stride_g, stride_y,  # grad and y strides (elements)
    p,  # fp32 parameter: norm order p, or var/std correction
    chunk,  # columns per program along axis 1 of the grid (a multiple of BLOCK_R; R when unsplit)
    OP: tl.constexpr,  # "sum", "mean", "prod", "extremum", "index", "var", "std", "norm0/1/2/p/_inf", "lse"
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # reduced elements per loop step
):
    # Axis 1 of the grid cuts long rows into column chunks so that few rows still fill the GPU (x.sum()'s
    # backward writes 16M elements from one row). Only row-stat-free OPs are split (see _row_stats).
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    col0 = tl.program_id(1) * chunk
    row_mask = rows < M
    acc_type: tl.constexpr = tl.float64 if grad_x_ptr.dtype.element_ty == tl.float64 else tl.float32
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm
    gx_rows = grad_x_ptr + rows.to(tl.int64)[:, None] * stride_gxm
    g = compute_type(tl.load(grad_ptr + rows * stride_g, mask=row_mask, other=0)).to(acc_type)
    if OP == "index":
        y = tl.load(y_ptr + rows * stride_y, mask=row_mask, other=-1)
    else:
        y = compute_type(tl.load(y_ptr + rows * stride_y, mask=row_mask, other=1)).to(acc_type)
    a, b = _row_stats(x_rows, row_mask, R, stride_xr, y, OP, acc_type, BLOCK_M, BLOCK_R)
    for start in range(col0, tl.minimum(col0 + chunk, R), BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        if OP == "sum" or OP == "mean" or OP == "index" or OP == "norm0":
            x = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
        else:
            x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1))
            x = x.to(acc_type)
        gx = _grad_math(g[:, None], x, y[:, None], a[:, None], b[:, None], cols, R, p, OP)
        tl.store(gx_rows + cols.to(tl.int64)[None, :] * stride_gxr, cast_to(gx, grad_x_ptr.dtype.element_ty),
                 mask=mask)


# The backward OPs whose _row_stats pass reads the whole row: their programs cannot be cut along R.
ROW_STAT_OPS = ("prod", "extremum", "norm_inf", "var", "std")


def launch_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray | None, y: DeviceArray | None,
                    op: str, p: float = 0.0) -> None:
    M, R = grad_x.shape
    if M == 0 or R == 0:
        return
    x = grad_x if x is None else x
    y = grad if y is None else y
    # OPs whose gradient needs a statistic of the whole row (ties, zeros, the mean) keep one program per row.
    plan = None if op in ROW_STAT_OPS else split_plan(M, R, contiguous_rows(x))

    def run(cfg):
        chunk = R if plan is None else -(-plan[0] // cfg["BLOCK_R"]) * cfg["BLOCK_R"]
        reduce_backward_kernel[(triton.cdiv(M, cfg["BLOCK_M"]), triton.cdiv(R, chunk))](
            grad_x, grad, x, y, M, R, grad_x.strides[0], grad_x.strides[1], x.strides[0], x.strides[1],
            grad.strides[0], y.strides[0], float(p), chunk, OP=op, **cfg)

    key = (op, grad_x.dtype.name, y.dtype.name, *layout(x))
    tuning.launch(REDUCE_BACKWARD_TUNING, key, dict(M=M, R=R, itemsize=grad_x.dtype.itemsize), run)


# ================================================================ NumPy references of sum and prod
# Forward: (x, axis tuple, keepdims, ...) -> np.ndarray, computed in the accumulation precision
# PyTorch uses and cast back to the result dtype. Backward: (grad, x, ..., axis, keepdims) -> (grad_x,).
# Float types that accumulate their own sums (see _acc_dtype).
_OWN_ACCUMULATOR = (np.dtype(np.float32), np.dtype(np.float64))


def _acc_dtype(dt: np.dtype) -> np.dtype:
    dt = np.dtype(dt)
    if dt.kind == "f" and dt.itemsize >= 4:
        return dt
    return np.dtype(np.float32) if dt.kind in "fV" or dt.name == "bfloat16" else np.dtype(np.int64)


# ================================================================ sum, mean, prod, all, any, count_nonzero
# Forward wrappers take x as a 2-d (M, R) view and write (M,) outputs, casting to the output's dtype (scratch:
# see `launch`);
# backward wrappers write grad_x (M, R) in x's dtype from grad and the saved result (M,).
def sum(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:  # noqa: A001 - the op's name
    """out[m] = sum_r x[m, r]; out is int64 for integer/bool x, x's float type otherwise."""
    launch(out, None, x, "add", scratch=scratch)


def mean(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m] = sum_r x[m, r] / R (floating x); NaN for R == 0."""
    launch(out, None, x, "add", post="mean", scratch=scratch)


def prod(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m] = prod_r x[m, r]; out is int64 for integer/bool x."""
    launch(out, None, x, "mul", scratch=scratch)


def all(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:  # noqa: A001
    """out[m] = every x[m, r] != 0 (True for R == 0)."""
    launch(out, None, x, "add", pre="nonzero", post="all", scratch=scratch)


def any(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:  # noqa: A001
    """out[m] = some x[m, r] != 0."""
    launch(out, None, x, "add", pre="nonzero", post="any", scratch=scratch)


def count_nonzero(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m] (int64) = number of x[m, r] != 0."""
    launch(out, None, x, "add", pre="nonzero", scratch=scratch)


def sum_backward(grad_x: DeviceArray, grad: DeviceArray) -> None:
    launch_backward(grad_x, grad, None, None, "sum")


def mean_backward(grad_x: DeviceArray, grad: DeviceArray) -> None:
    launch_backward(grad_x, grad, None, None, "mean")


def prod_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray) -> None:
    """Exact with zeros: one zero in a row gets grad * (product of the rest), other entries 0."""
    launch_backward(grad_x, grad, x, result, "prod")


def sum_ref(x: np.ndarray, axis: tuple, keepdims: bool, dtype=None) -> np.ndarray:
    if dtype is None and x.dtype in _OWN_ACCUMULATOR:  # the everyday case: no dtype lookups, casts or copies
        return np.add.reduce(x, axis=axis_tuple(axis), keepdims=keepdims)
    if dtype is None:
        dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
    acc = np.int64 if np.dtype(dtype).kind in "biu" else _acc_dtype(dtype)
    # np.sum's arithmetic (add.reduce, pairwise) without its Python wrapper, and no copy of an x already in the
    # accumulation type: a small reduction's cost is these calls, not the sum.
    return np.add.reduce(x.astype(acc, copy=False), axis=axis_tuple(axis), keepdims=keepdims).astype(dtype,
                                                                                                    copy=False)


def mean_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    if x.dtype in _OWN_ACCUMULATOR:  # the everyday case: no dtype lookups, casts or copies
        xf = x
    else:
        xf = x.astype(np.float32, copy=False)
    axes = axis_tuple(axis)
    count = math.prod([xf.shape[a] for a in axes])
    total = np.add.reduce(xf, axis=axes, keepdims=keepdims)
    if count == 0:  # np.mean's arithmetic (sum / count) without its "Mean of empty slice" warning: NaN, as PyTorch
        with np.errstate(invalid="ignore"):
            mean = total / xf.dtype.type(count)
    else:
        mean = total / xf.dtype.type(count)
    if xf is x:
        return mean
    out = x.dtype if x.dtype.kind == "f" or x.dtype.name == "bfloat16" else np.dtype(np.float32)
    return mean.astype(out, copy=False)


def prod_ref(x: np.ndarray, axis: tuple, keepdims: bool, dtype=None) -> np.ndarray:
    if dtype is None:
        dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
    acc = np.int64 if np.dtype(dtype).kind in "biu" else _acc_dtype(dtype)
    return np.prod(x.astype(acc), axis=axis_tuple(axis), keepdims=keepdims).astype(dtype)


def _truth(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.bool_ else x != 0  # (a bool input as it is: no pass, no copy)


def all_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    return np.all(_truth(x), axis=axis_tuple(axis), keepdims=keepdims)


def any_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    return np.any(_truth(x), axis=axis_tuple(axis), keepdims=keepdims)


def count_nonzero_ref(x: np.ndarray, axis: tuple, keepdims: bool = False) -> np.ndarray:
    return np.sum(x != 0, axis=axis_tuple(axis), keepdims=keepdims).astype(np.int64)


def sum_backward_ref(grad: np.ndarray, x: np.ndarray, axis: tuple, keepdims: bool) -> tuple:
    return (expand_reduced(grad, x, axis, keepdims).astype(x.dtype),)


def mean_backward_ref(grad: np.ndarray, x: np.ndarray, axis: tuple, keepdims: bool) -> tuple:
    n = int(np.prod([x.shape[a] for a in axis_tuple(axis)]))
    (g,) = float_like(x, expand_reduced(grad, x, axis, keepdims))
    return ((g / n).astype(x.dtype),)


def prod_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: tuple,
                      keepdims: bool) -> tuple:
    xf, g, y = float_like(x, x, expand_reduced(grad, x, axis, keepdims), expand_reduced(result, x, axis, keepdims))
    axis = axis_tuple(axis)
    zeros = xf == 0
    nz = expand_reduced(np.sum(zeros, axis=axis, keepdims=True), x, axis, True)
    prod_nonzero = expand_reduced(np.prod(np.where(zeros, 1, xf), axis=axis, keepdims=True), x, axis, True)
    with np.errstate(divide="ignore", invalid="ignore"):
        no_zero = g * y / np.where(zeros, 1, xf)
    gx = np.where(nz == 0, no_zero, np.where((nz == 1) & zeros, g * prod_nonzero, 0))
    return (gx.astype(x.dtype),)


# ================================================================ registry
OPS: dict[str, ReduceOp] = {
    "sum": ReduceOp(sum, sum_ref, "int64 for ints/bool else same", sum_backward, sum_backward_ref),
    "mean": ReduceOp(mean, mean_ref, "float", mean_backward, mean_backward_ref),
    "prod": ReduceOp(prod, prod_ref, "int64 for ints/bool else same", prod_backward, prod_backward_ref,
                     ("x", "result")),
    "all": ReduceOp(all, all_ref, "bool"),
    "any": ReduceOp(any, any_ref, "bool"),
    "count_nonzero": ReduceOp(count_nonzero, count_nonzero_ref, "int64"),
}


# ================================================================ AOT / tuner declarations
# Every specialisation of the two kernels, whichever family (reduction, statistics, extrema) launches it.
def _fwd_signature(dtype: str, out: str, aux: str) -> dict[str, str]:
    return {"out_ptr": f"*{out}", "aux_ptr": f"*{aux}", "x_ptr": f"*{dtype}", "M": "i32", "R": "i32",
            "stride_xm": "i32", "stride_xr": "i32", "stride_out": "i32", "stride_aux": "i32", "p": "fp32"}


def _bwd_signature(dtype: str, y: str) -> dict[str, str]:
    return {"grad_x_ptr": f"*{dtype}", "grad_ptr": f"*{dtype}", "x_ptr": f"*{dtype}", "y_ptr": f"*{y}",
            "M": "i32", "R": "i32", "stride_gxm": "i32", "stride_gxr": "i32", "stride_xm": "i32",
            "stride_xr": "i32", "stride_g": "i32", "stride_y": "i32", "p": "fp32", "chunk": "i32"}


_ONE_BYTE = ("i1", "u1", "i8", "u8")  # spec dtypes whose rows take NARROW_ROW_BLOCKS

# (name, KIND, PRE, POST, OUT_VALUE, OUT_AUX, [(x dtype, out dtype, aux dtype)])
_FORWARD = [
    ("sum", "add", "id", "id", True, False, [("fp32",) * 3, ("fp16",) * 3, ("i32", "i64", "i64"), ("fp64",) * 3]),
    ("prod", "mul", "id", "id", True, False, [("bf16",) * 3, ("i64",) * 3]),
    ("max", "max", "id", "id", True, True, [("fp32", "fp32", "i64"), ("bf16", "bf16", "i64"), ("i1", "i1", "i64"),
                                            ("i64", "i64", "i64")]),
    ("argmin", "min", "id", "id", False, True, [("fp16", "i64", "i64")]),
    ("var", "var", "id", "std", True, True, [("fp32",) * 3, ("fp64",) * 3]),
    ("norm[pow]", "add", "pow", "root", True, False, [("fp32",) * 3, ("fp64",) * 3]),
    ("norm[inf]", "max", "abs", "id", True, False, [("fp16",) * 3]),
    ("logsumexp", "lse", "id", "id", True, False, [("fp32",) * 3, ("bf16",) * 3, ("fp64",) * 3]),
    ("all", "add", "nonzero", "all", True, False, [("i1", "i1", "i1"), ("fp32", "i1", "i1")]),
]
_BACKWARD = [("sum", ["fp32"]), ("mean", ["bf16"]), ("prod", ["fp32", "fp64"]), ("extremum", ["fp16", "fp32"]),
             ("index", ["fp32"]), ("var", ["fp32"]), ("std", ["fp16"]), ("norm2", ["fp32"]), ("normp", ["fp64"]),
             ("norm_inf", ["fp32"]), ("lse", ["fp32", "bf16"])]

SPECS = [
    KernelSpec(f"reduction.{name}[{dtype}]", reduce_kernel, _fwd_signature(dtype, out, aux),
               dict(KIND=kind, PRE=pre, POST=post, OUT_VALUE=ov, OUT_AUX=oa),
               *((NARROW_HEURISTIC_CONFIGS, SPACE + NARROW_ROW_BLOCKS) if dtype in _ONE_BYTE else
                 (HEURISTIC_CONFIGS, SPACE)))
    for name, kind, pre, post, ov, oa, dtypes in _FORWARD for dtype, out, aux in dtypes
] + [
    KernelSpec(f"reduction.backward[{op}:{dtype}]", reduce_backward_kernel,
               _bwd_signature(dtype, "i64" if op == "index" else dtype), dict(OP=op), HEURISTIC_CONFIGS, SPACE)
    for op, dtypes in _BACKWARD for dtype in dtypes
]
