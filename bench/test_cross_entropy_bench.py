"""F.cross_entropy on the cpu path against a plain NumPy log-softmax + NLL, 4096 x 1000 float32 (an ImageNet-sized
classifier head), forward and forward+backward.

The baseline is measured in the same run: a max-shifted log-softmax and a gather (forward), plus softmax minus
the one-hot over the batch (backward). Compare means within one group of one run: the machine is shared.
Nothing here asserts on time; the assertions check that both sides compute the same values.
"""

import numpy as np
import pytest

import tritensor as tt
from tritensor.nn import functional as F

N, C = 4096, 1000


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, C), dtype=np.float32), rng.integers(0, C, N)


def _numpy_forward(x, t):
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(t)), t].mean(), logp


def _numpy_forward_backward(x, t):
    loss, logp = _numpy_forward(x, t)
    grad = np.exp(logp)
    grad[np.arange(len(t)), t] -= 1.0
    grad /= len(t)
    return loss, grad


@pytest.mark.benchmark(group="cross-entropy-4096x1000-fp32-forward")
def test_numpy_cross_entropy_forward(benchmark, operands):
    x, t = operands
    benchmark(_numpy_forward, x, t)


@pytest.mark.benchmark(group="cross-entropy-4096x1000-fp32-forward")
def test_tritensor_cross_entropy_forward(benchmark, operands):
    x, t = operands
    tx, tt_ = tt.from_numpy(x), tt.from_numpy(t)
    loss = benchmark(F.cross_entropy, tx, tt_)
    np.testing.assert_allclose(loss.item(), _numpy_forward(x, t)[0], rtol=1e-5)


@pytest.mark.benchmark(group="cross-entropy-4096x1000-fp32-forward-backward")
def test_numpy_cross_entropy_forward_backward(benchmark, operands):
    x, t = operands
    benchmark(_numpy_forward_backward, x, t)


@pytest.mark.benchmark(group="cross-entropy-4096x1000-fp32-forward-backward")
def test_tritensor_cross_entropy_forward_backward(benchmark, operands):
    x, t = operands
    tt_ = tt.from_numpy(t)

    def step():
        tx = tt.from_numpy(x).requires_grad_()
        F.cross_entropy(tx, tt_).backward()
        return tx.grad

    grad = benchmark(step)
    np.testing.assert_allclose(grad.numpy()[:4], _numpy_forward_backward(x, t)[1][:4], rtol=1e-4, atol=1e-7)
