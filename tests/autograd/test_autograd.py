"""The autograd engine's PyTorch semantics: graph structure, backward/grad and their options, higher-order
gradients, grad modes, hooks, in-place rules, custom Functions, gradcheck and anomaly detection.

Built only on the foundation ops (add/sub/mul/neg/sum, views, copy/fill, clone), on cpu and, where the
device matters, on interpreted cuda."""

import gc
import warnings
import weakref

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import Function, GradcheckError, gradcheck, gradgradcheck
from tritensor.autograd.function import AccumulateGrad

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _leaf(values, device="cpu", dtype=tt.float32):
    return tt.tensor(values, dtype=dtype, device=device, requires_grad=True)


# ---------------------------------------------------------------------------------------------- graph structure
def test_grad_fn_names_and_next_functions():
    a = _leaf([1.0, 2.0, 3.0])
    b = _leaf([4.0, 5.0, 6.0])
    c = tt.tensor([1.0, 1.0, 1.0])
    m = a * b
    y = m + c
    assert y.grad_fn.name() == "AddBackward0" and m.grad_fn.name() == "MulBackward0"
    assert (-a).grad_fn.name() == "NegBackward0"
    assert a.sum().grad_fn.name() == "SumBackward0"
    assert a.view(3, 1).grad_fn.name() == "ViewBackward0"
    assert a.clone().grad_fn.name() == "CloneBackward0"
    nf = y.grad_fn.next_functions
    assert isinstance(nf, tuple) and len(nf) == 2  # tensors only: add's alpha is not an edge
    assert nf[0] == (m.grad_fn, 0)
    assert nf[1] == (None, 0)  # c does not require grad
    (acc_a, nr_a), (acc_b, nr_b) = m.grad_fn.next_functions
    assert isinstance(acc_a, AccumulateGrad) and acc_a.variable is a and nr_a == 0
    assert isinstance(acc_b, AccumulateGrad) and acc_b.variable is b and nr_b == 0
    assert acc_a.name() == "AccumulateGrad" and acc_a.next_functions == ()
    # One accumulator per leaf, shared by every use while the graph lives.
    z = a * 3
    assert z.grad_fn.next_functions[0][0] is acc_a
    assert (a * 2).grad_fn.next_functions[1] == (None, 0)  # a Python scalar becomes a tensor without grad
    assert a.is_leaf and not m.is_leaf and m.requires_grad and not c.requires_grad
    assert (c * 2).grad_fn is None and (c * 2).is_leaf


def test_integer_results_do_not_require_grad():
    a = _leaf([1.5, 2.5])
    n = tt.tensor([1, 2])
    assert (a * n).requires_grad  # promoted to float: differentiable
    assert not (n + n).requires_grad


@pytest.mark.parametrize("device", DEVICES)
def test_leaves_accumulate_in_place(device):
    a = _leaf([1.0, 2.0, 3.0], device)
    b = _leaf([4.0, 5.0, 6.0], device)
    (a * b + a).sum().backward()
    np.testing.assert_allclose(_np(a.grad), [5.0, 6.0, 7.0])
    np.testing.assert_allclose(_np(b.grad), [1.0, 2.0, 3.0])
    held = a.grad
    (a * b).sum().backward()
    assert a.grad is held  # summed in place, like PyTorch: references to .grad stay valid
    np.testing.assert_allclose(_np(held), [9.0, 11.0, 13.0])
    assert a.grad.grad_fn is None and not a.grad.requires_grad


def test_gradients_handed_to_two_leaves_do_not_alias():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (a + b).sum().backward()  # both receive the very same gradient tensor from AddBackward0
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]
    g = tt.tensor([5.0, 6.0])
    a.backward(g)  # a leaf as the root: .grad is not the caller's tensor
    g.zero_()
    assert a.grad.tolist() == [5.0, 6.0]


