"""Copies between layouts, dtypes and devices: contiguous, clone, copy_, fill_, zero_, to(), pin_memory()."""

from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..creation import zeros, zeros_like
from ..device import CPU, interpreting
from ..kernels import elementwise as K
from ..storage import canonical_device, pinned_copy, pinning_available
from ..tensor import Tensor
from ..view_meta import view_error
from .broadcast import broadcast_shapes, check_same_device, expanded, sum_to


def _warn_discard_imag(src: D.dtype, dst: D.dtype) -> None:
    if src.is_complex and not dst.is_complex:
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=4)


def _part(d, k: int):
    """The real (k=0) or imaginary (k=1) float part of a complex tensor's interleaved DeviceArray."""
    return d.view_as(d.shape[:-1], d.strides[:-1], d.offset + k)


def _kernel_copy(dst: Tensor, src: Tensor) -> None:
    """dst[...] = src broadcast to dst's shape on cuda; real <-> complex through the float view's parts."""
    s = expanded(src, dst._shape)
    d = dst._dev()
    if dst.dtype.is_complex and not src.dtype.is_complex:
        K.fill(_part(d, 1), 0)
        d = _part(d, 0)
    elif src.dtype.is_complex and not dst.dtype.is_complex:
        s = _part(s, 0)
    K.copy(d, s)


def _host_cast(a: np.ndarray, dtype: D.dtype) -> np.ndarray:
    return np.array(a.real if a.dtype.kind == "c" and not dtype.is_complex else a, dtype=dtype.np, order="C")


def _contiguous_copy(t: Tensor, dtype: D.dtype | None = None) -> Tensor:
    dtype = dtype or t.dtype
    _warn_discard_imag(t.dtype, dtype)
    if t.device.type == "cpu":
        return Tensor._wrap(_host_cast(t._host(), dtype))
    out = Tensor._empty(t._shape, dtype, t.device)
    _kernel_copy(out, t)
    return out


