"""What every op registration shares: device and shape checks, broadcasting, operand preparation.

An op runs its NumPy reference on `cpu` and its Triton kernel on `cuda` (real or interpreted); the
helpers here turn tensors into the NumPy arrays or DeviceArrays those expect.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..kernels import elementwise as K
from ..kernels.elementwise_flat import launch_dense
from ..tensor import Tensor

# The broadcasting helpers are imported from here by most op modules (dispatch is what every op shares).
from .broadcast import broadcast_shapes as broadcast_shapes
from .broadcast import check_same_device as check_same_device
from .broadcast import expanded as expanded
from .broadcast import sum_to as sum_to
from .copy import _contiguous_copy, to_copy


def scalar_tensor(value, dtype: D.dtype, device) -> Tensor:
    """A Python scalar as a 0-d tensor on `device` (cuda operands are broadcast from it, stride 0)."""
    # Out-of-range ints wrap, as they do in PyTorch (uint8 + 1000).
    if isinstance(value, complex) or dtype.is_complex:
        return Tensor._from_host(np.array(value, dtype=dtype.np), device)
    arr = np.array(value, dtype=np.float64 if isinstance(value, float) else np.int64).astype(dtype.np)
    return Tensor._from_host(arr, device)


def cast(t: Tensor, dtype: D.dtype) -> Tensor:
    """t converted to dtype (t itself when it already is)."""
    if t.dtype is dtype:
        return t
    if t._requires_grad:  # differentiable: a promoted operand keeps its gradient
        return to_copy(t, dtype, t.device)
    if t.dtype.is_complex or dtype.is_complex:  # through the parts of the interleaved float view
        return _contiguous_copy(t, dtype)
    if t.device.type == "cpu":
        return Tensor._wrap(t._host().astype(dtype.np))
    out = Tensor._empty(t._shape, dtype, t.device)
    K.copy(out._dev(), t._dev())
    return out


def operands(a, b) -> tuple[Tensor, Tensor, D.dtype]:
    """Promote a binary op's operands (tensors or Python scalars) to tensors of one dtype on one device."""
    if type(a) is Tensor and type(b) is Tensor:
        if a.device is not b.device:
            check_same_device(a, b)
        if a.dtype is b.dtype:
            return a, b, a.dtype
        dtype = D.result_type(a, b)
        return cast(a, dtype), cast(b, dtype), dtype
    if type(a) is Tensor:
        dtype = a.dtype if _scalar_fits(a.dtype, b) else D.result_type(a, b)
        return cast(a, dtype), scalar_tensor(b, dtype, a.device), dtype
    if type(b) is Tensor:
        dtype = b.dtype if _scalar_fits(b.dtype, a) else D.result_type(a, b)
        return scalar_tensor(a, dtype, b.device), cast(b, dtype), dtype
    raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")


def _scalar_fits(dtype: D.dtype, value) -> bool:
    # A Python scalar never changes the dtype unless its kind (bool < int < float) is higher.
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return dtype.category >= 1
    if isinstance(value, float):
        return dtype.is_floating_point or dtype.is_complex
    if isinstance(value, complex):
        return dtype.is_complex
    if isinstance(value, Tensor) or hasattr(value, "dtype"):
        raise TypeError(f"unsupported operand type {type(value).__name__}")
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def same_cuda(a, b) -> bool:
    """Two cuda tensors of one real dtype, shape and device: an elementwise op needs no promotion, broadcast or
    cast, and its output is contiguous with their shape."""
    return type(a) is Tensor and type(b) is Tensor and a.device is b.device and a.device.type == "cuda" \
        and a.dtype is b.dtype and a._shape == b._shape and not a.dtype.is_complex