def test_non_leaf_grad_is_none_with_warning_unless_retained():
    a = _leaf([1.0, 2.0])
    y = a * 3
    z = y * y
    y.retain_grad()
    z.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert z.grad is None
    np.testing.assert_allclose(_np(y.grad), 2 * 3 * np.array([1.0, 2.0]))
    assert y.retains_grad and not z.retains_grad
    a.retain_grad()  # no-op on a leaf
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tt.ones(2).retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert a.grad is not None  # leaves never warn


def test_retain_grad_follows_in_place_and_accumulates():
    a = _leaf([1.0, 2.0])
    y = a * 2
    y.retain_grad()
    y.neg_()  # y is now -2a; its .grad must be d/d(new y), as in PyTorch
    (y * y).sum().backward(retain_graph=True)
    np.testing.assert_allclose(_np(y.grad), 2 * (-2 * np.array([1.0, 2.0])))
    (y * y).sum().backward()
    np.testing.assert_allclose(_np(y.grad), 4 * (-2 * np.array([1.0, 2.0])))
    np.testing.assert_allclose(_np(a.grad), 2 * 8 * np.array([1.0, 2.0]))


def test_retained_grad_sees_hooked_gradient_once():
    a = _leaf([1.0, 2.0])
    y = a * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)  # registered after retain_grad, still applied before .grad is stored
    (y * 3).sum().backward(inputs=[y])  # y is both retained and an input: stored once
    assert y.grad.tolist() == [30.0, 30.0] and a.grad is None


def test_grad_setter_validates_and_gradients_follow_leaf_dtype():
    a = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="different size"):
        a.grad = tt.ones(3)
    with pytest.raises(RuntimeError, match="different type"):
        a.grad = tt.ones(2, dtype=tt.float64)
    with pytest.raises(TypeError, match="Tensor or None"):
        a.grad = [1.0, 2.0]
    (a * 2).backward(tt.tensor([1.0, 3.0], dtype=tt.float64))  # gradient cast to the output's dtype
    assert a.grad.dtype is tt.float32 and a.grad.tolist() == [2.0, 6.0]
    del a.grad
    assert a.grad is None


# ---------------------------------------------------------------------------------------------- backward / grad
@pytest.mark.parametrize("device", DEVICES)
def test_backward_with_gradient_and_errors(device):
    x = _leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y.backward(tt.ones(3, device=device))
    y.backward(tt.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], device=device))
    np.testing.assert_allclose(_np(x.grad), [[2.0, 0.0, 4.0], [0.0, 2.0, 0.0]])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        tt.ones(2, device=device).sum().backward()
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        tt.autograd.backward([x.sum(), tt.ones(1, device=device).sum()])


def test_second_backward_through_freed_graph_raises():
    a = _leaf([1.0, 2.0])
    s = (a * a).sum()  # MulBackward0 saves its inputs
    s.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        s.backward()
    with pytest.raises(RuntimeError, match="second time"):
        tt.autograd.grad(s, a)
    # A graph that saved nothing can be walked again (as in PyTorch); retain_graph allows it always.
    t = (a + a).sum()
    t.backward()
    t.backward()
    u = (a * a).sum()
    u.backward(retain_graph=True)
    u.backward()
    assert a.grad.tolist() == [2.0 + 4.0 + 4.0, 4.0 + 4.0 + 8.0]


def test_autograd_backward_with_several_roots():
    a = _leaf([1.0, 2.0])
    y1, y2 = a * 2, a * a
    tt.autograd.backward([y1, y2], [tt.tensor([1.0, 1.0]), tt.tensor([0.5, 2.0])])
    np.testing.assert_allclose(_np(a.grad), [2.0 + 0.5 * 2 * 1.0, 2.0 + 2.0 * 2 * 2.0])
    b = _leaf([3.0])
    tt.autograd.backward((b * b).sum())  # a single tensor, implicit gradient
    assert b.grad.tolist() == [6.0]
    with pytest.raises(RuntimeError, match="entries"):
        tt.autograd.backward([a.sum(), a.sum()], [tt.tensor(1.0)])


