"""F.batch_norm in training mode on the cpu path against a plain NumPy implementation in the same run:
forward (statistics, running-buffer update, normalise) and forward + backward, (32, 64, 28, 28) float32.

The cpu path is NumPy itself (kernels/batch_norm_ref.py: each channel reduced as one contiguous row, pairwise, then
one normalising pass), plus dispatch and autograd. Compare means within one group of one run: the machine is shared.
"""

import numpy as np
import pytest

import tritensor as tt
from tritensor.nn import functional as F

SHAPE = (32, 64, 28, 28)
AXES = (0, 2, 3)


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    dy = rng.standard_normal(SHAPE, dtype=np.float32)
    w = rng.standard_normal(SHAPE[1], dtype=np.float32)
    b = rng.standard_normal(SHAPE[1], dtype=np.float32)
    return x, dy, w, b


def _numpy_forward(x, w, b, running_mean, running_var, momentum=0.1, eps=1e-5):
    """The textbook NumPy batch norm: mean and variance over (N, H, W), running update, normalise."""
    mean = x.mean(axis=AXES)
    centered = x - mean[None, :, None, None]
    var = (centered * centered).mean(axis=AXES)
    n = x.size // x.shape[1]
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * n / (n - 1)
    invstd = 1 / np.sqrt(var + eps)
    xhat = centered * invstd[None, :, None, None]
    return xhat * w[None, :, None, None] + b[None, :, None, None], xhat, invstd


def _numpy_forward_backward(x, dy, w, b, running_mean, running_var):
    y, xhat, invstd = _numpy_forward(x, w, b, running_mean, running_var)
    n = x.size // x.shape[1]
    grad_b = dy.sum(axis=AXES)
    grad_w = (dy * xhat).sum(axis=AXES)
    k = (w * invstd)[None, :, None, None]
    grad_x = k * (dy - (grad_b / n)[None, :, None, None] - xhat * (grad_w / n)[None, :, None, None])
    return y, grad_x, grad_w, grad_b


@pytest.mark.benchmark(group="batch_norm-train-forward-32x64x28x28-fp32")
def test_numpy_batch_norm_forward(benchmark, operands):
    x, _, w, b = operands
    rm, rv = np.zeros(SHAPE[1], np.float32), np.ones(SHAPE[1], np.float32)
    benchmark(_numpy_forward, x, w, b, rm, rv)


@pytest.mark.benchmark(group="batch_norm-train-forward-32x64x28x28-fp32")
def test_tritensor_batch_norm_forward(benchmark, operands):
    x, _, w, b = operands
    tx, tw, tb = tt.from_numpy(x), tt.from_numpy(w), tt.from_numpy(b)
    rm, rv = tt.zeros(SHAPE[1]), tt.ones(SHAPE[1])
    y = benchmark(F.batch_norm, tx, rm, rv, tw, tb, True)
    want, _, _ = _numpy_forward(x, w, b, np.zeros(SHAPE[1], np.float32), np.ones(SHAPE[1], np.float32))
    np.testing.assert_allclose(y.numpy()[:2, :4], want[:2, :4], rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group="batch_norm-train-forward-backward-32x64x28x28-fp32")
def test_numpy_batch_norm_forward_backward(benchmark, operands):
    x, dy, w, b = operands
    rm, rv = np.zeros(SHAPE[1], np.float32), np.ones(SHAPE[1], np.float32)
    benchmark(_numpy_forward_backward, x, dy, w, b, rm, rv)


@pytest.mark.benchmark(group="batch_norm-train-forward-backward-32x64x28x28-fp32")
def test_tritensor_batch_norm_forward_backward(benchmark, operands):
    x, dy, w, b = operands
    tx = tt.from_numpy(x).requires_grad_()
    tw, tb = tt.from_numpy(w).requires_grad_(), tt.from_numpy(b).requires_grad_()
    tdy = tt.from_numpy(dy)
    rm, rv = tt.zeros(SHAPE[1]), tt.ones(SHAPE[1])

    def step():
        y = F.batch_norm(tx, rm, rv, tw, tb, True)
        return tt.autograd.grad(y, [tx, tw, tb], tdy)

    grad_x, grad_w, grad_b = benchmark(step)
    _, want_x, want_w, want_b = _numpy_forward_backward(x, dy, w, b, np.zeros(SHAPE[1], np.float32),
                                                        np.ones(SHAPE[1], np.float32))
    np.testing.assert_allclose(grad_b.numpy(), want_b, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(grad_w.numpy(), want_w, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(grad_x.numpy()[:2, :4], want_x[:2, :4], rtol=1e-3, atol=1e-4)
