"""Helpers the lowering modules share: argument access, the unsupported-form error, and the nodes whose form
depends on the opset (Reduce* axes, Shape slices)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..graph import GraphContext, UnsupportedOperatorError
from ..trace import Node


def unsupported(node: Node, why: str) -> UnsupportedOperatorError:
    """The error for an op called in a form its lowering cannot express."""
    name = node.op[2:] if node.op.startswith("F.") else node.op
    return UnsupportedOperatorError(f"tt.onnx.export: op '{name}' {why} (called from {node.where})")


def positional(a: dict[str, Any], n: int) -> list[Any]:
    """The first `n` arguments, in the signature's order (for ops whose parameter names differ by alias)."""
    return list(a.values())[:n]


def no_out(a: dict[str, Any], node: Node) -> None:
    """Refuse `out=` (an in-place write has no ONNX form)."""
    if a.get("out") is not None:
        raise unsupported(node, "with out= cannot be exported")


def varargs(values: Any) -> list[int]:
    """A `*shape`/`*dims` argument: either separate ints or one sequence."""
    values = tuple(values)
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    return [int(v) for v in values]


def pair(v: Any, n: int = 2) -> list[int]:
    """An int or a sequence of n ints, as a list of n ints."""
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v)] * n


def reduce_over(g: GraphContext, op_type: str, name: str, axes: Sequence[int], keepdims: int) -> str:
    """A Reduce* node over `axes`: an input from opset 18 (ReduceSum from 13), the `axes` attribute before."""
    if op_type == "ReduceSum" or g.opset >= 18:
        return g.op(op_type, [name, g.ints(axes)], keepdims=keepdims)
    return g.op(op_type, [name], axes=list(axes), keepdims=keepdims)


def shape_of(g: GraphContext, name: str, start: int, end: int) -> str:
    """dims start:end of a value's Shape (Shape's start/end attributes arrive in opset 15; a Slice before)."""
    if g.opset >= 15:
        return g.op("Shape", [name], start=start, end=end)
    return g.op("Slice", [g.op("Shape", [name]), g.ints([start]), g.ints([end]), g.ints([0])])
