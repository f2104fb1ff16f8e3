"""More activation functions on the elementwise map kernel: celu, hardshrink, softshrink, tanhshrink,
threshold, softsign (unary, same contract as `activations`), and the two-operand prelu, glu and rrelu.

The unary ops follow `activations`' layout: `@triton.jit` forward `_<op>(x, p0, p1)` and backward
`_<op>_backward(grad, x, p0, p1)`, launch wrappers, NumPy references and `OPS` (name -> `unary.UnaryOp`,
every one saves its input). Gradients at the kinks follow PyTorch: hardshrink'(+-lambd) = 0,
softshrink'(+-lambd) = 0, threshold'(threshold) = 0, celu'(0) = 1 (its x <= 0 branch, exp(0)).

Parameters: celu's alpha and the shrink ops' lambd are split hi + lo (fp64 kernels get ~48 bits back,
see `activations._split`); threshold needs both slots (threshold, value), so its fp64 kernel sees them
rounded to fp32, as softplus' and hardtanh's parameters.

prelu: `out = x if x > 0 else w * x`, with w (the per-channel weight) broadcast to x's shape by a zero
stride; its backward writes grad_x and the elementwise weight-gradient terms `x * grad` where x <= 0
in one pass, which the op layer then sums per channel with the reduction kernels.
glu: out = a * sigmoid(b) on the two halves of the input (views: nothing is copied); its backward writes
grad_a and grad_b straight into the two halves of one grad_input.
rrelu (training): `noise = lower + (upper - lower) * u` for x <= 0 (u uniform in [0, 1), drawn by the
sampling kernels), 1 elsewhere; the kernel writes out = x * noise and the noise its backward multiplies by.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from .activations import _param, _split
from .device_array import DeviceArray
from .elementwise import MAP_SHIPPED, MAP_SPACE, _map_signature, launch_map, map_kernel, runs_map
from .exponential import _expm1_math
from .ieee_math import div_ieee
from .launch_spec import KernelSpec
from .special import _sigmoid_math, _sigmoid_pair, np_sigmoid
from .trigonometric import _tanh_math
from .unary import UnaryOp, _opmath, backward_ref, build_specs, forward_ref


# ================================================================ Triton math
@triton.jit
def _celu(x, alpha_hi, alpha_lo):
    alpha = _param(x, alpha_hi, alpha_lo)
    neg = tl.where(x > 0, 0.0, x)  # x > 0 lanes take expm1(0): their exp is discarded (and may overflow)
    return tl.where(x > 0, x, alpha * _expm1_math(div_ieee(neg, alpha)))


@triton.jit
def _celu_backward(grad, x, inv_hi, inv_lo):
    # Scaled by 1 / alpha (PyTorch's input_scale), split on the host: a per-element fp64 division spills.
    inv_alpha = _param(x, inv_hi, inv_lo)
    neg = tl.where(x <= 0, x, 0.0)
    return tl.where(x <= 0, grad * tl.exp(neg * inv_alpha), grad)


@triton.jit
def _inside(x, lambd_hi, lambd_lo):
    """-lambd <= x <= lambd: the band both shrink ops zero (and whose gradient is zero, bounds included)."""
    lambd = _param(x, lambd_hi, lambd_lo)
    return (x >= -lambd) & (x <= lambd)


@triton.jit
def _hardshrink(x, lambd_hi, lambd_lo):
    # NaN is outside the band (both comparisons false) and passes through, as in PyTorch.
    return tl.where(_inside(x, lambd_hi, lambd_lo), tl.zeros_like(x), x)


@triton.jit
def _hardshrink_backward(grad, x, lambd_hi, lambd_lo):
    return tl.where(_inside(x, lambd_hi, lambd_lo), tl.zeros_like(grad), grad)


@triton.jit
def _softshrink(x, lambd_hi, lambd_lo):
    lambd = _param(x, lambd_hi, lambd_lo)
    # x * 0 in the band keeps NaN a NaN (PyTorch's formula).
    return tl.where(x > lambd, x - lambd, tl.where(x < -lambd, x + lambd, x * 0.0))


@triton.jit
def _softshrink_backward(grad, x, lambd_hi, lambd_lo):
    return tl.where(_inside(x, lambd_hi, lambd_lo), tl.zeros_like(grad), grad)


@triton.jit
def _tanhshrink(x, p0, p1):
    return x - _tanh_math(x)


@triton.jit
def _tanhshrink_backward(grad, x, p0, p1):
    t = _tanh_math(x)
    return grad * (t * t)


@triton.jit
def _threshold(x, threshold, value):
    # x <= threshold is false for NaN: NaN passes through, as in PyTorch.
    return tl.where(x <= threshold, value, x)


@triton.jit
def _threshold_backward(grad, x, threshold, value):
    return tl.where(x <= threshold, tl.zeros_like(grad), grad)


@triton.jit
def _softsign(x, p0, p1):
    return div_ieee(x, 1.0 + tl.abs(x))


@triton.jit
def _softsign_backward(grad, x, p0, p1):
    d = 1.0 + tl.abs(x)
    return div_ieee(grad, d * d)


@triton.jit
def _prelu(x, w, p0, p1):
    return tl.where(x > 0, x, w * x)


@triton.jit
def _prelu_backward(grad, x, w, p0, p1):
    # (grad_x, the weight-gradient term of this element): x > 0 lanes contribute nothing to the weight.
    pos = x > 0
    return tl.where(pos, grad, w * grad), tl.where(pos, tl.zeros_like(grad), x * grad)


@triton.jit
def _glu(a, b, p0, p1):
    return a * _sigmoid_math(b)


@triton.jit
def _glu_backward(grad, a, b, p0, p1):
    # (grad_a, grad_b) of a * sigmoid(b); sigmoid(b) and 1 - sigmoid(b) without cancellation.
    s, one_minus_s = _sigmoid_pair(b)
    return grad * s, grad * a * (s * one_minus_s)


@triton.jit
def _rrelu_with_noise(x, u, lower, upper):
    # The slope is drawn only where x <= 0 (PyTorch's rule); elsewhere the noise is exactly 1.
    noise = tl.where(x <= 0, lower + (upper - lower) * u, tl.full(x.shape, 1.0, x.dtype))
    return x * noise, noise


# ================================================================ launch wrappers
def celu(out: DeviceArray, x: DeviceArray, alpha: float = 1.0) -> None:
    """out = x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    launch_map(_celu, [out], [x], *_split(alpha))


