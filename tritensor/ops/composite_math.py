"""Elementwise and reduction composites: logaddexp(2), copysign, deg2rad/rad2deg, positive, sgn, signbit, frac,
heaviside, float_power, gcd/lcm, nansum/nanmean, diff, trapezoid/cumulative_trapezoid, renorm, dist, logcumsumexp.

Each is written with existing ops (Tensor methods), so it runs the Triton kernels of those ops on cuda and the
NumPy references on cpu, and its gradient is the composition's. No kernel of its own.
"""

from __future__ import annotations

import math

from .. import dtypes as D
from ..tensor import Tensor, wrap_dim
from .broadcast import broadcast_shapes
from .elementwise import _into, inplace
from .shape import cat
from .where import where


def _check_tensor(name: str, value, label: str = "input", position: int | None = None) -> None:
    if not isinstance(value, Tensor):
        where_ = f" (position {position})" if position is not None else ""
        raise TypeError(f"{name}(): argument '{label}'{where_} must be Tensor, not {type(value).__name__}")


def _as_tensor(value, like: Tensor) -> Tensor:
    """A Python number as a 0-d tensor on `like`'s device (PyTorch's wrapped-number promotion applies)."""
    return value if isinstance(value, Tensor) else like.new_tensor(value, dtype=D.result_type(like, value))


def _float_op(name: str, *tensors: Tensor) -> D.dtype:
    """The promoted dtype of a floating-only binary/unary op, raising PyTorch's error for integer inputs."""
    dtype = D.result_type(*tensors)
    if not dtype.is_floating_point:
        raise RuntimeError(f"\"{name}_{tensors[0].device.type}\" not implemented for '{D.scalar_type_name(dtype)}'")
    return dtype


def _finish(result: Tensor, out: Tensor | None) -> Tensor:
    return result if out is None else _into(out, result)


