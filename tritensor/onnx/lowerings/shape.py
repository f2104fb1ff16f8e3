"""Lowerings of view and shape ops: view/reshape/flatten/(un)squeeze, expand, pad, permute/transpose, unbind,
cat/stack."""

from __future__ import annotations

import math
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


def size_formula(g: GraphContext, sources: list, a: int, b: int) -> str | None:
    """A 1-element int64 value computing a size that, in both runs, is one or two dims of a source (the reshaped
    input, then the graph inputs) times a constant (B, B*H, T*B, ...), read from that source's Shape; None when
    there is no such formula."""
    for name, in_a, in_b in sources:
        dims = range(len(in_a))
        for group in [(j,) for j in dims] + [(j, k) for j in dims for k in dims if j < k]:
            pa, pb = math.prod(in_a[j] for j in group), math.prod(in_b[j] for j in group)
            if pa and a % pa == 0 and pb * (a // pa) == b:
                value = g.op("Gather", [g.op("Shape", [name]), g.ints(group)], axis=0)
                if len(group) == 2:
                    value = g.op("ReduceProd", [value], keepdims=1)
                return value if a == pa else g.op("Mul", [value, g.ints([a // pa])])
    return None


def _probed_target(g: GraphContext, name: str, x: Any, out: Any, node: Node) -> str:
    """Reshape's shape input when a probe run saw how every size moves with the dynamic axes: sizes that did not
    move are constants, one that moved at the position of an input dim that moved alike is 0 (copied), one more
    is -1, and any further one a formula of the input's dims or of a graph input's (Shape + Gather, times a
    constant: (L*B, E) -> (L, B, E) reads B from the graph input when L is dynamic too)."""
    (in_a, in_b), (out_a, out_b) = g.probe[id(x)], g.probe[id(out)]
    target: list[int] = list(out_a)
    moved = []
    for i, (a, b) in enumerate(zip(out_a, out_b)):
        if a != b and i < len(in_a) and (in_a[i], in_b[i]) == (a, b):
            target[i] = 0
        elif a != b:
            moved.append(i)
    if moved:
        target[moved[0]] = -1
    if len(moved) <= 1:
        return g.ints(target)
    sources = [(name, in_a, in_b), *g.probed_inputs]
    pieces = []
    for i, size in enumerate(target):
        piece = size_formula(g, sources, out_a[i], out_b[i]) if i in moved[1:] else g.ints([size])
        if piece is None:
            raise unsupported(node, f"reshapes to a size (dim {i}) that follows the dynamic axes as no product of "
                                    "dims of its input or of a graph input (no formula for it)")
        pieces.append(piece)
    return g.op("Concat", pieces, axis=0)


def _reshape(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    x = positional(a, 1)[0]
    out = node.outputs[0]
    if tuple(x.shape) == tuple(out.shape):
        return [g.tensor(x)]
    name = g.tensor(x)
    steps = g.leading.get(name)
    if id(x) in g.probe and id(out) in g.probe:
        return [g.op("Reshape", [name, _probed_target(g, name, x, out, node)])]
    if steps is not None and out.dim() >= 2 and out.shape[0] == steps and x.shape[0] == steps * out.shape[1]:
        target = [steps, -1, *out.shape[2:]]  # time-major rows (T*B, ...) -> (T, B, ...): B stays dynamic
    else:
        target = reshape_target(tuple(x.shape), tuple(out.shape))
    return [g.op("Reshape", [name, g.ints(target)])]


def _perm(g: GraphContext, x: Any, perm: list[int]) -> str:
    return g.op("Transpose", [g.tensor(x)], perm=perm)


def _expand(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """ONNX Expand broadcasts both ways, so a target size of 1 keeps the input's (possibly dynamic) size: every
    dim the input already has at full size is 1; a new size that follows the dynamic axes (probe run) is read
    from a graph input's Shape; any other is the traced constant."""
    x = positional(a, 1)[0]
    out = node.outputs[0]
    lead = out.dim() - x.dim()
    shapes = g.probe.get(id(out))
    pieces, dynamic = [], False
    for i, size in enumerate(out.shape):
        if i >= lead and x.shape[i - lead] == size:
            pieces.append(g.ints([1]))
        elif shapes is not None and shapes[0][i] != shapes[1][i]:
            piece = size_formula(g, list(g.probed_inputs), shapes[0][i], shapes[1][i])
            if piece is None:
                raise unsupported(node, f"expands dim {i} to a size that follows the dynamic axes as no product "
                                        "of a graph input's dims")
            pieces.append(piece)
            dynamic = True
        else:
            pieces.append(g.ints([size]))
    target = g.op("Concat", pieces, axis=0) if dynamic else g.ints(
        [1 if i >= lead and x.shape[i - lead] == size else size for i, size in enumerate(out.shape)])
    return [g.op("Expand", [g.tensor(x), target])]


def _pad(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """F.pad's (left, right) pairs, last dim first, as ONNX Pad's begins then ends over every dim."""
    x = positional(a, 1)[0]
    pads, mode = varargs(a["pad"]), a.get("mode", "constant")
    begins, ends = [0] * x.dim(), [0] * x.dim()
    for k in range(len(pads) // 2):
        begins[x.dim() - 1 - k], ends[x.dim() - 1 - k] = pads[2 * k], pads[2 * k + 1]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    if onnx_mode == "wrap" and g.opset < 19:
        raise unsupported(node, "in 'circular' mode needs opset_version >= 19 (Pad mode 'wrap')")
    inputs = [g.tensor(x), g.ints(begins + ends)]
    if mode == "constant":
        inputs.append(g.value(a.get("value") or 0, x.dtype))
    return [g.op("Pad", inputs, mode=onnx_mode)]


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
    **dict.fromkeys(("expand", "expand_as", "broadcast_to"), _expand),
    "pad": _pad, "permute": _permute, **dict.fromkeys(("transpose", "swapaxes", "swapdims"), _transpose), "t": _t,
    "unbind": _unbind, **dict.fromkeys(("cat", "concat", "concatenate"), _cat), "stack": _stack,
    "__setitem__": _no_index,
}