def celu_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, alpha: float = 1.0) -> None:
    """grad_x = grad if x > 0 else grad * exp(x / alpha)."""
    launch_map(_celu_backward, [grad_x], [grad, x], *_split(1.0 / alpha))


def hardshrink(out: DeviceArray, x: DeviceArray, lambd: float = 0.5) -> None:
    """out = 0 where -lambd <= x <= lambd, else x."""
    launch_map(_hardshrink, [out], [x], *_split(lambd))


def hardshrink_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, lambd: float = 0.5) -> None:
    """grad_x = 0 where -lambd <= x <= lambd, else grad."""
    launch_map(_hardshrink_backward, [grad_x], [grad, x], *_split(lambd))


def softshrink(out: DeviceArray, x: DeviceArray, lambd: float = 0.5) -> None:
    """out = x - lambd above lambd, x + lambd below -lambd, else 0."""
    launch_map(_softshrink, [out], [x], *_split(lambd))


def softshrink_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, lambd: float = 0.5) -> None:
    """grad_x = 0 where -lambd <= x <= lambd, else grad."""
    launch_map(_softshrink_backward, [grad_x], [grad, x], *_split(lambd))


@runs_map(_tanhshrink)
def tanhshrink(out: DeviceArray, x: DeviceArray) -> None:
    """out = x - tanh(x)."""
    launch_map(_tanhshrink, [out], [x])


def tanhshrink_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    """grad_x = grad * tanh(x)^2."""
    launch_map(_tanhshrink_backward, [grad_x], [grad, x])


def threshold(out: DeviceArray, x: DeviceArray, threshold: float = 0.0, value: float = 0.0) -> None:
    """out = value where x <= threshold, else x."""
    launch_map(_threshold, [out], [x], float(threshold), float(value))


