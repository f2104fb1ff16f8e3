"""Lowerings of indexing: `x[key]` with ints, slices (step > 0), None and Ellipsis (ONNX Slice,
Squeeze, Unsqueeze); advanced (tensor, list, bool) indexing is refused by name."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import GraphContext
from ..trace import Node
from ._common import positional, unsupported

_END = np.iinfo(np.int64).max


def _basic_key(key: Any, ndim: int, node: Node) -> list[Any]:
    """The key as a list of int / slice / None, one entry per item, Ellipsis expanded into full slices."""
    items = list(key) if isinstance(key, tuple) else [key]
    for item in items:
        if isinstance(item, bool) or not (item is None or item is Ellipsis or isinstance(item, (int, slice))
                                           or isinstance(item, np.integer)):
            raise unsupported(node, f"with advanced indexing (a {type(item).__name__} in the key) has no ONNX "
                                    "lowering yet: index with ints, slices, None and ...")
    if sum(item is Ellipsis for item in items) > 1:
        raise unsupported(node, "with more than one Ellipsis")
    used = sum(1 for item in items if item is not None and item is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (ndim - used)
    return items + [slice(None)] * (ndim - used if Ellipsis not in items else 0)


def _getitem(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, key = positional(a, 2)
    items = _basic_key(key, x.dim(), node)
    name = g.tensor(x)
    starts, ends, axes, steps, ints, new = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for item in items:
        if item is None:
            new.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, slice):
            step = 1 if item.step is None else int(item.step)
            if step <= 0:
                raise unsupported(node, f"with a slice step of {step} (ONNX and PyTorch need step > 0)")
            if item != slice(None) and item != slice(None, None, 1):
                starts.append(0 if item.start is None else int(item.start))
                ends.append(_END if item.stop is None else int(item.stop))
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:  # x[i]: the one-long Slice i:i+1, squeezed below
            index = int(item)
            starts.append(index)
            ends.append(_END if index == -1 else index + 1)
            axes.append(axis)
            steps.append(1)
            ints.append(axis)
        axis += 1
    if axes:
        name = g.op("Slice", [name, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if ints:
        name = g.op("Squeeze", [name, g.ints(ints)])
    if new:
        name = g.op("Unsqueeze", [name, g.ints(new)])
    return [name]


LOWERINGS = {"__getitem__": _getitem}
