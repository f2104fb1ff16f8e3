"""Complex tensors: view_as_real/view_as_complex, real/imag, complex, polar, conj, angle, and the complex
forms of abs, mul, div, sum and mean that the real ops hand complex operands to.

Triton has no complex type: a complex tensor's memory is interleaved (real, imag) float pairs, and on cuda
every kernel runs on that float view (`Tensor._dev()` of a complex tensor is its view_as_real). Copies, fills
and add/sub/neg (the same on each float) run unchanged; the products and reductions here are written with
real tensor ops on the two parts, so autograd follows PyTorch's convention by construction: a complex
tensor's gradient is dL/d(real) + i dL/d(imag) (the conjugate Wirtinger derivative, times two), and
`view_as_real`'s backward is `view_as_complex` of the gradient. conj is materialised (never a lazy view).
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import elementwise as K
from ..tensor import Tensor
from .broadcast import broadcast_shapes, expanded, sum_to
from .copy import _contiguous_copy, _part


def _check_tensor(name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


def _typed_view(x: Tensor, shape: tuple, stride: tuple, offset: int, dtype: D.dtype) -> Tensor:
    """A view of x's memory with another element type (real <-> complex)."""
    v = Tensor._make(x._get_storage(), shape, stride, offset, dtype, x.device)
    v._base = x if x._base is None else x._base
    return v


