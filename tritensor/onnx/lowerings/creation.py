"""Lowerings of the `*_like` creation ops on a traced tensor: a constant of that tensor's (dynamic) shape."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import numpy_helper

from ..graph import GraphContext
from ..trace import Node
from ._common import positional


def _filled_like(fill: float | None):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        (x,) = positional(a, 1)
        out = node.outputs[0]
        value = a.get("fill_value") if fill is None else fill
        # ConstantOfShape's value attribute is a 1-element tensor of the output's dtype.
        array = np.full((1,), value, dtype=out.detach().cpu().numpy().dtype)
        return [g.op("ConstantOfShape", [g.op("Shape", [g.tensor(x)])], value=numpy_helper.from_array(array))]
    return lower


# empty_like's values are unspecified: zeros are as good as any.
LOWERINGS = {"zeros_like": _filled_like(0.0), "empty_like": _filled_like(0.0), "ones_like": _filled_like(1.0),
             "full_like": _filled_like(None)}
