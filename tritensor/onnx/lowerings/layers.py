"""Lowerings of the ops layers run: linear/matmul, convolution, pooling, normalization, embedding, attention."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import dtypes as D
from ..graph import GraphContext, onnx_type
from ..trace import Node
from ._common import no_out, pair, positional, reduce_over, unsupported
from .pointwise import gelu_of


def _linear(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, w, b = a["input"], a["weight"], a.get("bias")
    dtype = node.outputs[0].dtype
    if x.dim() == 2:  # PyTorch's exporter emits Gemm for a 2-D input
        inputs = [g.tensor(x, dtype), g.tensor(w, dtype)] + ([g.tensor(b, dtype)] if b is not None else [])
        y = g.op("Gemm", inputs, alpha=1.0, beta=1.0, transB=1)
    else:
        y = g.op("MatMul", [g.tensor(x, dtype), g.op("Transpose", [g.tensor(w, dtype)], perm=[1, 0])])
        y = y if b is None else g.op("Add", [y, g.tensor(b, dtype)])
    return [_activate(g, y, a.get("activation"), dtype)]


def _activate(g: GraphContext, y: str, activation: str | None, dtype) -> str:
    """tritensor's `F.linear(..., activation=...)` after the product: the activation's own ONNX lowering."""
    if activation is None:
        return y
    if activation == "relu":
        return g.op("Relu", [y])
    if activation == "silu":
        return g.op("Mul", [y, g.op("Sigmoid", [y])])
    return gelu_of(g, y, dtype, "tanh" if activation == "gelu_tanh" else "none")


def _matmul(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    no_out(a, node)
    x, y = positional(a, 2)
    dtype = node.outputs[0].dtype
    lhs, rhs = g.tensor(x, dtype), g.tensor(y, dtype)
    return [g.op("MatMul", [rhs, lhs] if node.op.endswith("__rmatmul__") else [lhs, rhs])]


def _conv_pads(a: dict[str, Any], kernel: list[int], n: int, node: Node) -> list[int]:
    padding, dilation = a.get("padding", 0), pair(a.get("dilation", 1), n)
    if padding == "valid":
        return [0] * (2 * n)
    if padding == "same":  # PyTorch puts the odd extra pad at the end
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    if isinstance(padding, str):
        raise unsupported(node, f"with padding={padding!r}")
    p = pair(padding, n)
    return p + p


def _conv(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, w, b = a["input"], a["weight"], a.get("bias")
    n = w.dim() - 2
    kernel = list(w.shape[2:])
    inputs = [g.tensor(x), g.tensor(w)] + ([g.tensor(b)] if b is not None else [])
    return [g.op("Conv", inputs, kernel_shape=kernel, strides=pair(a.get("stride", 1), n),
                 pads=_conv_pads(a, kernel, n, node), dilations=pair(a.get("dilation", 1), n),
                 group=int(a.get("groups", 1)))]


def _conv_transpose(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """ONNX ConvTranspose: the weight is (C_in, C_out / groups, K...) in both; padding trims both ends and
    output_padding adds to the end, as PyTorch's."""
    x, w, b = a["input"], a["weight"], a.get("bias")
    n = w.dim() - 2
    if x.dim() != n + 2:
        raise unsupported(node, "on an unbatched input has no ONNX lowering yet")
    padding = a.get("padding", 0)
    if isinstance(padding, str):
        raise unsupported(node, f"with padding={padding!r}")
    inputs = [g.tensor(x), g.tensor(w)] + ([g.tensor(b)] if b is not None else [])
    return [g.op("ConvTranspose", inputs, kernel_shape=list(w.shape[2:]), strides=pair(a.get("stride", 1), n),
                 pads=pair(padding, n) * 2, output_padding=pair(a.get("output_padding", 0), n),
                 dilations=pair(a.get("dilation", 1), n), group=int(a.get("groups", 1)))]


