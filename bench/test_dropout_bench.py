"""cpu dropout of a (64, 64, 128) float32 activation (a small GPT's attention-sized tensor): tritensor's F.dropout,
whose mask is the Triton kernel's Philox stream bit for bit (kernels/dropout.py: blocked rounds over uint64
products' halves, split over the host threads), against the textbook Philox rounds on whole arrays (the same
bits: what the reference was before) and against NumPy's own generator (another stream: the cheapest dropout
NumPy has, the floor). Compare the means within the group.

Measured on the 2-core host, one thread, CPU time (ms): textbook 50.8-64.4, tritensor 12.7-13.2 (F.dropout 55.1 ->
12.7 with the same mask), NumPy's generator 1.5-1.9.

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_dropout_bench.py --benchmark-only
"""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

SHAPE = (64, 64, 128)
P = 0.1


def textbook_dropout(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    """x * mask / (1 - p) with tl.rand's mask from Philox4x32-10 run one round at a time on whole arrays."""
    c0 = np.arange(x.size, dtype=np.uint32)
    c1 = c2 = c3 = np.zeros_like(c0)
    k0, k1 = seed & 0xFFFFFFFF, 0
    for _ in range(10):
        prod_b = np.uint64(0xCD9E8D57) * c2.astype(np.uint64)
        prod_a = np.uint64(0xD2511F53) * c0.astype(np.uint64)
        c0, c1, c2, c3 = ((prod_b >> np.uint64(32)).astype(np.uint32) ^ c1 ^ np.uint32(k0), prod_b.astype(np.uint32),
                          (prod_a >> np.uint64(32)).astype(np.uint32) ^ c3 ^ np.uint32(k1), prod_a.astype(np.uint32))
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    r = c0.view(np.int32)
    uniform = np.where(r < 0, ~r, r).astype(np.float32) * np.float32(4.6566127342e-10)
    keep = (uniform < np.float32(1 - p)).reshape(x.shape)
    return np.where(keep, x * np.float32(1 / (1 - p)), np.float32(0))


@pytest.fixture(scope="module")
def activation():
    return tt.randn(*SHAPE)


@pytest.mark.benchmark(group="dropout-cpu-64x64x128")
def test_tritensor_dropout(benchmark, activation):
    y = benchmark(F.dropout, activation, P, True)
    assert 0.85 < (y.numpy() != 0).mean() < 0.95


@pytest.mark.benchmark(group="dropout-cpu-64x64x128")
def test_textbook_philox_dropout(benchmark, activation):
    x = activation.numpy()
    y = benchmark(textbook_dropout, x, P, 1234)
    assert 0.85 < (y != 0).mean() < 0.95


@pytest.mark.benchmark(group="dropout-cpu-64x64x128")
def test_numpy_generator_dropout(benchmark, activation):
    x, rng = activation.numpy(), np.random.default_rng(0)
    y = benchmark(lambda: x * (rng.random(x.shape, dtype=np.float32) >= P) / np.float32(1 - P))
    assert 0.85 < (y != 0).mean() < 0.95


def test_textbook_twin_is_the_same_mask():
    from tritensor.kernels import dropout as KD

    x = np.ones((3, 70000), np.float32)
    np.testing.assert_array_equal(textbook_dropout(x, P, 99), KD.dropout_ref(x, P, 99))
