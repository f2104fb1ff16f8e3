"""Embedding on the cpu path against plain NumPy in the same run: the backward scatter-add (the weight
gradient of 65536 lookups into a 32768 x 128 float32 table) against np.add.at, and the forward gather
against fancy indexing. Compare means within one group of one run: the machine is shared."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.ops.embedding import dense_backward

V, D, N = 32768, 128, 65536


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((V, D), dtype=np.float32)
    idx = rng.integers(0, V, size=N)
    grad = rng.standard_normal((N, D), dtype=np.float32)
    return weight, idx, grad


@pytest.mark.benchmark(group="embedding-backward-65536x128-fp32")
def test_numpy_add_at(benchmark, operands):
    _, idx, grad = operands

    def scatter():
        out = np.zeros((V, D), np.float32)
        np.add.at(out, idx, grad)
        return out

    benchmark(scatter)


@pytest.mark.benchmark(group="embedding-backward-65536x128-fp32")
def test_tritensor_embedding_backward(benchmark, operands):
    _, idx, grad = operands
    ti, tg = tt.from_numpy(idx), tt.from_numpy(grad)
    result = benchmark(dense_backward, tg, ti, V, -1, False)
    row = int(idx[0])
    np.testing.assert_allclose(result.numpy()[row], grad[idx == row].sum(0), rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group="embedding-forward-65536x128-fp32")
def test_numpy_take(benchmark, operands):
    weight, idx, _ = operands
    benchmark(lambda: weight[idx])


@pytest.mark.benchmark(group="embedding-forward-65536x128-fp32")
def test_tritensor_embedding(benchmark, operands):
    weight, idx, _ = operands
    tw, ti = tt.from_numpy(weight), tt.from_numpy(idx)
    result = benchmark(tt.embedding, tw, ti)
    np.testing.assert_array_equal(result.numpy()[:4], weight[idx[:4]])
