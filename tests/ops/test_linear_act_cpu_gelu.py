"""F.linear(..., activation="gelu") on the cpu in fp32 keeps gelu's derivative from the forward's passes
(tritensor/ops/linear_act.py) instead of recomputing it in the backward: the gradients are bitwise those of the
unfused F.gelu(F.linear(...)), on the first backward and on a second one after retain_graph (which recomputes),
and the kept array is dropped with the graph."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F


def _leaves(rng, shape=(5, 4), out=6, dtype=np.float32):
    x = tt.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    w = tt.tensor(rng.standard_normal((out, shape[-1])).astype(dtype), requires_grad=True)
    b = tt.tensor(rng.standard_normal(out).astype(dtype), requires_grad=True)
    return x, w, b


def _grads(fn, leaves, gout, times=1):
    y = fn(*leaves)
    for i in range(times):
        y.backward(gout, retain_graph=i + 1 < times)
    out = [t.grad.numpy().copy() for t in leaves]
    for t in leaves:
        t.grad = None
    return y, out


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])  # 2-D rows, and leading dims folded into rows
@pytest.mark.parametrize("times", [1, 2])
def test_kept_derivative_matches_unfused_bits(rng, shape, times):
    leaves = _leaves(rng, shape)
    gout = tt.tensor(rng.standard_normal(shape[:-1] + (6,)).astype(np.float32))
    y, fused = _grads(lambda *a: F.linear(*a, activation="gelu"), leaves, gout, times)
    y2, plain = _grads(lambda *a: F.gelu(F.linear(*a)), leaves, gout, times)
    assert y.grad_fn.name() in ("LinearActivationBackward0", "ViewBackward0")
    assert y.detach().numpy().tobytes() == y2.detach().numpy().tobytes()
    for g, g2 in zip(fused, plain):
        assert g.tobytes() == g2.tobytes()
    assert np.abs(fused[1]).max() > 0


def test_kept_derivative_dropped_with_the_graph(rng):
    leaves = _leaves(rng)
    y = F.linear(*leaves, activation="gelu")
    node = y.grad_fn
    assert isinstance(node.derivative_host, np.ndarray) and node.derivative_host.shape == (5, 6)
    assert node.saved_tensors[3] is None  # z is recomputed where it is needed, not kept beside it
    y.sum().backward()
    assert node.derivative_host is None
    with pytest.raises(RuntimeError, match="freed"):
        y.sum().backward()


def test_no_derivative_without_grad_or_in_float64(rng):
    x, w, b = _leaves(rng)
    with tt.no_grad():
        assert F.linear(x, w, b, activation="gelu").grad_fn is None
    x64, w64, b64 = _leaves(rng, dtype=np.float64)
    node = F.linear(x64, w64, b64, activation="gelu").grad_fn
    assert node.derivative_host is None and node.saved_tensors[3] is not None


def test_create_graph_second_derivative_unchanged(rng):
    """create_graph takes the tensor-op backward (z recomputed in the graph): second derivatives as unfused."""
    outs = []
    for fn in (lambda *a: F.linear(*a, activation="gelu"), lambda *a: F.gelu(F.linear(*a))):
        x, w, b = _leaves(np.random.default_rng(3))
        (gx,) = tt.autograd.grad(fn(x, w, b).sum(), x, create_graph=True)
        (gxx,) = tt.autograd.grad((gx * gx).sum(), x)
        outs.append(gxx.numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    assert np.abs(outs[0]).max() > 0
