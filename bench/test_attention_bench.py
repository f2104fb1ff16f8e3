"""F.scaled_dot_product_attention on the cpu path against a plain NumPy attention (softmax(q k^T * scale) v and
its backward) measured in the same run, forward + backward, causal, (4, 8, 256, 64) float32. Compare means
within one group of one run (the machine is shared); nothing asserts on time."""

import math

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

B, H, L, E = 4, 8, 256, 64
SCALE = 1.0 / math.sqrt(E)
GROUP = f"sdpa-{B}x{H}x{L}x{E}-fp32-causal-forward-backward"


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((B, H, L, E), dtype=np.float32) for _ in range(4)]  # q, k, v, grad


def _numpy_forward_backward(q, k, v, g):
    s = q @ np.swapaxes(k, -1, -2) * np.float32(SCALE)
    s = np.where(np.tril(np.ones((L, L), bool)), s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    out = p @ v
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    return out, ds @ k * np.float32(SCALE), np.swapaxes(ds, -1, -2) @ q * np.float32(SCALE), dv


def _tritensor_forward_backward(q, k, v, g):
    q.grad = k.grad = v.grad = None
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out.backward(g)
    return out


@pytest.mark.benchmark(group=GROUP)
def test_numpy_sdpa_forward_backward(benchmark, operands):
    benchmark(_numpy_forward_backward, *operands)


@pytest.mark.benchmark(group=GROUP)
def test_tritensor_sdpa_forward_backward(benchmark, operands):
    q, k, v = (tt.from_numpy(a).requires_grad_() for a in operands[:3])
    g = tt.from_numpy(operands[3])
    out = benchmark(_tritensor_forward_backward, q, k, v, g)
    want = _numpy_forward_backward(*operands)
    np.testing.assert_allclose(out.detach().numpy(), want[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(q.grad.numpy(), want[1], rtol=1e-3, atol=1e-4)
