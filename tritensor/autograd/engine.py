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
from .custom_grads import check_custom_grads
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


def _needed_dependencies(starts: list[Node], targets: set) -> tuple[set, dict]:
    """The nodes from which some target node is reachable (targets included), and each one's dependency count
    over the edges between them (see _dependencies): one pass over the reachable nodes, those a node feeds
    first, so that whether a node is needed is known before any node feeding it is looked at."""
    needed: set = set()
    deps: dict = {}
    for node in reversed(_topological_order(starts)):
        hit = node in targets
        for nxt, _ in node._edges:
            if nxt in needed:  # (None never is)
                hit = True
                deps[nxt] = deps.get(nxt, 0) + 1
        if hit:
            needed.add(node)
    return needed, deps


def _dependencies_into(roots: list[Node], targets: set) -> dict | None:
    """_dependencies when every node that feeds no other (a leaf's AccumulateGrad, mostly) is a target: then every
    reachable node leads to one, and none is pruned (the everyday autograd.grad(loss, params)). None when some
    such node is not a target (_needed_dependencies prunes the graph)."""
    deps: dict = {}
    stack = list(roots)
    starts = set(roots)  # already on the stack: a root that another root feeds is walked once, not twice
    while stack:
        node = stack.pop()
        feeds = False
        for nxt, _ in node._edges:
            if nxt is None:
                continue
            feeds = True
            count = deps.get(nxt)
            if count is None:
                deps[nxt] = 1
                if nxt not in starts:
                    stack.append(nxt)
            else:
                deps[nxt] = count + 1
        if not feeds and node not in targets:
            return None
    return deps


def _dependencies(roots: list[Node]) -> dict:
    """node -> how many edges from the reachable nodes lead into it: a node may run once that many of its feeders
    have run (Kahn's algorithm; one pass over the graph). Every node an edge of a reachable node leads to is a
    key (the engine's test of whether a gradient is sent along an edge at all)."""
    deps: dict = {}
    stack = list(roots)
    starts = set(roots)  # already on the stack: a root that another root feeds is walked once, not twice
    while stack:
        for nxt, _ in stack.pop()._edges:
            if nxt is None:
                continue
            count = deps.get(nxt)
            if count is None:
                deps[nxt] = 1
                if nxt not in starts:
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
    return result if type(result) is tuple and len(result) == len(node._edges) else _call_result(node, result)


def _call_result(node: F.Function, result) -> tuple:
    """A backward's result as a tuple of one gradient per input (see _check_count)."""
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
_EMPTY: dict = {}  # a task's capture, retained, watched and deps until it has its own (never written to)


