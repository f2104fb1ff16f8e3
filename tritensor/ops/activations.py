"""Activation functions (relu, gelu, silu, ...) registered over kernels/activations.py.

Signatures follow torch.nn.functional (tritensor.nn.functional re-exports them). Each op is a
Function made by `unary.make_function` from its `kernels.activations.OPS` entry: the fused backward
kernel serves plain backward, and the derivative below, written with tensor ops, serves
create_graph=True. The piecewise formulas take their masks from `_step`, a 0/1 tensor with a zero
derivative, so the second derivative across a kink is zero, as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import dtypes as D
from ..autograd.function import Function
from ..device import CPU
from ..grad_state import state as grad_state
from ..kernels import activations as K
from ..tensor import Tensor
from .copy import write_into
from .elementwise import inplace
from .unary import check_tensor, make_function, plain_inplace, run_plain, run_unrecorded, torch_type_name

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _step(t: Tensor) -> Tensor:
    """1 where t > 0, else 0 (NaN gives 0): sign(relu(t)) with the family's own kernels. Kept in the graph
    (with a zero derivative, from sign) so that a gradient made of masks is still differentiable, as PyTorch's
    threshold_backward is."""
    return FUNCTIONS["relu"].apply(t, (), False).sign()


def _min0(x: Tensor) -> Tensor:
    """min(x, 0) = x - relu(x), differentiable; exp of it stays finite where exp(x) would overflow."""
    return x - FUNCTIONS["relu"].apply(x, (), False)


def _gelu_derivative(g: Tensor, x: Tensor, approximate: str) -> Tensor:
    if approximate == "tanh":
        k2 = 2.0 * K.GELU_TANH_BETA
        s = ((x * x * K.GELU_TANH_KAPPA + 1) * x * k2).sigmoid()  # sigmoid(2u): 0.5 (1 + tanh(u))
        du2 = (x * x * (3.0 * K.GELU_TANH_KAPPA) + 1) * k2
        return g * (s + x * (s * (1 - s)) * du2)
    cdf = ((x * _SQRT_HALF).erf() + 1) * 0.5
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return g * (cdf + x * pdf)


def _silu_derivative(g: Tensor, x: Tensor) -> Tensor:
    s = x.sigmoid()
    return g * (s * (x * (1 - s) + 1))


def _softplus_derivative(g: Tensor, x: Tensor, beta: float, threshold: float) -> Tensor:
    z = x * beta
    linear = _step(z - threshold)
    return g * (linear + (1 - linear) * z.sigmoid())


def _elu_derivative(g: Tensor, x: Tensor, alpha: float, scale: float = 1.0) -> Tensor:
    pos = _step(x)
    return g * (pos * scale + (1 - pos) * (_min0(x).exp() * (alpha * scale)))


def _hardswish_derivative(g: Tensor, x: Tensor) -> Tensor:
    above, below = _step(x + 3), _step(3 - x)  # x > -3, x < 3
    return g * (above * (below * (x * (1 / 3) + 0.5) + (1 - below)))


def _mish_derivative(g: Tensor, x: Tensor) -> Tensor:
    t = FUNCTIONS["softplus"].apply(x, (1.0, 20.0), False).tanh()
    return g * (t + x * x.sigmoid() * (1 - t * t))


_DERIVATIVES: dict[str, Callable] = {
    "relu": lambda g, y: g * y.sign(),  # y = relu(x) >= 0: its sign is the mask x > 0
    "gelu": _gelu_derivative,
    "silu": _silu_derivative,
    "softplus": _softplus_derivative,
    "elu": _elu_derivative,
    "selu": lambda g, x: _elu_derivative(g, x, K.SELU_ALPHA, K.SELU_SCALE),
    "leaky_relu": lambda g, x, slope: g * (_step(x) * (1 - slope) + slope),
    "hardtanh": lambda g, x, lo, hi: g * (_step(x - lo) * _step(hi - x)),
    "hardsigmoid": lambda g, x: g * (_step(x + 3) * _step(3 - x) * (1 / 6)),
    "hardswish": _hardswish_derivative,
    "mish": _mish_derivative,
    "logsigmoid": lambda g, x: g * x.neg().sigmoid(),
}

# PyTorch's node names (selu runs as elu there).
_NODE_NAMES = {"relu": "Relu", "gelu": "Gelu", "silu": "Silu", "softplus": "Softplus", "elu": "Elu",
               "selu": "Elu", "leaky_relu": "LeakyRelu", "hardtanh": "Hardtanh", "hardsigmoid": "Hardsigmoid",
               "hardswish": "Hardswish", "mish": "Mish", "logsigmoid": "LogSigmoid"}

FUNCTIONS: dict[str, type[Function]] = {
    name: make_function(_NODE_NAMES[name], op, _DERIVATIVES[name]) for name, op in K.OPS.items()
}
_PARAM_NAMES = {name: tuple(op.params) for name, op in K.OPS.items()}
# The forward references that declare their host function (kernels/unary.host_fn), for the hot path below.
_HOST_FNS = {name: getattr(op.forward_ref, "host_fn", None) for name, op in K.OPS.items()}


def _result(name: str, input: Tensor, params: tuple) -> Tensor:
    """The op's result for a floating-point input, computed as its Function's forward would (no graph)."""
    if params:
        return run_unrecorded(K.OPS[name], input, **dict(zip(_PARAM_NAMES[name], params)))
    return run_plain(K.OPS[name], _HOST_FNS[name], input)


def _run(name: str, input: Tensor, params: tuple = (), in_place: bool = False) -> Tensor:
    if not in_place and type(input) is Tensor and input.dtype.is_floating_point \
            and not (grad_state.enabled and input._requires_grad):
        return _result(name, input, params)
    if not in_place and type(input) is Tensor and input.device is CPU and input.dtype.is_floating_point \
            and FUNCTIONS[name].record is not None:  # recording: the node apply would make, around the same result
        return FUNCTIONS[name].record(input, _result(name, input, params), params)
    if in_place and plain_inplace(input):
        write_into(input, _result(name, input, params))
        return input
    check_tensor(name + "_" if in_place else name, input)
    dtype = input.dtype
    if not dtype.is_floating_point:
        if dtype is D.bool and name == "relu":
            raise RuntimeError("Boolean inputs not supported for relu")
        if not K.OPS[name].keeps_int:
            raise RuntimeError(f"\"{name}\" not implemented for '{torch_type_name(dtype)}'")
    fn = FUNCTIONS[name]
    if in_place:
        return inplace(lambda t: fn.apply(t, params, True), input)
    return fn.apply(input, params, False)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); NaN passes through. Integer dtypes are kept."""
    return _run("relu", input, (), inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place relu: `input` clamped below at 0."""
    return _run("relu", input, (), True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return _run("hardtanh", input, (0.0, 6.0), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); approximate='tanh' uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _run("gelu", input, (approximate,))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _run("silu", input, (), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    return _run("softplus", input, (float(beta), float(threshold)))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (exp(x) - 1) otherwise."""
    return _run("elu", input, (float(alpha),), inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place elu with the given `alpha`."""
    return _run("elu", input, (float(alpha),), True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _run("selu", input, (), inplace)


def selu_(input: Tensor) -> Tensor:
    """In-place selu."""
    return _run("selu", input, (), True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return _run("leaky_relu", input, (float(negative_slope),), inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place leaky_relu with the given `negative_slope`."""
    return _run("leaky_relu", input, (float(negative_slope),), True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run("hardtanh", input, (float(min_val), float(max_val)), inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place hardtanh: `input` clamped to [`min_val`, `max_val`]."""
    return hardtanh(input, min_val, max_val, True)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return _run("hardsigmoid", input, (), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return _run("hardswish", input, (), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _run("mish", input, (), inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return _run("logsigmoid", input)


__all__ = ["relu", "relu_", "relu6", "gelu", "silu", "softplus", "elu", "elu_", "selu", "selu_", "leaky_relu",
           "leaky_relu_", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "mish", "logsigmoid"]
METHODS: dict = {"relu": relu, "relu_": relu_}