class Clone(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return _contiguous_copy(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class ToCopy(Function):
    """Conversion to another dtype and/or device (differentiable: the gradient converts back).

    non_blocking (PyTorch's meaning): a cpu -> cuda copy from page-locked memory, with no dtype change and a
    C-contiguous source, is only queued on the current stream; every other copy (pageable memory, the
    interpreter, cuda -> cpu) is complete when this returns, as a non-blocking copy may be.
    """

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dtype: D.dtype, device, non_blocking: bool = False) -> Tensor:
        ctx.src = (x.dtype, x.device)
        if device == x.device:
            return _contiguous_copy(x, dtype)
        _warn_discard_imag(x.dtype, dtype)
        if device.type == "cpu":  # cuda -> cpu: synchronous, so the values can be read at once
            arr = x._host().copy() if x._get_storage().host is not None else x._to_host_array()
            return Tensor._wrap(_host_cast(arr, dtype))
        if x.device.type == "cpu":  # cpu -> cuda
            arr = _host_cast(x._host(), dtype) if x.dtype is not dtype else x._host()
            out = Tensor._empty(arr.shape, dtype, device)
            out._get_storage().copy_from_host(0, arr, non_blocking=non_blocking)
            return out
        return Tensor._from_host(ToCopy.forward(ctx, x, dtype, CPU)._host(), device)

    @staticmethod
    def backward(ctx, grad):
        dtype, device = ctx.src
        if not (dtype.is_floating_point or dtype.is_complex):
            return None, None, None
        if grad.dtype.is_complex and not dtype.is_complex:  # a real input's gradient is the real part
            grad = grad.real
        return to_copy(grad, dtype, device), None, None


def to_copy(x: Tensor, dtype: D.dtype, device, non_blocking: bool = False) -> Tensor:
    """`x` converted to `dtype` on `device`, recorded by autograd (see ToCopy for `non_blocking`)."""
    return ToCopy.apply(x, dtype, device, non_blocking=non_blocking)


def contiguous(x: Tensor, memory_format=None) -> Tensor:
    """`x` itself if it is contiguous, else a contiguous copy (recorded by autograd)."""
    return x if x.is_contiguous() else Clone.apply(x)


def clone(x: Tensor, memory_format=None) -> Tensor:
    """A copy of `x` with its own memory, recorded by autograd (gradients flow back to `x`).

    `memory_format` is accepted for PyTorch compatibility; the copy is contiguous.
    """
    return Clone.apply(x)


def check_inplace(t: Tensor, *others) -> None:
    """PyTorch's check before an in-place write into `t` (with the tensors among `others` as operands): while grad
    mode is on and `t` or an operand requires grad, a view that was made without recording, or returned with
    others by one node (unbind, split, chunk), or by a custom Function (view_meta.py), a view of a leaf that
    requires grad, and such a leaf itself are refused. `t` requires grad here as in PyTorch when its base does."""
    if not state.enabled:
        return
    base = t._base
    requires = t._requires_grad or (base is not None and base._requires_grad)
    if not requires:
        for o in others:
            if isinstance(o, Tensor) and o._requires_grad:
                break
        else:
            return
    if base is not None:
        if t._creation_meta:
            raise view_error(t)
        if requires and base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if requires and t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def write_into(dst: Tensor, src: Tensor) -> None:
    """dst[...] = src (broadcast and cast), without autograd; bumps dst's version."""
    check_same_device(dst, src) if src.device.type != "cpu" or dst.device.type != "cpu" else None
    _warn_discard_imag(src.dtype, dst.dtype)
    if dst.device.type == "cpu":
        a = src._host()
        np.copyto(dst._host(), a.real if a.dtype.kind == "c" and not dst.dtype.is_complex else a, casting="unsafe")
    else:
        _kernel_copy(dst, src)
    dst._bump_version()


def to_out(result: Tensor, out: Tensor | None) -> Tensor:
    """An op's `out=` step: `result` itself, or written into `out`, which must have its shape (the ops that use
    this do not resize `out`)."""
    if out is None:
        return result
    if out._shape != result._shape:
        raise RuntimeError(f"out has shape {list(out._shape)} but the result has shape {list(result._shape)}")
    write_into(out, result)
    return out


def copy_(dst: Tensor, src, non_blocking: bool = False) -> Tensor:
    """In-place copy; like PyTorch it may cross devices (the one explicit device transfer besides to()).

    non_blocking=True from a pinned cpu tensor into a cuda one queues the transfer on the current stream and
    returns at once (the write into `dst` follows on the same stream); otherwise the copy is synchronous.
    """
    check_inplace(dst, src)
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.device != dst.device:
        src = to_copy(src.detach(), src.dtype, dst.device, non_blocking)
    if broadcast_shapes(dst._shape, src._shape) != dst._shape:
        raise RuntimeError(f"output with shape {list(dst._shape)} doesn't match the broadcast shape "
                           f"{list(broadcast_shapes(dst._shape, src._shape))}")
    write_into(dst, src)
    rebase_history(dst, CopyBackward.apply(src, dst._shape) if src._requires_grad else None)
    return dst


class CopyBackward(Function):
    """The graph node that an in-place copy leaves on its destination: gradient flows to src."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, src: Tensor, shape: tuple) -> Tensor:
        ctx.src_shape = src._shape
        return Tensor._empty((), src.dtype, src.device)  # placeholder; only the node is used

    @staticmethod
    def backward(ctx, grad):
        return sum_to(grad, ctx.src_shape), None


def rebase_history(dst: Tensor, result: Tensor | None) -> None:
    """dst now holds `result`'s values, written in place: result's graph becomes dst's history (None: the
    values came from nowhere differentiable, as in fill_). When dst is a view, its base's history gains a
    CopySlices node too, so gradients through the base see the write."""
    if not state.enabled:
        return
    base = dst._base
    base_tracked = base is not None and base._requires_grad
    if result is not None and result._requires_grad:
        dst.grad_fn, dst._output_nr, dst._requires_grad = result.grad_fn, result._output_nr, True
    elif dst._requires_grad or base_tracked:
        # Overwritten by constants: the old values get a zero gradient, as PyTorch's FillBackward.
        dst.grad_fn, dst._output_nr, dst._requires_grad = Overwritten.apply(dst).grad_fn, 0, True
    else:
        return
    update_base(dst)


def update_base(dst: Tensor) -> None:
    """After an in-place write into the view `dst` (whose own history is already set), give its base a
    CopySlices node, so gradients through the base see the write."""
    base = dst._base
    if base is not None and state.enabled and (dst._requires_grad or base._requires_grad):
        geometry = (dst._shape, dst.stride(), dst._offset)
        updated = CopySlices.apply(base, dst, geometry)
        base.grad_fn, base._output_nr, base._requires_grad = updated.grad_fn, 0, True
        dst.grad_fn = ViewOfBase.apply(base, geometry).grad_fn
        dst._output_nr = 0


def _alias(t: Tensor) -> Tensor:
    return Tensor._make(t._get_storage(), t._shape, t.stride(), t._offset, t.dtype, t.device)


def _region(t: Tensor, base_offset: int, geometry: tuple) -> Tensor:
    """The part of a contiguous base-shaped tensor `t` that the view `geometry` covered in the base."""
    shape, stride, offset = geometry
    return t._view(shape, stride, t._offset + offset - base_offset)


class Overwritten(Function):
    """A tensor's values replaced by constants: no gradient reaches what it held before."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        return _alias(t)

    @staticmethod
    def backward(ctx, grad):
        return zeros_like(grad)