def _pool_common(a: dict[str, Any], n: int) -> dict[str, Any]:
    kernel = pair(a["kernel_size"], n)
    stride = a.get("stride")
    stride = kernel if stride is None or stride == [] or stride == () else pair(stride, n)
    return dict(kernel_shape=kernel, strides=stride, pads=pair(a.get("padding", 0), n) * 2,
                ceil_mode=int(bool(a.get("ceil_mode", False))))


def _max_pool(n: int):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        if a.get("return_indices"):
            raise unsupported(node, "with return_indices=True has no ONNX lowering yet")
        return [g.op("MaxPool", [g.tensor(a["input"])], dilations=pair(a.get("dilation", 1), n),
                     **_pool_common(a, n))]
    return lower


def _avg_pool(n: int):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        if a.get("divisor_override") is not None:
            raise unsupported(node, "with divisor_override has no ONNX lowering")
        return [g.op("AveragePool", [g.tensor(a["input"])], count_include_pad=int(a.get("count_include_pad", True)),
                     **_pool_common(a, n))]
    return lower


def _adaptive_avg_pool2d(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, out = a["input"], node.outputs[0]
    size_in, size_out = list(x.shape[-2:]), list(out.shape[-2:])
    if size_out == [1, 1]:
        return [g.op("GlobalAveragePool", [g.tensor(x)])]
    if any(i % o for i, o in zip(size_in, size_out)):
        raise unsupported(node, f"from {size_in} to {size_out} (not a whole factor) has no ONNX lowering")
    kernel = [i // o for i, o in zip(size_in, size_out)]
    return [g.op("AveragePool", [g.tensor(x)], kernel_shape=kernel, strides=kernel)]


def _adaptive_max_pool2d(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, out = a["input"], node.outputs[0]
    if a.get("return_indices"):
        raise unsupported(node, "with return_indices=True has no ONNX lowering yet")
    size_in, size_out = list(x.shape[-2:]), list(out.shape[-2:])
    if size_out == [1, 1]:
        return [g.op("GlobalMaxPool", [g.tensor(x)])]
    if any(i % o for i, o in zip(size_in, size_out)):
        raise unsupported(node, f"from {size_in} to {size_out} (not a whole factor) has no ONNX lowering")
    kernel = [i // o for i, o in zip(size_in, size_out)]
    return [g.op("MaxPool", [g.tensor(x)], kernel_shape=kernel, strides=kernel)]


def _ones(g: GraphContext, shape: list[int], like: Any) -> str:
    return g.const(np.ones(shape, dtype=like.dtype.np))


def _batch_norm(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, mean, var = a["input"], a.get("running_mean"), a.get("running_var")
    if a.get("training") or mean is None or var is None:
        raise unsupported(node, "in training mode (batch statistics) cannot be exported: call model.eval()")
    c = x.shape[1]
    w, b = a.get("weight"), a.get("bias")
    scale = g.tensor(w) if w is not None else _ones(g, [c], x)
    bias = g.tensor(b) if b is not None else g.const(np.zeros([c], dtype=x.dtype.np))
    return [g.op("BatchNormalization", [g.tensor(x), scale, bias, g.tensor(mean), g.tensor(var)],
                 epsilon=float(a.get("eps", 1e-5)), momentum=1.0 - float(a.get("momentum", 0.1) or 0.1))]


def _layer_norm(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """LayerNormalization from opset 17; its formula before (`_layer_norm_formula`)."""
    x = a["input"]
    shape = pair(a["normalized_shape"], 1)
    w, b = a.get("weight"), a.get("bias")
    if g.opset < 17:
        return [_layer_norm_formula(g, x, len(shape), w, b, float(a.get("eps", 1e-5)))]
    inputs = [g.tensor(x), g.tensor(w) if w is not None else _ones(g, shape, x)]
    if b is not None:
        inputs.append(g.tensor(b))
    return [g.op("LayerNormalization", inputs, axis=-len(shape), epsilon=float(a.get("eps", 1e-5)))]


def _layer_norm_formula(g: GraphContext, x: Any, k: int, w: Any, b: Any, eps: float) -> str:
    """(x - mean) / sqrt(var + eps) * w + b over the last k dims, as PyTorch's exporter decomposes layer_norm
    below opset 17 (ReduceMean, Sub, Pow, Add, Sqrt, Div); half-precision inputs are normalized in float32."""
    axes = list(range(-k, 0))  # negative axes: right whatever the (dynamic) leading dims
    half = x.dtype in (D.float16, D.bfloat16)
    dtype = D.float32 if half else x.dtype
    name = g.tensor(x, dtype)
    centered = g.op("Sub", [name, reduce_over(g, "ReduceMean", name, axes, 1)])
    var = reduce_over(g, "ReduceMean", g.op("Pow", [centered, g.value(2.0, dtype)]), axes, 1)
    y = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.value(eps, dtype)])])])
    if half:
        y = g.op("Cast", [y], to=onnx_type(x.dtype))
    if w is not None:
        y = g.op("Mul", [y, g.tensor(w, x.dtype)])
    return y if b is None else g.op("Add", [y, g.tensor(b, x.dtype)])