def test_backward_inputs_restricts_accumulation():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    y = a * b
    m = y * 2
    m.sum().backward(inputs=[a], retain_graph=True)
    assert b.grad is None
    np.testing.assert_allclose(_np(a.grad), [6.0, 8.0])
    m.sum().backward(inputs=[y])  # a non-leaf input gets its .grad
    np.testing.assert_allclose(_np(y.grad), [2.0, 2.0])
    np.testing.assert_allclose(_np(a.grad), [6.0, 8.0])  # unchanged
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * 2).sum().backward(inputs=[])


def test_autograd_grad_leaves_every_grad_untouched():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    a.grad = tt.tensor([10.0, 10.0])
    y = a * b
    y.retain_grad()
    out = (y * y).sum()
    ga, gy = tt.autograd.grad(out, (a, y))
    np.testing.assert_allclose(_np(ga), 2 * np.array([3.0, 8.0]) * np.array([3.0, 4.0]))
    np.testing.assert_allclose(_np(gy), 2 * np.array([3.0, 8.0]))
    assert a.grad.tolist() == [10.0, 10.0] and b.grad is None and y._grad is None
    assert isinstance(tt.autograd.grad((a * b).sum(), [b]), tuple)


def test_autograd_grad_options_and_errors():
    a, b, c = _leaf([1.0, 2.0]), _leaf([3.0, 4.0]), _leaf([5.0, 6.0])
    y = a * b
    (gy,) = tt.autograd.grad(y, a, grad_outputs=tt.tensor([1.0, -1.0]), retain_graph=True)
    assert gy.tolist() == [3.0, -4.0]
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        tt.autograd.grad(y.sum(), [a, c], retain_graph=True)
    ga, gc_ = tt.autograd.grad(y.sum(), [a, c], retain_graph=True, allow_unused=True)
    assert ga.tolist() == [3.0, 4.0] and gc_ is None
    ga, gc_ = tt.autograd.grad(y.sum(), [a, c], retain_graph=True, materialize_grads=True)
    assert gc_.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.autograd.grad(y.sum(), [tt.ones(2)], retain_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        tt.autograd.grad(tt.ones(2).sum(), [a])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        tt.autograd.grad(y, [a])
    tt.autograd.grad(y.sum(), [a])  # retain_graph defaults to create_graph (False): frees the graph
    with pytest.raises(RuntimeError, match="second time"):
        tt.autograd.grad(y.sum(), [a])


def test_autograd_grad_runs_only_the_part_of_the_graph_it_needs():
    calls = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    a, b = _leaf([1.0]), _leaf([2.0])
    out = (a * 2 + Probe.apply(b)).sum()
    (ga,) = tt.autograd.grad(out, [a], retain_graph=True)
    assert ga.tolist() == [2.0] and calls == []
    out.backward()
    assert calls == [1] and b.grad.tolist() == [1.0]


# ---------------------------------------------------------------------------------------------- higher order
@pytest.mark.parametrize("device", DEVICES)
def test_second_and_third_derivative_of_cube(device):
    x = _leaf([2.0, -1.0], device, tt.float64)
    y = (x * x * x).sum()
    (g1,) = tt.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(_np(g1), 3 * np.array([4.0, 1.0]))
    assert g1.requires_grad and g1.grad_fn is not None
    (g2,) = tt.autograd.grad(g1.sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g2), 6 * np.array([2.0, -1.0]))
    (g3,) = tt.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(_np(g3), [6.0, 6.0])


def test_backward_create_graph_builds_differentiable_grad():
    x = _leaf([1.5], dtype=tt.float64)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None and g.tolist() == [3 * 1.5**2]
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6 * 1.5]


def test_gradgradcheck_over_foundation_ops():
    rng = np.random.default_rng(1)
    a = tt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tt.tensor(rng.standard_normal((3,)), requires_grad=True)
    assert gradcheck(lambda x, y: (x * y - x * x).sum(1), (a, b))
    assert gradgradcheck(lambda x, y: (x * y - x * x).sum(1), (a, b))
    assert gradgradcheck(lambda x, y: (x.t() * y.unsqueeze(1)).reshape(6) * x.reshape(6), (a, b))
    assert gradgradcheck(lambda x: -(x[:, 1:] * x[:, :2]).permute(1, 0).contiguous(), (a,))
    assert gradgradcheck(lambda x, y: x.sum(0, keepdim=True).expand(2, 3) * y, (a, b))