def threshold_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray, threshold: float = 0.0,
                       value: float = 0.0) -> None:
    """grad_x = 0 where x <= threshold, else grad."""
    launch_map(_threshold_backward, [grad_x], [grad, x], float(threshold), float(value))


@runs_map(_softsign)
def softsign(out: DeviceArray, x: DeviceArray) -> None:
    """out = x / (1 + |x|)."""
    launch_map(_softsign, [out], [x])


def softsign_backward(grad_x: DeviceArray, grad: DeviceArray, x: DeviceArray) -> None:
    """grad_x = grad / (1 + |x|)^2."""
    launch_map(_softsign_backward, [grad_x], [grad, x])


def prelu(out: DeviceArray, x: DeviceArray, w: DeviceArray) -> None:
    """out = x if x > 0 else w * x; w already broadcast (zero strides) to x's shape."""
    launch_map(_prelu, [out], [x, w])


def prelu_backward(grad_x: DeviceArray, grad_w_terms: DeviceArray, grad: DeviceArray, x: DeviceArray,
                   w: DeviceArray) -> None:
    """grad_x and the per-element weight-gradient terms (x * grad where x <= 0, else 0), both x's shape;
    the caller reduces grad_w_terms over every dim but the channel's."""
    launch_map(_prelu_backward, [grad_x, grad_w_terms], [grad, x, w])


def glu(out: DeviceArray, a: DeviceArray, b: DeviceArray) -> None:
    """out = a * sigmoid(b); a and b are the two halves of glu's input (views, any strides)."""
    launch_map(_glu, [out], [a, b])


def glu_backward(grad_a: DeviceArray, grad_b: DeviceArray, grad: DeviceArray, a: DeviceArray,
                 b: DeviceArray) -> None:
    """grad_a = grad * sigmoid(b), grad_b = grad * a * sigmoid(b) (1 - sigmoid(b)): views of one grad_input."""
    launch_map(_glu_backward, [grad_a, grad_b], [grad, a, b])


def rrelu_with_noise(out: DeviceArray, noise: DeviceArray, x: DeviceArray, u: DeviceArray,
                     lower: float, upper: float) -> None:
    """noise = lower + (upper - lower) * u where x <= 0, else 1; out = x * noise (u uniform in [0, 1))."""
    launch_map(_rrelu_with_noise, [out, noise], [x, u], float(lower), float(upper))


# ================================================================ NumPy references
def celu_ref(x, alpha: float = 1.0):
    return forward_ref(lambda a: np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0) / alpha)), x)


def celu_backward_ref(grad, x, alpha: float = 1.0):
    return backward_ref(lambda g, a: np.where(a <= 0, g * np.exp(np.minimum(a, 0) / alpha), g), grad, x)


def _band(a, lambd):
    return (a >= -lambd) & (a <= lambd)


def hardshrink_ref(x, lambd: float = 0.5):
    return forward_ref(lambda a: np.where(_band(a, lambd), 0, a), x)


def hardshrink_backward_ref(grad, x, lambd: float = 0.5):
    return backward_ref(lambda g, a: np.where(_band(a, lambd), 0, g), grad, x)


def softshrink_ref(x, lambd: float = 0.5):
    return forward_ref(lambda a: np.where(a > lambd, a - lambd, np.where(a < -lambd, a + lambd, a * 0)), x)


def softshrink_backward_ref(grad, x, lambd: float = 0.5):
    return backward_ref(lambda g, a: np.where(_band(a, lambd), 0, g), grad, x)


def tanhshrink_ref(x):
    return forward_ref(lambda a: a - np.tanh(a), x)


def tanhshrink_backward_ref(grad, x):
    return backward_ref(lambda g, a: g * np.tanh(a) ** 2, grad, x)


def threshold_ref(x, threshold: float = 0.0, value: float = 0.0):
    return forward_ref(lambda a: np.where(a <= threshold, value, a), x)


def threshold_backward_ref(grad, x, threshold: float = 0.0, value: float = 0.0):
    return backward_ref(lambda g, a: np.where(a <= threshold, 0, g), grad, x)


