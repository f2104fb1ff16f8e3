"""The backward pass: walk the graph from the outputs in reverse topological order.

Gradients for a node's outputs are summed as they arrive; a node runs once, after every node that
feeds it, with the summed gradients (so hooks see each gradient once per backward). Saved tensors
are freed after use unless retain_graph is set. With `inputs`, only the part of the graph that
leads to them runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from . import function as F
from .function import AccumulateGrad, Node
from .grad_mode import enable_grad, no_grad, state


def _topological_order(roots: list[Node]) -> list[Node]:
    """Nodes reachable from roots, each after all nodes that feed gradients into it."""
    order: list[Node] = []
    seen = set()
    stack = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for nxt, _ in node._edges:
            if nxt is not None and nxt not in seen:
                stack.append((nxt, False))
    order.reverse()
    return order


def _needed(order: list[Node], targets: set) -> set:
    """The nodes from which some target node is reachable (targets included)."""
    needed = set()
    for node in reversed(order):
        if node in targets:
            needed.add(node)
            continue
        for nxt, _ in node._edges:
            if nxt is not None and nxt in needed:
                needed.add(node)
                break
    return needed


def _call_backward(node: F.Function, grads: list, create_graph: bool) -> tuple:
    if node.backward_fused is not None and not create_graph:
        result = node.backward_fused(*grads)
    else:
        result = type(node).backward(node, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_inputs = len(node._edges)
    if len(result) != n_inputs:
        if len(result) < n_inputs or (node.differentiable_forward and any(g is not None for g in result[n_inputs:])):
            raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                               f"(expected {n_inputs}, got {len(result)})")
        result = result[:n_inputs]
    return result


def _check_custom_grads(node: F.Function, result: tuple) -> tuple:
    """A custom backward's gradients must match its inputs' shapes (broadcastable ones are summed down)."""
    from ..tensor import Tensor

    fixed = None
    for i, (g, shape) in enumerate(zip(result, node._input_shapes)):
        if g is None or shape is None:
            continue
        if type(g) is not Tensor:
            raise TypeError(f"function {node.name()} returned a gradient of type {type(g).__name__} at index {i}; "
                            "expected a Tensor or None")
        if g._shape != shape:
            from ..ops.dispatch import broadcast_shapes, sum_to

            try:
                ok = broadcast_shapes(g._shape, shape) == g._shape
            except RuntimeError:
                ok = False
            if not ok:
                raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(g._shape)} but expected shape compatible with {list(shape)}")
            if fixed is None:
                fixed = list(result)
            fixed[i] = sum_to(g, shape)
    return result if fixed is None else tuple(fixed)


def _has_nan(t) -> bool:
    if not t.dtype.is_floating_point:
        return False
    return bool(np.isnan(np.asarray(t.detach()._to_host_array(), dtype=np.float64)).any())


def _anomaly_context(node: Node) -> None:
    if node._trace is not None:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                      + "".join(node._trace), stacklevel=3)


def _run_tensor_hooks(hooks: dict, grad):
    for hook in list(hooks.values()):
        new = hook(grad)
        if new is not None:
            grad = new
    return grad


def _store_grad(t, g, create_graph: bool) -> None:
    """A non-leaf's .grad (retain_grad, or backward(inputs=[non_leaf])): a copy, summed over backward calls."""
    if create_graph:
        t._grad = g.clone() if t._grad is None else t._grad + g
    else:
        g = g.detach()
        t._grad = g.clone() if t._grad is None else (t._grad + g).detach()


