"""Lowerings of view and shape ops: view/reshape/flatten/(un)squeeze, permute/transpose, unbind, cat/stack."""

from __future__ import annotations

from typing import Any

from ..graph import GraphContext
from ..trace import Node
from ._common import positional, unsupported, varargs


def reshape_target(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Reshape's shape input for a traced in -> out reshape that stays right when leading sizes change (a
    dynamic batch): the leading dims out shares with in are 0 (ONNX copies them from the input), and when some
    input dims are not copied, the first remaining dim is -1 (inferred): (B, C, H, W) -> (B, C*H*W) is [0, -1],
    (B, T, C) -> (B*T, C) is [-1, C]. At the traced shapes it is exactly out_shape."""
    target = list(out_shape)
    copied = 0
    while (copied < min(len(in_shape), len(out_shape)) and in_shape[copied] == out_shape[copied]
           and in_shape[copied] != 0):
        target[copied] = 0
        copied += 1
    if copied < len(in_shape) and copied < len(out_shape) and 0 not in out_shape:
        target[copied] = -1
    return target


def _reshape(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = positional(a, 1)[0]
    out = node.outputs[0]
    if tuple(x.shape) == tuple(out.shape):
        return [g.tensor(x)]
    name = g.tensor(x)
    steps = g.leading.get(name)
    if steps is not None and out.dim() >= 2 and out.shape[0] == steps and x.shape[0] == steps * out.shape[1]:
        target = [steps, -1, *out.shape[2:]]  # time-major rows (T*B, ...) -> (T, B, ...): B stays dynamic
    else:
        target = reshape_target(tuple(x.shape), tuple(out.shape))
    return [g.op("Reshape", [name, g.ints(target)])]


def _perm(g: GraphContext, x: Any, perm: list[int]) -> str:
    return g.op("Transpose", [g.tensor(x)], perm=perm)


def _permute(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = positional(a, 1)[0]
    dims = varargs(a["dims"])
    return [_perm(g, x, [d % x.dim() for d in dims])]


def _transpose(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x, d0, d1 = positional(a, 3)
    perm = list(range(x.dim()))
    d0, d1 = d0 % max(x.dim(), 1), d1 % max(x.dim(), 1)
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return [_perm(g, x, perm)]


def _t(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = positional(a, 1)[0]
    return [_perm(g, x, [1, 0])] if x.dim() == 2 else [g.tensor(x)]


def _unbind(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = positional(a, 1)[0]
    dim = int(a.get("dim", 0)) % x.dim()
    n = x.shape[dim]
    parts = g.op("Split", [g.tensor(x), g.ints([1] * n)], n_out=n, axis=dim)
    parts = [parts] if n == 1 else parts
    return [g.op("Squeeze", [p, g.ints([dim])]) for p in parts]


def _cat(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    tensors, dim = positional(a, 2)
    out = node.outputs[0]
    axis = int(dim) % out.dim()
    names = [g.tensor(t, out.dtype) for t in tensors]
    result = g.op("Concat", names, axis=axis)
    steps = {g.leading.get(n) for n in names}
    if axis > 0 and len(steps) == 1 and None not in steps:  # bidirectional rows stay time-major rows
        g.leading[result] = steps.pop()
    return [result]


def _stack(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    tensors, dim = positional(a, 2)
    out = node.outputs[0]
    axis = int(dim) % out.dim()
    parts = [g.op("Unsqueeze", [g.tensor(t, out.dtype), g.ints([axis])]) for t in tensors]
    return [g.op("Concat", parts, axis=axis)]


def _no_index(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    raise unsupported(node, "writes into a traced tensor (in-place), which ONNX cannot express")


LOWERINGS = {
    **dict.fromkeys(("view", "reshape", "flatten", "unflatten", "view_as", "reshape_as", "squeeze", "unsqueeze"),
                    _reshape),
    "permute": _permute, **dict.fromkeys(("transpose", "swapaxes", "swapdims"), _transpose), "t": _t,
    "unbind": _unbind, **dict.fromkeys(("cat", "concat", "concatenate"), _cat), "stack": _stack,
    "__setitem__": _no_index,
}
