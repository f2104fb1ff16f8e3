"""Statistical row reductions over a (M, R) strided view: var, std, norm (vector p-norm) and logsumexp,
and their backwards.

No kernels of their own: they run the generic kernels of kernels/reduction.py (read its docstring; its
SPECS lists their specialisations): var/std is KIND "var" (two passes: the mean, then squared
deviations; the mean can be written too, for var_mean/std_mean), norm picks PRE/POST per p, logsumexp is
KIND "lse" (one pass, online max-shifted). Accumulation is fp32 for 16-bit floats, fp64 for fp64. Launch
wrappers write into preallocated DeviceArrays: x is (M, R), results are (M,). `OPS` maps each op name to
its `reduce_ops.ReduceOp`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .device_array import DeviceArray
from .reduce_ops import ReduceOp, axis_tuple, expand_reduced, float_acc, float_like
from .reduction import launch, launch_backward


# ================================================================ launch wrappers
# Forward: x is a 2-d (M, R) view, outputs (M,), scratch as `reduction.launch` takes it (the split path);
# backward: grad_x (M, R) in x's dtype, grad and result (M,).
def var(out: DeviceArray, x: DeviceArray, correction: float = 1, mean_out: DeviceArray | None = None,
        scratch: DeviceArray | None = None) -> None:
    """out[m] = sum_r (x - mean)^2 / max(R - correction, 0), two-pass; optionally also writes the mean."""
    launch(out, mean_out, x, "var", p=correction, scratch=scratch)


def std(out: DeviceArray, x: DeviceArray, correction: float = 1, mean_out: DeviceArray | None = None,
        scratch: DeviceArray | None = None) -> None:
    """out[m] = sqrt(var); optionally also writes the mean (std_mean)."""
    launch(out, mean_out, x, "var", post="std", p=correction, scratch=scratch)


def norm(out: DeviceArray, x: DeviceArray, p: float = 2.0, scratch: DeviceArray | None = None) -> None:
    """Vector p-norm of each row (torch.linalg.vector_norm): p in {0, 1, 2, inf, -inf} or any float.

    p = +-inf raises ValueError for R == 0 (no identity), as PyTorch.
    """
    p = float(p)
    if p == math.inf:
        launch(out, None, x, "max", pre="abs", scratch=scratch)
    elif p == -math.inf:
        launch(out, None, x, "min", pre="abs", scratch=scratch)
    elif p == 0:
        launch(out, None, x, "add", pre="nonzero", scratch=scratch)
    elif p == 1:
        launch(out, None, x, "add", pre="abs", scratch=scratch)
    elif p == 2:
        launch(out, None, x, "add", pre="square", post="sqrt", scratch=scratch)
    else:
        launch(out, None, x, "add", pre="pow", post="root", p=p, scratch=scratch)


def logsumexp(out: DeviceArray, x: DeviceArray, scratch: DeviceArray | None = None) -> None:
    """out[m] = log(sum_r exp(x[m, r])), max-shifted; -inf for R == 0 or all -inf rows."""
    launch(out, None, x, "lse", scratch=scratch)


def var_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, correction: float = 1) -> None:
    launch_backward(grad_x, grad, x, None, "var", correction)


def std_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray,
                 correction: float = 1) -> None:
    launch_backward(grad_x, grad, x, result, "std", correction)


def norm_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray,
                  p: float = 2.0) -> None:
    p = float(p)
    ops = {0.0: "norm0", 1.0: "norm1", 2.0: "norm2", math.inf: "norm_inf", -math.inf: "norm_inf"}
    op = ops.get(p, "normp")
    launch_backward(grad_x, grad, x, result, op, p)


def logsumexp_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, result: DeviceArray) -> None:
    launch_backward(grad_x, grad, x, result, "lse")


# ================================================================ NumPy references
def _acc(x: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """float_acc without its copy where x is already in the accumulation dtype (the references never write x)."""
    if x.dtype == np.float32 or x.dtype == np.float64:
        return x, x.dtype
    return float_acc(x)


def var_ref(x: np.ndarray, axis: tuple, correction: float = 1, keepdims: bool = False) -> np.ndarray:
    """Two-pass variance over axis (float32 accumulation, float64 for float64), in x's float dtype."""
    xf, out = _acc(x)
    axis = axis_tuple(axis)
    n = int(np.prod([x.shape[a] for a in axis]))
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.sum(xf, axis=axis, keepdims=True) / xf.dtype.type(n)  # np.mean's arithmetic, without its warning
        d = np.asarray(xf - m)  # 0-d stays an array, so it can be squared in place
        np.multiply(d, d, out=d)  # d ** 2's bits, squared in place
        m2 = np.sum(d, axis=axis, keepdims=keepdims)
        return (m2 / builtins.max(n - correction, 0)).astype(out, copy=False)


def std_ref(x: np.ndarray, axis: tuple, correction: float = 1, keepdims: bool = False) -> np.ndarray:
    xf, out = float_acc(x)
    return np.sqrt(var_ref(xf, axis, correction, keepdims)).astype(out)