def run_backward(outputs: Sequence, grad_outputs: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, accumulate: bool = True, allow_unused: bool = False):
    """Backpropagate grad_outputs from outputs. accumulate=True: into leaves' .grad (Tensor.backward; with
    `inputs`, into those tensors' .grad only); False: return the gradients of `inputs` (autograd.grad), leaving
    every .grad untouched."""
    from ..tensor import Tensor

    roots = []
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append(t._edge())
    order = _topological_order([n for n, _ in roots])

    # Where each requested input's gradient is caught: its node (leaf accumulator or producing op) and slot.
    capture: dict[tuple, list[int]] = {}
    captured: list = []
    needed = None
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs to differentiate must be Tensors, got {type(t).__name__} at index {i}")
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (index {i}) does not require grad")
            capture.setdefault(t._edge(), []).append(i)
        captured = [None] * len(inputs)
        needed = _needed(order, {node for node, _ in capture})
        order = [n for n in order if n in needed]

    retained: dict[tuple, list] = {}
    if accumulate and F.retaining:
        for ref in list(F.retaining.values()):
            t = ref()
            if t is not None and t.grad_fn is not None:
                retained.setdefault((t.grad_fn, t._output_nr), []).append(t)

    pending: dict[Node, list] = {}
    for (node, nr), g in zip(roots, grad_outputs):
        buf = pending.get(node)
        if buf is None:
            buf = pending[node] = [None] * node._num_outputs
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    anomaly = state.anomaly
    with enable_grad() if create_graph else no_grad():
        for node in order:
            grads = pending.pop(node, None)
            if grads is None:
                continue
            is_leaf = type(node) is AccumulateGrad
            # Tensor hooks, then retain_grad and capture: all see the gradient summed over every consumer.
            tensor_hooks = node.variable._hooks if is_leaf else node._hooks
            if tensor_hooks:
                if is_leaf:
                    if grads[0] is not None:
                        grads[0] = _run_tensor_hooks(tensor_hooks, grads[0])
                else:
                    for nr, hooks in tensor_hooks.items():
                        if hooks and grads[nr] is not None:
                            grads[nr] = _run_tensor_hooks(hooks, grads[nr])
            if retained and not is_leaf:
                for nr, g in enumerate(grads):
                    if g is not None:
                        for t in retained.get((node, nr), ()):
                            _store_grad(t, g, create_graph)
            if capture:
                for nr, g in enumerate(grads):
                    for i in capture.get((node, nr), ()):
                        if accumulate:
                            # (a retain_grad tensor got its .grad just above)
                            if not is_leaf and g is not None and not inputs[i]._retains_grad:
                                _store_grad(inputs[i], g, create_graph)
                        elif g is not None:
                            captured[i] = g if captured[i] is None else captured[i] + g
            if is_leaf:
                if accumulate and grads[0] is not None:
                    node.variable._accumulate_grad(grads[0], create_graph)
                continue
            if node._pre_hooks:
                for hook in list(node._pre_hooks):
                    new = hook(tuple(grads))
                    if new is not None:
                        grads = list(new)
            if node._materialize_grads and node._num_outputs > 1 and None in grads:
                grads = [g if g is not None else _zeros_for(node, i) for i, g in enumerate(grads)]
            if anomaly:
                try:
                    result = _call_backward(node, grads, create_graph)
                except Exception:
                    _anomaly_context(node)
                    raise
            else:
                result = _call_backward(node, grads, create_graph)
            if node._input_shapes is not None:
                result = _check_custom_grads(node, result)
            if node._post_hooks:
                for hook in list(node._post_hooks):
                    new = hook(tuple(result), tuple(grads))
                    if new is not None:
                        result = tuple(new)
            if anomaly and state.check_nan:
                for i, g in enumerate(result):
                    if g is not None and _has_nan(g):
                        _anomaly_context(node)
                        raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
            if not retain_graph:
                node._free()
            for (nxt, nr), g in zip(node._edges, result):
                if nxt is None or g is None or (needed is not None and nxt not in needed):
                    continue
                buf = pending.get(nxt)
                if buf is None:
                    buf = pending[nxt] = [None] * nxt._num_outputs
                buf[nr] = g if buf[nr] is None else buf[nr] + g
    if inputs is not None and not accumulate:
        for g in captured:
            if g is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        return tuple(captured)
    return None


def _zeros_for(node, output_nr: int):
    meta = node._output_meta
    if meta is None or meta[output_nr] is None:
        return None
    from ..creation import zeros

    shape, dtype, device = meta[output_nr]
    return zeros(shape, dtype=dtype, device=device)
