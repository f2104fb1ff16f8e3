"""Argument parsing and checks for ops/pooling.py, with PyTorch's messages, raised before any kernel runs.

PyTorch's order is kept: per spatial dim the output size (pooling_output_shape: a zero stride, negative
padding, padding over half the effective kernel), then the shape check (kernel, stride and dilation
positive, padding over half the kernel, an output of at least one element).
"""

from __future__ import annotations

from ..tensor import Tensor
from .unary import torch_type_name

_WORDS = {1: "one", 2: "two", 3: "three"}


def _sizes(t: Tensor) -> str:
    return str(list(t.shape))


def tuple_arg(name: str, arg: str, value, k: int, optional: bool = False, avg3: bool = False) -> tuple | None:
    """kernel_size / stride / padding / dilation as a k-tuple (None for an omitted stride), with PyTorch's
    "must either be a single int, or a tuple of k ints"."""
    if optional and (value is None or (isinstance(value, (tuple, list)) and len(value) == 0)):
        return None
    if isinstance(value, int):
        return (int(value),) * k
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value):
        if len(value) == 1:
            return (int(value[0]),) * k
        if len(value) == k:
            return tuple(int(v) for v in value)
    if k == 1:
        raise RuntimeError(f"{name}() argument '{arg}' should contain one int (got {len(value)})")
    either = "" if avg3 else "either "
    what = {"kernel_size": "", "stride": "omitted, ", "padding": "", "dilation": ""}[arg]
    if arg == "dilation":
        raise RuntimeError(f"{name}: dilation must be either a single int, or a tuple of {_WORDS[k]} ints")
    raise RuntimeError(f"{name}: {arg} must {either}be {what}a single int, or a tuple of {_WORDS[k]} ints")


def output_size(In: int, K: int, P: int, S: int, dil: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: floor (or ceil) of the sliding windows; with ceil_mode the last window
    must start inside the input or its left padding."""
    if S == 0:
        raise RuntimeError("stride should not be zero")
    if P < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {P}")
    if P > ((K - 1) * dil + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={P}, kernel_size={K} "
                           f"and dilation={dil}")
    num = In + 2 * P - dil * (K - 1) - 1 + (S - 1 if ceil_mode else 0)
    out = num // S + 1
    if ceil_mode and (out - 1) * S >= In + P:
        out -= 1
    return out


def check_float(name: str, x: Tensor) -> None:
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(x.dtype)}'")


def check_input(name: str, x: Tensor, k: int) -> None:
    """An input of k+1 (unbatched) or k+2 dims whose non-batch dims are not empty."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    ok = x.ndim in (k + 1, k + 2) and all(s > 0 for s in x.shape[-(k + 1):])
    if ok:
        return
    if k == 1:
        raise RuntimeError(f"{name}() Expected 2D or 3D input tensor, but got {_sizes(x)}")
    if k == 2:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    raise RuntimeError(f"{name}: Expected 4D or 5D tensor for input, but got: {_sizes(x)}")


def _shape_check(x: Tensor, kernel, stride, padding, dilation, out: list[int], k: int) -> None:
    """pool2d/pool3d_shape_check (1-d pooling runs as 2-d, as PyTorch's)."""
    kernel, stride, padding, dilation = (v[-k:] for v in (kernel, stride, padding, dilation))
    if k == 3:
        tag = ("kT", "kH", "kW"), ("dT", "dH", "dW"), ("dilationT", "dilationH", "dilationW")
    else:
        tag = ("kH", "kW"), ("dH", "dW"), ("dilationH", "dilationW")
    for vals, labels, what in ((kernel, tag[0], "kernel size"), (stride, tag[1], "stride"),
                               (dilation, tag[2], "dilation")):
        if min(vals) <= 0:
            got = " ".join(f"{lb}: {v}" for lb, v in zip(labels, vals))
            raise RuntimeError(f"{what} should be greater than zero, but got {got}")
    if any(p > kk // 2 for p, kk in zip(padding, kernel)):
        if k == 3:
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got kT: {kernel[0]} "
                               f"kW: {kernel[2]} kH: {kernel[1]} padT: {padding[0]} padW: {padding[2]} "
                               f"padH: {padding[1]}")
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got padW = {padding[1]}, "
                           f"padH = {padding[0]}, kW = {kernel[1]}, kH = {kernel[0]}")
    if min(out) < 1:
        c = x.shape[-(k + 1)]
        given = "x".join(str(s) for s in (c, *x.shape[-k:]))
        calc = "x".join(str(s) for s in (c, *out))
        raise RuntimeError(f"Given input size: ({given}). Calculated output size: ({calc}). Output size is too small")


