"""Autograd memory: graphs are freed by reference counting alone (no cycles for the garbage collector), so a
training loop's live graph nodes and tensors stay constant from step to step."""

import gc
import weakref

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import Function
from tritensor.autograd.function import Node
from tritensor.tensor import Tensor


def _live() -> tuple[int, int]:
    nodes = tensors = 0
    for o in gc.get_objects():
        if isinstance(o, Node):
            nodes += 1
        elif isinstance(o, Tensor):
            tensors += 1
    return nodes, tensors


class Square(Function):
    """A custom op that saves its output as well as its input."""

    @staticmethod
    def forward(ctx, x):
        out = x * x
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return grad * x * 2


def _model(rng):
    w1 = tt.tensor(rng.standard_normal((4, 3)) * 0.3, requires_grad=True)
    b1 = tt.zeros(3, dtype=tt.float64, requires_grad=True)
    w2 = tt.tensor(rng.standard_normal(3) * 0.3, requires_grad=True)
    return [w1, b1, w2]


def _loss(params, x, y):
    w1, b1, w2 = params
    h = (x.unsqueeze(2) * w1).sum(1) + b1  # (8, 3)
    out = (Square.apply(h) * w2).sum(1) - h.sum(1) * 0.1
    err = out - y
    return (err * err).sum() * (1.0 / x.shape[0])


@pytest.mark.parametrize("grads", ["set_to_none", "zero_"])
def test_training_loop_does_not_grow(grads):
    rng = np.random.default_rng(0)
    params = _model(rng)
    x = tt.tensor(rng.standard_normal((8, 4)))
    y = tt.tensor(rng.standard_normal(8))
    losses, counts, graph_refs = [], [], []
    gc.collect()
    gc.disable()  # anything kept alive by a reference cycle would pile up below
    try:
        for _ in range(20):
            loss = _loss(params, x, y)
            graph_refs.append(weakref.ref(loss.grad_fn))
            loss.backward()
            losses.append(loss.item())
            with tt.no_grad():
                for p in params:
                    p.sub_(p.grad * 0.05)
            for p in params:
                if grads == "set_to_none":
                    p.grad = None
                else:
                    p.grad.zero_()
            del loss
            counts.append(_live())
    finally:
        gc.enable()
    assert all(r() is None for r in graph_refs)  # every step's graph is gone
    # the only nodes alive between steps are the leaves' own AccumulateGrad nodes, one per parameter
    assert counts[0][0] == len(params) and all(c == counts[0] for c in counts), counts
    assert losses[-1] < losses[0] * 0.9  # and it trained


def test_forward_without_backward_frees_graph():
    rng = np.random.default_rng(1)
    params = _model(rng)
    x = tt.tensor(rng.standard_normal((8, 4)))
    y = tt.tensor(rng.standard_normal(8))
    gc.collect()
    gc.disable()
    try:
        before = _live()
        for _ in range(5):
            loss = _loss(params, x, y)  # an evaluation that forgot no_grad
            node = weakref.ref(loss.grad_fn)
            del loss
            assert node() is None
        nodes, tensors = _live()
        assert (nodes, tensors) == (before[0] + len(params), before[1])  # + each leaf's own AccumulateGrad
    finally:
        gc.enable()


def test_intermediates_die_after_backward_but_not_with_retain_graph():
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        h = a * 2
        s = Square.apply(h)  # saves h and its own output s
        h_ref, s_ref = weakref.ref(h), weakref.ref(s)
        w = tt.ones(3, requires_grad=True)
        loss = (s * w).sum()  # MulBackward0 saves s (w requires grad, so s is needed for w's gradient)
        del h, s
        assert h_ref() is not None and s_ref() is not None
        loss.backward(retain_graph=True)
        assert h_ref() is not None and s_ref() is not None
        loss.backward()
        assert h_ref() is None and s_ref() is None  # saved tensors dropped; graph nodes remain inspectable
        np.testing.assert_allclose(a.grad.tolist(), 2 * 8 * np.array([1.0, 2.0, 3.0]))  # d(4 a^2)/da, twice
        node_ref = weakref.ref(loss.grad_fn)
        assert node_ref().name() == "SumBackward0"
        del loss
        assert node_ref() is None and _live()[0] == 2  # a's and w's AccumulateGrad nodes, kept by the leaves
    finally:
        gc.enable()


