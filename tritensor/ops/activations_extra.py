"""More activation functions (celu, hardshrink, softshrink, tanhshrink, threshold, softsign, prelu, rrelu,
glu) registered over kernels/activations_extra.py, with torch.nn.functional's signatures.

The unary ones are Functions made by `unary.make_function` (fused backward kernel for plain backward,
tensor-op derivative for create_graph=True), as in ops/activations.py. prelu is one map kernel forward
and one two-output map kernel backward (grad_x and the weight-gradient terms), whose terms the
reduction kernels sum per channel. rrelu draws its slopes with `tt.rand` in training and is leaky_relu
with slope (lower + upper) / 2 in eval. glu runs on the halves' views (forward and one fused backward).

`__all__` holds the names PyTorch has in the torch namespace (torch.celu, torch.threshold, ...);
softshrink, tanhshrink, softsign and glu are nn.functional-only and stay attributes of this module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import full_like, rand
from ..kernels import activations_extra as K
from ..random import Generator
from ..tensor import Tensor, wrap_dim
from .activations import _min0, _step, leaky_relu
from .dispatch import run_elementwise, run_elementwise_backward, sum_to
from .elementwise import inplace
from .shape import cat
from .unary import check_tensor, make_function, torch_type_name
from .where import where


def _outside(x: Tensor, lambd: float) -> Tensor:
    """1 outside [-lambd, lambd] (bounds excluded), else 0; a zero-derivative mask."""
    return 1 - (1 - _step(-x - lambd)) * (1 - _step(x - lambd))


def _celu_derivative(g: Tensor, x: Tensor, alpha: float) -> Tensor:
    pos = _step(x)
    return g * (pos + (1 - pos) * (_min0(x) * (1.0 / alpha)).exp())


def _softsign_derivative(g: Tensor, x: Tensor) -> Tensor:
    d = x.abs() + 1
    return g / (d * d)


_DERIVATIVES: dict[str, Callable] = {
    "celu": _celu_derivative,
    "hardshrink": lambda g, x, lambd: g * _outside(x, lambd),
    "softshrink": lambda g, x, lambd: g * _outside(x, lambd),
    "tanhshrink": lambda g, x: g * x.tanh().square(),
    "threshold": lambda g, x, threshold, value: g * _step(x - threshold),
    "softsign": _softsign_derivative,
}

# PyTorch's node names (celu runs as elu there).
_NODE_NAMES = {"celu": "Elu", "hardshrink": "Hardshrink", "softshrink": "Softshrink", "tanhshrink": "Tanhshrink",
               "threshold": "Threshold", "softsign": "Softsign"}

FUNCTIONS: dict[str, type[Function]] = {
    name: make_function(_NODE_NAMES[name], op, _DERIVATIVES[name], __name__) for name, op in K.OPS.items()
}
# nn.Hardshrink, nn.Threshold, ... are public classes: their Functions take the "Function" suffix (grad_fn names
# drop it again).
for _fn in FUNCTIONS.values():
    if _fn.__name__ != "Elu":
        _fn.__name__ = _fn.__qualname__ = _fn.__name__ + "Function"


def _check_float(name: str, input: Tensor) -> None:
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(input.dtype)}'")


def _run(name: str, input: Tensor, params: tuple = (), in_place: bool = False) -> Tensor:
    check_tensor(name + "_" if in_place else name, input)
    _check_float(name, input)
    fn = FUNCTIONS[name]
    if in_place:
        return inplace(lambda t: fn.apply(t, params, True), input)
    return fn.apply(input, params, False)


# ---------------------------------------------------------------- unary ops
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha must not be 0."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _run("celu", input, (float(alpha),), inplace)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place celu with the given `alpha`."""
    return celu(input, alpha, True)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return _run("hardshrink", input, (float(lambd),))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, else 0; lambd must be >= 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {float(lambd)}.")
    return _run("softshrink", input, (float(lambd),))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return _run("tanhshrink", input)


def _threshold_int(input: Tensor, threshold, value, in_place: bool) -> Tensor:
    """Integer inputs keep their dtype (as PyTorch): a comparison and a select, with value cast to the dtype."""
    fill = int(value)

    def op(t: Tensor) -> Tensor:
        return where(t <= threshold, full_like(t, fill), t)

    return inplace(op, input) if in_place else op(input)


def _threshold(input: Tensor, limit, value, in_place: bool) -> Tensor:
    check_tensor("threshold_" if in_place else "threshold", input)
    if not input.dtype.is_floating_point and input.dtype is not D.bool:
        return _threshold_int(input, limit, value, in_place)
    return _run("threshold", input, (float(limit), float(value)), in_place)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value. Integer inputs keep their dtype."""
    return _threshold(input, threshold, value, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold: elements <= `threshold` replaced by `value`."""
    return _threshold(input, threshold, value, True)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return _run("softsign", input)