# ================================================================ views between real and complex
class ViewAsReal(Function):
    """The (..., 2) float view of a complex tensor; its backward is view_as_complex of the gradient."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        return _typed_view(z, z._shape + (2,), tuple(2 * s for s in z.stride()) + (1,), 2 * z._offset,
                           z.dtype.to_real())

    @staticmethod
    def backward(ctx, grad):
        return ViewAsComplex.apply(grad.contiguous())


class ViewAsComplex(Function):
    """The complex view of a float tensor whose last dimension is (real, imag); backward: view_as_real."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        st = x.stride()
        return _typed_view(x, x._shape[:-1], tuple(s // 2 for s in st[:-1]), x._offset // 2, x.dtype.to_complex())

    @staticmethod
    def backward(ctx, grad):
        return ViewAsReal.apply(grad)


def view_as_real(input: Tensor) -> Tensor:
    """The complex `input` as a float view with a last dimension of size 2 (real, imag); shares memory.

    >>> tt.view_as_real(tt.tensor([1+2j]))
    tensor([[1., 2.]])
    """
    _check_tensor("view_as_real", input)
    if not input.dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A float (float32/float64) tensor whose last dimension has size 2 and stride 1, viewed as complex."""
    _check_tensor("view_as_complex", input)
    if input.dtype not in (D.float32, D.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, but got a tensor of "
                           f"scalar type: {D.scalar_type_name(input.dtype)}")
    if not input.ndim or input._shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    st = input.stride()
    if st[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in st[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input._offset % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return ViewAsComplex.apply(input)


def _real(input: Tensor) -> Tensor:
    """The real part: a view for complex input, the input itself for a real one."""
    return ViewAsReal.apply(input)[..., 0] if input.dtype.is_complex else input


def _imag(input: Tensor) -> Tensor:
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return ViewAsReal.apply(input)[..., 1]


def real(input: Tensor) -> Tensor:
    """The real part of a complex tensor as a float view sharing its memory (a real tensor itself)."""
    _check_tensor("real", input)
    return _real(input)


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor as a float view sharing its memory; raises for real tensors."""
    _check_tensor("imag", input)
    return _imag(input)


# ================================================================ building complex tensors
class Complex(Function):
    """real + i*imag from two same-dtype float tensors (broadcast); backward: the gradient's two parts."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, re: Tensor, im: Tensor) -> Tensor:
        ctx.shapes = (re._shape, im._shape)
        shape = re._shape if re._shape == im._shape else broadcast_shapes(re._shape, im._shape)
        dtype = re.dtype.to_complex()
        if re.device.type == "cpu":
            out = np.empty(shape, dtype.np)
            out.real, out.imag = re._host(), im._host()
            return Tensor._wrap(out)
        out = Tensor._empty(shape, dtype, re.device)
        d = out._dev()
        K.copy(_part(d, 0), expanded(re, shape))
        K.copy(_part(d, 1), expanded(im, shape))
        return out

    @staticmethod
    def backward(ctx, grad):
        shape_re, shape_im = ctx.shapes
        need_re, need_im = ctx.needs_input_grad[:2]
        return (sum_to(_real(grad), shape_re) if need_re else None,
                sum_to(_imag(grad), shape_im) if need_im else None)


def complex(real: Tensor, imag: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A001 - PyTorch's name
    """The complex tensor real + i*imag (float32 -> complex64, float64 -> complex128; broadcast).

    >>> tt.complex(tt.tensor([1.]), tt.tensor([2.]))
    tensor([1.+2.j])
    """
    _check_tensor("complex", real)
    if not isinstance(imag, Tensor):
        raise TypeError(f"complex(): argument 'imag' (position 2) must be Tensor, not {type(imag).__name__}")
    if real.dtype not in (D.float32, D.float64, D.float16):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{D.scalar_type_name(real.dtype)} and {D.scalar_type_name(imag.dtype)}")
    if real.dtype is not imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {D.scalar_type_name(real.dtype)} but got scalar type "
                           f"{D.scalar_type_name(imag.dtype)} for second argument")
    if real.device != imag.device:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                           f"{real.device} and {imag.device}!")
    if real.dtype is D.float16:  # no complex32: the parts compute in float32
        real, imag = real.float(), imag.float()
    result = Complex.apply(real, imag)
    return result if out is None else out.copy_(result)


def polar(abs: Tensor, angle: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """abs * (cos(angle) + i sin(angle)), elementwise (float32 -> complex64, float64 -> complex128)."""
    _check_tensor("polar", abs)
    if not isinstance(angle, Tensor):
        raise TypeError(f"polar(): argument 'angle' (position 2) must be Tensor, not {type(angle).__name__}")
    if abs.dtype is not angle.dtype or abs.dtype not in (D.float32, D.float64):
        raise RuntimeError(f"Expected both inputs to be Float or Double tensors but got "
                           f"{D.scalar_type_name(abs.dtype)} and {D.scalar_type_name(angle.dtype)}")
    return complex(abs * angle.cos(), abs * angle.sin(), out=out)


def _parts(x):
    """(real, imag) of a tensor or Python number; imag is None for a real operand."""
    if isinstance(x, Tensor):
        return (_real(x), _imag(x)) if x.dtype.is_complex else (x, None)
    x = builtins.complex(x)
    return x.real, x.imag


def is_complex_operand(x) -> bool:
    """True for a complex tensor or a Python complex number (the operands the real ops hand over)."""
    return x.dtype.is_complex if isinstance(x, Tensor) else isinstance(x, builtins.complex)


def _as_complex(re, im) -> Tensor:
    if im is None:
        im = re * 0
    return Complex.apply(re, im)


# ================================================================ arithmetic the real ops hand over
def mul(a, b) -> Tensor:
    """a * b with at least one complex operand (tensors or numbers), in real ops on the parts."""
    ar, ai = _parts(a)
    br, bi = _parts(b)
    if ai is None:
        return _as_complex(ar * br, ar * bi)
    if bi is None:
        return _as_complex(ar * br, ai * br)
    return _as_complex(ar * br - ai * bi, ar * bi + ai * br)


def div(a, b) -> Tensor:
    """a / b with at least one complex operand: a * conj(b) / |b|^2 in real ops on the parts."""
    ar, ai = _parts(a)
    br, bi = _parts(b)
    if bi is None:
        return _as_complex(ar / br, ai / br)
    den = br * br + bi * bi
    if ai is None:
        return _as_complex(ar * br / den, -(ar * bi) / den)
    return _as_complex((ar * br + ai * bi) / den, (ai * br - ar * bi) / den)


def sum(x: Tensor, dims, keepdim: bool) -> Tensor:  # noqa: A001
    """The sum of a complex tensor over `dims` (normalised, non-negative), part by part."""
    return Complex.apply(_real(x).sum(dims, keepdim), _imag(x).sum(dims, keepdim))


def mean(x: Tensor, dims, keepdim: bool) -> Tensor:
    """The mean of a complex tensor over `dims` (normalised, non-negative), part by part."""
    return Complex.apply(_real(x).mean(dims, keepdim), _imag(x).mean(dims, keepdim))


class AbsComplex(Function):
    """|z| of a complex tensor (float result); gradient grad * z / |z|, 0 where z == 0 (PyTorch's sgn)."""

    differentiable_forward = False

    def name(self) -> str:
        return "AbsBackward0"

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        ctx.save_for_backward(z)
        if z.device.type == "cpu":
            return Tensor._wrap(np.abs(z._host()))
        return _real(z).hypot(_imag(z))

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        re, im = _real(z), _imag(z)
        size = (re * re + im * im).sqrt()
        size = size + (size == 0).to(size.dtype)  # sgn(0) = 0: divide by 1 there
        return Complex.apply(grad * re / size, grad * im / size)


def abs(z: Tensor) -> Tensor:  # noqa: A001
    """|z| of a complex tensor (tt.abs hands complex input here)."""
    return AbsComplex.apply(z)


# ================================================================ conj, angle
class Conj(Function):
    """The materialised complex conjugate; its backward conjugates the gradient."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        if z.device.type == "cpu":
            return Tensor._wrap(np.conj(z._host()))
        out = _contiguous_copy(z)
        im = _part(out._dev(), 1)
        K.neg(im, im)
        return out

    @staticmethod
    def backward(ctx, grad):
        return Conj.apply(grad)


def conj_physical(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The complex conjugate in new memory (a real tensor is returned as it is)."""
    _check_tensor("conj_physical", input)
    result = Conj.apply(input) if input.dtype.is_complex else input
    return result if out is None else out.copy_(result)


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (PyTorch returns a lazy view; tritensor materialises it); a real tensor itself."""
    _check_tensor("conj", input)
    return Conj.apply(input) if input.dtype.is_complex else input


def resolve_conj(input: Tensor) -> Tensor:
    """The input itself: tritensor's conj is never lazy, so there is no conjugate bit to resolve."""
    _check_tensor("resolve_conj", input)
    return input


def is_conj(input: Tensor) -> bool:
    """Always False: tritensor materialises conj (no lazy conjugate bit)."""
    _check_tensor("is_conj", input)
    return False


def angle(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The argument atan2(imag, real) of a complex tensor; of a real one, pi where negative, else 0 (NaN kept);
    integers give the default float dtype."""
    _check_tensor("angle", input)
    if input.dtype.is_complex:
        result = _imag(input).atan2(_real(input))
    else:
        x = input if input.dtype.is_floating_point else input.to(D.get_default_dtype())
        result = ((x < 0).to(x.dtype) * math.pi).masked_fill(x != x, math.nan)  # NaN stays NaN
    return result if out is None else out.copy_(result)


def _real_property(self: Tensor) -> Tensor:
    return _real(self)


def _imag_property(self: Tensor) -> Tensor:
    return _imag(self)


__all__ = ["view_as_real", "view_as_complex", "real", "imag", "complex", "polar", "conj", "conj_physical",
           "resolve_conj", "is_conj", "angle"]
METHODS: dict = {
    "real": property(_real_property, doc="The real part (a view for complex tensors; the tensor itself if real)."),
    "imag": property(_imag_property, doc="The imaginary part of a complex tensor, as a float view."),
    "conj": conj, "conj_physical": conj_physical, "resolve_conj": resolve_conj, "is_conj": is_conj,
    "angle": angle,
}