# ================================================================ elementwise
def logaddexp(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log(exp(input) + exp(other)) elementwise, computed without overflow; floating inputs only."""
    _check_tensor("logaddexp", input)
    other = _as_tensor(other, input)
    dtype = _float_op("logaddexp", input, other)
    a, b = input.to(dtype), other.to(dtype)
    # Equal infinities: a - b would be NaN (inf - inf), so both are replaced by 0 before subtracting.
    same = (a == b) & a.isinf()
    zero = a.new_zeros(())
    d = where(same, zero, a) - where(same, zero, b)
    result = a.maximum(b) + (-d.abs()).exp().log1p()
    return _finish(result, out)


def logaddexp2(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log2(2**input + 2**other) elementwise, computed without overflow; floating inputs only."""
    _check_tensor("logaddexp2", input)
    other = _as_tensor(other, input)
    dtype = _float_op("logaddexp2", input, other)
    a, b = input.to(dtype), other.to(dtype)
    # Equal infinities: a - b would be NaN (inf - inf), so both are replaced by 0 before subtracting.
    same = (a == b) & a.isinf()
    zero = a.new_zeros(())
    d = where(same, zero, a) - where(same, zero, b)
    result = a.maximum(b) + (-d.abs()).exp2().log1p() * (1.0 / math.log(2.0))
    return _finish(result, out)


def signbit(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """True where the sign bit is set (negative numbers and -0.0); bool result.

    Computed arithmetically (x < 0, or a zero with atan2(x, -1) = -pi): a NaN reads as positive whatever its
    sign bit.
    """
    _check_tensor("signbit", input)
    if input.is_complex():
        raise RuntimeError("signbit is not implemented for complex tensors.")
    x = input.detach()
    if x.dtype is D.bool:
        result = x.new_zeros(x.shape, dtype=D.bool)
    elif not x.dtype.is_floating_point:
        result = x < 0
    else:
        result = (x < 0) | ((x == 0) & (x.atan2(x.new_full((), -1.0)) < 0))
    return _finish(result, out)


def copysign(input: Tensor, other, *, out: Tensor | None = None) -> Tensor:
    """|input| with the sign of other, elementwise; the result is floating point (integers promote)."""
    _check_tensor("copysign", input)
    other = _as_tensor(other, input)
    dtype = D.result_type(input, other)
    if not dtype.is_floating_point:
        dtype = D.get_default_dtype()
    a = input.to(dtype)
    negative = signbit(other.detach() if other.dtype.is_floating_point else other.detach())
    mag = a.abs()
    result = where(negative, -mag, mag)
    return _finish(result, out)


def _copysign_(self: Tensor, other) -> Tensor:
    """In-place copysign."""
    return inplace(copysign, self, other)


def _degrees(name: str, input: Tensor, scale: float, out: Tensor | None) -> Tensor:
    _check_tensor(name, input)
    if input.is_complex():
        raise RuntimeError(f"{name} is not supported for complex tensors.")
    x = input if input.dtype.is_floating_point else input.to(D.get_default_dtype())
    return _finish(x * scale, out)


def deg2rad(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Degrees to radians elementwise (input * pi / 180); integers give the default float dtype."""
    return _degrees("deg2rad", input, math.pi / 180.0, out)


def rad2deg(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Radians to degrees elementwise (input * 180 / pi); integers give the default float dtype."""
    return _degrees("rad2deg", input, 180.0 / math.pi, out)


def _deg2rad_(self: Tensor) -> Tensor:
    """In-place deg2rad."""
    return inplace(deg2rad, self)


def _rad2deg_(self: Tensor) -> Tensor:
    """In-place rad2deg."""
    return inplace(rad2deg, self)


def positive(input: Tensor) -> Tensor:
    """`input` itself (unary plus); bool tensors raise, as in PyTorch."""
    _check_tensor("positive", input)
    if input.dtype is D.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def sgn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """sign(input) for real tensors; input / |input| (0 at 0) for complex ones."""
    _check_tensor("sgn", input)
    if input.is_complex():
        mag = input.abs()
        zero = mag == 0
        safe = where(zero, mag.new_ones(()), mag)
        return _finish(where(zero, input.new_zeros(()), input / safe), out)
    return _finish(input.sign(), out)


def _sgn_(self: Tensor) -> Tensor:
    """In-place sgn."""
    return inplace(sgn, self)


def frac(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The fractional part input - trunc(input), sign kept; floating inputs only."""
    _check_tensor("frac", input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"frac_{input.device.type}\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    return _finish(input - input.trunc(), out)


def _frac_(self: Tensor) -> Tensor:
    """In-place frac."""
    return inplace(frac, self)


def heaviside(input: Tensor, values: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The Heaviside step: 0 where input < 0 (and at NaN, as PyTorch), values where input == 0, 1 where input > 0."""
    _check_tensor("heaviside", input)
    _check_tensor("heaviside", values, "values")
    if input.is_complex() or values.is_complex():
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    x = input.detach()
    step = (x > 0).to(x.dtype)
    result = where(x == 0, values.detach(), step)  # NaN is neither 0 nor > 0: 0, as PyTorch's kernel
    return _finish(result, out)


def _heaviside_(self: Tensor, values: Tensor) -> Tensor:
    """In-place heaviside."""
    return inplace(heaviside, self, values)


def float_power(input, exponent, *, out: Tensor | None = None) -> Tensor:
    """input ** exponent in double precision (complex128 if either operand is complex)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    tensors = [t for t in (input, exponent) if isinstance(t, Tensor)]
    complex_ = any(t.is_complex() for t in tensors) or any(isinstance(v, complex) for v in (input, exponent))
    dtype = D.complex128 if complex_ else D.float64
    base = input.to(dtype) if isinstance(input, Tensor) else input
    exp = exponent.to(dtype) if isinstance(exponent, Tensor) else exponent
    if not isinstance(base, Tensor):
        base = exp.new_tensor(base, dtype=dtype)
    return _finish(base.pow(exp), out)


def _float_power_(self: Tensor, exponent) -> Tensor:
    """In-place float_power: self must already be float64 (complex128 for complex)."""
    complex_ = self.is_complex() or (isinstance(exponent, Tensor) and exponent.is_complex()) or \
        isinstance(exponent, complex)
    need = D.complex128 if complex_ else D.float64
    if self.dtype is not need:
        raise RuntimeError(f"the base given to float_power_ has dtype {D.scalar_type_name(self.dtype)} but the "
                           f"operation's result requires dtype {D.scalar_type_name(need)}")
    return inplace(float_power, self, exponent)


def _integer_pair(name: str, input: Tensor, other) -> tuple[Tensor, Tensor]:
    _check_tensor(name, input)
    other = _as_tensor(other, input)
    dtype = D.result_type(input, other)
    if dtype.is_floating_point or dtype.category != D.int64.category:
        raise RuntimeError(f"\"{name}_{input.device.type}\" not implemented for '{D.scalar_type_name(dtype)}'")
    a, b = input.detach().to(dtype), other.detach().to(dtype)
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    return a.expand(shape).abs(), b.expand(shape).abs()


def _gcd_values(a: Tensor, b: Tensor) -> Tensor:
    # Euclid's algorithm on whole tensors; lanes already done (b == 0) keep their value. The loop checks for
    # completion every few steps (a host sync), at most ~92 steps for int64 (consecutive Fibonacci numbers).
    step = 0
    while True:
        if step % 4 == 0 and not bool(b.ne(0).any()):
            return a
        nz = b.ne(0)
        r = a.remainder(where(nz, b, b.new_ones(())))
        a, b = where(nz, b, a), where(nz, r, b.new_zeros(()))
        step += 1


def gcd(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The greatest common divisor elementwise (non-negative; gcd(0, 0) = 0); integer inputs only."""
    a, b = _integer_pair("gcd", input, other)
    return _finish(_gcd_values(a, b), out)


def lcm(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The least common multiple elementwise (non-negative; 0 if either is 0); integer inputs only."""
    a, b = _integer_pair("lcm", input, other)
    g = _gcd_values(a, b)
    safe = where(g.eq(0), g.new_ones(()), g)
    return _finish((a.div(safe, rounding_mode="trunc") * b).abs(), out)


def _gcd_(self: Tensor, other: Tensor) -> Tensor:
    """In-place gcd."""
    return inplace(gcd, self, other)


def _lcm_(self: Tensor, other: Tensor) -> Tensor:
    """In-place lcm."""
    return inplace(lcm, self, other)


# ================================================================ reductions
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None,
           out: Tensor | None = None) -> Tensor:
    """The sum over `dim` (all by default) treating NaN as zero."""
    _check_tensor("nansum", input)
    if input.is_complex():
        raise RuntimeError("nansum does not support complex inputs")
    x = input
    if x.dtype.is_floating_point:
        x = where(x.isnan(), x.new_zeros(()), x)
    result = x.sum(dim, keepdim=keepdim, dtype=dtype) if dim is not None else \
        x.sum(tuple(range(x.ndim)), keepdim=keepdim, dtype=dtype)
    return _finish(result, out)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None,
            out: Tensor | None = None) -> Tensor:
    """The mean over `dim` (all by default) of the non-NaN elements (NaN where there are none)."""
    _check_tensor("nanmean", input)
    check = dtype if dtype is not None else input.dtype
    if not (check.is_floating_point or check.is_complex):
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but got "
                           f"{D.scalar_type_name(check)}")
    x = input if dtype is None else input.to(dtype)
    dims = dim if dim is not None else tuple(range(x.ndim))
    count = x.isnan().logical_not().sum(dims, keepdim=keepdim).to(x.dtype)
    # No valid element gives NaN, as 0 / 0 would, without dividing by zero.
    empty = count == 0
    mean = nansum(x, dims, keepdim) / where(empty, count.new_ones(()), count)
    return _finish(where(empty, mean.new_full((), math.nan), mean), out)


# ================================================================ differences, integrals
def _diff_once(x: Tensor, d: int) -> Tensor:
    n = x.shape[d]
    if n == 0:
        return x
    hi, lo = x.narrow(d, 1, n - 1), x.narrow(d, 0, n - 1)
    return hi.ne(lo) if x.dtype is D.bool else hi - lo


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference along dim (out[i] = input[i + 1] - input[i]), after concatenating
    `prepend`/`append` along dim; bool inputs give the logical xor."""
    _check_tensor("diff", input)
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.ndim)
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if extra is not input:
            extra = _as_tensor(extra, input)
            if extra.ndim == 0:
                shape = list(input.shape)
                shape[d] = 1
                extra = extra.expand(tuple(shape))
            elif extra.ndim != input.ndim:
                raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        parts.append(extra)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        if x.shape[d] == 0:
            break
        x = _diff_once(x, d)
    return x


def _trapezoid_spacing(y: Tensor, x, dx, d: int, name: str):
    """The spacing between consecutive samples along d: a tensor of len-1 differences, or a number."""
    if x is None:
        return 1.0 if dx is None else dx
    if not isinstance(x, Tensor):
        return x
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = x.shape[0] - 1 if x.shape[0] else 0
        return diff(x).reshape(tuple(shape))
    return diff(x, dim=d - y.ndim if x.ndim >= y.ndim - d else -1)


def _trapezoid_args(name: str, y: Tensor, x, dx, dim: int) -> tuple[Tensor, int, object]:
    _check_tensor(name, y, "y")
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: pass either x or dx")
    if y.ndim == 0:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got {dim})")
    d = wrap_dim(dim, y.ndim)
    if not (y.dtype.is_floating_point or y.is_complex()):
        y = y.to(D.get_default_dtype())
    return y, d, _trapezoid_spacing(y, x, dx, d, name)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along dim: sum((y[i] + y[i+1]) / 2 * (x[i+1] - x[i])), spacing x or dx (default 1)."""
    y, d, spacing = _trapezoid_args("trapezoid", y, x, dx, dim)
    n = y.shape[d]
    if n == 0:
        return y.sum(d)
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) * 0.5
    return (mid * spacing).sum(d)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Alias of `trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral along dim (one element shorter than y along dim)."""
    y, d, spacing = _trapezoid_args("cumulative_trapezoid", y, x, dx, dim)
    n = y.shape[d]
    if n == 0:
        return y
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) * 0.5
    return (mid * spacing).cumsum(d)


# ================================================================ norms
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice input.select(dim, i) whose p-norm exceeds maxnorm rescaled to norm maxnorm (PyTorch's
    factor maxnorm / (norm + 1e-7)); the others unchanged."""
    _check_tensor("renorm", input)
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    if not (input.dtype.is_floating_point or input.is_complex()):
        raise RuntimeError(f"\"renorm_{input.device.type}\" not implemented for '{D.scalar_type_name(input.dtype)}'")
    d = wrap_dim(dim, input.ndim)
    others = tuple(i for i in range(input.ndim) if i != d)
    norms = input.norm(p, others, keepdim=True)
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), norms.new_ones(()))
    return input * factor


def _renorm_(self: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """In-place renorm."""
    return inplace(renorm, self, p, dim, maxnorm)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other (broadcast), a 0-d tensor."""
    _check_tensor("dist", input)
    _check_tensor("dist", other, "other")
    dtype = D.result_type(input, other)
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {D.scalar_type_name(dtype)}")
    return (input.to(dtype) - other.to(dtype)).norm(p)


def logcumsumexp(input: Tensor, dim: int, *, out: Tensor | None = None) -> Tensor:
    """log(cumsum(exp(input), dim)) computed stably: a log-step scan of logaddexp (Hillis-Steele), so a
    prefix far below the row's maximum keeps its value instead of underflowing."""
    _check_tensor("logcumsumexp", input)
    if not (input.dtype.is_floating_point or input.is_complex()):
        raise RuntimeError(f"\"logcumsumexp_out_{input.device.type}\" not implemented for "
                           f"'{D.scalar_type_name(input.dtype)}'")
    if input.ndim == 0:
        wrap_dim(dim, 1)
        return _finish(input.clone(), out)
    d = wrap_dim(dim, input.ndim)
    n, x, shift = input.shape[d], input, 1
    while shift < n:
        pad_shape = list(x.shape)
        pad_shape[d] = shift
        pad = x.new_full(tuple(pad_shape), -math.inf)
        shifted = cat([pad, x.narrow(d, 0, n - shift)], d)
        x = logaddexp(x, shifted)
        shift *= 2
    return _finish(x, out)


__all__ = ["logaddexp", "logaddexp2", "signbit", "copysign", "deg2rad", "rad2deg", "positive", "sgn", "frac",
           "heaviside", "float_power", "gcd", "lcm", "nansum", "nanmean", "diff", "trapezoid", "trapz",
           "cumulative_trapezoid", "renorm", "dist", "logcumsumexp"]
METHODS: dict = {
    "logaddexp": logaddexp, "logaddexp2": logaddexp2, "signbit": signbit, "copysign": copysign,
    "copysign_": _copysign_, "deg2rad": deg2rad, "deg2rad_": _deg2rad_, "rad2deg": rad2deg, "rad2deg_": _rad2deg_,
    "positive": positive, "sgn": sgn, "sgn_": _sgn_, "frac": frac, "frac_": _frac_, "heaviside": heaviside,
    "heaviside_": _heaviside_, "float_power": float_power, "float_power_": _float_power_, "gcd": gcd, "gcd_": _gcd_,
    "lcm": lcm, "lcm_": _lcm_, "nansum": nansum, "nanmean": nanmean, "diff": diff, "renorm": renorm,
    "renorm_": _renorm_, "dist": dist, "logcumsumexp": logcumsumexp,
}
