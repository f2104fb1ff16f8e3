"""What the op families on the elementwise map kernel share (no kernels of its own).

binary, pow, maximum, atan2, lerp, comparison, logical, where, clamp and nonfinite run their
`@triton.jit` scalar math through `elementwise.launch_map`; this module holds what they have in
common:
- `BinaryOp`, the registry entry each family's `OPS` maps an op name to;
- Python scalars as kernel parameters: `encode_scalar` on the host, `scalar_param` in the kernel.
  Numbers travel as the map kernel's p0/p1, encoded as fp32 for 16/32-bit floats, the exact bit
  pattern for fp64 and the integer for integer dtypes, so fp64 scalars stay exact;
- `signbit`, Triton math several families need;
- the NumPy helpers of the references (`opmath`: 16-bit floats computed in fp32, as PyTorch does);
- `launch_grads`, which runs the fused backward OP that fits the gradients asked for, and
  `launch_tensor_or_scalar`, which runs an op's tensor or Python-number form;
- `copy_op`, the identity OP (clamp without bounds, nan_to_num of integers);
- `map_signature` / `map_spec` / `map_specs`: KernelSpecs of map_kernel running an OP, for each
  family's SPECS.

Conventions (the Tensor layer's contract): each op's scalar math is a `@triton.jit` function beside its
launch wrapper and NumPy reference; inputs arrive broadcast-viewed to the output shape and cast to a common
compute dtype; 16-bit floats are compared/computed in fp32 (exact for comparisons). Bools reach an OP as
0/1 int32 values (compiled and interpreted alike); every OP allows for it. A Python-number operand is
rounded to the compute dtype as PyTorch does (`encode_scalar`: fp64 travels as its bit pattern, so it stays
exact) and decoded in the kernel by `scalar_param`; a 0-stride DeviceArray works everywhere a tensor does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import ml_dtypes
import numpy as np
import triton
import triton.language as tl

from tritensor import dtypes

from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SHIPPED_NARROW, MAP_SPACE, MAP_SPACE_NARROW, launch_map, map_kernel
from .launch_spec import KernelSpec


class BinaryOp(NamedTuple):
    """One registrable op of a map-kernel family.

    forward(out, *inputs, **params): writes op(*inputs) into out, e.g. (out, a, b); lerp
        (out, start, end, weight); pow_scalar (out, x, exponent) and rpow (out, x, base) with a
        Python number for the scalar.
    backward(*grad_outputs, grad, *inputs, **params) or None (not differentiable): one gradient
        output per input, each may be None (not computed), e.g. (grad_a, grad_b, grad, a, b); lerp
        (grad_start, grad_end, grad_weight, grad, start, end, weight); pow_scalar and rpow
        (grad_x, grad, x, scalar).
    forward_ref(*inputs, **params) -> ndarray, and backward_ref(grad, *inputs, **params) -> a tuple
        with one gradient per input (None for a scalar), in the broadcast output shape (the Tensor
        layer sums them back to the input shapes).
    """

    forward: Callable
    backward: Callable | None
    forward_ref: Callable
    backward_ref: Callable | None


# ================================================================ scalars as kernel parameters
Operand = DeviceArray | bool | int | float  # a tensor operand, or a Python number where PyTorch takes one


def is_array(x) -> bool:
    return isinstance(x, DeviceArray)


def encode_scalar(value, dtype: dtypes.dtype, opmath: bool = False) -> int | float:
    """A Python number as a map-kernel parameter for an op computing in `dtype`.

    The launcher passes a Python float as fp32, so fp64 values go as their int64 bit pattern and
    `scalar_param` bit-casts them back. 16/32-bit floats are rounded to `dtype` (PyTorch casts a
    scalar operand to the tensor's dtype) or, with `opmath`, to fp32 (alpha, weights, exponents are
    kept in the compute precision). Integer dtypes take integral values only (the Tensor layer
    promotes `int_tensor op 0.5` to float first).
    """
    if dtype.is_floating_point:
        if dtype is dtypes.float64:
            return int(np.float64(value).view(np.int64))
        with np.errstate(over="ignore"):
            return float(np.array(value, dtype=np.float32 if opmath else dtype.np))
    if dtype is dtypes.bool:
        return int(bool(value))
    if not float(value).is_integer():
        raise ValueError(f"a non-integral scalar {value} can't be an operand of an {dtype} op; "
                         "cast the tensor to a floating dtype first")
    return int(value)


@triton.jit
def scalar_param(p, x):
    """The scalar `encode_scalar` put in p, in x's compute type (bit-cast back for fp64)."""
    if x.dtype.is_fp64():
        return tl.cast(p, tl.int64).to(tl.float64, bitcast=True)
    else:
        return tl.cast(p, x.dtype)


# ================================================================ Triton math shared by the families
@triton.jit
def signbit(x):
    """The sign bit of an fp32/fp64 value (tells -0.0 from +0.0, unlike x < 0)."""
    if x.dtype.is_fp64():
        return x.to(tl.int64, bitcast=True) < 0
    else:
        return x.to(tl.int32, bitcast=True) < 0


@triton.jit
def copy_op(x, p0, p1):
    return x