def test_backward_fused_only_without_graph(monkeypatch):
    x = _leaf([1.0, 2.0])
    mul_cls = type((x * x).grad_fn)
    calls = []
    original = mul_cls.backward_fused

    def counting(self, grad):
        calls.append(1)
        return original(self, grad)

    monkeypatch.setattr(mul_cls, "backward_fused", counting)
    (x * x).sum().backward()
    assert calls == [1] and x.grad.tolist() == [2.0, 4.0]
    (g,) = tt.autograd.grad((x * x).sum(), x, create_graph=True)
    assert calls == [1] and g.tolist() == [2.0, 4.0] and g.grad_fn is not None
    (x * x).sum().backward(retain_graph=True)
    assert calls == [1, 1]


# ---------------------------------------------------------------------------------------------- grad modes
def test_no_grad_enable_grad_nesting_and_exceptions():
    x = _leaf([1.0])
    with tt.no_grad():
        assert not (x * 2).requires_grad and not tt.is_grad_enabled()
        with tt.enable_grad():
            assert (x * 2).requires_grad
            with tt.no_grad():
                assert not (x * 2).requires_grad
            assert tt.is_grad_enabled()
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    with pytest.raises(ValueError):
        with tt.no_grad():
            raise ValueError
    assert tt.is_grad_enabled()
    with tt.no_grad(), pytest.raises(KeyError):
        with tt.enable_grad():
            raise KeyError
    assert tt.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = _leaf([1.0])

    @tt.no_grad()
    def f(t):
        return t * 2

    @tt.no_grad
    def g(t):
        return t * 2

    @tt.enable_grad()
    def h(t):
        return t * 2

    @tt.no_grad()
    def fails():
        raise RuntimeError("boom")

    @tt.no_grad()
    def gen(t):
        yield (t * 2).requires_grad
        yield tt.is_grad_enabled()
        return "done"

    assert not f(x).requires_grad and not g(x).requires_grad and f.__name__ == "f"
    with tt.no_grad():
        assert h(x).requires_grad
    with pytest.raises(RuntimeError, match="boom"):
        fails()
    assert tt.is_grad_enabled()
    it = gen(x)
    assert next(it) is False
    assert tt.is_grad_enabled()  # the mode applies inside the generator body only
    assert next(it) is False
    with pytest.raises(StopIteration) as stop:
        next(it)
    assert stop.value.value == "done"


def test_set_grad_enabled_function_context_and_decorator():
    x = _leaf([1.0])
    tt.set_grad_enabled(False)
    try:
        assert not tt.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        tt.set_grad_enabled(True)
    assert tt.is_grad_enabled()
    with tt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tt.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()

    @tt.set_grad_enabled(False)
    def f():
        return tt.is_grad_enabled()

    assert tt.is_grad_enabled()  # decorating does not switch the mode
    assert f() is False and tt.is_grad_enabled()


def test_inference_mode_tensors_and_rules():
    w = _leaf([1.0, 2.0])
    with tt.inference_mode():
        assert tt.is_inference_mode_enabled() and not tt.is_grad_enabled()
        x = tt.ones(2)
        y = w * 3
        v = x[0:1]
        assert x.is_inference() and y.is_inference() and v.is_inference() and not y.requires_grad
        with tt.inference_mode(False):
            assert tt.is_grad_enabled() and not tt.ones(1).is_inference()
        assert tt.ones(1).is_inference()
    assert not tt.is_inference_mode_enabled() and tt.is_grad_enabled()
    assert not tt.ones(2).is_inference() and not w.is_inference() and x.detach().is_inference()
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        w * x  # MulBackward0 would save x
    (w + x).sum().backward()  # AddBackward0 saves nothing: allowed, as in PyTorch
    assert w.grad.tolist() == [1.0, 1.0]
    (w * x.clone()).sum().backward()  # the documented workaround
    assert w.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="inference tensor outside InferenceMode"):
        x.requires_grad_()
    with pytest.raises(ValueError), tt.inference_mode():
        raise ValueError
    assert not tt.is_inference_mode_enabled() and not tt.ones(1).is_inference()

    @tt.inference_mode()
    def f(t):
        return t * 2

    @tt.inference_mode
    def g(t):
        return t * 2

    assert f(w).is_inference() and g(w).is_inference() and not f(w).requires_grad
    assert not tt.is_inference_mode_enabled()


