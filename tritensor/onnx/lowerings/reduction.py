"""Lowerings of reductions over dims: mean and sum (ONNX ReduceMean / ReduceSum)."""

from __future__ import annotations

from typing import Any

from ..graph import GraphContext
from ..trace import Node
from ._common import positional, reduce_over, unsupported


def _reduce(op_type: str):
    def lower(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
        x = positional(a, 1)[0]
        if a.get("dtype") is not None:
            raise unsupported(node, "with dtype= has no ONNX lowering yet")
        dim = a.get("dim")
        dims = list(range(x.dim())) if dim is None or dim == () else ([dim] if isinstance(dim, int) else list(dim))
        axes = [int(d) % max(x.dim(), 1) for d in dims]
        keep = int(bool(a.get("keepdim", False)))
        return [reduce_over(g, op_type, g.tensor(x, node.outputs[0].dtype), axes, keep)]
    return lower


LOWERINGS = {"mean": _reduce("ReduceMean"), "sum": _reduce("ReduceSum")}