def softsign_ref(x):
    return forward_ref(lambda a: a / (1 + np.abs(a)), x)


def softsign_backward_ref(grad, x):
    return backward_ref(lambda g, a: g / (1 + np.abs(a)) ** 2, grad, x)


def prelu_ref(x, w):
    """x if x > 0 else w * x (w broadcast against x), in x's dtype."""
    return forward_ref(lambda a: np.where(a > 0, a, np.asarray(w, a.dtype) * a), x)


def prelu_backward_ref(grad, x, w):
    """(grad_x, weight-gradient terms), both shaped like grad, in grad's dtype."""
    g = np.asarray(grad)
    with np.errstate(all="ignore"):
        g64, a, wb = (np.asarray(t, np.float64) for t in (g, x, w))
        gx = np.where(a > 0, g64, wb * g64)
        gw = np.where(a > 0, 0, a * g64)
    return (np.broadcast_to(gx, g.shape).astype(g.dtype), np.broadcast_to(gw, g.shape).astype(g.dtype))


def glu_ref(a, b):
    """a * sigmoid(b) in a's dtype (16-bit floats computed in fp32)."""
    a = np.asarray(a)
    with np.errstate(all="ignore"):
        return (_opmath(a) * np_sigmoid(_opmath(b))[0]).astype(a.dtype)


def glu_backward_ref(grad, a, b):
    """(grad_a, grad_b) of glu, in grad's dtype."""
    g = np.asarray(grad)
    with np.errstate(all="ignore"):
        s, one_minus_s = np_sigmoid(_opmath(b))
        return ((_opmath(g) * s).astype(g.dtype), (_opmath(g) * _opmath(a) * (s * one_minus_s)).astype(g.dtype))


def rrelu_with_noise_ref(x, u, lower: float, upper: float):
    """(out, noise) as the kernel computes them, in x's dtype."""
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        a = x.astype(np.float64)
        noise = np.where(a <= 0, lower + (upper - lower) * np.asarray(u, np.float64), 1.0)
        return (a * noise).astype(x.dtype), noise.astype(x.dtype)


# ================================================================ registry
_PARAMS = {"celu": {"alpha": 1.0}, "hardshrink": {"lambd": 0.5}, "softshrink": {"lambd": 0.5},
           "threshold": {"threshold": 0.0, "value": 0.0}}
_NAMES = ["celu", "hardshrink", "softshrink", "tanhshrink", "threshold", "softsign"]

OPS: dict[str, UnaryOp] = {
    name: UnaryOp(globals()[name], globals()[f"{name}_backward"], globals()[f"{name}_ref"],
                  globals()[f"{name}_backward_ref"], "input", params=_PARAMS.get(name, {}))
    for name in _NAMES
}

MATH = {name: (globals()[f"_{name}"], globals()[f"_{name}_backward"]) for name in _NAMES}
_BRANCHY = ["celu", "hardshrink", "softshrink"]  # _param adds the low half back in fp64

# The two-operand maps: prelu forward (2 in), its backward (3 in, 2 out), rrelu's (2 in, 2 out).
_MULTI = [("prelu", _prelu, 2, 1), ("prelu_backward", _prelu_backward, 3, 2),
          ("glu", _glu, 2, 1), ("glu_backward", _glu_backward, 3, 2),
          ("rrelu_with_noise", _rrelu_with_noise, 2, 2)]


def _multi_specs(dtypes) -> list[KernelSpec]:
    return [KernelSpec(f"activations_extra.{name}[{dtype}]", map_kernel, _map_signature(dtype, n_in, n_out),
                       dict(OP=op, N_IN=n_in, N_OUT=n_out), MAP_SHIPPED, MAP_SPACE)
            for name, op, n_in, n_out in _MULTI for dtype in dtypes]


SPECS = build_specs("activations_extra", MATH, [], _BRANCHY) + _multi_specs(("fp32",))
FULL_SPECS = (build_specs("activations_extra", MATH, [], _BRANCHY, full=True)
              + _multi_specs(("fp16", "bf16", "fp32", "fp64")))
