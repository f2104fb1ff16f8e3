"""Inclusive scans along the last axis of a (M, R) strided view: cumsum, cumprod, and their backwards.

The Tensor layer moves the scanned dim last (a view: any strides). Each program owns BLOCK_M rows
and walks R in BLOCK_R chunks, scanning a chunk with `tl.associative_scan` (tl.cumsum/tl.cumprod)
and carrying the running total of the earlier chunks into the next, so rows of any length share
one compiled kernel per block shape. Accumulation is fp32 for 16-bit floats, fp64 for fp64 and
int64 for integers/bool (PyTorch's cumsum/cumprod of ints give int64); results are cast to the
output's dtype.

Backward: cumsum's is the reversed cumsum of the gradient (the same kernel walking the row from
its end). cumprod's is exact with zeros, as PyTorch: with k the first zero of a row,
  i < k:  grad_x[i] = sum_{j>=i} grad[j] * out[j] / x[i]         (x[i] != 0 there)
  i = k:  grad_x[k] = prod_{l<k} x[l] * sum_{j>=k} grad[j] * prod_{k<l<=j} x[l]
  i > k:  grad_x[i] = 0                                          (every out[j], j >= i, holds x[k])
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

# (BLOCK_M, BLOCK_R, num_warps): as the row reductions, a long chunk of one row when the row is
# contiguous, many rows side by side when the scanned dim is strided (a column scan).
ROW_CONTIGUOUS = dict(BLOCK_M=1, BLOCK_R=1024, num_warps=4)
ROW_STRIDED = dict(BLOCK_M=64, BLOCK_R=16, num_warps=4)
# Tuning candidates per layout, the heuristic's first. Both kernels walk R in chunks, so any block serves any
# row length; short contiguous rows want several rows per program, long ones wider chunks.
_CONTIG_SPACE = [ROW_CONTIGUOUS, dict(BLOCK_M=1, BLOCK_R=2048, num_warps=8), dict(BLOCK_M=1, BLOCK_R=512, num_warps=4),
                 dict(BLOCK_M=8, BLOCK_R=128, num_warps=4)]
_STRIDED_SPACE = [ROW_STRIDED, dict(BLOCK_M=32, BLOCK_R=32, num_warps=4)]
_SPACE = _CONTIG_SPACE + _STRIDED_SPACE  # every config a space can hold (the AOT check's --full)


def _heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(R), rows contiguous along R)."""
    return dict(ROW_CONTIGUOUS if key[-1] else ROW_STRIDED)


def _space(key: tuple, space: str) -> list[dict]:
    """The layout's candidates ("max": both layouts'), without chunks far longer than the row."""
    own, other = (_CONTIG_SPACE, _STRIDED_SPACE) if key[-1] else (_STRIDED_SPACE, _CONTIG_SPACE)
    return own[:1] + [c for c in own[1:] + (other if space == "max" else []) if c["BLOCK_R"] <= max(64, 2 * key[-2])]


def _layout(x: DeviceArray) -> tuple:
    return next_pow2(x.shape[0]), next_pow2(x.shape[1]), x.strides[1] == 1 or x.shape[0] == 1


# A scan reads and writes M*R elements; cumprod's backward reads x, grad and y and writes grad_x (its three
# passes re-read x and grad, mostly from cache).
SCAN_TUNING = Tunable("scan.scan", _space, _heuristic, lambda M, R, itemsize, out_itemsize: Cost(
    float(M) * R * (itemsize + out_itemsize), float(M) * R))
CUMPROD_BACKWARD_TUNING = Tunable("scan.cumprod_backward", _space, _heuristic, lambda M, R, itemsize: Cost(
    4.0 * M * R * itemsize, 6.0 * M * R))


@triton.jit
def _last(s, BLOCK_R: tl.constexpr):
    """Column BLOCK_R - 1 of s: after an inclusive scan, the chunk's total carried to the next."""
    lane = tl.arange(0, BLOCK_R)
    return tl.sum(tl.where(lane[None, :] == BLOCK_R - 1, s, 0), axis=1)