def test_autograd_grad_and_create_graph_do_not_leak():
    a = tt.tensor([0.5, 1.5], requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        base = _live()
        for _ in range(5):
            y = Square.apply(a * 3).sum()
            (g,) = tt.autograd.grad(y, a, create_graph=True)
            (g2,) = tt.autograd.grad(g.sum(), a)
            assert g2.tolist() == [18.0, 18.0]
            del y, g, g2
        assert _live() == (base[0] + 1, base[1])  # + a's own AccumulateGrad node
    finally:
        gc.enable()


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_saved_tensor_is_freed_as_soon_as_its_node_runs(device):
    """As in PyTorch, a node's saved tensors are dropped right after its backward runs, not when the whole
    backward ends: an activation saved only by sin's node is gone before exp's node (the next one) runs."""
    x = tt.tensor([0.1, 0.2, 0.3], device=device, requires_grad=True)
    seen = []
    for retain in (True, False):
        a = x.exp()
        loss = a.sin().sum()  # SinBackward0 saves a: the only reference left once `a` is deleted
        a_ref = weakref.ref(a)
        a.grad_fn.register_prehook(lambda grads, ref=a_ref: seen.append(ref() is None))
        del a
        loss.backward(retain_graph=retain)
    # With retain_graph the saved tensor must survive (so the check can fail); without, it is already gone.
    assert seen == [False, True]
    expected = 2 * np.cos(np.exp([0.1, 0.2, 0.3])) * np.exp([0.1, 0.2, 0.3])
    np.testing.assert_allclose(x.grad.tolist(), expected, rtol=1e-6)


class KeepsHostArray(Function):
    """A custom op that keeps a NumPy array on ctx, as built-in cpu ops keep their references' byproducts."""

    @staticmethod
    def forward(ctx, x):
        ctx.scale = np.full(x.shape, 3.0, np.float32)
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        return grad * tt.tensor(ctx.scale)


def _reachable(node) -> list:
    seen, stack = [], [node]
    while stack:
        n = stack.pop()
        if n is None or any(n is s for s in seen):
            continue
        seen.append(n)
        stack.extend(nxt for nxt, _ in n.next_functions)
    return seen


def test_backward_frees_the_host_arrays_and_tensors_nodes_kept():
    x = tt.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], requires_grad=True)
    w = tt.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], requires_grad=True)
    h = tt.nn.functional.layer_norm(KeepsHostArray.apply(x), (3,))
    loss = tt.nn.functional.cross_entropy(tt.nn.functional.linear(h, w).relu(), tt.tensor([0, 1]))
    custom = loss.grad_fn
    while type(custom) is not KeepsHostArray:
        custom = next(n for n, _ in custom.next_functions if n is not None and not n.name().startswith("Accumulate"))
    assert isinstance(custom.scale, np.ndarray)
    loss.backward()
    assert x.grad is not None and w.grad is not None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        custom.scale
    for node in _reachable(loss.grad_fn):
        kept = [k for k, v in vars(node).items() if isinstance(v, (np.ndarray, Tensor)) and k != "variable"]
        assert not kept, f"{node.name()} still holds {kept} after backward"


