"""The backward pass: walk the graph from the outputs in reverse topological order.

Gradients for a node's outputs are summed as they arrive; a node runs once, after every node that
feeds it, with the summed gradients (so hooks see each gradient once per backward). Saved tensors
are freed after use unless retain_graph is set. With `inputs`, only the part of the graph that
leads to them runs.

One pass, four phases (a `_GraphTask` holds the pass's state):
  collect     the roots' edges, the captured inputs (`inputs=`), the retain_grad tensors, the seed gradients;
  schedule    each reachable node's dependency count (pruned to the nodes that lead to a captured input);
  run         each node once, when its feeders have run: tensor hooks, pre-hooks, backward (with anomaly
              checks), post-hooks, freeing its saved state unless retain_graph, then passing its gradients on
              to the nodes it feeds (through `node_observer.fn` while tritensor.profiler records);
  accumulate  a leaf's AccumulateGrad into .grad, retain_grad copies, and the gradients autograd.grad returns.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from ..autocast_state import state as autocast_state
from ..autocast_state import suspended as autocast_suspended
from ..tensor import Tensor
from . import function as F
from .function import AccumulateGrad, Node
from .grad_mode import state

_getrefcount = sys.getrefcount
# The gradients a node that did not run sends along its edges (none): zip stops at the edges' end.
_NO_GRADS = itertools.repeat(None)


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


def _dependencies(roots: list[Node], needed: set | None) -> dict:
    """node -> how many edges from the reachable (and needed) nodes lead into it: a node may run once that many
    of its feeders have run (Kahn's algorithm; one pass over the graph)."""
    deps: dict = {}
    stack = list(roots)
    while stack:
        for nxt, _ in stack.pop()._edges:
            if nxt is None or (needed is not None and nxt not in needed):
                continue
            count = deps.get(nxt)
            if count is None:
                deps[nxt] = 1
                stack.append(nxt)
            else:
                deps[nxt] = count + 1
    return deps


def _feeds_a_leaf(node: Node, known: dict) -> bool:
    """A leaf's AccumulateGrad, or a chain of single-input nodes that only leads into one (a weight's transpose).
    `known` remembers the answer for every node of the chain walked."""
    chain = []
    while True:
        answer = known.get(node)
        if answer is not None:
            break
        if type(node) is AccumulateGrad:
            answer = True
            break
        chain.append(node)
        targets = [n for n, _ in node._edges if n is not None]
        if len(targets) != 1:
            answer = False
            break
        node = targets[0]
    for n in chain:
        known[n] = answer
    return answer


def _call_backward(node: F.Function, grads: list, create_graph: bool) -> tuple:
    if node.backward_fused is not None and not create_graph:
        result = node.backward_fused(*grads)
    else:
        result = type(node).backward(node, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    return _check_count(node, result) if len(result) != len(node._edges) else result


def _check_count(node: F.Function, result: tuple) -> tuple:
    """A backward's results past its inputs are dropped when None (or from a built-in op); too few raise."""
    n_inputs = len(node._edges)
    if len(result) < n_inputs or (node.differentiable_forward and any(g is not None for g in result[n_inputs:])):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {n_inputs}, got {len(result)})")
    return result[:n_inputs]


def _expands_to(shape: tuple, target: tuple) -> bool:
    """Whether a tensor of `shape` broadcasts to exactly `target` (so a gradient of `target` sums back to it)."""
    if len(shape) > len(target):
        return False
    lead = len(target) - len(shape)
    return all(n == m or n == 1 for n, m in zip(shape, target[lead:]))


def _sum_to(grad, shape: tuple):
    """Sum a broadcast gradient back to an input's shape (the inverse of broadcasting)."""
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad._shape[i + lead] != 1)
    out = grad.sum(dims, keepdim=True) if dims else grad
    return out.reshape(shape) if out._shape != shape else out


