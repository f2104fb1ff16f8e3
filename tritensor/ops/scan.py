"""cumsum, cumprod over kernels/scan.py.

The kernels scan an (M, R) view along R: the scanned dim is moved last as a strided view (a copy
only when the other dims don't collapse to one), and results are written in the input's shape.
cumsum's backward is a reversed cumsum (its own differentiable op, so every order works); cumprod's
fused backward is exact with zeros.
"""

from __future__ import annotations

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import scan as K
from ..tensor import Tensor, wrap_dim
from .copy import _contiguous_copy, to_copy
from .reduction import public_op, rows_output, rows_view


def _scan_dims(x: Tensor, dim: int) -> tuple[int, tuple]:
    d = wrap_dim(dim, x.ndim)
    return d, ((d,) if x.ndim else ())


def _run(ref, kernel, out_dtype: D.dtype, d: int, dims: tuple, *inputs: Tensor, split: bool = False) -> Tensor:
    """A scan-shaped op on either device: `ref(*np_arrays, axis)` on cpu (0-d inputs as 1-element
    rows); on cuda `kernel(out (M, R), *inputs (M, R))`, plus `scratch=` (the int64 buffer of a split scan,
    or None) when `split`. The result is contiguous, shaped like inputs[0]."""
    first = inputs[0]
    if first.device.type == "cpu":
        arrays = [t._host().reshape(-1) if t.ndim == 0 else t._host() for t in inputs]
        r = ref(*arrays, d)
        r = r[0] if isinstance(r, tuple) else r
        return Tensor._wrap(r.astype(out_dtype.np, copy=False).reshape(first._shape))
    out, out_rows = rows_output(first._shape, out_dtype, first.device, dims)
    views = [rows_view(t, dims) for t in inputs]
    if split:  # few long rows: the split scan's chunk totals and carries (stream-ordered, freed after the launch)
        n = K.scratch_numel(views[0][1])
        scratch = Tensor._empty((n,), D.int64, first.device)._dev() if n else None
        kernel(out_rows, *(v[1] for v in views), scratch=scratch)
    else:
        kernel(out_rows, *(v[1] for v in views))
    # A middle dim of a 3+-d tensor was scanned into a dims-last buffer: PyTorch returns contiguous.
    return out if out.is_contiguous() else _contiguous_copy(out)


class Cumsum(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, d: int, dims: tuple) -> Tensor:
        ctx.d, ctx.dims = d, dims
        out_dtype = x.dtype if x.dtype.is_floating_point else D.int64
        return _run(lambda a, axis: K.cumsum_ref(a, axis), K.cumsum, out_dtype, d, dims, x, split=True)

    @staticmethod
    def backward(ctx, grad):
        return ReverseCumsum.apply(grad, ctx.d, ctx.dims), None, None


class ReverseCumsum(Function):
    """out[i] = sum_{j >= i} grad[j]: cumsum's gradient, whose own gradient is a cumsum."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, d: int, dims: tuple) -> Tensor:
        ctx.d, ctx.dims = d, dims
        return _run(lambda g, axis: K.cumsum_backward_ref(g, g, axis), K.cumsum_backward, grad.dtype, d, dims, grad,
                    split=True)

    @staticmethod
    def backward(ctx, grad):
        return Cumsum.apply(grad, ctx.d, ctx.dims), None, None


class Cumprod(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, d: int, dims: tuple) -> Tensor:
        ctx.d, ctx.dims = d, dims
        out_dtype = x.dtype if x.dtype.is_floating_point else D.int64
        out = _run(lambda a, axis: K.cumprod_ref(a, axis), K.cumprod, out_dtype, d, dims, x, split=True)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        if x.numel() and x.count_nonzero().item() != x.numel():
            raise NotImplementedError("cumprod's backward with create_graph=True is implemented for inputs without "
                                      "zeros (the exact gradient through a zero needs a per-row case split that "
                                      "only the fused kernel has)")
        # No zeros: grad_x[i] = sum_{j >= i} grad[j] * y[j] / x[i].
        return public_op("div")(ReverseCumsum.apply(grad * y, ctx.d, ctx.dims), x), None, None

    def backward_fused(self, grad):
        x, y = self.saved_tensors
        return _run(K.cumprod_backward_ref, K.cumprod_backward, x.dtype, self.d, self.dims, grad, x, y), None, None


def _scan(cls, input: Tensor, dim: int, dtype: D.dtype | None) -> Tensor:
    d, dims = _scan_dims(input, dim)
    if dtype is not None and dtype is not input.dtype:
        input = to_copy(input, dtype, input.device)  # PyTorch casts the input before scanning
    return cls.apply(input, d, dims)


def cumsum(input: Tensor, dim: int, *, dtype: D.dtype | None = None) -> Tensor:
    """Cumulative sum along `dim`; integer and bool inputs accumulate in int64 unless `dtype` is given."""
    return _scan(Cumsum, input, dim, dtype)


def cumprod(input: Tensor, dim: int, *, dtype: D.dtype | None = None) -> Tensor:
    """Cumulative product along `dim`; integer and bool inputs accumulate in int64 unless `dtype` is given."""
    return _scan(Cumprod, input, dim, dtype)


__all__ = ["cumsum", "cumprod"]
METHODS = {"cumsum": cumsum, "cumprod": cumprod}
