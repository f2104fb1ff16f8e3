"""The backward pass: walk the graph from the outputs in reverse topological order.

Gradients for a node's outputs are summed as they arrive; a node runs once all its consumers have
delivered. Saved tensors are freed after use unless retain_graph is set.
"""

from __future__ import annotations

from collections.abc import Sequence

from .function import AccumulateGrad, Function, Node
from .grad_mode import enable_grad, no_grad


def _topological_order(roots: list[Node]) -> tuple[list[Node], dict[Node, int]]:
    """Nodes reachable from roots, each after all nodes that feed gradients into it; plus in-degrees."""
    dependencies: dict[Node, int] = {}
    order: list[Node] = []
    seen = set()
    stack = [(r, False) for r in roots if r is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for nxt, _ in node.next_functions:
            if nxt is not None:
                dependencies[nxt] = dependencies.get(nxt, 0) + 1
                if nxt not in seen:
                    stack.append((nxt, False))
    order.reverse()
    return order, dependencies


def _call_backward(node: Function, grads: list, create_graph: bool):
    if node._freed:
        from .function import _FREED_MSG

        raise RuntimeError(_FREED_MSG)
    if node.backward_fused is not None and not create_graph:
        result = node.backward_fused(*grads)
    else:
        result = type(node).backward(node, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_inputs = len(node.next_functions)
    if len(result) < n_inputs:
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {n_inputs}, got {len(result)})")
    return result[:n_inputs]


def run_backward(outputs: Sequence, grad_outputs: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, accumulate: bool = True, allow_unused: bool = False):
    """Backpropagate grad_outputs from outputs. accumulate=True: into leaves' .grad (Tensor.backward);
    False: return the gradients of `inputs` (autograd.grad)."""
    from ..tensor import Tensor

    roots = []
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        roots.append(t._grad_node())
    order, _ = _topological_order(roots)

    # Where each requested input's gradient is caught: its node (leaf accumulator or producing op).
    capture: dict[tuple, int] = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor) or not t.requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (index {i}) does not require grad")
            capture[(t._grad_node(), t._output_nr if t.grad_fn is not None else 0)] = i
    captured: list = [None] * (0 if inputs is None else len(inputs))
    only_inputs = inputs is not None and accumulate  # Tensor.backward(inputs=...)

    pending: dict[Node, list] = {}
    for node, t, g in zip(roots, outputs, grad_outputs):
        buf = pending.setdefault(node, [None] * getattr(node, "_num_outputs", 1))
        nr = t._output_nr if t.grad_fn is not None else 0
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for node in order:
            grads = pending.pop(node, None)
            if grads is None:
                continue
            if node._hooks:
                for nr, hooks in node._hooks.items():
                    for hook in hooks:
                        if grads[nr] is not None:
                            new = hook(grads[nr])
                            if new is not None:
                                grads[nr] = new
            for nr, g in enumerate(grads):
                key = (node, nr)
                if key in capture:
                    captured[capture[key]] = g if captured[capture[key]] is None else captured[capture[key]] + g
            if isinstance(node, AccumulateGrad):
                if accumulate and (not only_inputs or (node, 0) in capture) and grads[0] is not None:
                    node.variable._accumulate_grad(grads[0], create_graph)
                continue
            if node._materialize_grads:
                grads = [g if g is not None else _zeros_for(node, i) for i, g in enumerate(grads)]
            result = _call_backward(node, grads, create_graph)
            if not retain_graph:
                node._free()
            for (nxt, nr), g in zip(node.next_functions, result):
                if nxt is None or g is None:
                    continue
                buf = pending.setdefault(nxt, [None] * getattr(nxt, "_num_outputs", 1))
                buf[nr] = g if buf[nr] is None else buf[nr] + g
    if inputs is not None and not accumulate:
        for g in captured:
            if g is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        return tuple(captured)
    return None


def _zeros_for(node, output_nr: int):
    shapes = getattr(node, "_output_meta", None)
    if shapes is None:
        return None
    from ..tensor import zeros

    shape, dtype, device = shapes[output_nr]
    return zeros(shape, dtype=dtype, device=device)
