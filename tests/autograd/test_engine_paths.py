"""The backward engine's scheduling and per-node paths: the order leaves are accumulated in, the grad and
autocast modes a backward runs under (and restores, also after an error), a custom backward's result count, and
the relu gradient's host reference (a bitwise select: NaN, inf and -0.0 as np.where keeps them)."""

from __future__ import annotations

import numpy as np
import pytest
from tritensor.kernels import linear_act as KL

import tritensor as tt
from tritensor.autocast_state import state as autocast_state
from tritensor.autograd.grad_mode import state as grad_state


class _Four(tt.autograd.Function):
    """sum(a) + sum(b) + sum(c) + sum(d); each input's gradient is ones."""

    @staticmethod
    def forward(ctx, a, b, c, d):
        ctx.shapes = [t.shape for t in (a, b, c, d)]
        return a.sum() + b.sum() + c.sum() + d.sum()

    @staticmethod
    def backward(ctx, g):
        return tuple(tt.ones(s) * g for s in ctx.shapes)


def test_leaves_and_chains_into_a_leaf_run_before_the_other_inputs_in_edge_order():
    x, v, w1, w2, w3 = (tt.ones(2, 3, requires_grad=True) for _ in range(5))
    order = []
    for name, t in zip(("x", "v", "w1", "w2", "w3"), (x, v, w1, w2, w3)):
        t.register_post_accumulate_grad_hook(lambda _t, name=name: order.append(name))
    # edges of _Four: a non-leaf of two leaves (x * v), a leaf, a transpose of a leaf (a chain into one), a leaf
    _Four.apply(x * v, w1, w2.t().t(), w3).backward()
    assert order == ["w1", "w2", "w3", "x", "v"]
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3), np.float32))
    for w in (w1, w2, w3):
        np.testing.assert_array_equal(w.grad.numpy(), np.ones((2, 3), np.float32))


def test_only_non_leaves_ready_together_run_in_edge_order():
    x = tt.ones(3, requires_grad=True)
    seen = []
    a, b = x * 2, x * 3
    a.register_hook(lambda g: seen.append("a"))
    b.register_hook(lambda g: seen.append("b"))
    (a + b).sum().backward()
    assert seen == ["a", "b"]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 5, np.float32))


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_runs_in_grad_mode_only_for_create_graph_and_restores_it(create_graph):
    x = tt.ones(2, requires_grad=True)
    y = x * x
    total = y.sum()
    modes = []
    y.register_hook(lambda g: modes.append(tt.is_grad_enabled()))
    for outer in (True, False):
        with tt.set_grad_enabled(outer):
            x.grad = None
            total.backward(retain_graph=True, create_graph=create_graph)
            assert tt.is_grad_enabled() is outer
    assert modes == [create_graph, create_graph]
    total.backward(retain_graph=True, create_graph=int(create_graph))  # a truthy int: grad mode is still a bool
    assert modes[-1] is create_graph
    assert x.grad.requires_grad is create_graph  # a graph of the gradient only under create_graph
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.full(2, 4, np.float32))


def test_grad_mode_is_restored_when_a_backward_raises():
    class Boom(tt.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = tt.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="boom"):
        Boom.apply(x).sum().backward()
    assert grad_state.enabled is True


def test_autocast_is_off_inside_backward_and_back_on_after():
    x = tt.ones(2, requires_grad=True)
    y = x * 3
    inside = []
    y.register_hook(lambda g: inside.append(autocast_state.active))
    with tt.autocast("cpu"):
        y.sum().backward()
        assert autocast_state.active is True
    assert inside == [False] and autocast_state.active is False
    np.testing.assert_array_equal(x.grad.numpy(), np.full(2, 3, np.float32))


def test_custom_backward_result_count():
    class Extra(tt.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None  # a trailing None past the inputs is dropped

    class TooFew(tt.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    x = tt.ones(2, requires_grad=True)
    Extra.apply(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(2, 2, np.float32))
    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 2, got 1\)"):
        TooFew.apply(x, x).sum().backward()


def test_repeated_roots_are_seeded_once_each():
    x = tt.ones(2, requires_grad=True)
    y = x * 2
    tt.autograd.backward([y, y], [tt.ones(2), tt.full((2,), 3.0)])
    np.testing.assert_array_equal(x.grad.numpy(), np.full(2, 8, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 256), (3, 5), (0, 4), (7,), (), (2, 3, 4)])
def test_relu_grad_reference_is_np_where_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(0)
    g = rng.standard_normal(shape).astype(dtype)
    s = rng.standard_normal(shape).astype(dtype)
    if g.size > 4:  # non-finite and signed-zero gradients where the output is positive, zero, negative and NaN
        g.flat[:5] = [np.inf, np.nan, -0.0, -np.inf, np.nan]
        s.flat[:5] = [1, np.nan, 2, -0.0, 0]
    cases = [(g, s)]
    if len(shape) == 2:
        cases += [(np.asfortranarray(g), s), (g, np.asfortranarray(s))]  # other layouts: np.where's own
    for gg, ss in cases:
        got = KL.act_grad_ref(gg, ss, "relu")
        want = np.where(ss > 0, gg, dtype(0))
        assert got.dtype == want.dtype and got.shape == want.shape and got.strides == want.strides
        assert got.tobytes() == want.tobytes()
        assert got.flags.writeable and not np.shares_memory(got, gg)


def test_gradients_only_the_engine_holds_are_taken_as_grad_by_every_leaf_of_a_built_in_node(monkeypatch):
    """Linear's weight and bias gradients, sent by one built-in node, reach AccumulateGrad with no other holder:
    each becomes .grad without a copy (the engine keeps no reference to a gradient past its send)."""
    owned = []
    accumulate = tt.Tensor._accumulate_grad

    def spy(self, grad, create_graph, own=False):
        owned.append(own)
        return accumulate(self, grad, create_graph, own)

    monkeypatch.setattr(tt.Tensor, "_accumulate_grad", spy)
    tt.manual_seed(0)
    lin = tt.nn.Linear(4, 3)
    lin(tt.ones(2, 4)).sum().backward()
    assert owned == [True, True]
    np.testing.assert_array_equal(lin.bias.grad.numpy(), np.full(3, 2, np.float32))
    np.testing.assert_array_equal(lin.weight.grad.numpy(), np.full((3, 4), 2, np.float32))


class _TwoOutputs(tt.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, grad_a, grad_b):
        return grad_a * 2 + grad_b * 3


def test_root_fed_by_another_root_runs_once_and_sends_every_gradient():
    # b's node is a root itself and also feeds the root a * 5: its inputs must still get their gradient (it was
    # counted twice, so x's accumulation never ran and x.grad stayed None).
    x = tt.ones(1, requires_grad=True)
    a, b = _TwoOutputs.apply(x)
    tt.autograd.backward([a * 5, b], [tt.ones(1), tt.ones(1)])
    np.testing.assert_array_equal(x.grad.numpy(), [13.0])
    y = tt.ones(1, requires_grad=True)
    a, b = _TwoOutputs.apply(y)
    (g,) = tt.autograd.grad([a * 5, b], [y], [tt.ones(1), tt.ones(1)])
    np.testing.assert_array_equal(g.numpy(), [13.0])