class CopySlices(Function):
    """base after an in-place write through one of its views: grad flows to the written values inside
    the view's region and to the old base values outside it."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, base: Tensor, view: Tensor, geometry: tuple) -> Tensor:
        if not base.is_contiguous():
            raise NotImplementedError("autograd through an in-place write into a view of a non-contiguous tensor "
                                      "is not supported; make the tensor contiguous first")
        ctx.base_offset, ctx.geometry, ctx.view_shape = base._offset, geometry, view._shape
        return _alias(base)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        grad_base = grad_view = None
        if ctx.needs_input_grad[0]:
            grad_base = clone(grad).detach()
            fill_(_region(grad_base, 0, _relative(ctx)), 0)
        if ctx.needs_input_grad[1]:
            grad_view = zeros(ctx.geometry[0], dtype=grad.dtype, device=grad.device)
            write_into(grad_view, _region(grad, 0, _relative(ctx)))
            grad_view = sum_to(grad_view, ctx.view_shape)
        return grad_base, grad_view, None


def _relative(ctx) -> tuple:
    shape, stride, offset = ctx.geometry
    return shape, stride, offset - ctx.base_offset


class ViewOfBase(Function):
    """A view's history after an in-place write: it is again a view of its (updated) base."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, base: Tensor, geometry: tuple) -> Tensor:
        ctx.base_shape, ctx.base_offset, ctx.geometry = base._shape, base._offset, geometry
        return base._view(*geometry)

    @staticmethod
    def backward(ctx, grad):

        out = zeros(ctx.base_shape, dtype=grad.dtype, device=grad.device)
        write_into(_region(out, 0, _relative(ctx)), grad)
        return out, None


def fill_(t: Tensor, value) -> Tensor:
    """Fill `t` with `value` (a number or a 0-dim tensor) in place."""
    check_inplace(t)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        value = value.item()
    if t.device.type == "cpu":
        t._host()[...] = value
    elif t.dtype.is_complex:
        d, value = t._dev(), complex(value)
        K.fill(_part(d, 0), value.real)
        K.fill(_part(d, 1), value.imag)
    else:
        K.fill(t._dev(), value)
    t._bump_version()
    rebase_history(t, None)
    return t


def zero_(t: Tensor) -> Tensor:
    """Fill `t` with zeros in place."""
    return fill_(t, 0)


def _to_arguments(args: tuple, dtype, device, flags: list) -> tuple:
    """to()'s positional arguments: a dtype, a device, another tensor (its dtype and device), and up to two
    bools, non_blocking then copy, as in PyTorch's signatures. `flags` is [non_blocking, copy], updated."""
    bools = 0
    for a in args:
        if isinstance(a, bool):  # before int: a bool is an int
            if bools == 2:
                raise TypeError(f"to() received an invalid combination of arguments: {args!r}")
            flags[bools] = a
            bools += 1
        elif isinstance(a, D.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, int)) or type(a).__name__ == "device":
            device = a
        else:
            raise TypeError(f"to() received an invalid argument: {a!r}")
    return dtype, device


