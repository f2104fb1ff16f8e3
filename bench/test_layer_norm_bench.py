"""tt.nn.functional.layer_norm on the cpu path against a plain NumPy layer norm measured in the same run,
forward and forward + backward, (4096, 1024) float32. Compare means within one group of one run (the machine is
shared); nothing asserts on time."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

M, R = 4096, 1024
EPS = 1e-5


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((M, R), dtype=np.float32)
    w = rng.standard_normal(R, dtype=np.float32)
    b = rng.standard_normal(R, dtype=np.float32)
    g = rng.standard_normal((M, R), dtype=np.float32)
    return x, w, b, g


def _numpy_forward(x, w, b):
    mean = x.mean(-1, keepdims=True)
    xc = x - mean
    rstd = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + EPS)
    xhat = xc * rstd
    return xhat * w + b, xhat, rstd


def _numpy_forward_backward(x, w, b, g):
    y, xhat, rstd = _numpy_forward(x, w, b)
    wdy = g * w
    dx = rstd * (wdy - wdy.mean(-1, keepdims=True) - xhat * (wdy * xhat).mean(-1, keepdims=True))
    return y, dx, (g * xhat).sum(0), g.sum(0)


@pytest.mark.benchmark(group="layer_norm-4096x1024-fp32-forward")
def test_numpy_layer_norm_forward(benchmark, operands):
    x, w, b, _ = operands
    benchmark(_numpy_forward, x, w, b)


@pytest.mark.benchmark(group="layer_norm-4096x1024-fp32-forward")
def test_tritensor_layer_norm_forward(benchmark, operands):
    x, w, b, _ = operands
    tx, tw, tb = tt.from_numpy(x), tt.from_numpy(w), tt.from_numpy(b)
    y = benchmark(F.layer_norm, tx, (R,), tw, tb, EPS)
    np.testing.assert_allclose(y.numpy()[:4], _numpy_forward(x[:4], w, b)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group="layer_norm-4096x1024-fp32-forward-backward")
def test_numpy_layer_norm_forward_backward(benchmark, operands):
    benchmark(_numpy_forward_backward, *operands)


@pytest.mark.benchmark(group="layer_norm-4096x1024-fp32-forward-backward")
def test_tritensor_layer_norm_forward_backward(benchmark, operands):
    x, w, b, g = operands
    tx = tt.from_numpy(x).requires_grad_()
    tw, tb = tt.from_numpy(w).requires_grad_(), tt.from_numpy(b).requires_grad_()
    tg = tt.from_numpy(g)

    def step():
        y = F.layer_norm(tx, (R,), tw, tb, EPS)
        return tt.autograd.grad(y, (tx, tw, tb), tg)

    dx, dw, db = benchmark(step)
    want = _numpy_forward_backward(x, w, b, g)
    np.testing.assert_allclose(dx.numpy()[:4], want[1][:4], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(db.numpy(), want[3], rtol=1e-3, atol=1e-2)