def test_detach_detach_and_requires_grad_rules():
    a = _leaf([1.0, 2.0])
    y = a * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    v0 = y._version
    d.add_(1)  # shares memory and version counter with y
    assert y.tolist() == [3.0, 5.0] and y._version == v0 + 1
    z = a * 3
    z.detach_()
    assert z.is_leaf and not z.requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 2]).requires_grad_()
    e = tt.ones(2).requires_grad_()
    assert e.requires_grad and e.is_leaf
    e.requires_grad = False
    assert not e.requires_grad
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        (a * 1)[0:1].detach_()


# ---------------------------------------------------------------------------------------------- hooks
@pytest.mark.parametrize("device", DEVICES)
def test_hooks_on_leaves_and_non_leaves(device):
    a = _leaf([1.0, 2.0], device)
    seen = []
    y = a * 3
    h1 = y.register_hook(lambda g: seen.append(_np(g).tolist()))
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
    z = y * y + y  # y used twice: its hooks run once, with the sum
    z.sum().backward()
    assert seen == [[7.0, 13.0]]
    np.testing.assert_allclose(_np(a.grad), 3 * 10 * np.array([7.0, 13.0]))

    a.grad = None
    h1.remove()
    h1.remove()  # idempotent
    leaf_seen = []
    ha = a.register_hook(lambda g: leaf_seen.append(_np(g).tolist()) or g * 2)
    (a * 5).sum().backward()
    assert leaf_seen == [[5.0, 5.0]] and a.grad.tolist() == [10.0, 10.0]
    ha.remove()
    (a * 5).sum().backward()
    assert a.grad.tolist() == [15.0, 15.0] and len(leaf_seen) == 1
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tt.ones(1).register_hook(lambda g: g)


def test_hook_handles_stay_distinct_and_hooks_apply_to_autograd_grad():
    a = _leaf([1.0])
    for k in range(3):
        a.register_hook(lambda g, k=k: g + 1)  # handles discarded at once: every hook must survive
    (g,) = tt.autograd.grad((a * 2).sum(), a)
    assert g.tolist() == [5.0] and a.grad is None


def test_post_accumulate_and_node_hooks():
    a = _leaf([1.0, 2.0])
    got = []
    a.register_post_accumulate_grad_hook(lambda t: got.append(t.grad.tolist()))
    y = a * 2
    pre, post = [], []
    y.grad_fn.register_prehook(lambda grads: pre.append(grads[0].tolist()))
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: post.append(grad_inputs[0].tolist()))
    (y * y).sum().backward()
    assert pre == [[4.0, 8.0]] and post == [[8.0, 16.0]] and got == [[8.0, 16.0]]


# ---------------------------------------------------------------------------------------------- in-place
@pytest.mark.parametrize("device", DEVICES)
def test_in_place_on_non_leaf_keeps_gradient(device):
    a = _leaf([1.0, 2.0, 3.0], device)
    x = a * 2
    x.add_(1)
    assert x.grad_fn.name() == "AddBackward0" and x.grad_fn.next_functions[0][0].name() == "MulBackward0"
    (x * x).sum().backward()
    np.testing.assert_allclose(_np(a.grad), 2 * (2 * np.array([1.0, 2.0, 3.0]) + 1) * 2)
    b = _leaf([1.0, -2.0], device)
    y = b * 3
    y.neg_()
    y.sum().backward()
    np.testing.assert_allclose(_np(b.grad), [-3.0, -3.0])


def test_version_counter_shared_by_views():
    base = tt.zeros(4)
    v = base[1:3]
    w = base.view(2, 2)
    v0 = base._version
    v.fill_(1.0)
    assert base._version == v._version == w._version == v0 + 1
    w.add_(1)
    assert base._version == v0 + 2 and base.tolist() == [1.0, 2.0, 2.0, 1.0]


