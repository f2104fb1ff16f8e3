"""Unary math ops, forward and backward, on the elementwise map kernel: abs, sign, sqrt, rsqrt,
square, reciprocal, floor, ceil, round, trunc; and what every unary family (exponential,
trigonometric, special, activations) builds on: `UnaryOp`, the reference helpers, `build_specs`.

Every op is a pair of `@triton.jit` scalar-math functions run by `elementwise.launch_map`: the
forward `_<op>(x, p0, p1) -> y` and the backward `_<op>_backward(grad, saved, p0, p1) -> grad_x`,
where `saved` is the op's input x or its output y, whichever makes the gradient cheaper (see
`unary.UnaryOp.saves`). Beside them sit the launch wrappers `<op>(out, x)` / `<op>_backward(grad_x,
grad, saved)` and the NumPy references `<op>_ref(x)` / `<op>_backward_ref(grad, saved) -> (grad_x,)`.
`OPS` maps each op name to a `unary.UnaryOp`. `family_ops` builds a family's OPS from its wrappers
and references (found by name), so the Tensor layer can register a whole family in one loop.

Dtypes: fp16/bf16/fp32/fp64 for every op; 16-bit floats are computed in fp32 (PyTorch's opmath)
and rounded once on store. Integer inputs (not bool) are accepted, and keep their dtype, by the
ops with `keeps_int` (abs, sign, square, floor, ceil, round, trunc); every other op of every unary
family expects the Tensor layer to cast integers to the default float dtype first. Backward is
floating only. sqrt and reciprocal, being the op itself, use the IEEE forms (sqrt_rn, div_rn); fp32
rsqrt lowers to the GPU's approximation.
`SPECS` covers every op's forward and backward in fp32 (plus fp64 where the math branches on dtype);
`FULL_SPECS` every op in every dtype, for a thorough ahead-of-time compile check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import triton
import triton.language as tl

from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SPACE, _map_signature, launch_map, map_kernel, runs_map
from .ieee_math import div_ieee, sqrt_ieee
from .launch_spec import KernelSpec
from .quiet_numpy import quiet_call, quiet_one


class UnaryOp(NamedTuple):
    """One registrable unary op: `forward(out, x, **params)`, `backward(grad_x, grad, saved, **params)`."""

    forward: Callable  # launch wrapper: forward(out, x, **params)
    backward: Callable  # launch wrapper: backward(grad_x, grad, saved, **params)
    forward_ref: Callable  # NumPy: forward_ref(x, **params) -> y
    backward_ref: Callable  # NumPy: backward_ref(grad, saved, **params) -> (grad_x,)
    saves: str  # "input" or "output": what `saved` is (zero-gradient ops ignore it)
    keeps_int: bool = False  # integer inputs keep their dtype (otherwise cast to float before the op)
    params: dict = {}  # keyword parameters and their PyTorch defaults


# ================================================================ shared by the unary families
@triton.jit
def zero_backward(grad, saved, p0, p1):
    # Piecewise-constant ops: PyTorch's gradient is zeros_like(grad), so even an inf/NaN grad gives 0.
    return tl.zeros_like(grad)


def _opmath(a: np.ndarray) -> np.ndarray:
    """PyTorch computes 16-bit floats (fp16, bf16) in fp32; every other dtype in itself."""
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype.itemsize == 2 and a.dtype.kind not in "biu" else a


def forward_ref(fn: Callable, x: np.ndarray) -> np.ndarray:
    """fn(x) computed in opmath (16-bit floats in fp32) with NumPy's FP warnings off, in x's dtype (an array even
    for a 0-d x, whose ufunc result is a NumPy scalar)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    dtype = x.dtype
    # quiet: NumPy's FP warnings off for less than an np.errstate block costs (more than a small op's arithmetic)
    y = quiet_one(fn, x.astype(np.float32) if dtype.itemsize == 2 and dtype.kind not in "biu" else x)
    if type(y) is np.ndarray and y.dtype is dtype:  # the everyday case: nothing to convert
        return y
    return np.asarray(y).astype(dtype, copy=False)


def host_fn(fn: Callable) -> Callable[[Callable], Callable]:
    """Marks a forward reference `ref(x)` that is `forward_ref(fn, x)` with `fn` (`ref.host_fn`): for a C-contiguous
    float32/float64 array x of at least one dimension, fn(x) alone is ref's result, a new C-contiguous array of x's
    dtype and shape (so the Tensor layer's hot path calls fn with no wrapper; run it quietly: `quiet_one`)."""
    def mark(ref: Callable) -> Callable:
        ref.host_fn = fn
        return ref
    return mark


def backward_ref(fn: Callable, grad: np.ndarray, saved: np.ndarray) -> tuple[np.ndarray]:
    grad = np.asarray(grad)
    return (np.asarray(quiet_call(fn, _opmath(grad), _opmath(saved))).astype(grad.dtype, copy=False),)


def zero_backward_ref(grad: np.ndarray, saved: np.ndarray) -> tuple[np.ndarray]:
    grad = np.asarray(grad)
    return (np.zeros(np.broadcast_shapes(grad.shape, np.shape(saved)), grad.dtype),)