# ================================================================ NumPy helpers for the references
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def opmath(*arrays):
    """The arrays in PyTorch's compute precision: 16-bit floats through fp32."""
    out = [np.asarray(a) for a in arrays]
    return [a.astype(np.float32) if a.dtype in _HALF else a for a in out]


def result_dtype(*arrays) -> np.dtype:
    return np.result_type(*[np.asarray(a) for a in arrays])


def is_float_np(x) -> bool:
    return np.asarray(x).dtype.kind == "f" or np.asarray(x).dtype == ml_dtypes.bfloat16


def scalar_ref(a: np.ndarray, b) -> np.ndarray:
    """A Python-number operand as PyTorch sees it: cast to a's dtype."""
    return b if isinstance(b, np.ndarray) else np.asarray(b).astype(np.asarray(a).dtype)


# ================================================================ launching
def check_float(op: str, *arrays: DeviceArray) -> None:
    for a in arrays:
        if not a.dtype.is_floating_point:
            raise TypeError(f"{op} expects floating-point operands (got {a.dtype}); cast them first")


def launch_grads(ops: tuple, grads: tuple, ins: list, p0=0.0, p1=0.0) -> None:
    """Run the (both, first only, second only) backward OP that fits the gradients asked for."""
    both, first, second = ops
    ga, gb = grads
    if ga is not None and gb is not None:
        launch_map(both, [ga, gb], ins, p0, p1)
    elif ga is not None:
        launch_map(first, [ga], ins, p0, p1)
    elif gb is not None:
        launch_map(second, [gb], ins, p0, p1)


def launch_tensor_or_scalar(tensor_op, scalar_op, out: DeviceArray, a: DeviceArray, b: Operand) -> None:
    """out = op(a, b): `tensor_op` for a DeviceArray b, `scalar_op` with b as the p0 parameter for a number."""
    if is_array(b):
        launch_map(tensor_op, [out], [a, b])
    else:
        launch_map(scalar_op, [out], [a], encode_scalar(b, a.dtype))


# ================================================================ AOT / tuning declarations
def map_signature(outs: list[str], ins: list[str], p0: str = "fp32", p1: str = "fp32") -> dict[str, str]:
    """map_kernel's signature with per-operand pointer types (unused slots repeat the first one)."""
    outs = outs + outs[:1] * (2 - len(outs))
    ins = ins + ins[:1] * (3 - len(ins))
    sig = {"out0_ptr": f"*{outs[0]}", "out1_ptr": f"*{outs[1]}", "in0_ptr": f"*{ins[0]}",
           "in1_ptr": f"*{ins[1]}", "in2_ptr": f"*{ins[2]}", "numel": "i32", "size1": "i32", "size2": "i32",
           "size3": "i32"}
    for operand in ("o0", "o1", "i0", "i1", "i2"):
        sig.update({f"{operand}s{d}": "i32" for d in range(4)})
    sig.update(p0=p0, p1=p1)
    return sig


_ONE_BYTE = ("i1", "u1", "i8", "u8")  # Triton types of 1-byte operands


def map_spec(module: str, op, dtype: str, n_in: int, n_out: int, out_dtype: str | None = None,
             p0: str | int = "fp32", p1: str | int = "fp32",
             in_dtypes: list[str] | None = None) -> KernelSpec:
    """A KernelSpec of map_kernel running `op` (the shipped config is elementwise's).

    p0/p1 name the Triton type the launcher gives the parameter ("fp32" for a Python float, "i32" /
    "i64" for an int, i.e. integer and fp64-bit scalars), or are an int constant: the launcher
    specializes an integer argument equal to 1 as a constexpr, so a scalar of 1 must compile too.
    """
    ins = in_dtypes or [dtype] * n_in
    params = {"p0": p0, "p1": p1}
    sig = map_signature([out_dtype or dtype] * n_out, ins, *(("i32" if isinstance(p, int) else p)
                                                            for p in params.values()))
    constexprs = dict(OP=op, N_IN=n_in, N_OUT=n_out)
    tags = ""
    for key, p in params.items():
        if isinstance(p, int):
            del sig[key]
            constexprs[key] = p
            tags += f":{key}={p}"
    name = f"{module}.map[{op.__name__.strip('_')}:{dtype}{tags}]"
    # The heuristic's config follows the narrowest operand (elementwise.map_config): 16 elements per
    # thread when one is 1 byte (bool, int8, uint8), so its aligned build moves 128 bits per access.
    if any(t in _ONE_BYTE for t in [*ins, *[out_dtype or dtype] * n_out]):
        return KernelSpec(name, map_kernel, sig, constexprs, MAP_SHIPPED_NARROW, MAP_SPACE_NARROW)
    return KernelSpec(name, map_kernel, sig, constexprs, MAP_SHIPPED, MAP_SPACE)


def map_specs(module: str, table: list, two_scalars=frozenset()) -> list[KernelSpec]:
    """map_spec for each (OP, inputs, outputs, dtype, p0 type, input dtypes or None, output dtype or None)
    of `table`; an OP in `two_scalars` takes a second scalar of p0's kind as p1."""
    return [map_spec(module, op, dtype, n_in, n_out, out_dtype=out, p0=p0,
                     p1=p0 if op in two_scalars else "fp32", in_dtypes=ins)
            for op, n_in, n_out, dtype, p0, ins, out in table]
