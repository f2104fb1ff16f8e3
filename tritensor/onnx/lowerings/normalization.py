"""Lowerings of the statistics normalizations: group_norm, instance_norm (ONNX InstanceNormalization) and
rms_norm (ReduceMean / Sqrt / Div / Mul). batch_norm and layer_norm lower in layers.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...ops.normalization import FINFO_EPS
from ..graph import GraphContext
from ..trace import Node
from ._common import pair, reduce_over, unsupported


def _channel(g: GraphContext, t: Any, ndim: int) -> str:
    """A per-channel (C,) parameter shaped (C, 1, ..., 1) to broadcast over (N, C, *)."""
    return g.op("Reshape", [g.tensor(t), g.ints([t.numel()] + [1] * (ndim - 2))])


def _affine(g: GraphContext, y: str, x: Any, w: Any, b: Any) -> str:
    if w is not None:
        y = g.op("Mul", [y, _channel(g, w, x.dim())])
    if b is not None:
        y = g.op("Add", [y, _channel(g, b, x.dim())])
    return y


def _group_norm(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """Reshape to (N, G, -1), InstanceNormalization with unit scale and zero bias, reshape back, affine."""
    x, groups = a["input"], int(a["num_groups"])
    np_dtype = x.dtype.np
    name = g.tensor(x)
    grouped = g.op("Reshape", [name, g.ints([0, groups, -1])])
    normed = g.op("InstanceNormalization", [grouped, g.const(np.ones([groups], dtype=np_dtype)),
                                            g.const(np.zeros([groups], dtype=np_dtype))],
                  epsilon=float(a.get("eps", 1e-5)))
    y = g.op("Reshape", [normed, g.op("Shape", [name])])
    return [_affine(g, y, x, a.get("weight"), a.get("bias"))]


def _instance_norm(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """InstanceNormalization over each (instance, channel); with use_input_stats False, the running statistics
    (BatchNormalization in inference mode)."""
    x, w, b = a["input"], a.get("weight"), a.get("bias")
    c, np_dtype = x.shape[1], x.dtype.np
    eps = float(a.get("eps", 1e-5))
    scale = g.tensor(w, x.dtype) if w is not None else g.const(np.ones([c], dtype=np_dtype))
    bias = g.tensor(b, x.dtype) if b is not None else g.const(np.zeros([c], dtype=np_dtype))
    if a.get("use_input_stats", True):
        return [g.op("InstanceNormalization", [g.tensor(x), scale, bias], epsilon=eps)]
    mean, var = a.get("running_mean"), a.get("running_var")
    if mean is None or var is None:
        raise unsupported(node, "with use_input_stats=False needs running_mean and running_var")
    return [g.op("BatchNormalization", [g.tensor(x), scale, bias, g.tensor(mean, x.dtype), g.tensor(var, x.dtype)],
                 epsilon=eps)]


def _rms_norm(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims (eps None: finfo eps)."""
    x, w = a["input"], a.get("weight")
    k = len(pair(a["normalized_shape"], 1))
    eps = a.get("eps")
    eps = FINFO_EPS[x.dtype] if eps is None else float(eps)
    axes = list(range(x.dim() - k, x.dim()))
    name = g.tensor(x)
    square = g.op("Mul", [name, name])
    mean = reduce_over(g, "ReduceMean", square, axes, 1)
    rms = g.op("Sqrt", [g.op("Add", [mean, g.value(eps, x.dtype)])])
    y = g.op("Div", [name, rms])
    return [y if w is None else g.op("Mul", [y, g.tensor(w, x.dtype)])]


LOWERINGS = {"group_norm": _group_norm, "instance_norm": _instance_norm, "rms_norm": _rms_norm}