def family_ops(namespace: dict, table: dict) -> dict[str, UnaryOp]:
    """A family's OPS: name -> UnaryOp from table's (saves, keeps_int) and the wrappers `<name>`,
    `<name>_backward` and references `<name>_ref`, `<name>_backward_ref` found in `namespace`.

    A family's forward wrapper `<name>(out, x)` is `launch_map(_<name>, [out], [x])`, its math (`family_math`) alone:
    declared here (`elementwise.runs_map`) for every op of the table, so that the hot paths launch it by its plan
    (tests/kernels/test_dense_launch.py checks each declaration against its wrapper)."""
    for name in table:
        runs_map(namespace[f"_{name}"])(namespace[name])
    return {name: UnaryOp(namespace[name], namespace[f"{name}_backward"], namespace[f"{name}_ref"],
                          namespace[f"{name}_backward_ref"], saves, keeps_int)
            for name, (saves, keeps_int) in table.items()}


def family_math(namespace: dict, names) -> dict:
    """name -> (forward math `_<name>`, backward math `_<name>_backward`, or zero_backward if it has none)."""
    return {name: (namespace[f"_{name}"], namespace.get(f"_{name}_backward", zero_backward)) for name in names}


def build_specs(module: str, math_fns: dict, int_ops: list[str], branchy: list[str],
                full: bool = False) -> list[KernelSpec]:
    """Map-kernel specs of a family: each op's forward and backward in fp32 (each OP is its own
    kernel), fp64 for the ops whose math branches on fp64, int32 for the integer-keeping forwards;
    `full` compiles every op in fp16, bf16, fp32 and fp64."""
    specs = []
    for name, (fwd, bwd) in math_fns.items():
        dtypes = ("fp32", "fp64") if name in branchy else ("fp32",)
        if full:
            dtypes = ("fp16", "bf16", "fp32", "fp64")
        for dtype in dtypes:
            specs.append(KernelSpec(f"{module}.{name}[{dtype}]", map_kernel, _map_signature(dtype, 1, 1),
                                    dict(OP=fwd, N_IN=1, N_OUT=1), MAP_SHIPPED, MAP_SPACE))
            specs.append(KernelSpec(f"{module}.{name}_backward[{dtype}]", map_kernel,
                                    _map_signature(dtype, 2, 1), dict(OP=bwd, N_IN=2, N_OUT=1), MAP_SHIPPED, MAP_SPACE))
    for name in int_ops:
        for dtype in ("i8", "u8", "i16", "i32", "i64") if full else ("i32",):
            specs.append(KernelSpec(f"{module}.{name}[{dtype}]", map_kernel, _map_signature(dtype, 1, 1),
                                    dict(OP=math_fns[name][0], N_IN=1, N_OUT=1), MAP_SHIPPED, MAP_SPACE))
    return specs


# ================================================================ forward / backward math per op
@triton.jit
def _abs(x, p0, p1):
    return tl.abs(x)


@triton.jit
def _abs_backward(grad, x, p0, p1):
    # grad * sign(x): abs'(0) = 0 as in PyTorch.
    return tl.where(x > 0, grad, tl.where(x < 0, -grad, tl.zeros_like(grad)))


@triton.jit
def _sign(x, p0, p1):
    # (0 < x) - (x < 0), PyTorch's formula: sign(NaN) = 0, and unsigned inputs never go negative.
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def _sqrt(x, p0, p1):
    return sqrt_ieee(x)


@triton.jit
def _sqrt_backward(grad, out, p0, p1):
    return grad / (2.0 * out)


@triton.jit
def _rsqrt(x, p0, p1):
    # fp64 through IEEE sqrt and division: the GPU's rsqrt.approx.f64 is not double accurate.
    if x.dtype.is_fp64():
        return 1.0 / tl.sqrt(x)
    else:
        return tl.rsqrt(x)


@triton.jit
def _rsqrt_backward(grad, out, p0, p1):
    return -0.5 * grad * (out * out * out)


@triton.jit
def _square(x, p0, p1):
    return x * x


@triton.jit
def _square_backward(grad, x, p0, p1):
    return grad * (2.0 * x)


@triton.jit
def _reciprocal(x, p0, p1):
    return div_ieee(1.0, x)


@triton.jit
def _reciprocal_backward(grad, out, p0, p1):
    return -grad * (out * out)


