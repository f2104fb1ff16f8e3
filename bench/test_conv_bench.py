"""F.conv2d forward and forward + backward on the cpu path against a plain NumPy im2col implementation in the
same run: batch 16, 16 -> 32 channels, 32x32, 3x3, padding 1, float32.

The cpu path is kernels/conv_ref.py (sliding_window_view im2col + one BLAS matmul per primitive) plus the
5-D reshapes, dispatch and autograd. Compare means within one group of one run: the machine is shared.
"""

import numpy as np
import pytest

import tritensor as tt
from tritensor.nn import functional as F

N, C, O, H, W, KS = 16, 16, 32, 32, 32, 3
GROUP = "conv2d-16x16x32x32-to-32-3x3-fp32"


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = rng.standard_normal((O, C, KS, KS), dtype=np.float32) * 0.1
    b = rng.standard_normal(O, dtype=np.float32)
    dy = rng.standard_normal((N, O, H, W), dtype=np.float32)
    return x, w, b, dy


def _cols(x):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (KS, KS), axis=(2, 3))  # (N, C, H, W, 3, 3)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(N * H * W, C * KS * KS)


def _numpy_forward(x, w, b):
    cols = _cols(x)
    y = cols @ w.reshape(O, -1).T + b
    return y.reshape(N, H, W, O).transpose(0, 3, 1, 2), cols


def _numpy_forward_backward(x, w, b, dy):
    y, cols = _numpy_forward(x, w, b)
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, O)
    dw = (dy_mat.T @ cols).reshape(w.shape)
    db = dy_mat.sum(0)
    dcols = (dy_mat @ w.reshape(O, -1)).reshape(N, H, W, C, KS, KS)
    dxp = np.zeros((N, C, H + 2, W + 2), np.float32)
    for i in range(KS):
        for j in range(KS):
            dxp[:, :, i:i + H, j:j + W] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return y, dxp[:, :, 1:-1, 1:-1], dw, db


@pytest.mark.benchmark(group=GROUP + "-forward")
def test_numpy_conv2d_forward(benchmark, operands):
    x, w, b, _ = operands
    benchmark(_numpy_forward, x, w, b)


@pytest.mark.benchmark(group=GROUP + "-forward")
def test_tritensor_conv2d_forward(benchmark, operands):
    x, w, b, _ = operands
    y = benchmark(F.conv2d, tt.from_numpy(x), tt.from_numpy(w), tt.from_numpy(b), 1, 1)
    np.testing.assert_allclose(y.numpy()[:2, :4], _numpy_forward(x, w, b)[0][:2, :4], rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group=GROUP + "-forward-backward")
def test_numpy_conv2d_forward_backward(benchmark, operands):
    benchmark(_numpy_forward_backward, *operands)


@pytest.mark.benchmark(group=GROUP + "-forward-backward")
def test_tritensor_conv2d_forward_backward(benchmark, operands):
    x, w, b, dy = operands
    tx, tw, tb = (tt.from_numpy(a).requires_grad_() for a in (x, w, b))
    tdy = tt.from_numpy(dy)

    def step():
        y = F.conv2d(tx, tw, tb, padding=1)
        return tt.autograd.grad(y, [tx, tw, tb], tdy)

    gx, gw, gb = benchmark(step)
    _, want_x, want_w, want_b = _numpy_forward_backward(x, w, b, dy)
    np.testing.assert_allclose(gb.numpy(), want_b, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(gw.numpy(), want_w, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(gx.numpy(), want_x, rtol=1e-3, atol=1e-3)
