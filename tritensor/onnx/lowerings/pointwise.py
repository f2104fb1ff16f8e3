"""Lowerings of elementwise ops: arithmetic (tt.add, Tensor.__rsub__, ...), activations, softmax, dropout, casts."""

from __future__ import annotations

import math
from typing import Any

from ..graph import GraphContext
from ..trace import Node
from ._common import no_out, positional, unsupported


def _binary(op_type: str, reverse: bool = False):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        no_out(a, node)
        x, y = positional(a, 2)
        dtype = node.outputs[0].dtype
        if a.get("rounding_mode") is not None:
            raise unsupported(node, f"with rounding_mode={a['rounding_mode']!r} has no ONNX lowering yet")
        lhs, rhs = g.value(x, dtype), g.value(y, dtype)
        alpha = a.get("alpha", 1)
        if alpha != 1:
            rhs = g.op("Mul", [rhs, g.value(alpha, dtype)])
        return [g.op(op_type, [rhs, lhs] if reverse else [lhs, rhs])]
    return lower


def _unary(op_type: str, **attrs: Any):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        no_out(a, node)
        (x,) = positional(a, 1)
        return [g.op(op_type, [g.tensor(x, node.outputs[0].dtype)], **attrs)]
    return lower


def _gelu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    return [gelu_of(g, g.tensor(a["input"]), a["input"].dtype, a.get("approximate", "none"))]


def gelu_of(g: GraphContext, x: str, dtype, approximate: str) -> str:
    """GELU of the graph value `x` (Gelu from opset 20, its formula before)."""
    if g.opset >= 20:
        return g.op("Gelu", [x], approximate=approximate)
    half, one = g.value(0.5, dtype), g.value(1.0, dtype)
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.value(0.044715, dtype)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.value(math.sqrt(2.0 / math.pi), dtype)])])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.op("Erf", [g.op("Div", [x, g.value(math.sqrt(2.0), dtype)])])
    return g.op("Mul", [g.op("Mul", [x, half]), g.op("Add", [t, one])])


def _silu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = g.tensor(positional(a, 1)[0])
    return [g.op("Mul", [x, g.op("Sigmoid", [x])])]


def _softmax(op_type: str):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        if a.get("dim") is None:
            raise unsupported(node, "needs an explicit dim")
        return [g.op(op_type, [g.tensor(a["input"], node.outputs[0].dtype)], axis=int(a["dim"]))]
    return lower