def launch_declared(declared: tuple, out: Tensor, a: Tensor, b: Tensor | None = None) -> bool:
    """Run a launch wrapper's declared map op (its `map_op`, kernels/elementwise.runs_map) into `out`, a fresh
    contiguous cuda tensor, from one or two inputs of its shape and dtype, by the plan that the wrapper's own launch
    made before (kernels/elementwise_flat.launch_dense): no DeviceArrays. False, nothing launched, when the caller
    must call the wrapper instead: an input not laid out as `out` or of another dtype, no plan yet, or one that no
    longer holds. The inputs must have `out`'s shape (as launch_map's are broadcast to it)."""
    strides, dtype = out._stride, out.dtype
    st = a._stride
    if st is not strides and st != strides or a.dtype is not dtype:  # the plan's key states one dtype for all
        return False
    size = dtype.itemsize
    # Each operand's kernel_storage(), as _dev() asks for it (it makes a GPU operand's device current).
    po = out._storage.kernel_storage().data_ptr() + out._offset * size
    pa = (a._storage or a._get_storage()).kernel_storage().data_ptr() + a._offset * size
    if b is None:
        return launch_dense(declared, out._shape, strides, dtype, po, pa)
    st = b._stride
    if st is not strides and st != strides or b.dtype is not dtype:
        return False
    pb = (b._storage or b._get_storage()).kernel_storage().data_ptr() + b._offset * size
    return launch_dense(declared, out._shape, strides, dtype, po, pa, pb)


def run_elementwise(ref, kernel, inputs: list, out_dtype: D.dtype, *params, **kwparams) -> Tensor:
    """One elementwise op on either device: `ref(*np_arrays, *params, **kwparams)` on cpu (result cast to
    out_dtype), or allocate the broadcast output and `kernel(out, *device_arrays, *params, **kwparams)` on cuda.
    Inputs must already share a device and have the dtypes the kernel expects."""
    first = inputs[0]
    for t in inputs:  # a loop, not any(): a generator costs more than a unary op's whole check
        if t.dtype.is_complex:  # the kernels would run on the interleaved float view
            raise NotImplementedError(f"{getattr(ref, '__name__', 'this op')} is not implemented for complex "
                                      "tensors in tritensor")
    if first.device.type == "cpu":
        if len(inputs) > 1 and any(t._shape != first._shape for t in inputs):
            broadcast_shapes(*(t._shape for t in inputs))  # PyTorch's error, not NumPy's
        arrays = [t._np if t._np is not None else t._host() for t in inputs]
        out = Tensor._wrap(ref(*arrays, *params, **kwparams))
        return out if out.dtype is out_dtype else Tensor._wrap(out._np.astype(out_dtype.np))
    shape = first._shape
    for t in inputs[1:]:
        if t._shape != shape:
            shape = broadcast_shapes(*(t._shape for t in inputs))
            break
    else:
        if not out_dtype.is_complex:  # one shape (a unary op, same-shape operands): the views as they are
            out = Tensor._empty(shape, out_dtype, first.device)
            kernel(out._dev(), *[t._dev() for t in inputs], *params, **kwparams)
            return out
    out = Tensor._empty(shape, out_dtype, first.device)
    kernel(out._dev(), *(expanded(t, shape) for t in inputs), *params, **kwparams)
    return out


def run_elementwise_backward(ref, kernel, n_grads: int, grad: Tensor, saved: list, *params, **kwparams) -> tuple:
    """An elementwise backward on either device: `ref(grad, *saved, ...)` returns a tuple of n_grads arrays on
    cpu; on cuda `kernel(*grad_outs, grad, *saved, ...)` writes n_grads outputs shaped like grad."""
    if grad.device.type == "cpu":
        arrays = [t._host() for t in (grad, *saved)]
        result = ref(*arrays, *params, **kwparams)
        result = result if isinstance(result, tuple) else (result,)
        return tuple(Tensor._wrap(np.asarray(r, dtype=grad.dtype.np)) for r in result[:n_grads])
    shape = grad._shape
    outs = [Tensor._empty(shape, grad.dtype, grad.device) for _ in range(n_grads)]
    kernel(*(o._dev() for o in outs), grad._dev(), *(expanded(t, shape) for t in saved), *params, **kwparams)
    return tuple(outs)