def to(x: Tensor, *args, **kwargs) -> Tensor:
    """Tensor.to(device), .to(dtype), .to(device, dtype), .to(other); copy=False returns x when nothing changes.

    non_blocking=True makes a cpu -> cuda copy from pinned memory (`pin_memory()`) asynchronous on a GPU: it
    is queued on the current stream, which later work on that stream follows. From pageable memory, under
    the interpreter and for cuda -> cpu it changes nothing (the copy is complete on return), as in PyTorch.
    """
    flags = [bool(kwargs.pop("non_blocking", False)), bool(kwargs.pop("copy", False))]
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    dtype, device = _to_arguments(args, dtype, device, flags)
    non_blocking, copy = flags
    dtype = dtype or x.dtype
    device = x.device if device is None else canonical_device(device)
    if dtype is x.dtype and device == x.device and not copy:
        return x
    return to_copy(x, dtype, device, non_blocking)


class PinMemory(Function):
    """A cpu tensor copied into page-locked memory (the gradient passes through, as PyTorch's _pin_memory)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return Tensor._wrap(pinned_copy(x._host()))

    @staticmethod
    def backward(ctx, grad):
        return grad


def pin_memory(x: Tensor, device=None) -> Tensor:
    """A copy of this cpu tensor in page-locked ("pinned") host memory, or the tensor itself if it is pinned.

    From pinned memory `.to("cuda", non_blocking=True)` is an asynchronous copy. Needs a GPU, as PyTorch:
    without one it raises; under Triton's interpreter (where `cuda` tensors are host memory) it returns a
    plain copy, so code written for a GPU runs unchanged. `device` is deprecated in PyTorch and ignored.
    """
    if device is not None:
        warnings.warn("The argument 'device' of Tensor.pin_memory() is deprecated. Please do not pass this "
                      "argument.", DeprecationWarning, stacklevel=2)
    if x.device.type != "cpu":
        raise RuntimeError(f"cannot pin '{x.type_name()}' only dense CPU tensors can be pinned")
    if not pinning_available():
        if interpreting():
            return Clone.apply(x)  # no GPU to pin for: a plain copy (PyTorch's result is a new tensor too)
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if x._get_storage().is_pinned():
        return x
    return PinMemory.apply(x)


def is_pinned(x: Tensor, device=None) -> bool:
    """True if this tensor's memory is page-locked (pinned) host memory: False for cuda tensors, without a GPU
    and under Triton's interpreter (where `pin_memory()` pins nothing)."""
    return x.device.type == "cpu" and x._get_storage().is_pinned()


__all__ = ["clone", "contiguous"]


def _cast_method(name: str, dtype: D.dtype):
    def method(self: Tensor, memory_format=None) -> Tensor:
        return to(self, dtype)

    method.__name__ = name
    method.__doc__ = f"`self.to({dtype})`: self if it already has that dtype, else a cast copy."
    return method


def _cpu(self: Tensor, memory_format=None) -> Tensor:
    """A copy of this tensor on the cpu (this tensor itself if it is already there)."""
    return to(self, "cpu")


def _cuda(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """A copy of this tensor on a cuda device (`device`: None, an index or a device name); `non_blocking` as in
    `to()` (asynchronous from pinned memory on a GPU)."""
    target = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
    return to(self, target, non_blocking=non_blocking)


def _type(self: Tensor, dtype=None, non_blocking: bool = False):
    """The type name ('torch.FloatTensor' style) with no argument, else the tensor cast to `dtype`."""
    return self.type_name() if dtype is None else to(self, dtype)


METHODS: dict = {
    "clone": clone, "contiguous": contiguous, "copy_": copy_, "fill_": fill_, "zero_": zero_, "to": to,
    "cpu": _cpu, "cuda": _cuda, "type": _type, "pin_memory": pin_memory, "is_pinned": is_pinned,
    **{name: _cast_method(name, dtype) for name, dtype in {
        "float": D.float32, "double": D.float64, "half": D.float16, "bfloat16": D.bfloat16, "long": D.int64,
        "int": D.int32, "short": D.int16, "char": D.int8, "byte": D.uint8, "bool": D.bool}.items()},
}