# ---------------------------------------------------------------- prelu
class Prelu(Function):
    """Autograd node of prelu: x and the weight view (broadcastable to x) saved."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor) -> Tensor:
        out = run_elementwise(K.prelu_ref, K.prelu, [x, w], x.dtype)
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad
        neg = 1 - _step(x)
        grad_x = grad * (1 - neg + neg * w) if need_x else None
        grad_w = sum_to(grad * x * neg, w._shape) if need_w else None
        return grad_x, grad_w

    def backward_fused(self, grad):
        x, w = self.saved_tensors
        grad_x, terms = run_elementwise_backward(K.prelu_backward_ref, K.prelu_backward, 2, grad, [x, w])
        need_x, need_w = self.needs_input_grad
        # The per-channel sum runs on the reduction kernels (split across SMs when the batch is large).
        return (grad_x if need_x else None), (sum_to(terms, w._shape) if need_w else None)


def _prelu_weight_view(input: Tensor, weight: Tensor) -> Tensor:
    """The weight shaped to broadcast along input's channel dim (dim 1, or dim 0 of a 1-d input)."""
    if weight.numel() == 1:
        return weight.reshape(())
    if input.ndim == 0:
        raise RuntimeError("Not allow zero-dim input tensor.")
    channels = input.shape[1] if input.ndim > 1 else 1
    if channels != weight.numel():
        raise RuntimeError("Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {channels}.")
    return weight.reshape((channels,) + (1,) * (input.ndim - 2))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, with weight a scalar or one value per channel (input's dim 1)."""
    check_tensor("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {torch_type_name(input.dtype)} and "
                           f"{torch_type_name(weight.dtype)}")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    _check_float("prelu", input)
    if input.device != weight.device:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input.device} and {weight.device}!")
    return Prelu.apply(input, _prelu_weight_view(input, weight))


# ---------------------------------------------------------------- rrelu
class RreluWithNoise(Function):
    """Autograd node of rrelu in training: the drawn slopes (noise) saved; grad_x = grad * noise."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, u: Tensor, lower: float, upper: float) -> Tensor:
        if x.device.type == "cpu":
            out_np, noise_np = K.rrelu_with_noise_ref(x._host(), u._host(), lower, upper)
            out, noise = Tensor._wrap(out_np), Tensor._wrap(noise_np)
        else:
            out, noise = (Tensor._empty(x._shape, x.dtype, x.device) for _ in range(2))
            K.rrelu_with_noise(out._dev(), noise._dev(), x._dev(), u._dev(), lower, upper)
        ctx.save_for_backward(noise)
        return out

    @staticmethod
    def backward(ctx, grad):
        (noise,) = ctx.saved_tensors
        return grad * noise, None, None, None


def _rrelu(input: Tensor, lower: float, upper: float, training: bool, generator, in_place: bool) -> Tensor:
    check_tensor("rrelu_" if in_place else "rrelu", input)
    _check_float("rrelu", input)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, in_place)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    u = rand(tuple(input.shape), generator=generator, dtype=input.dtype, device=input.device)

    def op(t: Tensor) -> Tensor:
        return RreluWithNoise.apply(t, u, float(lower), float(upper))

    return inplace(op, input) if in_place else op(input)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, generator: Generator | None = None) -> Tensor:
    """Randomized leaky ReLU: in training, x * a for x <= 0 with a ~ U(lower, upper) drawn per element;
    otherwise leaky_relu with slope (lower + upper) / 2."""
    return _rrelu(input, lower, upper, training, generator, inplace)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator: Generator | None = None) -> Tensor:
    """In-place rrelu."""
    return _rrelu(input, lower, upper, training, generator, True)


# ---------------------------------------------------------------- glu
def _halves(x: Tensor, dim: int) -> tuple:
    """The two halves of x along dim, as device-array views on cuda or NumPy views on cpu."""
    h = x.shape[dim] // 2
    if x.device.type == "cpu":
        arr = x._host()
        return arr[(slice(None),) * dim + (slice(0, h),)], arr[(slice(None),) * dim + (slice(h, None),)]
    d = x._dev()
    shape = d.shape[:dim] + (h,) + d.shape[dim + 1:]
    return d.view_as(shape, d.strides), d.view_as(shape, d.strides, d.offset + h * d.strides[dim])


class Glu(Function):
    """Autograd node of glu: the input and the split dim saved; one kernel writes both halves of grad_input."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, dim: int) -> Tensor:
        a, b = _halves(x, dim)
        if x.device.type == "cpu":
            out = Tensor._wrap(K.glu_ref(a, b))
        else:
            out = Tensor._empty(a.shape, x.dtype, x.device)
            K.glu(out._dev(), a, b)
        ctx.dim = dim
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Tensor ops (differentiable again, for create_graph=True).
        (x,) = ctx.saved_tensors
        a, b = x.chunk(2, ctx.dim)
        s = b.sigmoid()
        return cat([grad * s, grad * a * (s * (1 - s))], ctx.dim), None

    def backward_fused(self, grad):
        (x,) = self.saved_tensors
        a, b = _halves(x, self.dim)
        if x.device.type == "cpu":
            ga, gb = K.glu_backward_ref(grad._host(), a, b)
            return Tensor._wrap(np.concatenate([ga, gb], self.dim)), None
        grad_x = Tensor._empty(x._shape, x.dtype, x.device)
        ga, gb = _halves(grad_x, self.dim)
        K.glu_backward(ga, gb, grad._dev(), a, b)
        return grad_x, None


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the first and second halves of input along dim."""
    check_tensor("glu", input)
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    _check_float("glu", input)
    return Glu.apply(input, d)


__all__ = ["celu", "celu_", "hardshrink", "threshold", "threshold_", "prelu", "rrelu", "rrelu_"]
METHODS: dict = {"hardshrink": hardshrink, "prelu": prelu}