_GEOMETRY: dict = {}  # pool_geometry's answers for inputs that passed every check, by shape, dtype and arguments
_GEOMETRY_MAX = 256


def _plain(v) -> bool:
    """An int, None or a tuple of ints, exactly (2.0 or True would hash as 2 or 1 and find another call's key)."""
    return v is None or type(v) is int or (type(v) is tuple and all(type(e) is int for e in v))


def pool_geometry(name: str, x: Tensor, k: int, kernel_size, stride, padding, dilation, ceil_mode: bool,
                  avg3: bool = False) -> tuple[tuple, tuple, tuple, tuple, list[int]]:
    """(kernel, stride, padding, dilation, output spatial sizes) of a k-d pooling, every check done.

    A module pools the same shapes with the same arguments step after step: an answer is kept per (shape,
    dtype, arguments) when they are hashable (list arguments are checked each time); only a passing call is
    kept, so a failing one raises every time."""
    args = (kernel_size, stride, padding, dilation)
    key = (name, tuple(x.shape), x.dtype, k, *args, bool(ceil_mode), avg3) \
        if type(x) is Tensor and all(map(_plain, args)) else None
    hit = _GEOMETRY.get(key) if key is not None else None
    if hit is not None:
        return hit[0], hit[1], hit[2], hit[3], list(hit[4])
    res = _pool_geometry(name, x, k, kernel_size, stride, padding, dilation, ceil_mode, avg3)
    if key is not None:
        if len(_GEOMETRY) >= _GEOMETRY_MAX:
            _GEOMETRY.clear()
        _GEOMETRY[key] = res[:4] + (tuple(res[4]),)
    return res


def _pool_geometry(name: str, x: Tensor, k: int, kernel_size, stride, padding, dilation, ceil_mode: bool,
                   avg3: bool) -> tuple[tuple, tuple, tuple, tuple, list[int]]:
    check_input(name, x, k)
    kernel = tuple_arg(name, "kernel_size", kernel_size, k, avg3=avg3)
    st = tuple_arg(name, "stride", stride, k, optional=True, avg3=avg3) or kernel
    pad = tuple_arg(name, "padding", padding, k, avg3=avg3)
    dil = tuple_arg(name, "dilation", dilation, k, avg3=avg3)
    out = [output_size(In, K, P, S, dl, ceil_mode)
           for In, K, P, S, dl in zip(x.shape[-k:], kernel, pad, st, dil)]
    # 1-d pooling is a 2-d pooling of a height-1 input, as PyTorch runs it.
    kk = 2 if k == 1 else k
    pre = (1,) * (kk - k)
    _shape_check(x, pre + kernel, pre + st, (0,) * (kk - k) + pad, pre + dil, [1] * (kk - k) + out, kk)
    check_float(name, x)
    return kernel, st, pad, dil, out


def adaptive_output(name: str, x: Tensor, output_size, k: int) -> list[int]:
    """The adaptive output sizes (None keeps the input's size), every check done."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    sizes = (output_size,) * k if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if k == 1 and len(sizes) != 1:
        raise RuntimeError(f"{name}() argument 'output_size' should contain one int (got {len(sizes)})")
    if len(sizes) == 1:
        sizes = sizes * k
    if len(sizes) != k:
        internal = "internal error: " if "max" in name else ""
        raise RuntimeError(f"{name}(): {internal}output_size.size() must be {k}" if internal
                           else f"{name}: output_size must be {k}")
    if x.ndim not in (k + 1, k + 2):
        colon = ":" if "max" in name else ""
        raise RuntimeError(f"{name}(): Expected {k + 1}D or {k + 2}D tensor, but got{colon} {_sizes(x)}")
    for i in range(x.ndim - k, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {_sizes(x)} with dimension {i} being empty")
    out = [x.shape[x.ndim - k + i] if s is None else int(s) for i, s in enumerate(sizes)]
    if any(s < 0 for s in out):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{tuple(out) if k > 1 else out[0]}")
    check_float(name, x)
    return out
