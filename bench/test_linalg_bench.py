"""tt.linalg.cholesky on the cpu path against numpy.linalg.cholesky measured in the same run: a batch of 256
symmetric positive-definite 32 x 32 float64 matrices (run with OPENBLAS_NUM_THREADS=1 for a stable comparison).
Compare means within the group of one run (the machine is shared); nothing asserts on time."""

import numpy as np
import pytest

import tritensor as tt

BATCH, N = 256, 32


@pytest.fixture(scope="module")
def spd():
    x = np.random.default_rng(0).standard_normal((BATCH, N, N))
    return x @ np.swapaxes(x, -1, -2) + N * np.eye(N)


@pytest.mark.benchmark(group="linalg-cholesky-256x32x32-fp64")
def test_numpy_cholesky(benchmark, spd):
    benchmark(np.linalg.cholesky, spd)


@pytest.mark.benchmark(group="linalg-cholesky-256x32x32-fp64")
def test_tritensor_cholesky(benchmark, spd):
    a = tt.from_numpy(spd)
    L = benchmark(tt.linalg.cholesky, a)
    np.testing.assert_allclose(L.numpy()[:2], np.linalg.cholesky(spd[:2]), rtol=1e-10, atol=1e-12)
