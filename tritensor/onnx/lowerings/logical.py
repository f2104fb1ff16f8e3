"""Lowerings of comparisons, logical ops and masked selection: eq/ne/lt/le/gt/ge (and their operators),
logical_not/and/or/xor, &/|/^/~, where, masked_fill (attention masks built from an input)."""

from __future__ import annotations

from typing import Any

from ... import dtypes as D
from ...tensor import Tensor
from ..graph import GraphContext
from ..trace import Node
from ._common import no_out, positional, unsupported


def _common_dtype(x: Any, y: Any) -> D.dtype:
    # Both operands compare in their promoted dtype, as PyTorch compares them; a Python number takes the tensor's.
    if isinstance(x, Tensor) and isinstance(y, Tensor):
        return D.promote_types(x.dtype, y.dtype)
    return x.dtype if isinstance(x, Tensor) else y.dtype


def _compare(op_type: str, negate: bool = False):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        no_out(a, node)
        x, y = positional(a, 2)
        dtype = _common_dtype(x, y)
        result = g.op(op_type, [g.value(x, dtype), g.value(y, dtype)])
        return [g.op("Not", [result]) if negate else result]
    return lower


def _logical(op_type: str):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        no_out(a, node)
        x, y = positional(a, 2)
        return [g.op(op_type, [g.value(x, D.bool), g.value(y, D.bool)])]
    return lower


def _bitwise(op_type: str):
    # On bool tensors &, |, ^ are the logical ops; on integers ONNX's Bitwise* ops (opset 18).
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        no_out(a, node)
        x, y = positional(a, 2)
        dtype = node.outputs[0].dtype
        if dtype is D.bool:
            return [g.op(op_type, [g.value(x, dtype), g.value(y, dtype)])]
        if g.opset < 18:
            raise unsupported(node, "on integer tensors needs opset_version >= 18 (Bitwise ops)")
        return [g.op(f"Bitwise{op_type}", [g.value(x, dtype), g.value(y, dtype)])]
    return lower


def _logical_not(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    no_out(a, node)
    (x,) = positional(a, 1)
    if x.dtype is D.bool:
        return [g.op("Not", [g.tensor(x)])]
    if node.op == "logical_not":  # x == 0, in x's dtype
        return [g.op("Equal", [g.tensor(x), g.value(0, x.dtype)])]
    if g.opset < 18:  # ~ on an integer tensor is bitwise: ONNX's BitwiseNot arrives in opset 18
        raise unsupported(node, "on an integer tensor needs opset_version >= 18 (BitwiseNot)")
    return [g.op("BitwiseNot", [g.tensor(x)])]


def _masked_fill(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    # The in-place form rebinds the traced tensor to the new value, as __iadd__ does: later ops read it.
    x, mask, value = positional(a, 3)
    dtype = node.outputs[0].dtype
    return [g.op("Where", [g.tensor(mask, D.bool), g.value(value, dtype), g.tensor(x, dtype)])]


def _where(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    no_out(a, node)
    cond, x, y = positional(a, 3)
    dtype = node.outputs[0].dtype
    return [g.op("Where", [g.tensor(cond, D.bool), g.value(x, dtype), g.value(y, dtype)])]


LOWERINGS = {
    **dict.fromkeys(("eq", "__eq__"), _compare("Equal")),
    **dict.fromkeys(("ne", "not_equal", "__ne__"), _compare("Equal", negate=True)),
    **dict.fromkeys(("lt", "less", "__lt__"), _compare("Less")),
    **dict.fromkeys(("le", "less_equal", "__le__"), _compare("LessOrEqual")),
    **dict.fromkeys(("gt", "greater", "__gt__"), _compare("Greater")),
    **dict.fromkeys(("ge", "greater_equal", "__ge__"), _compare("GreaterOrEqual")),
    **dict.fromkeys(("bitwise_and", "__and__", "__rand__"), _bitwise("And")),
    **dict.fromkeys(("bitwise_or", "__or__", "__ror__"), _bitwise("Or")),
    **dict.fromkeys(("bitwise_xor", "__xor__", "__rxor__"), _bitwise("Xor")),
    "logical_and": _logical("And"), "logical_or": _logical("Or"), "logical_xor": _logical("Xor"),
    **dict.fromkeys(("logical_not", "__invert__", "bitwise_not"), _logical_not),
    **dict.fromkeys(("masked_fill", "masked_fill_"), _masked_fill),
    "where": _where,
}