@pytest.mark.parametrize("device", DEVICES)
def test_modified_saved_tensor_is_detected(device):
    a = _leaf([1.0, 2.0], device)
    b = a * 2
    c = b * b  # saves b
    b[0:1].add_(1)  # through a view: same version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
    x = tt.ones(2, device=device)
    v = x._version
    y = (a * x).sum()  # saves x
    x.zero_()
    with pytest.raises(RuntimeError, match=f"is at version {v + 1}; expected version {v} instead"):
        y.backward()


def test_in_place_on_leaf_requiring_grad_raises():
    a = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        a.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        a[0:1].mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a.copy_(tt.zeros(2))
    with tt.no_grad():
        a.sub_(tt.ones(2))  # what an optimizer step does
    assert a.tolist() == [0.0, 1.0] and a.is_leaf and a.requires_grad


# ---------------------------------------------------------------------------------------------- custom Function
class MulAdd(Function):
    """out = x * y + scale * x, with a non-tensor argument."""

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        ctx.seen_needs = ctx.needs_input_grad
        return x * y + x * scale

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        gx = grad * y + grad * ctx.scale if ctx.needs_input_grad[0] else None
        gy = grad * x if ctx.needs_input_grad[1] else None
        return gx, gy, None


class Exp(Function):
    """Saves its own output (the cycle PyTorch's SavedVariable avoids); double-differentiable through it."""

    @staticmethod
    def forward(ctx, x):
        out = tt.tensor(np.exp(_np(x)), dtype=x.dtype, device=x.device)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


def test_custom_function_basics():
    x = _leaf([1.0, 2.0], dtype=tt.float64)
    y = tt.tensor([3.0, 4.0], dtype=tt.float64)
    out = MulAdd.apply(x, y, 0.5)
    assert out.grad_fn.name() == "MulAddBackward" and out.requires_grad and not out.is_leaf
    assert out.grad_fn.needs_input_grad == (True, False, False) and out.grad_fn.seen_needs == (True, False, False)
    assert len(out.grad_fn.next_functions) == 2  # tensor arguments only
    assert out.grad_fn.next_functions[0][0].variable is x and out.grad_fn.next_functions[1] == (None, 0)
    (out * 2).sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 * (np.array([3.0, 4.0]) + 0.5))
    with tt.no_grad():
        r = MulAdd.apply(x, y, 0.5)
    assert not r.requires_grad and r.grad_fn is None
    assert gradcheck(lambda a, b: MulAdd.apply(a, b, 0.5), (x, y.clone().requires_grad_()))
    assert gradgradcheck(lambda a, b: MulAdd.apply(a, b, 0.5), (x, y.clone().requires_grad_()))


def test_custom_function_composes_with_builtins_and_saves_outputs():
    x = _leaf([0.5, -1.0], dtype=tt.float64)
    y = Exp.apply(x * 2) * 3
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), 6 * np.exp(2 * np.array([0.5, -1.0])))
    assert gradcheck(lambda t: Exp.apply(t * 2) - t, (x,))
    assert gradgradcheck(lambda t: Exp.apply(t * 2) - t, (x,))  # second derivative flows through the saved output


def test_custom_function_multiple_outputs_and_materialize():
    got = []

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got.append((g1, g2))
            return g1 * 2 + g2 * 3

    class SplitRaw(Split):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got.append((g1, g2))
            return g2 * 3

    x = _leaf([1.0, 2.0])
    p, q = Split.apply(x)
    assert p.grad_fn is q.grad_fn and (p._output_nr, q._output_nr) == (0, 1)
    q.sum().backward()  # p unused: its gradient arrives as zeros
    assert got[0][0].tolist() == [0.0, 0.0] and x.grad.tolist() == [3.0, 3.0]
    p, q = SplitRaw.apply(x)
    q.sum().backward()
    assert got[1][0] is None and x.grad.tolist() == [6.0, 6.0]
    assert gradcheck(Split.apply, (_leaf([1.0, 2.0], dtype=tt.float64),))


