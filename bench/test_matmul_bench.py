"""tt.matmul on the cpu path against plain NumPy, 1024 x 1024 x 1024 float32.

Target (issue 4): tritensor's mean <= 1.1x np.matmul's in the same run (the cpu path is np.matmul
plus dispatch, with no extra copies). Compare means within one group of one run: the machine is shared.
"""

import numpy as np
import pytest

import tritensor as tt

N = 1024


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, N), dtype=np.float32)
    b = rng.standard_normal((N, N), dtype=np.float32)
    bias = rng.standard_normal(N, dtype=np.float32)
    return a, b, bias


@pytest.mark.benchmark(group="matmul-1024-fp32")
def test_numpy_matmul(benchmark, operands):
    a, b, _ = operands
    benchmark(np.matmul, a, b)


@pytest.mark.benchmark(group="matmul-1024-fp32")
def test_tritensor_matmul(benchmark, operands):
    a, b, _ = operands
    ta, tb = tt.from_numpy(a), tt.from_numpy(b)
    result = benchmark(tt.matmul, ta, tb)
    np.testing.assert_allclose(result.numpy()[:4, :4], (a[:4] @ b[:, :4]), rtol=1e-4, atol=1e-3)


@pytest.mark.benchmark(group="matmul-1024-fp32-transposed")
def test_numpy_matmul_transposed(benchmark, operands):
    a, b, _ = operands
    benchmark(np.matmul, a, b.T)


@pytest.mark.benchmark(group="matmul-1024-fp32-transposed")
def test_tritensor_matmul_transposed(benchmark, operands):
    a, b, _ = operands
    ta, tb = tt.from_numpy(a), tt.from_numpy(b)
    result = benchmark(lambda: ta @ tb.t())
    np.testing.assert_allclose(result.numpy()[:4, :4], a[:4] @ b[:4].T, rtol=1e-4, atol=1e-3)


@pytest.mark.benchmark(group="linear-1024-fp32")
def test_numpy_linear(benchmark, operands):
    a, w, bias = operands

    def linear():
        out = a @ w.T
        out += bias
        return out

    benchmark(linear)


@pytest.mark.benchmark(group="linear-1024-fp32")
def test_tritensor_linear(benchmark, operands):
    a, w, bias = operands
    ta, tw, tb = tt.from_numpy(a), tt.from_numpy(w), tt.from_numpy(bias)
    result = benchmark(tt.linear, ta, tw, tb)
    np.testing.assert_allclose(result.numpy()[:4, :4], a[:4] @ w[:4].T + bias[:4], rtol=1e-4, atol=1e-3)
