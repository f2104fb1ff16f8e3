"""tt.fft: discrete Fourier transforms as torch.fft (fft/ifft, rfft/irfft, hfft/ihfft, their 2-d and n-d
forms, fftfreq/rfftfreq, fftshift/ifftshift), with `n`/`s`, `dim` and `norm` ("backward", "ortho",
"forward") as PyTorch.

Three autograd Functions do the work, as PyTorch's `_fft_c2c`, `_fft_r2c` and `_fft_c2r`: each takes its
dims and a normalisation mode ("none", "sqrt": 1/sqrt(n), "n": 1/n) that does not depend on the direction,
so the backward of a transform is the other direction with the same mode (the adjoint); r2c's backward
zero-pads the one-sided gradient and takes the real part, c2r's is r2c with the Hermitian bins doubled.
On cpu they run NumPy's pocketfft (float32 stays complex64). On cuda every dim is one batched pass of the
radix-2 Stockham kernel (kernels/fft.py): power-of-two sizes only. rfft runs the complex kernel on a
zero-imaginary copy and keeps the first n//2+1 bins; irfft rebuilds the Hermitian spectrum first.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import tensor as _tensor
from ..creation import zeros
from ..kernels import fft as KF
from ..tensor import Tensor, wrap_dim
from . import complex as C
from .copy import write_into

_MODES = {None: ("none", "n"), "backward": ("none", "n"), "ortho": ("sqrt", "sqrt"), "forward": ("n", "none")}


def _mode(norm: str | None, forward: bool) -> str:
    if norm not in _MODES:
        raise RuntimeError(f"Invalid normalization mode: {norm}")
    return _MODES[norm][0 if forward else 1]


def _scale(mode: str, sizes) -> float:
    n = math.prod(sizes)
    return {"none": 1.0, "sqrt": 1.0 / math.sqrt(n), "n": 1.0 / n}[mode]


# ================================================================ the cuda passes (no autograd)
def _cuda_pass(z: Tensor, d: int, forward: bool, scale: float) -> Tensor:
    """One batched Stockham transform of complex z along dim d (a power-of-two size)."""
    n = z._shape[d]
    if n == 1 or z.numel() == 0:
        return C.mul(z, scale) if scale != 1.0 else z
    last = z.ndim - 1
    zp = (z if d == last else z.movedim(d, -1)).contiguous()
    out = Tensor._empty(zp._shape, z.dtype, z.device)
    scratch = Tensor._empty(zp._shape, z.dtype, z.device)
    rows = (zp.numel() // n, n, 2)
    strides = (2 * n, 2, 1)
    KF.fft_rows(out._dev().view_as(rows, strides), zp._dev().view_as(rows, strides),
                scratch._dev().view_as(rows, strides), not forward, scale)
    return out if d == last else out.movedim(-1, d)


def _cuda_c2c(z: Tensor, dims: tuple, forward: bool, scale: float) -> Tensor:
    for i, d in enumerate(dims):
        z = _cuda_pass(z, d, forward, scale if i == len(dims) - 1 else 1.0)
    return z


def _hermitian_full(z: Tensor, d: int, n: int) -> Tensor:
    """The full length-n spectrum along d from its first n//2+1 bins: X[k] = conj(X[n-k]) for the rest."""
    zr = C.view_as_real(z.movedim(d, -1))
    m = zr._shape[-2]
    full = zr.contiguous()
    if n > m:
        tail = zr.narrow(-2, 1, n - m).flip(-2) * _tensor([1.0, -1.0], dtype=zr.dtype, device=zr.device)
        full = _cat_last2(zr, tail)
    return C.view_as_complex(full).movedim(-1, d)


def _cat_last2(a: Tensor, b: Tensor) -> Tensor:
    """cat([a, b], dim=-2) of (..., k, 2) float tensors into new memory."""
    shape = a._shape[:-2] + (a._shape[-2] + b._shape[-2], 2)
    out = Tensor._empty(shape, a.dtype, a.device)
    write_into(out.narrow(-2, 0, a._shape[-2]), a)
    if b._shape[-2]:
        write_into(out.narrow(-2, a._shape[-2], b._shape[-2]), b)
    return out


def _scaled(y: np.ndarray, scale: float, dtype) -> np.ndarray:
    if scale != 1.0:
        y *= y.real.dtype.type(scale)  # in place, in the result's own precision
    return y.astype(dtype, copy=False)


