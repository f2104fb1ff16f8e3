"""Lowerings of resampling: F.interpolate (nn.Upsample) as ONNX Resize with PyTorch's coordinate modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import GraphContext
from ..trace import Node
from ._common import shape_of, unsupported

_MODES = {"nearest": 1, "linear": 1, "bilinear": 2, "trilinear": 3}


def _interpolate(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """nearest: "asymmetric" + nearest_mode "floor" (PyTorch's legacy nearest); (bi/tri)linear: "align_corners",
    or "half_pixel" (also at an output size of 1, where the layer samples the source's centre, not 0 as
    "pytorch_half_pixel" does). A scale factor (not recomputed) becomes Resize's scales, so the coordinate
    scale is PyTorch's 1 / scale_factor; an explicit size becomes `sizes`, the
    batch and channel dims read from the input's shape (they stay dynamic)."""
    x, out = a["input"], node.outputs[0]
    mode = a.get("mode", "nearest")
    n = x.dim() - 2
    if mode not in _MODES or (mode != "nearest" and _MODES[mode] != n):
        raise unsupported(node, f"with mode={mode!r} has no ONNX lowering yet")
    if a.get("antialias"):
        raise unsupported(node, "with antialias=True has no ONNX lowering")
    size_out = list(out.shape[2:])
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif a.get("align_corners"):
        attrs = dict(mode="linear", coordinate_transformation_mode="align_corners")
    else:  # not "pytorch_half_pixel": at an output size of 1 that samples at 0, the layer at the centre
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    dtype = np.float32
    scale = a.get("scale_factor")
    empty = g.const(np.zeros([0], dtype=dtype))
    if a.get("size") is None and scale is not None and not a.get("recompute_scale_factor"):
        scales = [float(s) for s in scale] if isinstance(scale, (tuple, list)) else [float(scale)] * n
        inputs = [g.tensor(x), empty, g.const(np.asarray([1.0, 1.0] + scales, dtype=dtype))]
    else:
        lead = shape_of(g, g.tensor(x), 0, 2)
        sizes = g.op("Concat", [lead, g.ints(size_out)], axis=0)
        inputs = [g.tensor(x), empty, empty, sizes]
    return [g.op("Resize", inputs, **attrs)]


LOWERINGS = {"interpolate": _interpolate}