def _check_custom_grads(node: F.Function, result: tuple) -> tuple:
    """A custom backward's gradients must match its inputs' shapes (broadcastable ones are summed down)."""
    fixed = None
    for i, (g, shape) in enumerate(zip(result, node._input_shapes)):
        if g is None or shape is None:
            continue
        if type(g) is not Tensor:
            raise TypeError(f"function {node.name()} returned a gradient of type {type(g).__name__} at index {i}; "
                            "expected a Tensor or None")
        if g._shape != shape:
            if not _expands_to(shape, g._shape):
                raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(g._shape)} but expected shape compatible with {list(shape)}")
            if fixed is None:
                fixed = list(result)
            fixed[i] = _sum_to(g, shape)
    return result if fixed is None else tuple(fixed)


def _has_nan(t) -> bool:
    if not t.dtype.is_floating_point:
        return False
    return bool(np.isnan(np.asarray(t.detach()._to_host_array(), dtype=np.float64)).any())


def _anomaly_context(node: Node) -> None:
    # stacklevel: past this function, its caller, _GraphTask.call, run and run_backward, to autograd's entry point
    if node._trace is not None:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                      + "".join(node._trace), stacklevel=6)


def _run_tensor_hooks(hooks: dict, grad):
    for hook in list(hooks.values()):
        new = hook(grad)
        if new is not None:
            grad = new
    return grad


def _run_output_hooks(node: Node, grads: list) -> None:
    """Tensor.register_hook on a non-leaf's outputs, in place on grads (each sees the summed gradient)."""
    for nr, hooks in node._hooks.items():
        if hooks and grads[nr] is not None:
            grads[nr] = _run_tensor_hooks(hooks, grads[nr])


def _run_pre_hooks(node: Node, grads: list) -> list:
    for hook in list(node._pre_hooks):
        new = hook(tuple(grads))
        if new is not None:
            grads = list(new)
    return grads


def _run_post_hooks(node: Node, result: tuple, grads: list) -> tuple:
    for hook in list(node._post_hooks):
        new = hook(tuple(result), tuple(grads))
        if new is not None:
            result = tuple(new)
    return result


def _check_nan(node: Node, result: tuple) -> None:
    for i, g in enumerate(result):
        if g is not None and _has_nan(g):
            _anomaly_context(node)
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _call_backward_anomaly(node: F.Function, grads: list, create_graph: bool) -> tuple:
    """_call_backward in anomaly mode: a failing backward names the forward call that made the node."""
    try:
        result = _call_backward(node, grads, create_graph)
    except Exception:
        _anomaly_context(node)
        raise
    return result


def _materialize(node: F.Function, grads: list) -> list:
    """Zeros for the outputs that got no gradient (Function.set_materialize_grads, the default)."""
    return [g if g is not None else _zeros_for(node, i) for i, g in enumerate(grads)]


def _zeros_for(node, output_nr: int):
    meta = node._output_meta
    if meta is None or meta[output_nr] is None:
        return None
    shape, dtype, device = meta[output_nr]
    return Tensor._full(shape, 0, dtype, device)


def _store_grad(t, g, create_graph: bool) -> None:
    """A non-leaf's .grad (retain_grad, or backward(inputs=[non_leaf])): a copy, summed over backward calls."""
    if create_graph:
        t._grad = g.clone() if t._grad is None else t._grad + g
    else:
        g = g.detach()
        t._grad = g.clone() if t._grad is None else (t._grad + g).detach()


def _add_to(pending: dict, node: Node, nr: int, g) -> None:
    buf = pending.get(node)
    if buf is None:
        buf = pending[node] = [None] * node._num_outputs
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _push(ready: list, fresh: list, known: dict) -> None:
    """Put the nodes one node's run made ready (in edge order) on the stack: leaves (and chains into one) on top,
    so that they run first; each group popped in edge order (a stable partition, as sorting on "not a leaf"
    was, without a key call per node)."""
    if len(fresh) > 1:
        leaves = [n for n in fresh if type(n) is AccumulateGrad or _feeds_a_leaf(n, known)]
        if 0 < len(leaves) < len(fresh):  # _feeds_a_leaf has put its answer for each in `known`
            fresh = leaves + [n for n in fresh if type(n) is not AccumulateGrad and not known[n]]
        fresh.reverse()
    ready += fresh


