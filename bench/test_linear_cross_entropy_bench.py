"""linear_cross_entropy (chunked, never the (N, V) logits) against cross_entropy(linear(x, w), t) on the cpu path:
N=1024 rows, D=256 features, V=32768 classes, float32, forward + backward.

Reported: each path's time (pytest-benchmark) and its PEAK traced memory (tracemalloc of the cpu path's NumPy
allocations, in benchmark.extra_info and printed): the unfused path holds the 128 MiB logits, their
softmax and gradient at once; the fused one a chunk of rows at a time. Nothing here asserts on time or memory
(tests/ops/test_linear_cross_entropy.py asserts the memory comparison on smaller shapes).
"""

import tracemalloc

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

N, D, V = 1024, 256, 32768


@pytest.fixture(scope="module")
def operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D), dtype=np.float32)
    w = rng.standard_normal((V, D), dtype=np.float32) * 0.05
    t = rng.integers(0, V, N)
    return x, w, t


def _step(fn, operands):
    x, w, t = operands
    tx, tw = tt.tensor(x, requires_grad=True), tt.tensor(w, requires_grad=True)
    tgt = tt.tensor(t)

    def run():
        tx.grad = tw.grad = None
        loss = fn(tx, tw, tgt)
        loss.backward()
        return loss

    return run


def _peak_mib(run) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _fused(x, w, t):
    return F.linear_cross_entropy(x, w, t)


def _unfused(x, w, t):
    return F.cross_entropy(F.linear(x, w), t)


@pytest.mark.benchmark(group="linear-cross-entropy-1024x256x32768")
@pytest.mark.parametrize("name,fn", [("fused", _fused), ("unfused", _unfused)])
def test_linear_cross_entropy(benchmark, operands, name, fn):
    run = _step(fn, operands)
    peak = _peak_mib(run)
    benchmark.extra_info["peak_MiB"] = round(peak, 1)
    print(f"\n{name}: peak traced memory {peak:.1f} MiB (logits alone: {N * V * 4 / 2**20:.0f} MiB)")
    loss = benchmark.pedantic(run, rounds=2, iterations=1)
    assert np.isfinite(loss.item())