def norm_ref(x: np.ndarray, p: float, axis: tuple, keepdims: bool) -> np.ndarray:
    """Vector p-norm over axis (float32 accumulation, float64 for float64), in x's float dtype."""
    xf, out = _acc(x)
    axis = axis_tuple(axis)
    if p == 2:
        # x * x is |x| * |x| exactly, so the abs pass is skipped; the same pairwise np.sum keeps the bits
        # (more accurate than a BLAS dot's long running sums). A NaN's sign could differ: redo those the old way.
        with np.errstate(over="ignore"):
            sq = np.square(xf, out=None if xf is x else xf)
            r = np.sqrt(np.add.reduce(sq, axis=axis, keepdims=keepdims))
        if not np.isnan(r).any():
            return np.asarray(r).astype(out, copy=False)
        xf = float_acc(x)[0]
    a = np.abs(xf)
    with np.errstate(divide="ignore", over="ignore"):
        if p == math.inf:
            r = np.max(a, axis=axis, keepdims=keepdims)
        elif p == -math.inf:
            r = np.min(a, axis=axis, keepdims=keepdims)
        elif p == 0:
            r = np.sum(a != 0, axis=axis, keepdims=keepdims).astype(xf.dtype)
        elif p == 1:
            r = np.sum(a, axis=axis, keepdims=keepdims)
        elif p == 2:
            r = np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))
        else:
            r = np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)
    return np.asarray(r).astype(out)


def logsumexp_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    xf, out = float_acc(x)
    axis = axis_tuple(axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.max(xf, axis=axis, keepdims=True) if xf.size else np.zeros([1] * xf.ndim, xf.dtype)
        shift = np.where(np.isinf(m), 0, m)
        r = np.log(np.sum(np.exp(xf - shift), axis=axis, keepdims=True)) + shift
    return (r if keepdims else np.squeeze(r, axis=axis)).astype(out)


def var_backward_ref(grad: np.ndarray, x: np.ndarray, axis: tuple, correction: float = 1,
                     keepdims: bool = False) -> tuple:
    axis = axis_tuple(axis)
    n = int(np.prod([x.shape[a] for a in axis]))
    xf, g = float_like(x, x, expand_reduced(grad, x, axis, keepdims))
    with np.errstate(divide="ignore", invalid="ignore"):
        gx = g * 2 * (xf - xf.mean(axis=axis, keepdims=True)) / builtins.max(n - correction, 0)
    return (gx.astype(x.dtype),)


def std_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: tuple, correction: float = 1,
                     keepdims: bool = False) -> tuple:
    axis = axis_tuple(axis)
    n = int(np.prod([x.shape[a] for a in axis]))
    xf, g, y = float_like(x, x, expand_reduced(grad, x, axis, keepdims), expand_reduced(result, x, axis, keepdims))
    with np.errstate(divide="ignore", invalid="ignore"):
        divisor = builtins.max(n - correction, 0) * np.where(y == 0, 1, y)
        gx = g * (xf - xf.mean(axis=axis, keepdims=True)) / divisor
    return (np.where(y == 0, 0, gx).astype(x.dtype),)


def norm_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, p: float, axis: tuple,
                      keepdims: bool) -> tuple:
    xf, g, y = float_like(x, x, expand_reduced(grad, x, axis, keepdims), expand_reduced(result, x, axis, keepdims))
    sign, a = (xf > 0).astype(xf.dtype) - (xf < 0), np.abs(xf)  # sign(NaN) = 0, as the kernel
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if p == 0:
            gx = np.zeros_like(xf)
        elif p == 1:
            gx = g * sign
        elif p == 2:
            gx = np.where(y == 0, 0, g * xf / np.where(y == 0, 1, y))
        elif math.isinf(p):
            hit = (a == y) | np.isnan(a)
            count = expand_reduced(np.sum(hit, axis=axis_tuple(axis), keepdims=True), x, axis, True)
            gx = np.where(hit, sign * g / np.maximum(count, 1), 0)
        else:
            ratio = a / np.where(y == 0, 1, y)
            gx = np.where((xf == 0) | (y == 0), 0, g * sign * np.where(xf == 0, 1, ratio) ** (p - 1))
    return (gx.astype(x.dtype),)


def logsumexp_backward_ref(grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: tuple,
                           keepdims: bool) -> tuple:
    xf, g, y = float_like(x, x, expand_reduced(grad, x, axis, keepdims), expand_reduced(result, x, axis, keepdims))
    return ((g * np.exp(xf - y)).astype(x.dtype),)


# ================================================================ registry
OPS: dict[str, ReduceOp] = {
    "var": ReduceOp(var, var_ref, "float", var_backward, var_backward_ref, ("x", "correction"),
                    ("correction",)),
    "std": ReduceOp(std, std_ref, "float", std_backward, std_backward_ref, ("x", "result", "correction"),
                    ("correction",)),
    "norm": ReduceOp(norm, norm_ref, "float", norm_backward, norm_backward_ref, ("x", "result", "p"), ("p",)),
    "logsumexp": ReduceOp(logsumexp, logsumexp_ref, "float", logsumexp_backward, logsumexp_backward_ref,
                          ("x", "result")),
}