class _NodeObserver:
    """The slot a profiler fills to see every node the engine runs: `fn` is None, or
    `fn(run_node, node, grads, observe)`, which must call `run_node(node, grads, observe)` once. Read once per
    backward call, so a backward with no profiler pays one attribute read."""

    __slots__ = ("fn",)

    def __init__(self) -> None:
        self.fn = None


node_observer = _NodeObserver()


class _GraphTask:
    """The state of one backward pass: the options, the gradients waiting for each node, what is captured."""

    __slots__ = ("retain_graph", "create_graph", "accumulate", "anomaly", "inputs", "capture", "captured", "needed",
                 "retained", "pending")

    def __init__(self, retain_graph: bool, create_graph: bool, accumulate: bool):
        self.retain_graph = retain_graph
        self.create_graph = create_graph
        self.accumulate = accumulate
        self.anomaly = state.anomaly
        self.inputs = None
        # Where each requested input's gradient is caught: its node (leaf accumulator or producing op) and slot.
        self.capture: dict[tuple, list[int]] = {}
        self.captured: list = []
        self.needed = None  # with inputs: the nodes that lead to one of them (the others do not run)
        self.retained: dict[tuple, list] = {}  # (grad_fn, output_nr) -> the retain_grad tensors it produces
        self.pending: dict[Node, list] = {}  # node -> the sums of the gradients of its outputs so far

    # -- collect ---------------------------------------------------------------------------------------------

    def collect_inputs(self, inputs: Sequence) -> None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs to differentiate must be Tensors, got {type(t).__name__} at index {i}")
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (index {i}) does not require grad")
            self.capture.setdefault(t._edge(), []).append(i)
        self.inputs = inputs
        self.captured = [None] * len(inputs)

    def collect_retained(self) -> None:
        """The retain_grad tensors, by their *current* grad_fn (so .grad follows in-place ops, as in PyTorch)."""
        for ref in list(F.retaining.values()):
            t = ref()
            if t is not None and t.grad_fn is not None:
                self.retained.setdefault((t.grad_fn, t._output_nr), []).append(t)

    def seed(self, roots: list, grad_outputs: Sequence) -> None:
        pending = self.pending
        for (node, nr), g in zip(roots, grad_outputs):
            _add_to(pending, node, nr, g)

    # -- order -----------------------------------------------------------------------------------------------

    def schedule(self, roots: list) -> tuple[list[Node], dict]:
        """The nodes that may run first (the roots no other root feeds) and every other node's dependency count."""
        starts = [roots[0][0]] if len(roots) == 1 else list(dict.fromkeys(node for node, _ in roots))
        if self.inputs is not None:
            self.needed = needed = _needed(_topological_order(starts), {node for node, _ in self.capture})
            starts = [n for n in starts if n in needed]
        deps = _dependencies(starts, self.needed)
        ready = [n for n in starts if n not in deps]
        ready.reverse()  # the first root runs first
        return ready, deps

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ready: list[Node], deps: dict) -> None:
        """Run each node once all its feeders have, depth first: a node's inputs are explored in edge order, and
        a leaf's AccumulateGrad (or a chain of single-input nodes that only leads into one, such as a weight's
        transpose) runs as soon as its last feeder has. So a layer's gradients are in .grad as soon as that
        layer's backward is done, and the hooks DistributedDataParallel registers can start that bucket's
        all-reduce while the earlier layers' backward still runs."""
        observe = bool(self.retained or self.capture)
        observer = node_observer.fn  # read once per backward: the profiler's, or None
        if observer is None and not observe and not self.anomaly and self.needed is None:
            self.run_plain(ready, deps)
            return
        pending = self.pending
        needed = self.needed
        run_node = self.run_node
        known: dict = {}
        while ready:
            node = ready.pop()
            grads = pending.pop(node, None)
            if grads is not None:
                if observer is not None:
                    observer(run_node, node, grads, observe)
                else:
                    run_node(node, grads, observe)
            fresh = None  # the nodes this one's run made ready, in edge order
            for nxt, _ in node._edges:
                if nxt is None or (needed is not None and nxt not in needed):
                    continue
                count = deps[nxt] - 1
                deps[nxt] = count
                if count == 0:
                    if fresh is None:
                        fresh = [nxt]
                    else:
                        fresh.append(nxt)
            if fresh is not None:
                _push(ready, fresh, known)

    def run_plain(self, ready: list[Node], deps: dict) -> None:
        """`run` when nothing watches the nodes (no profiler, retain_grad, captured input or anomaly mode) and the
        whole graph runs: a built-in op's node with no hooks and one output runs inline, its gradients sent on in
        the pass over its edges that counts down their dependencies; the others go through run_node."""
        pending = self.pending
        run_node, run_leaf = self.run_node, self.run_leaf
        create_graph, free = self.create_graph, not self.retain_graph
        known: dict = {}
        while ready:
            node = ready.pop()
            grads = pending.pop(node, None)
            result = _NO_GRADS  # what the node sends along each edge (nothing when it does not run here)
            if grads is not None:
                if type(node) is AccumulateGrad:
                    run_leaf(node, grads)
                elif (node.differentiable_forward or node._hooks or node._pre_hooks or node._post_hooks
                      or node._num_outputs != 1):
                    run_node(node, grads, False)
                else:
                    result = _call_backward(node, grads, create_graph)
                    if free:
                        node._free()
            fresh = []  # the nodes this one's run made ready, in edge order
            for (nxt, nr), g in zip(node._edges, result):
                if nxt is None:
                    continue
                if g is not None:  # send (_add_to, inlined)
                    buf = pending.get(nxt)
                    if buf is None:
                        buf = pending[nxt] = [None] * nxt._num_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                count = deps[nxt] - 1
                deps[nxt] = count
                if count == 0:
                    fresh.append(nxt)
            # Hold no gradient past its send: a leaf's accumulation takes the gradient as .grad without a copy
            # only when nothing else refers to it (run_leaf's getrefcount).
            g = None
            if len(fresh) == 1:
                ready.append(fresh[0])
            elif fresh:
                _push(ready, fresh, known)

    def run_node(self, node: Node, grads: list, observe: bool) -> None:
        """One node: a leaf's accumulation, or hooks, backward and sending its gradients on."""
        if type(node) is AccumulateGrad:
            self.run_leaf(node, grads)
            return
        # Tensor hooks, then retain_grad and capture: all see the gradient summed over every consumer.
        if node._hooks:
            _run_output_hooks(node, grads)
        if observe:
            self.observe(node, grads)
        if node._pre_hooks:
            grads = _run_pre_hooks(node, grads)
        if node._materialize_grads and node._num_outputs > 1 and None in grads:
            grads = _materialize(node, grads)
        result = self.call(node, grads)
        if not self.retain_graph:
            node._free()
        # send: add the input gradients to the pending sums of the nodes they flow into
        pending = self.pending
        needed = self.needed
        for (nxt, nr), g in zip(node._edges, result):
            if nxt is None or g is None or (needed is not None and nxt not in needed):
                continue
            buf = pending.get(nxt)
            if buf is None:
                buf = pending[nxt] = [None] * nxt._num_outputs
            buf[nr] = g if buf[nr] is None else buf[nr] + g

    def call(self, node: F.Function, grads: list) -> tuple:
        """The node's backward, its results checked (custom Functions, anomaly mode) and post-hooked."""
        anomaly = self.anomaly
        if anomaly:
            result = _call_backward_anomaly(node, grads, self.create_graph)
        else:
            result = _call_backward(node, grads, self.create_graph)
        if node._input_shapes is not None:
            result = _check_custom_grads(node, result)
        if node._post_hooks:
            result = _run_post_hooks(node, result, grads)
        if anomaly and state.check_nan:
            _check_nan(node, result)
        return result

    # -- accumulate ------------------------------------------------------------------------------------------

    def run_leaf(self, node: AccumulateGrad, grads: list) -> None:
        """A leaf: its tensor hooks, then capture (autograd.grad), then AccumulateGrad into .grad."""
        g = grads[0]
        var = node.variable
        if var is None:  # a leaf the program dropped: no .grad anyone can read, no hooks (they keep it)
            return
        hooks = var._hooks
        if hooks and g is not None:
            grads[0] = g = _run_tensor_hooks(hooks, g)
        if self.capture:
            self.capture_grads(node, grads, True)
        if self.accumulate and g is not None:
            held = var._grad
            # A plain Tensor is dense: the is_sparse property is asked of subclasses only.
            if ((type(g) is not Tensor and g.is_sparse)
                    or (held is not None and type(held) is not Tensor and held.is_sparse)):
                # A sparse gradient (embedding(sparse=True)) is stored as is; sums with it are out of place:
                # sparse + sparse concatenates, sparse + dense is dense (the sparse type's operators).
                var._grad = g if var._grad is None else var._grad + g
            else:
                # The gradient may become .grad itself when nothing else holds it: references from `grads`, `g`
                # and getrefcount's argument only (a gradient sent to several leaves, or kept by a hook, has more).
                owned = _getrefcount(g) == 3
                var._accumulate_grad(g, self.create_graph, owned)

    def observe(self, node: Node, grads: list) -> None:
        """A non-leaf's summed output gradients, for its retain_grad tensors and the captured inputs."""
        retained = self.retained
        if retained:
            for nr, g in enumerate(grads):
                if g is not None:
                    for t in retained.get((node, nr), ()):
                        _store_grad(t, g, self.create_graph)
        if self.capture:
            self.capture_grads(node, grads, False)

    def capture_grads(self, node: Node, grads: list, is_leaf: bool) -> None:
        capture, captured, inputs = self.capture, self.captured, self.inputs
        for nr, g in enumerate(grads):
            for i in capture.get((node, nr), ()):
                if self.accumulate:
                    # backward(inputs=[non_leaf]) fills its .grad (a retain_grad tensor's was filled already)
                    if not is_leaf and g is not None and not inputs[i]._retains_grad:
                        _store_grad(inputs[i], g, self.create_graph)
                elif g is not None:
                    captured[i] = g if captured[i] is None else captured[i] + g

    def result(self, allow_unused: bool):
        if self.inputs is None or self.accumulate:
            return None
        if not allow_unused and any(g is None for g in self.captured):
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        return tuple(self.captured)


