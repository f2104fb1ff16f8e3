"""The engine's per-backward shortcuts keep PyTorch's semantics: loss.backward()'s implicit seed (fresh every
call, its errors), the inline run of autograd.grad's nodes (pruning to what leads to the inputs, with and without
a captured non-leaf), the in-place accumulation into .grad (same tensor, version bumped) and freeing a node's
state after backward (tensors dropped, other attributes kept)."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import Function

_FREED = "Trying to backward through the graph a second time"


class _Probe(Function):
    """The identity, counting its backward calls."""

    calls: list = []

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        _Probe.calls.append(1)
        return g


@pytest.fixture(autouse=True)
def _no_calls():
    _Probe.calls = []


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
def test_implicit_seed_is_fresh_for_every_backward(shape, dtype):
    # A hook that scales its gradient in place must not change the next backward's seed.
    x = tt.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    seen = []
    for _ in range(3):
        y = (x * 1.0).sum().reshape(shape)
        y.register_hook(lambda g: (seen.append(g.tolist()), g.mul_(3.0))[1])
        y.backward()
    assert seen == [np.ones(shape).tolist()] * 3
    assert x.grad.dtype is dtype and x.grad.tolist() == [9.0, 9.0]


def test_backward_without_gradient_checks_the_output_as_autograd_backward_does():
    x = tt.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        tt.ones(()).backward()
    y = (x * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [[4.0] * 3] * 2
    with pytest.raises(RuntimeError, match=_FREED):
        y.backward()
    z = (x * x).sum()
    z.backward(create_graph=True)  # create_graph retains the graph
    z.backward()
    assert x.grad.detach().tolist() == [[8.0] * 3] * 2


def test_grad_prunes_a_root_and_a_branch_that_lead_to_no_input():
    a, b = tt.tensor([1.0], requires_grad=True), tt.tensor([2.0], requires_grad=True)
    y1 = (a * 3).sum()
    y2 = _Probe.apply(b).sum()
    ga, = tt.autograd.grad([y1, y2], [a])
    assert ga.tolist() == [3.0] and _Probe.calls == [] and a.grad is None and b.grad is None


def test_grad_of_every_leaf_counts_each_use():
    a, b = tt.tensor([1.5, -2.0], requires_grad=True), tt.tensor([0.5, 4.0], requires_grad=True)
    out = (a * a + a * b + _Probe.apply(b)).sum()
    ga, gb = tt.autograd.grad(out, [a, b])
    assert ga.tolist() == [3.5, 0.0] and gb.tolist() == [2.5, -1.0] and _Probe.calls == [1]


def test_grad_of_a_non_leaf_runs_nothing_below_it():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    h = _Probe.apply(x) * 2
    hx = h * 5
    out = (hx * hx).sum()
    gh, = tt.autograd.grad(out, [h])
    assert gh.tolist() == [100.0, 200.0] and _Probe.calls == [] and x.grad is None
    h = _Probe.apply(x) * 2
    out2 = (h * 3).sum()
    out2.backward(inputs=[h])
    assert h.grad.tolist() == [3.0, 3.0] and _Probe.calls == [] and x.grad is None


def test_grad_accumulates_into_the_same_tensor_and_bumps_its_version():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    held, version = x.grad, x.grad._version
    (x * 3).sum().backward()
    assert x.grad is held and held.tolist() == [5.0, 5.0] and held._version == version + 1


def test_freed_node_keeps_its_plain_attributes_and_drops_its_tensors():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.factor, ctx.kept = 3.0, x * 1
            ctx.save_for_backward(x)
            return x * 3.0

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * ctx.factor

    x = tt.tensor([1.0], requires_grad=True)
    y = Scale.apply(x)
    node = y.grad_fn
    y.sum().backward()
    assert x.grad.tolist() == [3.0] and node.factor == 3.0
    with pytest.raises(RuntimeError, match=_FREED):
        node.saved_tensors
    with pytest.raises(RuntimeError, match=_FREED):
        node.kept
    plain = (x + 1).grad_fn  # a built-in node holding no tensors: nothing to free, a second backward works
    z = (x + 1).sum()
    z.backward()
    assert plain.next_functions[0][0] is x._grad_acc and x.grad.tolist() == [4.0]
