"""Built-in nodes that free their state without the generic attribute walk (`_state_in_saved` with a `_release`:
views, softmax, layer_norm, group_norm, cross_entropy, attention) and `_saved_values` (saved_tensors without the
output-with-history rebuild): after a backward their host arrays are gone, a second backward raises PyTorch's
freed-graph error, retain_graph keeps everything (the same gradients twice), and an in-place change of a saved
output is still caught."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

_FREED = "Trying to backward through the graph a second time"
_RNG = np.random.default_rng(7)


def _leaf(*shape):
    return tt.tensor(_RNG.standard_normal(shape), requires_grad=True)


def _cases():
    x4 = _leaf(1, 2, 3, 4)
    q, k, v = _leaf(1, 2, 3, 4), _leaf(1, 2, 3, 4), _leaf(1, 2, 3, 4)
    w, b = _leaf(4), _leaf(4)
    x2 = _leaf(3, 5)
    t = tt.tensor([0, 4, 2])
    g = _leaf(2, 4, 3)
    return {
        "softmax": (lambda: F.softmax(x2, 1), [x2], "SoftmaxBackward0", None),
        "log_softmax": (lambda: F.log_softmax(x2, 1), [x2], "LogSoftmaxBackward0", "exp_host"),
        "layer_norm": (lambda: F.layer_norm(x4, (4,), w, b), [x4, w, b], "NativeLayerNormBackward0", "xhat_host"),
        "group_norm": (lambda: F.group_norm(g, 2), [g], "NativeGroupNormBackward0", None),
        "cross_entropy": (lambda: F.cross_entropy(x2, t), [x2], "NllLossBackward0", "lse_host"),
        "attention": (lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v],
                      "ScaledDotProductAttentionBackward0", "probs"),
        "reshape": (lambda: x2.reshape(5, 3), [x2], "ViewBackward0", None),
        "permute": (lambda: x4.permute(3, 1, 0, 2), [x4], "PermuteBackward0", None),
    }


def _grads(out, inputs):
    seed = tt.tensor(np.linspace(-1.0, 1.0, out.numel()).reshape(out.shape))
    return [gr.numpy().copy() for gr in tt.autograd.grad(out, inputs, seed, retain_graph=True)]


@pytest.mark.parametrize("name", list(_cases()))
def test_second_backward_raises_and_host_state_is_dropped(name):
    fn, inputs, node_name, kept = _cases()[name]
    out = fn()
    node = out.grad_fn
    assert node.name() == node_name
    if kept is not None:
        assert getattr(node, kept) is not None  # held for the fused backward while the graph lives
    want = _grads(out, inputs)  # retain_graph: nothing freed, a second pass gives the same bits
    got = [gr.numpy() for gr in tt.autograd.grad(out, inputs, tt.tensor(np.linspace(-1.0, 1.0, out.numel())
                                                                        .reshape(out.shape)))]
    for a, e in zip(got, want):
        np.testing.assert_array_equal(a, e)
    if kept is not None:
        assert getattr(node, kept) is None
    if node_name not in ("ViewBackward0", "PermuteBackward0"):  # views save nothing: they may run again
        with pytest.raises(RuntimeError, match=_FREED):
            out.sum().backward()
    else:
        out.sum().backward()
        assert inputs[0].grad.tolist() == np.ones(inputs[0].shape).tolist()


def test_saved_output_changed_in_place_is_still_caught():
    x = _leaf(2, 3)
    y = F.softmax(x, 1)
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_values_leave_the_output_alias_and_saved_tensors_rebuild_it():
    x = _leaf(2, 3)
    y = F.softmax(x, 1)
    node = y.grad_fn
    (raw,) = node._saved_values()
    (rebuilt,) = node.saved_tensors
    assert raw.grad_fn is None and rebuilt.grad_fn is node
    np.testing.assert_array_equal(raw.numpy(), y.detach().numpy())
    np.testing.assert_array_equal(rebuilt.detach().numpy(), y.detach().numpy())


def test_create_graph_backward_through_saved_output_is_differentiable():
    x = _leaf(2, 3)
    (gx,) = tt.autograd.grad(F.softmax(x, 1)[:, 0].sum(), (x,), create_graph=True)
    (ggx,) = tt.autograd.grad(gx.sum(), (x,))
    # d/dx of sum_j d softmax_0/dx_j is 0 for every row (the softmax's rows sum to one)
    np.testing.assert_allclose(gx.detach().numpy().sum(1), 0.0, atol=1e-12)
    assert ggx.shape == x.shape and np.isfinite(ggx.numpy()).all()