def test_a_leaf_keeps_one_accumulator_and_a_dropped_leaf_is_freed():
    """A leaf makes its AccumulateGrad once (every graph it enters shares it); the node refers back weakly, so
    a dropped leaf is freed by reference counting, unless it has hooks, which must still run in backward."""
    w = tt.ones(2, requires_grad=True)
    first = (w * 2).grad_fn.next_functions[0][0]
    assert (w * 3).grad_fn.next_functions[0][0] is first and first.variable is w
    gc.disable()
    try:
        x = tt.ones(2, requires_grad=True)
        x_ref = weakref.ref(x)
        y = (x + w).sum()  # add saves no tensors: only the graph's accumulator could keep x
        del x
        assert x_ref() is None  # no cycle keeps the dropped leaf alive
        y.backward()  # its accumulator is skipped; w's still gets its gradient
        assert w.grad.tolist() == [1.0, 1.0]
        seen = []
        x = tt.ones(2, requires_grad=True)
        x.register_hook(lambda g: seen.append(g.tolist()))
        y = ((x + w) * 5).sum()
        del x
        y.backward()
        assert seen == [[5.0, 5.0]]  # the hooked leaf was kept for its hook
    finally:
        gc.enable()


class GradTimes3(Function):
    """x * 1 whose backward returns 3 * grad and remembers that result's array: strongly when `hold` (the memory
    then has another owner) or weakly (the engine's reference is the only one)."""

    hold = False
    array = None

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        out = grad * 3
        arr = out._host()
        GradTimes3.array = arr if GradTimes3.hold else weakref.ref(arr)
        return out


def test_first_gradient_becomes_grad_without_aliasing_anything_else():
    """.grad may be the engine's own gradient (no copy) only when nothing else refers to it or its memory:
    a gradient sent to two leaves, one a hook keeps, and one over an array someone holds are copied."""
    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = tt.ones(2, 3, requires_grad=True)
    (x @ w).sum().backward()
    w.grad.mul_(1)  # in place on .grad: must not disturb anything the graph computed
    np.testing.assert_allclose(w.grad.tolist(), [[4.0] * 3, [6.0] * 3])
    (x @ w).sum().backward()  # the second backward sums into the first's .grad
    np.testing.assert_allclose(w.grad.tolist(), [[8.0] * 3, [12.0] * 3])

    a, c = tt.ones(3, requires_grad=True), tt.ones(3, requires_grad=True)
    (a + c).sum().backward()  # one gradient object for both leaves
    a.grad.add_(5)
    assert c.grad.tolist() == [1.0, 1.0, 1.0] and a.grad.tolist() == [6.0, 6.0, 6.0]

    kept = []
    v = tt.ones(2, 3, requires_grad=True)
    v.register_hook(lambda g: kept.append(g))
    (x @ v).sum().backward()
    v.grad.zero_()
    np.testing.assert_allclose(kept[0].tolist(), [[4.0] * 3, [6.0] * 3])  # the hook's tensor is untouched

    u = tt.zeros(2, 2, requires_grad=True)
    GradTimes3.hold = True
    try:
        GradTimes3.apply(u).sum().backward()
    finally:
        GradTimes3.hold = False
    u.grad.add_(1)
    assert u.grad.tolist() == [[4.0, 4.0], [4.0, 4.0]]
    np.testing.assert_array_equal(GradTimes3.array, np.full((2, 2), 3.0, np.float32))


@pytest.mark.parametrize("leaves", [1, 2])
def test_a_gradient_only_the_engine_holds_becomes_grad_without_a_copy(leaves):
    """PyTorch's AccumulateGrad takes such a gradient as .grad: no copy of every weight's gradient per step. With
    two leaves fed the same gradient, the first gets a copy and the last takes it."""
    xs = [tt.ones(2, 2, requires_grad=True) for _ in range(leaves)]
    y = GradTimes3.apply(xs[0]) if leaves == 1 else GradTimes3.apply(xs[0] + xs[1])
    y.sum().backward()
    taken = GradTimes3.array()
    assert taken is not None and np.shares_memory(taken, xs[-1].grad.numpy())
    if leaves == 2:
        assert not np.shares_memory(taken, xs[0].grad.numpy())
    for x in xs:
        assert x.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]