def test_custom_function_ctx_features():
    class WithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = tt.tensor([1.0, 0.0])
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class SetupStyle(Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = _leaf([1.0, 2.0])
    out, idx = WithIndex.apply(x)
    assert out.requires_grad and not idx.requires_grad and idx.grad_fn is None
    i = Identity.apply(x)
    assert x.is_leaf and x.grad_fn is None and i is not x and i.grad_fn is not None
    i.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    y = x * 1
    v = y._version
    r = AddOneInPlace.apply(y)
    assert r is y and y.grad_fn.name() == "AddOneInPlaceBackward" and y._version > v
    (y * 2).sum().backward()
    assert x.grad.tolist() == [7.0, 7.0]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
        AddOneInPlace.apply(x)
    s = SetupStyle.apply(x, 4.0)
    s.sum().backward()
    assert x.grad.tolist() == [11.0, 11.0]


def test_custom_function_bad_backward_is_reported():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return tt.ones(5)

    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g, g

    class Broadcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g.expand(2, 3)  # broadcastable to (3,): summed down, as PyTorch does

    x = _leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"returned an invalid gradient at index 0 - got \[5\]"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        TooMany.apply(x).sum().backward()
    Broadcast.apply(x).backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_once_differentiable():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @tt.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not tt.is_grad_enabled()
            return g * x * 2

    x = _leaf([3.0])
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [6.0]
    (g,) = tt.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [6.0] and g.requires_grad  # it used a saved tensor that requires grad
    with pytest.raises(RuntimeError, match="marked with @once_differentiable"):
        g.sum().backward()
    v = _leaf([2.0])
    (g,) = tt.autograd.grad(Square.apply(x * 1), x, grad_outputs=v, create_graph=True)
    assert g.tolist() == [12.0]
    with pytest.raises(RuntimeError, match="differentiate twice"):
        tt.autograd.grad(g.sum(), v)


# ---------------------------------------------------------------------------------------------- gradcheck
def _scaled(factor_fwd, factor_bwd):
    class Scaled(Function):
        @staticmethod
        def forward(ctx, x):
            return x * factor_fwd

        @staticmethod
        def backward(ctx, g):
            return g * factor_bwd

    return Scaled


def test_gradcheck_catches_wrong_backward():
    x = _leaf([0.3, -0.7, 1.1], dtype=tt.float64)
    assert gradcheck(_scaled(3.0, 3.0).apply, (x,))
    assert gradcheck(_scaled(3.0, 3.0).apply, (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(_scaled(3.0, 2.0).apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(_scaled(3.0, 2.0).apply, (x,), fast_mode=True)
    assert gradcheck(_scaled(3.0, 2.0).apply, (x,), raise_exception=False) is False
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (_leaf([1.0]),), atol=1e-2, rtol=1e-2, eps=1e-3)


def test_gradcheck_checks_every_output():
    class TwoOut(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 4  # wrong for the second output only

    x = _leaf([0.5, 1.5], dtype=tt.float64)
    with pytest.raises(GradcheckError, match="output 1 with respect to input 0"):
        gradcheck(TwoOut.apply, (x,))
    with pytest.raises(GradcheckError):
        gradcheck(TwoOut.apply, (x,), fast_mode=True)


def test_gradcheck_reports_nondeterministic_backward():
    state = {"n": 0}

    class Flaky(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            state["n"] += 1
            return g * (2 + 1e-9 * state["n"])

    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(Flaky.apply, (_leaf([1.0], dtype=tt.float64),))


def test_gradgradcheck_catches_non_differentiable_backward():
    class SquareConstGrad(Function):
        """First derivative right, but computed from raw values: no graph, so the second derivative is 0."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * tt.tensor(2 * _np(x), dtype=x.dtype)

    x = _leaf([0.5, -1.5], dtype=tt.float64)
    assert gradcheck(SquareConstGrad.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(SquareConstGrad.apply, (x,))


def test_gradcheck_and_gradgradcheck_on_zero_dim_outputs_and_inputs():
    x = _leaf([[0.5, -1.0], [2.0, 0.25]], dtype=tt.float64)
    s = tt.tensor(1.5, dtype=tt.float64, requires_grad=True)
    assert gradcheck(lambda t, c: (t * t * c).sum(), (x, s))
    assert gradgradcheck(lambda t, c: (t * t * c).sum(), (x, s))
    assert gradcheck(lambda t, c: (t * t * c).sum(), (x, s), fast_mode=True)


def test_gradcheck_leaves_inputs_unchanged_and_on_cuda():
    rng = np.random.default_rng(3)
    values = rng.standard_normal((2, 2))
    leaf = tt.tensor(values, requires_grad=True)
    x = leaf.t()  # non-contiguous input, perturbed in place
    assert gradcheck(lambda t: t * t, (x,))
    np.testing.assert_array_equal(_np(x), values.T)
    assert leaf.grad is None
    xc = tt.tensor(values, device="cuda", requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(0), (xc,))
    np.testing.assert_array_equal(_np(xc), values)


# ---------------------------------------------------------------------------------------------- anomaly detection
def _nan_in_mul_backward(device="cpu"):
    a = _leaf([1.0, 2.0], device)
    zero = tt.tensor([0.0, 1.0], device=device)
    inf = tt.tensor([float("inf"), 1.0], device=device)
    return ((a * zero) * inf).sum()  # the inner MulBackward0 computes inf * 0 = nan for a


@pytest.mark.parametrize("device", DEVICES)
def test_detect_anomaly_names_the_op_that_made_nan(device):
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = tt.autograd.detect_anomaly()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mode:
            assert tt.autograd.is_anomaly_enabled()
            loss = _nan_in_mul_backward(device)
            with pytest.raises(RuntimeError, match=r"Function 'MulBackward0' returned nan values in its 0th output."):
                loss.backward()
    assert not tt.autograd.is_anomaly_enabled()
    forward_traces = [str(w.message) for w in caught if "Traceback of forward call" in str(w.message)]
    assert forward_traces and "_nan_in_mul_backward" in forward_traces[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _nan_in_mul_backward(device).backward()  # outside anomaly mode: no check, nan flows into .grad


def test_set_detect_anomaly_and_errors_inside_backward():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("broken backward")

    tt.autograd.set_detect_anomaly(True)
    try:
        assert tt.autograd.is_anomaly_enabled()
        y = Broken.apply(_leaf([1.0]))
        with pytest.warns(UserWarning, match="Error detected in BrokenBackward"), \
                pytest.raises(ValueError, match="broken backward"):
            y.sum().backward()
    finally:
        tt.autograd.set_detect_anomaly(False)
    assert not tt.autograd.is_anomaly_enabled()
    with tt.autograd.set_detect_anomaly(True, check_nan=False):
        assert tt.autograd.is_anomaly_enabled() and not tt.autograd.is_anomaly_check_nan_enabled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _nan_in_mul_backward().backward()  # nan not checked
    assert not tt.autograd.is_anomaly_enabled() and tt.autograd.is_anomaly_check_nan_enabled()


# ---------------------------------------------------------------------------------------------- memory
def test_graph_is_freed_after_backward_unless_retained():
    def build():
        a = _leaf([1.0, 2.0])
        b = a * 2
        c = b * b  # MulBackward0 saves b
        return a, weakref.ref(b), c.sum()

    gc.collect()
    gc.disable()
    try:
        a, b_ref, loss = build()
        assert b_ref() is not None  # the graph keeps the intermediate alive
        loss.backward(retain_graph=True)
        assert b_ref() is not None
        loss.backward()
        assert b_ref() is None  # saved tensors were dropped: freed by reference counting alone
        assert loss.grad_fn.next_functions[0][0].name() == "MulBackward0"  # structure stays inspectable
        out = Exp.apply(_leaf([1.0])).sum()
        node_ref = weakref.ref(out.grad_fn.next_functions[0][0])
        del out
        assert node_ref() is None  # a node saving its own output forms no reference cycle
    finally:
        gc.enable()
