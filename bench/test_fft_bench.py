"""tt.fft.rfft of 4096 float32 points on the cpu path against numpy.fft.rfft measured in the same run (the cpu path
is pocketfft too: the difference is tritensor's dispatch and argument handling). Compare means within one group
of one run (the machine is shared); nothing asserts on time."""

import numpy as np
import pytest

import tritensor as tt

N = 4096


@pytest.fixture(scope="module")
def signal():
    return np.random.default_rng(0).standard_normal(N, dtype=np.float32)


@pytest.mark.benchmark(group="rfft-4096-fp32")
def test_tritensor_rfft(benchmark, signal):
    x = tt.tensor(signal)
    out = benchmark(tt.fft.rfft, x)
    assert out.shape == (N // 2 + 1,) and out.dtype is tt.complex64


@pytest.mark.benchmark(group="rfft-4096-fp32")
def test_numpy_rfft(benchmark, signal):
    out = benchmark(np.fft.rfft, signal)
    assert out.shape == (N // 2 + 1,)