@triton.jit
def _floor(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.floor(x)


@triton.jit
def _ceil(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.ceil(x)


@triton.jit
def _round(x, p0, p1):
    # Half to even from floor: x - floor(x) is exact, and floor(r / 2) tells whether r is odd.
    if x.dtype.is_int():
        return x
    else:
        # Infinities round to themselves (and NaN stays NaN); they compute on 0, as inf - inf is NaN.
        xs = tl.where(tl.abs(x) == float("inf"), 0.0, x)
        r = tl.floor(xs)
        d = xs - r
        odd = r - 2.0 * tl.floor(0.5 * r) != 0.0
        y = tl.where((d > 0.5) | ((d == 0.5) & odd), r + 1.0, r)
        y = tl.where(y == 0.0, xs * 0.0, y)  # round(-0.4) is -0.0, like nearbyint
        return tl.where(xs == x, y, x)


@triton.jit
def _trunc(x, p0, p1):
    if x.dtype.is_int():
        return x
    else:
        return tl.where(x < 0, tl.ceil(x), tl.floor(x))


# ================================================================ launch wrappers
# Forward: out = op(x), x already cast to the op's dtype and viewed to out's shape (any strides).
# Backward: grad_x = grad * op'(.), from the saved input x or the saved output `out` as named.
def abs(out: DeviceArray, x: DeviceArray) -> None:  # noqa: A001 - the op's name
    launch_map(_abs, [out], [x])


def abs_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_abs_backward, [grad_x], [grad, x])


def sign(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sign, [out], [x])


def sign_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    """grad_x = 0 (x is not read)."""
    launch_map(zero_backward, [grad_x], [grad, x])


def sqrt(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_sqrt, [out], [x])


def sqrt_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_sqrt_backward, [grad_x], [grad, out])


def rsqrt(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_rsqrt, [out], [x])


def rsqrt_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_rsqrt_backward, [grad_x], [grad, out])


def square(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_square, [out], [x])


def square_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    launch_map(_square_backward, [grad_x], [grad, x])


def reciprocal(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_reciprocal, [out], [x])


def reciprocal_backward(grad_x: DeviceArray, grad: DeviceArray, out: DeviceArray) -> None:
    launch_map(_reciprocal_backward, [grad_x], [grad, out])


def floor(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_floor, [out], [x])


def ceil(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_ceil, [out], [x])


def round(out: DeviceArray, x: DeviceArray) -> None:  # noqa: A001 - the op's name
    """Half to even (torch.round with decimals=0)."""
    launch_map(_round, [out], [x])


def trunc(out: DeviceArray, x: DeviceArray) -> None:
    launch_map(_trunc, [out], [x])


floor_backward = ceil_backward = round_backward = trunc_backward = sign_backward


# ================================================================ NumPy references
def _sign_np(a):
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)  # sign(NaN) = 0, like PyTorch


def _round_np(a):
    return a if a.dtype.kind in "biu" else np.rint(a)  # rint: half to even


def _rsqrt_np(a):
    return 1 / np.sqrt(a)


def _int_identity(fn):
    return lambda a: a if a.dtype.kind in "biu" else fn(a)


@host_fn(np.abs)
def abs_ref(x):  # noqa: A001
    return forward_ref(np.abs, x)


def abs_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * _sign_np(a), grad, x)


@host_fn(_sign_np)
def sign_ref(x):
    return forward_ref(_sign_np, x)


@host_fn(np.sqrt)
def sqrt_ref(x):
    return forward_ref(np.sqrt, x)


def sqrt_backward_ref(grad, out):
    return backward_ref(lambda g, y: g / (2 * y), grad, out)


@host_fn(_rsqrt_np)
def rsqrt_ref(x):
    return forward_ref(_rsqrt_np, x)


def rsqrt_backward_ref(grad, out):
    return backward_ref(lambda g, y: -0.5 * g * (y * y * y), grad, out)


@host_fn(np.square)
def square_ref(x):
    return forward_ref(np.square, x)


def square_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * (2 * a), grad, x)


@host_fn(np.reciprocal)
def reciprocal_ref(x):
    return forward_ref(np.reciprocal, x)


def reciprocal_backward_ref(grad, out):
    return backward_ref(lambda g, y: -g * (y * y), grad, out)


@host_fn(np.floor)
def floor_ref(x):
    return forward_ref(_int_identity(np.floor), x)


@host_fn(np.ceil)
def ceil_ref(x):
    return forward_ref(_int_identity(np.ceil), x)


@host_fn(np.rint)
def round_ref(x):  # noqa: A001
    return forward_ref(_round_np, x)


@host_fn(np.trunc)
def trunc_ref(x):
    return forward_ref(_int_identity(np.trunc), x)


sign_backward_ref = floor_backward_ref = ceil_backward_ref = round_backward_ref = trunc_backward_ref = \
    zero_backward_ref


# ================================================================ registry
# name -> (saves, keeps_int); wrappers and references are found by name in this module.
_TABLE = {
    "abs": ("input", True), "sign": ("input", True), "sqrt": ("output", False), "rsqrt": ("output", False),
    "square": ("input", True), "reciprocal": ("output", False), "floor": ("input", True),
    "ceil": ("input", True), "round": ("input", True), "trunc": ("input", True),
}

OPS: dict[str, UnaryOp] = family_ops(globals(), _TABLE)
# The Triton math of each op, for SPECS (and for callers fusing them elsewhere): name -> (fwd, bwd).
MATH = family_math(globals(), _TABLE)
_INT_OPS = [name for name, op in OPS.items() if op.keeps_int]
_FP64_BRANCHES = ["sqrt", "rsqrt", "reciprocal"]  # dtype-dependent Triton math
SPECS = build_specs("unary", MATH, _INT_OPS, _FP64_BRANCHES)
FULL_SPECS = build_specs("unary", MATH, _INT_OPS, _FP64_BRANCHES, full=True)  # every op x every dtype