def _roots(outputs: Sequence) -> list[tuple]:
    roots = []
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append(t._edge())
    return roots


def run_backward(outputs: Sequence, grad_outputs: Sequence, retain_graph: bool, create_graph: bool,
                 inputs: Sequence | None = None, accumulate: bool = True, allow_unused: bool = False):
    """Backpropagate grad_outputs from outputs. accumulate=True: into leaves' .grad (Tensor.backward; with
    `inputs`, into those tensors' .grad only); False: return the gradients of `inputs` (autograd.grad), leaving
    every .grad untouched."""
    task = _GraphTask(retain_graph, create_graph, accumulate)
    roots = _roots(outputs)
    if inputs is not None:
        task.collect_inputs(inputs)
    ready, deps = task.schedule(roots)
    if accumulate and F.retaining:
        task.collect_retained()
    task.seed(roots, grad_outputs)
    # Grad mode on only to record a graph of the backward (create_graph), as enable_grad / no_grad would set it.
    prev = state.enabled
    state.enabled = bool(create_graph)
    try:
        if autocast_state.active:
            # A backward runs in the dtypes its forward chose: autocast is off inside (custom_bwd turns it back on).
            with autocast_suspended():
                task.run(ready, deps)
        else:
            task.run(ready, deps)
    finally:
        state.enabled = prev
    return task.result(allow_unused)