@triton.jit
def scan_kernel(
    out_ptr,  # (M, R) output
    x_ptr,  # (M, R) input view
    M, R,  # rows, scanned length
    stride_om, stride_or,  # output strides (elements)
    stride_xm, stride_xr,  # input strides (elements)
    OP: tl.constexpr,  # "sum" or "prod"
    REVERSE: tl.constexpr,  # scan from the end of the row (cumsum's backward)
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # scanned elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    x_ty = x_ptr.dtype.element_ty
    acc_type = tl.float64 if x_ty == tl.float64 else tl.float32
    if x_ty.is_int():
        acc_type = tl.int64
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xm
    o_rows = out_ptr + rows.to(tl.int64)[:, None] * stride_om
    if OP == "prod":
        carry = tl.full((BLOCK_M,), 1, acc_type)
    else:
        carry = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        steps = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (steps < R)[None, :]
        if REVERSE:
            cols = (R - 1 - steps).to(tl.int64)
        else:
            cols = steps.to(tl.int64)
        x = compute_type(tl.load(x_rows + cols[None, :] * stride_xr, mask=mask, other=0)).to(acc_type)
        if OP == "prod":
            x = tl.where(mask, x, 1)
            s = tl.cumprod(x, axis=1) * carry[:, None]
        else:
            x = tl.where(mask, x, 0)
            s = tl.cumsum(x, axis=1) + carry[:, None]
        carry = _last(s, BLOCK_R)  # padding lanes hold the identity, so the last lane is the total
        tl.store(o_rows + cols[None, :] * stride_or, cast_to(s, out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def cumprod_backward_kernel(
    grad_x_ptr,  # (M, R) output: gradient of x
    grad_ptr,  # (M, R) gradient of the cumprod
    x_ptr,  # (M, R) forward input
    y_ptr,  # (M, R) forward output (the cumprod)
    M, R,  # rows, scanned length
    stride_gxm, stride_gxr,  # grad_x strides (elements)
    stride_gm, stride_gr,  # grad strides (elements)
    stride_xm, stride_xr,  # x strides (elements)
    stride_ym, stride_yr,  # y strides (elements)
    BLOCK_M: tl.constexpr,  # rows per program
    BLOCK_R: tl.constexpr,  # scanned elements per loop step
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < M
    acc_type = tl.float64 if grad_x_ptr.dtype.element_ty == tl.float64 else tl.float32
    r64 = rows.to(tl.int64)[:, None]
    x_rows = x_ptr + r64 * stride_xm
    g_rows = grad_ptr + r64 * stride_gm
    y_rows = y_ptr + r64 * stride_ym
    gx_rows = grad_x_ptr + r64 * stride_gxm

    # Pass 1: k, the first zero of each row (R when there is none).
    k = tl.full((BLOCK_M,), R, tl.int32)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1))
        k = tl.minimum(k, tl.min(tl.where(mask & (x == 0), cols[None, :], R), axis=1))
    k2 = k[:, None]

    # Pass 2: the gradient at k, prefix * sum_{j>=k} grad[j] * prod_{k<l<=j} x[l], where the inner
    # product is the cumprod of x with every entry up to k replaced by 1.
    prefix = tl.full((BLOCK_M,), 1, acc_type)
    carry = tl.full((BLOCK_M,), 1, acc_type)
    at_k = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1))
        x = x.to(acc_type)
        g = compute_type(tl.load(g_rows + cols.to(tl.int64)[None, :] * stride_gr, mask=mask, other=0))
        z = tl.cumprod(tl.where(mask & (cols[None, :] > k2), x, 1), axis=1) * carry[:, None]
        carry = _last(z, BLOCK_R)
        at_k += tl.sum(tl.where(mask & (cols[None, :] >= k2), g.to(acc_type) * z, 0), axis=1)
        before_k = tl.cumprod(tl.where(mask & (cols[None, :] < k2), x, 1), axis=1) * prefix[:, None]
        prefix = _last(before_k, BLOCK_R)
    at_k = (prefix * at_k)[:, None]

    # Pass 3, from the end of the row: the reversed cumsum of grad * y, divided by x before k.
    rsum = tl.zeros((BLOCK_M,), acc_type)
    for start in range(0, R, BLOCK_R):
        steps = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (steps < R)[None, :]
        cols = R - 1 - steps
        c64 = cols.to(tl.int64)[None, :]
        x = compute_type(tl.load(x_rows + c64 * stride_xr, mask=mask, other=1.0)).to(acc_type)
        g = compute_type(tl.load(g_rows + c64 * stride_gr, mask=mask, other=0)).to(acc_type)
        y = compute_type(tl.load(y_rows + c64 * stride_yr, mask=mask, other=0)).to(acc_type)
        gy = tl.where(mask, g * y, 0)
        rc = tl.cumsum(gy, axis=1) + rsum[:, None]
        rsum = rsum + tl.sum(gy, axis=1)
        before = cols[None, :] < k2
        gx = tl.where(before, rc / tl.where(before, x, 1), tl.where(cols[None, :] == k2, at_k, 0))
        tl.store(gx_rows + c64 * stride_gxr, cast_to(gx, grad_x_ptr.dtype.element_ty), mask=mask)


def _scan(out: DeviceArray, x: DeviceArray, op: str, reverse: bool) -> None:
    M, R = x.shape
    if M == 0 or R == 0:
        return

    def run(cfg):
        scan_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            out, x, M, R, out.strides[0], out.strides[1], x.strides[0], x.strides[1], OP=op, REVERSE=reverse, **cfg)

    key = (op, reverse, x.dtype.name, out.dtype.name, *_layout(x))
    tuning.launch(SCAN_TUNING, key, dict(M=M, R=R, itemsize=x.dtype.itemsize, out_itemsize=out.dtype.itemsize), run)


