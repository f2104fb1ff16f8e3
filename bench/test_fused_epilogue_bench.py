"""Fused epilogues against their unfused forms on the cpu path, measured in the same run: F.linear(...,
activation=) vs F.gelu / F.relu (F.linear(...)), and F.add_layer_norm vs `s = x + r; F.layer_norm(s)`, forward and
forward + backward. Compare means within one group of one run (the machine is shared); nothing asserts on time.
Kernel launch counts per training step (the GPU-side effect) are bench/launch_counts.py's."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

M, K, N = 512, 256, 1024  # a (batch * tokens, 256) -> 1024 MLP layer
R = 512  # residual width


@pytest.fixture(scope="module")
def linear_operands():
    rng = np.random.default_rng(0)
    return [tt.from_numpy(rng.standard_normal(s, dtype=np.float32)) for s in ((M, K), (N, K), (N,), (M, N))]


@pytest.fixture(scope="module")
def norm_operands():
    rng = np.random.default_rng(1)
    return [tt.from_numpy(rng.standard_normal(s, dtype=np.float32)) for s in ((M, R), (M, R), (R,), (R,), (M, R))]


def _unfused_linear(x, w, b, act):
    y = F.linear(x, w, b)
    return F.relu(y) if act == "relu" else F.gelu(y)


def _linear_step(x, w, b, g, act, fused):
    x, w, b = (t.detach().requires_grad_(True) for t in (x, w, b))
    y = F.linear(x, w, b, activation=act) if fused else _unfused_linear(x, w, b, act)
    y.backward(g)
    return y


@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_linear_activation_forward(benchmark, linear_operands, act, fused):
    benchmark.group = f"linear+{act}-{M}x{K}x{N}-fp32-forward"
    x, w, b, _ = linear_operands
    y = benchmark(lambda: F.linear(x, w, b, activation=act) if fused else _unfused_linear(x, w, b, act))
    np.testing.assert_allclose(y.numpy()[:4], _unfused_linear(x, w, b, act).numpy()[:4], atol=1e-5)


@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_linear_activation_forward_backward(benchmark, linear_operands, act, fused):
    benchmark.group = f"linear+{act}-{M}x{K}x{N}-fp32-forward-backward"
    benchmark(_linear_step, *linear_operands, act, fused)


def _norm_step(x, r, w, b, g, fused):
    x, r, w, b = (t.detach().requires_grad_(True) for t in (x, r, w, b))
    if fused:
        s, y = F.add_layer_norm(x, r, (R,), w, b)
    else:
        s = x + r
        y = F.layer_norm(s, (R,), w, b)
    tt.autograd.backward([s, y], [g, g])
    return y


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_add_layer_norm_forward(benchmark, norm_operands, fused):
    benchmark.group = f"add+layer_norm-{M}x{R}-fp32-forward"
    x, r, w, b, _ = norm_operands
    out = benchmark(lambda: F.add_layer_norm(x, r, (R,), w, b)[1] if fused else F.layer_norm(x + r, (R,), w, b))
    np.testing.assert_allclose(out.numpy()[:4], F.layer_norm(x + r, (R,), w, b).numpy()[:4], atol=1e-5)


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_add_layer_norm_forward_backward(benchmark, norm_operands, fused):
    benchmark.group = f"add+layer_norm-{M}x{R}-fp32-forward-backward"
    benchmark(_norm_step, *norm_operands, fused)