def _embedding(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    if a.get("max_norm") is not None:
        raise unsupported(node, "with max_norm (renormalises the weight in place) has no ONNX lowering")
    indices = a["indices"] if "indices" in a else a["input"]
    return [g.op("Gather", [g.tensor(a["weight"]), g.tensor(indices)], axis=0)]


def _attention(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """softmax(q k^T * scale + mask) v as MatMul/Softmax (PyTorch's exporter before opset 23 does the same);
    the causal mask is a constant of the traced lengths."""
    q, k, v, mask = a["query"], a["key"], a["value"], a.get("attn_mask")
    if a.get("dropout_p", 0.0) > 0:
        raise unsupported(node, "with dropout_p > 0 cannot be exported: call model.eval()")
    if a.get("enable_gqa"):
        raise unsupported(node, "with enable_gqa=True has no ONNX lowering yet")
    dtype = q.dtype
    scale = a.get("scale")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    perm = list(range(k.dim()))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    scores = g.op("MatMul", [g.tensor(q), g.op("Transpose", [g.tensor(k)], perm=perm)])
    scores = g.op("Mul", [scores, g.value(scale, dtype)])
    length, source = q.shape[-2], k.shape[-2]
    if a.get("is_causal"):
        causal = np.triu(np.full((length, source), -np.inf, dtype=dtype.np), k=1)
        scores = g.op("Add", [scores, g.const(causal)])
    if mask is not None:
        if mask.dtype.is_floating_point:
            scores = g.op("Add", [scores, g.tensor(mask, dtype)])
        else:
            scores = g.op("Where", [g.tensor(mask), scores, g.value(-np.inf, dtype)])
    return [g.op("MatMul", [g.op("Softmax", [scores], axis=-1), g.tensor(v)])]


LOWERINGS = {
    "linear": _linear,
    **dict.fromkeys(("matmul", "__matmul__", "__rmatmul__", "mm", "bmm"), _matmul),
    **dict.fromkeys(("conv1d", "conv2d", "conv3d"), _conv),
    **dict.fromkeys(("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"), _conv_transpose),
    "max_pool1d": _max_pool(1), "max_pool2d": _max_pool(2), "max_pool3d": _max_pool(3),
    "avg_pool1d": _avg_pool(1), "avg_pool2d": _avg_pool(2), "avg_pool3d": _avg_pool(3),
    "adaptive_avg_pool2d": _adaptive_avg_pool2d, "adaptive_max_pool2d": _adaptive_max_pool2d,
    "batch_norm": _batch_norm, "layer_norm": _layer_norm,
    "embedding": _embedding,
    "scaled_dot_product_attention": _attention,
}