def _dropout(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    training = a.get("training", a.get("train", True))
    if training and a.get("p", 0.5) > 0:
        raise unsupported(node, "in training mode has no deterministic ONNX lowering (export in eval mode)")
    return [g.tensor(a["input"])]


def _same(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """contiguous, clone, detach, .to(...), .float(), ...: the input, cast to the output's dtype."""
    (x,) = positional(a, 1)
    return [g.tensor(x, node.outputs[0].dtype)]


def _leaky_relu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, slope = positional(a, 2)
    return [g.op("LeakyRelu", [g.tensor(x)], alpha=float(slope))]


def _elu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    return [g.op("Elu", [g.tensor(a["input"])], alpha=float(a.get("alpha", 1.0)))]


def _hardswish(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """HardSwish from opset 14; x * HardSigmoid(x) before, as PyTorch's exporter writes it there."""
    x = g.tensor(a["input"])
    if g.opset >= 14:
        return [g.op("HardSwish", [x])]
    return [g.op("Mul", [x, g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])]


def _softplus_of(g: GraphContext, x: str, dtype: Any, beta: float, threshold: float) -> str:
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (PyTorch's; ONNX Softplus has no beta)."""
    bx = x if beta == 1.0 else g.op("Mul", [x, g.value(beta, dtype)])
    soft = g.op("Softplus", [bx])
    if beta != 1.0:
        soft = g.op("Div", [soft, g.value(beta, dtype)])
    return g.op("Where", [g.op("Greater", [bx, g.value(threshold, dtype)]), x, soft])


def _softplus(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = a["input"]
    return [_softplus_of(g, g.tensor(x), x.dtype, float(a.get("beta", 1.0)), float(a.get("threshold", 20.0)))]


def _mish(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """x * tanh(softplus(x)) (ONNX Mish arrives in opset 18)."""
    x = a["input"]
    name = g.tensor(x)
    if g.opset >= 18:
        return [g.op("Mish", [name])]
    return [g.op("Mul", [name, g.op("Tanh", [_softplus_of(g, name, x.dtype, 1.0, 20.0)])])]


def _prelu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """PRelu with the slope shaped (C, 1, ..., 1) to broadcast over dim 1 (a single slope broadcasts as is)."""
    x, w = a["input"], a["weight"]
    slope = g.tensor(w)
    if w.numel() > 1 and x.dim() > 2:
        slope = g.op("Reshape", [slope, g.ints([w.numel()] + [1] * (x.dim() - 2))])
    return [g.op("PRelu", [g.tensor(x), slope])]


def _hardtanh(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = a["input"]
    return [g.op("Clip", [g.tensor(x), g.value(float(a.get("min_val", -1.0)), x.dtype),
                          g.value(float(a.get("max_val", 1.0)), x.dtype)])]


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _hardsigmoid(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)."""
    return [g.op("HardSigmoid", [g.tensor(a["input"])], alpha=1.0 / 6.0, beta=0.5)]


def _selu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    return [g.op("Selu", [g.tensor(a["input"])], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)]


def _celu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    return [g.op("Celu", [g.tensor(a["input"])], alpha=float(a.get("alpha", 1.0)))]


def _logsigmoid(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """-softplus(-x)."""
    return [g.op("Neg", [g.op("Softplus", [g.op("Neg", [g.tensor(a["input"])])])])]


def _tanhshrink(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = g.tensor(a["input"])
    return [g.op("Sub", [x, g.op("Tanh", [x])])]


def _softmin(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """softmax(-x) along dim."""
    if a.get("dim") is None:
        raise unsupported(node, "needs an explicit dim")
    x = g.tensor(a["input"], node.outputs[0].dtype)
    return [g.op("Softmax", [g.op("Neg", [x])], axis=int(a["dim"]))]


def _threshold(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """x where x > threshold, value elsewhere."""
    x = a["input"]
    name = g.tensor(x)
    keep = g.op("Greater", [name, g.value(a["threshold"], x.dtype)])
    return [g.op("Where", [keep, name, g.value(a["value"], x.dtype)])]


def _glu(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """a * sigmoid(b), (a, b) the halves of the input along dim."""
    x = a["input"]
    dim = int(a.get("dim", -1)) % x.dim()
    half = x.shape[dim] // 2
    first, second = g.op("Split", [g.tensor(x), g.ints([half, half])], n_out=2, axis=dim)
    return [g.op("Mul", [first, g.op("Sigmoid", [second])])]


def _shrink(soft: bool):
    """Hardshrink (x where |x| > lambd, else 0) / softshrink (x -+ lambd there): ONNX Shrink."""
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        lambd = float(a.get("lambd", 0.5))
        return [g.op("Shrink", [g.tensor(a["input"])], lambd=lambd, bias=lambd if soft else 0.0)]
    return lower


LOWERINGS = {
    **dict.fromkeys(("add", "__add__", "__radd__", "__iadd__"), _binary("Add")),
    **dict.fromkeys(("sub", "subtract", "__sub__"), _binary("Sub")),
    "__rsub__": _binary("Sub", reverse=True),
    **dict.fromkeys(("mul", "multiply", "__mul__", "__rmul__"), _binary("Mul")),
    **dict.fromkeys(("div", "divide", "true_divide", "__truediv__"), _binary("Div")),
    "__rtruediv__": _binary("Div", reverse=True),
    **dict.fromkeys(("pow", "__pow__"), _binary("Pow")),
    "__rpow__": _binary("Pow", reverse=True),
    **dict.fromkeys(("maximum",), _binary("Max")),
    **dict.fromkeys(("minimum",), _binary("Min")),
    "relu": _unary("Relu"), "tanh": _unary("Tanh"), "sigmoid": _unary("Sigmoid"), "exp": _unary("Exp"),
    "log": _unary("Log"), "sqrt": _unary("Sqrt"), "abs": _unary("Abs"), "erf": _unary("Erf"),
    **dict.fromkeys(("neg", "negative", "__neg__"), _unary("Neg")),
    "sin": _unary("Sin"), "cos": _unary("Cos"), "reciprocal": _unary("Reciprocal"),
    "gelu": _gelu, "silu": _silu, "leaky_relu": _leaky_relu,
    "elu": _elu, "hardswish": _hardswish, "softplus": _softplus, "mish": _mish, "prelu": _prelu,
    "hardtanh": _hardtanh, "hardsigmoid": _hardsigmoid, "selu": _selu, "celu": _celu,
    "softsign": _unary("Softsign"), "logsigmoid": _logsigmoid, "tanhshrink": _tanhshrink, "softmin": _softmin,
    "threshold": _threshold, "glu": _glu, "softshrink": _shrink(True), "hardshrink": _shrink(False),
    "sign": _unary("Sign"),
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "dropout": _dropout, "F.dropout": _dropout,
    **dict.fromkeys(("contiguous", "clone", "detach", "to", "float", "double", "half", "long", "int",
                     "type_as", "cpu", "cuda"), _same),
}