# ================================================================ autograd Functions
class FftC2C(Function):
    """Complex -> complex over dims; backward: the other direction, same normalisation mode."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, z: Tensor, dims: tuple, mode: str, forward: bool) -> Tensor:
        ctx.args = (dims, mode, forward)
        z = z.detach()
        scale = _scale(mode, [z._shape[d] for d in dims])
        if z.device.type == "cpu":
            a = z._host()
            if len(dims) == 1:  # numpy's n-d entry points loop in Python: the 1-d ones are cheaper
                y = np.fft.fft(a, axis=dims[0]) if forward else np.fft.ifft(a, axis=dims[0], norm="forward")
            else:
                y = np.fft.fftn(a, axes=dims) if forward else np.fft.ifftn(a, axes=dims, norm="forward")
            return Tensor._wrap(_scaled(y, scale, z.dtype.np))
        return _cuda_c2c(z, dims, forward, scale).contiguous()

    @staticmethod
    def backward(ctx, grad):
        dims, mode, forward = ctx.args
        return FftC2C.apply(grad, dims, mode, not forward), None, None, None


class FftR2C(Function):
    """Real -> one-sided complex (last of dims halved to n//2+1), forward direction; backward as PyTorch's
    _fft_r2c_backward: the gradient zero-padded to n, the inverse transform, its real part."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple, mode: str) -> Tensor:
        ctx.args = (dims, mode, x._shape[dims[-1]])
        x = x.detach()
        scale = _scale(mode, [x._shape[d] for d in dims])
        if x.device.type == "cpu":
            a = x._host()
            y = np.fft.rfft(a, axis=dims[0]) if len(dims) == 1 else np.fft.rfftn(a, axes=dims)
            return Tensor._wrap(_scaled(y, scale, x.dtype.to_complex().np))
        z = C.Complex.apply(x, zeros(x._shape, dtype=x.dtype, device=x.device))
        y = _cuda_c2c(z, dims, True, scale)
        return y.narrow(dims[-1], 0, x._shape[dims[-1]] // 2 + 1).contiguous()

    @staticmethod
    def backward(ctx, grad):
        dims, mode, n = ctx.args
        full = _pad(grad, dims[-1], n)
        return C.real(FftC2C.apply(full, dims, mode, False)), None, None


class FftC2R(Function):
    """One-sided complex (last of dims n//2+1 bins) -> real of last size n, inverse direction; backward as
    PyTorch's _fft_c2r_backward: r2c of the gradient with the bins that stand for two doubled."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, z: Tensor, dims: tuple, mode: str, n: int) -> Tensor:
        ctx.args = (dims, mode, n)
        z = z.detach()
        sizes = [z._shape[d] for d in dims[:-1]] + [n]
        scale = _scale(mode, sizes)
        if z.device.type == "cpu":
            a = z._host()
            y = np.fft.irfft(a, n, axis=dims[0], norm="forward") if len(dims) == 1 else \
                np.fft.irfftn(a, s=sizes, axes=dims, norm="forward")
            return Tensor._wrap(_scaled(y, scale, z.dtype.to_real().np))
        z = _cuda_c2c(z, dims[:-1], False, 1.0)
        y = _cuda_pass(_hermitian_full(z, dims[-1], n), dims[-1], False, scale)
        return C.view_as_real(y)[..., 0].contiguous()

    @staticmethod
    def backward(ctx, grad):
        dims, mode, n = ctx.args
        g = FftR2C.apply(grad, dims, mode)
        doubled = n - g._shape[dims[-1]]
        if doubled > 0:
            w = np.ones(g._shape[dims[-1]], dtype=g.dtype.to_real().np)
            w[1:1 + doubled] = 2.0
            shape = [1] * g.ndim
            shape[dims[-1]] = w.size
            g = C.mul(g, _tensor(w.reshape(shape), device=g.device))
        return g, None, None, None


class ConstantPadNd(Function):
    """Zero-pads dim `dim` of x at its end to size n; backward: the gradient's first x.size(dim) entries."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, n: int) -> Tensor:
        ctx.args = (dim, x._shape[dim])
        shape = list(x._shape)
        shape[dim] = n
        out = zeros(tuple(shape), dtype=x.dtype, device=x.device)
        write_into(out.narrow(dim, 0, x._shape[dim]), x.detach())
        return out

    @staticmethod
    def backward(ctx, grad):
        dim, size = ctx.args
        return grad.narrow(dim, 0, size), None, None


def _pad(x: Tensor, dim: int, n: int) -> Tensor:
    return x if x._shape[dim] == n else ConstantPadNd.apply(x, dim, n)


def _resize(x: Tensor, dims: tuple, sizes: tuple) -> Tensor:
    """x zero-padded or truncated (from the end) to `sizes` along `dims` (differentiable)."""
    for d, n in zip(dims, sizes):
        if x._shape[d] > n:
            x = x.narrow(d, 0, n)
        elif x._shape[d] < n:
            x = ConstantPadNd.apply(x, d, n)
    return x


# ================================================================ argument handling
def _check_input(name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"fft_{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    if x.dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"Unsupported dtype {D.scalar_type_name(x.dtype)}")


def _float(x: Tensor) -> Tensor:
    """x itself if floating or complex, else converted to the default float dtype (integers, bool)."""
    return x if x.dtype.is_floating_point or x.dtype.is_complex else x.to(D.get_default_dtype())


def _to_complex(x: Tensor) -> Tensor:
    x = _float(x)
    return x if x.dtype.is_complex else C.Complex.apply(x, zeros(x._shape, dtype=x.dtype, device=x.device))


def _check_real(name: str, x: Tensor) -> None:
    if x.dtype.is_complex:
        raise RuntimeError(f"{name} expects a real input tensor, but got {D.scalar_type_name(x.dtype)}")


def _canonical(x: Tensor, s, dim, default_dims: tuple | None) -> tuple[tuple, list]:
    """(dims, signal sizes) as PyTorch's canonicalize_fft_shape_and_dim_args; sizes may still hold -1."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = tuple(wrap_dim(d, x.ndim) for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = tuple(s)
        if dim is None:
            if len(s) > x.ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
            dims = tuple(range(x.ndim - len(s), x.ndim))
        elif len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        return dims, [int(n) for n in s]
    if dim is None:
        dims = default_dims if default_dims is not None else tuple(range(x.ndim))
        dims = tuple(wrap_dim(d, x.ndim) for d in dims)
    return dims, [-1] * len(dims)


def _check_sizes(x: Tensor, dims: tuple, sizes: list) -> list:
    sizes = [x._shape[d] if n == -1 else n for d, n in zip(dims, sizes)]
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return sizes


def _check_cuda_sizes(x: Tensor, dims: tuple, sizes) -> None:
    if x.device.type != "cuda":
        return
    for d, n in zip(dims, sizes):
        if n & (n - 1):
            raise NotImplementedError(
                f"tt.fft on cuda supports power-of-two sizes only, got size {n} along dim {d}: move the tensor to "
                f"the cpu (.cpu()) or zero-pad the signal to a power of two (n={1 << (n - 1).bit_length()})")


def _finish(result: Tensor, out: Tensor | None) -> Tensor:
    return result if out is None else out.copy_(result)


# ================================================================ the transforms
def _c2c(name: str, input, s, dim, norm, forward: bool, out, default_dims=None) -> Tensor:
    _check_input(name, input)
    dims, sizes = _canonical(input, s, dim, default_dims)
    sizes = _check_sizes(input, dims, sizes)
    mode = _mode(norm, forward)
    _check_cuda_sizes(input, dims, sizes)
    z = _resize(_to_complex(input), dims, tuple(sizes))
    return _finish(FftC2C.apply(z, dims, mode, forward) if dims else z, out)


def _r2c(name: str, input, s, dim, norm, forward: bool, out, default_dims=None) -> Tensor:
    _check_input(name, input)
    _check_real(name, input)
    dims, sizes = _canonical(input, s, dim, default_dims)
    sizes = _check_sizes(input, dims, sizes)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    mode = _mode(norm, forward)
    _check_cuda_sizes(input, dims, sizes)
    y = FftR2C.apply(_resize(_float(input), dims, tuple(sizes)), dims, mode)
    return _finish(y if forward else C.conj(y), out)


def _c2r(name: str, input, s, dim, norm, forward: bool, out, default_dims=None) -> Tensor:
    _check_input(name, input)
    dims, sizes = _canonical(input, s, dim, default_dims)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = sizes[-1]
    sizes = [input._shape[d] if n == -1 else n for d, n in zip(dims, sizes)]
    sizes[-1] = 2 * (input._shape[dims[-1]] - 1) if last == -1 else last
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    mode = _mode(norm, forward)
    _check_cuda_sizes(input, dims, sizes)
    z = _to_complex(input)
    z = _resize(z, dims, tuple(sizes[:-1]) + (sizes[-1] // 2 + 1,))
    if forward:  # hfft: the c2r of the conjugate, with the forward direction's normalisation
        z = C.conj(z)
    return _finish(FftC2R.apply(z, dims, mode, sizes[-1]), out)


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
        out: Tensor | None = None) -> Tensor:
    """The 1-d discrete Fourier transform along `dim`, as torch.fft.fft (real input gives a complex result).

    `n` zero-pads or trims the signal; `norm` is "backward" (default: no scaling), "ortho" (1/sqrt(n)) or
    "forward" (1/n). On cuda `n` must be a power of two.

    >>> tt.fft.fft(tt.tensor([1., 2., 3., 4.]))
    tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    return _c2c("fft", input, None if n is None else (n,), dim, norm, True, out)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
         out: Tensor | None = None) -> Tensor:
    """The 1-d inverse discrete Fourier transform along `dim` ("backward" norm: scaled by 1/n)."""
    return _c2c("ifft", input, None if n is None else (n,), dim, norm, False, out)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
         out: Tensor | None = None) -> Tensor:
    """The 1-d transform of a real signal: its n//2 + 1 non-negative frequency bins (float32 -> complex64)."""
    return _r2c("rfft", input, None if n is None else (n,), dim, norm, True, out)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
          out: Tensor | None = None) -> Tensor:
    """The inverse of rfft: a real signal of length `n` (default 2 * (input.size(dim) - 1)) from one-sided bins."""
    return _c2r("irfft", input, None if n is None else (n,), dim, norm, False, out)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
         out: Tensor | None = None) -> Tensor:
    """The transform of a Hermitian-symmetric signal given by its first half: a real result of length `n`
    (default 2 * (input.size(dim) - 1)); the forward direction of irfft."""
    return _c2r("hfft", input, None if n is None else (n,), dim, norm, True, out)


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
          out: Tensor | None = None) -> Tensor:
    """The inverse of hfft: the n//2 + 1 one-sided bins of the inverse transform of a real signal."""
    return _r2c("ihfft", input, None if n is None else (n,), dim, norm, False, out)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The 2-d discrete Fourier transform over `dim` (the last two dims by default); `s` sets the sizes."""
    return _c2c("fft2", input, s, dim, norm, True, out)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The 2-d inverse discrete Fourier transform over `dim` (the last two dims by default)."""
    return _c2c("ifft2", input, s, dim, norm, False, out)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The 2-d transform of a real input, one-sided along the last of `dim`."""
    return _r2c("rfft2", input, s, dim, norm, True, out)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The inverse of rfft2: a real result whose last transformed size is s[-1] (default 2 * (m - 1))."""
    return _c2r("irfft2", input, s, dim, norm, False, out)


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The n-d discrete Fourier transform over `dim` (all dims, or the last len(s), by default)."""
    return _c2c("fftn", input, s, dim, norm, True, out)


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The n-d inverse discrete Fourier transform over `dim`."""
    return _c2c("ifftn", input, s, dim, norm, False, out)


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The n-d transform of a real input, one-sided along the last of `dim`."""
    return _r2c("rfftn", input, s, dim, norm, True, out)


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out: Tensor | None = None) -> Tensor:
    """The inverse of rfftn: a real result whose last transformed size is s[-1] (default 2 * (m - 1))."""
    return _c2r("irfftn", input, s, dim, norm, False, out)


# ================================================================ frequencies and shifts
def _freq(values: np.ndarray, dtype, device, requires_grad: bool) -> Tensor:
    dtype = dtype or D.get_default_dtype()
    return _tensor(values.astype(dtype.np), device=device, requires_grad=requires_grad)


def fftfreq(n: int, d: float = 1.0, *, dtype: D.dtype | None = None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an n-point fft with sample spacing d: [0, 1, ..., -(n//2), ..., -1] / (d*n).

    >>> tt.fft.fftfreq(4)
    tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)]) if n > 0 else np.zeros(0)
    return _freq(k / (d * n) if n > 0 else k, dtype, device, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype: D.dtype | None = None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an n-point rfft: [0, 1, ..., n//2] / (d*n)."""
    k = np.arange(0, n // 2 + 1)
    return _freq(k / (d * n) if n > 0 else k, dtype, device, requires_grad)


def _shift(input: Tensor, dim, inverse: bool) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"fftshift(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    if not dims:
        return input
    shifts = tuple((input._shape[d] + 1) // 2 if inverse else input._shape[d] // 2 for d in dims)
    if input.dtype.is_complex:  # the float view: the same dims, its (real, imag) pairs kept together
        return C.view_as_complex(C.view_as_real(input).roll(shifts, dims))
    return input.roll(shifts, dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Moves the zero-frequency bin to the centre along `dim` (all dims by default): a roll by size // 2.

    >>> tt.fft.fftshift(tt.fft.fftfreq(4))
    tensor([-0.5000, -0.2500,  0.0000,  0.2500])
    """
    return _shift(input, dim, False)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """The inverse of fftshift: a roll by (size + 1) // 2 along `dim` (all dims by default)."""
    return _shift(input, dim, True)


__all__: list[str] = []
NAMESPACES = {"fft": ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn",
                      "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]}