class _GraphTask:
    """The state of one backward pass: the options, the gradients waiting for each node, what is captured."""

    __slots__ = ("retain_graph", "create_graph", "accumulate", "anomaly", "inputs", "capture", "captured", "deps",
                 "retained", "pending", "watched")

    def __init__(self, retain_graph: bool, create_graph: bool, accumulate: bool):
        self.retain_graph = retain_graph
        self.create_graph = create_graph
        self.accumulate = accumulate
        self.anomaly = state.anomaly
        self.inputs = None
        # Where each requested input's gradient is caught: its node (leaf accumulator or producing op) and slot.
        # The empty defaults are shared (collect_* make the task's own): most passes capture and retain nothing.
        self.capture: dict[tuple, list[int]] = _EMPTY
        self.captured: list = []
        self.retained: dict[tuple, list] = _EMPTY  # (grad_fn, output_nr) -> the retain_grad tensors it produces
        self.watched = _EMPTY  # the non-leaf nodes whose output gradients are captured or retained
        self.pending: dict[Node, list] = {}  # node -> the sums of the gradients of its outputs so far
        # node -> how many of its feeders are still to run; a node is a key exactly when a gradient may be sent
        # to it (with inputs, only the nodes that lead to one of them: the others do not run)
        self.deps: dict = _EMPTY

    # -- collect ---------------------------------------------------------------------------------------------

    def collect_inputs(self, inputs: Sequence) -> None:
        capture: dict[tuple, list[int]] = {}
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs to differentiate must be Tensors, got {type(t).__name__} at index {i}")
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (index {i}) does not require grad")
            fn = t.grad_fn  # (t._edge(), inlined)
            capture.setdefault((fn, t._output_nr) if fn is not None else (t._grad_node(), 0), []).append(i)
        self.capture = capture
        self.watched = {node for node, _ in capture if type(node) is not AccumulateGrad}
        self.inputs = inputs
        self.captured = [None] * len(inputs)

    def collect_retained(self) -> None:
        """The retain_grad tensors, by their *current* grad_fn (so .grad follows in-place ops, as in PyTorch)."""
        retained: dict[tuple, list] = {}
        for ref in list(F.retaining.values()):
            t = ref()
            if t is not None and t.grad_fn is not None:
                retained.setdefault((t.grad_fn, t._output_nr), []).append(t)
        if retained:
            self.retained = retained
            self.watched = {node for node, _ in retained}.union(self.watched)

    def seed(self, roots: list, grad_outputs: Sequence) -> None:
        pending = self.pending
        for (node, nr), g in zip(roots, grad_outputs):
            _add_to(pending, node, nr, g)

    # -- order -----------------------------------------------------------------------------------------------

    def schedule(self, roots: list) -> list[Node]:
        """The nodes that may run first (the roots no other root feeds), and every other node's dependency count
        (self.deps)."""
        if len(roots) == 1:
            starts = [roots[0][0]]
            if self.inputs is None:  # one root, the whole graph: it runs first
                self.deps = _dependencies(starts)
                return starts
        else:
            starts = list(dict.fromkeys(node for node, _ in roots))
        if self.inputs is None:
            self.deps = deps = _dependencies(starts)
        else:
            targets = {node for node, _ in self.capture}
            self.deps = deps = _dependencies_into(starts, targets)
            if deps is None:
                needed, deps = _needed_dependencies(starts, targets)
                self.deps = deps
                starts = [n for n in starts if n in needed]
        ready = [n for n in starts if n not in deps]
        ready.reverse()  # the first root runs first
        return ready

    # -- run -------------------------------------------------------------------------------------------------

    def run(self, ready: list[Node]) -> None:
        """Run each node once all its feeders have, depth first: a node's inputs are explored in edge order, and
        a leaf's AccumulateGrad (or a chain of single-input nodes that only leads into one, such as a weight's
        transpose) runs as soon as its last feeder has. So a layer's gradients are in .grad as soon as that
        layer's backward is done, and the hooks DistributedDataParallel registers can start that bucket's
        all-reduce while the earlier layers' backward still runs.

        A built-in op's node with no hooks and one output (`_inline`), whose gradients nothing captures or retains, runs
        inline, its gradients sent on in the pass over its edges that counts down their dependencies; the others
        go through run_node (all of them while tritensor.profiler records or in anomaly mode: run_watched)."""
        observer = node_observer.fn  # read once per backward: the profiler's, or None
        if observer is not None or self.anomaly:
            self.run_watched(ready, observer)
            return
        pending, deps, watched = self.pending, self.deps, self.watched
        run_node, run_leaf = self.run_node, self.run_leaf
        create_graph, free = self.create_graph, not self.retain_graph
        known: dict = {}
        while ready:
            node = ready.pop()
            grads = pending.pop(node, None)
            result = _NO_GRADS  # what the node sends along each edge (nothing when it does not run here)
            if grads is None:
                pass
            elif type(node) is AccumulateGrad:
                run_leaf(node, grads)
            elif not node._inline or (watched and node in watched):
                run_node(node, grads, node in watched)
            else:  # (_call_backward, inlined)
                fused = node.backward_fused
                result = fused(*grads) if fused is not None and not create_graph else type(node).backward(node, *grads)
                if type(result) is not tuple or len(result) != len(node._edges):
                    result = _call_result(node, result)
                if free:
                    node._free()
            fresh = []  # the nodes this one's run made ready, in edge order
            for (nxt, nr), g in zip(node._edges, result):
                if nxt is None or (count := deps.get(nxt)) is None:  # (with inputs, a node leading to none of them)
                    continue
                if g is not None:  # send (_add_to, inlined)
                    buf = pending.get(nxt)
                    if buf is None:
                        buf = pending[nxt] = [None] * nxt._num_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                count -= 1
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

    def run_watched(self, ready: list[Node], observer) -> None:
        """`run` while tritensor.profiler records (every node handed to `observer`) or in anomaly mode: each node
        through run_node, in the same order."""
        pending, deps, watched, run_node = self.pending, self.deps, self.watched, self.run_node
        known: dict = {}
        while ready:
            node = ready.pop()
            grads = pending.pop(node, None)
            if grads is not None:
                if observer is not None:
                    observer(run_node, node, grads, node in watched)
                else:
                    run_node(node, grads, node in watched)
            fresh = []
            for nxt, _ in node._edges:
                count = deps.get(nxt)  # None: no edge, or (with inputs) a node that leads to none of them
                if count is not None:
                    deps[nxt] = count - 1
                    if count == 1:
                        fresh.append(nxt)
            if fresh:
                _push(ready, fresh, known)

    def run_node(self, node: Node, grads: list, observe: bool) -> None:
        """One node: a leaf's accumulation, or hooks, backward and sending its gradients on. `observe`: whether
        its output gradients may be captured or retained."""
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
        deps = self.deps
        for (nxt, nr), g in zip(node._edges, result):
            if g is None or nxt not in deps:  # no edge, or (with inputs) a node that leads to none of them
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
            result = check_custom_grads(node, result)
        if node._post_hooks:
            result = _run_post_hooks(node, result, grads)
        if anomaly and state.check_nan:
            _check_nan(node, result)
        return result

    # -- accumulate ------------------------------------------------------------------------------------------

    def run_leaf(self, node: AccumulateGrad, grads: list) -> None:
        """A leaf: its tensor hooks, then capture (autograd.grad), then AccumulateGrad into .grad."""
        g = grads[0]
        var = node._variable()  # (the variable property, inlined)
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
        fn = t.grad_fn  # (t._edge(), inlined)
        roots.append((fn, t._output_nr) if fn is not None else (t._grad_node(), 0))
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
    ready = task.schedule(roots)
    if accumulate and F.retaining:
        task.collect_retained()
    if len(roots) == 1:  # the seed (task.seed, inlined for the everyday single output)
        node, nr = roots[0]
        buf = task.pending[node] = [None] * node._num_outputs
        buf[nr] = grad_outputs[0]
    else:
        task.seed(roots, grad_outputs)
    # Grad mode on only to record a graph of the backward (create_graph), as enable_grad / no_grad would set it.
    prev = state.enabled
    state.enabled = bool(create_graph)
    try:
        if autocast_state.active:
            # A backward runs in the dtypes its forward chose: autocast is off inside (custom_bwd turns it back on).
            with autocast_suspended():
                task.run(ready)
        else:
            task.run(ready)
    finally:
        state.enabled = prev
    return None if inputs is None else task.result(allow_unused)