# ---------------------------------------------------------------- launch wrappers (x, out: (M, R))
def cumsum(out: DeviceArray, x: DeviceArray) -> None:
    """out[m, r] = sum_{j<=r} x[m, j]; out is int64 for integer/bool x, x's float type otherwise."""
    _scan(out, x, "sum", False)


def cumprod(out: DeviceArray, x: DeviceArray) -> None:
    """out[m, r] = prod_{j<=r} x[m, j]; out is int64 for integer/bool x."""
    _scan(out, x, "prod", False)


def cumsum_backward(grad_x: DeviceArray, grad: DeviceArray) -> None:
    """grad_x[m, r] = sum_{j>=r} grad[m, j] (a reversed cumsum)."""
    _scan(grad_x, grad, "sum", True)


def cumprod_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray) -> None:
    """Gradient of cumprod given its input x and output `result`; exact where x has zeros."""
    M, R = x.shape
    if M == 0 or R == 0:
        return

    def run(cfg):
        cumprod_backward_kernel[(triton.cdiv(M, cfg["BLOCK_M"]),)](
            grad_x, grad, x, result, M, R, *grad_x.strides, *grad.strides, *x.strides, *result.strides, **cfg)

    key = (x.dtype.name, *_layout(x))
    tuning.launch(CUMPROD_BACKWARD_TUNING, key, dict(M=M, R=R, itemsize=x.dtype.itemsize), run)


# ---------------------------------------------------------------- NumPy references
def _acc(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "biu":
        return x.astype(np.int64)
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32)


def _out_dtype(x: np.ndarray, dtype) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype


def cumsum_ref(x: np.ndarray, axis: int, dtype=None) -> np.ndarray:
    return np.cumsum(_acc(x), axis=axis).astype(_out_dtype(x, dtype))


def cumprod_ref(x: np.ndarray, axis: int, dtype=None) -> np.ndarray:
    return np.cumprod(_acc(x), axis=axis).astype(_out_dtype(x, dtype))


def cumsum_backward_ref(grad: np.ndarray, x: np.ndarray, axis: int) -> tuple:
    g = _acc(grad)
    return (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis).astype(x.dtype),)


def cumprod_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: int) -> tuple:
    """PyTorch's cumprod gradient, exact where x has zeros (see the module docstring)."""
    xf, g, y = (np.moveaxis(_acc(a), axis, -1) for a in (x, grad, result))
    n = xf.shape[-1]
    cols = np.arange(n)
    zero = xf == 0
    k = np.where(zero.any(-1), zero.argmax(-1), n)[..., None]
    gy = g * y
    rc = np.flip(np.cumsum(np.flip(gy, -1), -1), -1)
    before = cols < k
    w = np.where(cols > k, xf, 1)
    prefix = np.prod(np.where(before, xf, 1), -1, keepdims=True)
    at_k = prefix * np.sum(np.where(cols >= k, g * np.cumprod(w, -1), 0), -1, keepdims=True)
    gx = np.where(before, rc / np.where(before, xf, 1), np.where(cols == k, at_k, 0))
    return (np.moveaxis(gx, -1, axis).astype(x.dtype),)


# For the Tensor layer: wrappers, references, and what the backward takes after (grad_x, grad).
OPS = {
    "cumsum": dict(forward=cumsum, ref=cumsum_ref, backward=cumsum_backward, backward_ref=cumsum_backward_ref,
                   saves=()),
    "cumprod": dict(forward=cumprod, ref=cumprod_ref, backward=cumprod_backward,
                    backward_ref=cumprod_backward_ref, saves=("x", "result")),
}


def _scan_signature(out: str, x: str) -> dict[str, str]:
    return {"out_ptr": f"*{out}", "x_ptr": f"*{x}", "M": "i32", "R": "i32", "stride_om": "i32",
            "stride_or": "i32", "stride_xm": "i32", "stride_xr": "i32"}


_CONFIGS = [ROW_CONTIGUOUS, ROW_STRIDED]  # what the heuristic returns
SPECS = [
    KernelSpec(f"scan.cum{op}{'[reverse]' if reverse else ''}[{x}]", scan_kernel, _scan_signature(out, x),
               dict(OP=op, REVERSE=reverse), _CONFIGS, _SPACE)
    for op, reverse, x, out in [("sum", False, "fp32", "fp32"), ("sum", False, "bf16", "bf16"),
                                ("sum", False, "i1", "i64"), ("sum", True, "fp64", "fp64"),
                                ("prod", False, "fp16", "fp16"), ("prod", False, "i32", "i64")]
] + [
    KernelSpec(f"scan.cumprod_backward[{dt}]", cumprod_backward_kernel,
               {**{f"{n}_ptr": f"*{dt}" for n in ("grad_x", "grad", "x", "y")}, "M": "i32", "R": "i32",
                **{f"stride_{n}{d}": "i32" for n in ("gx", "g", "x", "y") for d in ("m", "r")}},
               {}, _CONFIGS, _SPACE)
    for dt in ("fp32", "bf16", "fp64")
]
