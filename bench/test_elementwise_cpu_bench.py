"""cpu references of everyday elementwise ops against the best plain NumPy formulation of each, at (256, 1024) float32
(2^18 elements, an MLP activation) and at 8 elements (the per-call Python overhead), forward and backward. One group
per op: compare the means within a group.

What made them slow (issue 21): relu and the sigmoid select ran np.where on a data-dependent mask, which branches
per element (~1.1 ms for 2^18 random floats, 9x a ufunc pass); clamp ran np.maximum / np.minimum with a scalar
operand (a scalar loop, 3x np.clip) plus a copy; x ** 2 ran pow per element and its backward computed the unused
exponent gradient too. Now: relu keeps elements by their bits times a 0/1 mask, sigmoid selects with max(e, f) * r,
clamp is np.clip, x ** 2 / ** 0.5 / ** -1 are square, sqrt and reciprocal (the same bits); see the modules.

Measured on the 2-core host, CPU time, minimum of 7 repeats x 2 interleaved runs (ms), base 87d6b47 -> now, NumPy:
  relu           1.33  -> 0.107  np.maximum(a, 0) 0.125     fwd+bwd 2.69 -> 0.25
  sigmoid        5.82  -> 0.59   1 / (1 + e^-a)   0.54      fwd+bwd 5.58 -> 0.75
  silu           3.19  -> 0.63   a / (1 + e^-a)   0.53      fwd+bwd 9.43 -> 4.0 (page faults: ~1000 a call, both)
  clamp(-1, 1)   0.31  -> 0.058  np.clip          0.045     fwd+bwd 1.24 -> 0.27
  a ** 2         0.159 -> 0.037  np.square        0.027     fwd+bwd 4.22 -> 0.15
  8 elements: relu, sigmoid, silu, clamp as before (7-14 us), a ** 2 23 -> 6.3 us.
isnan().any() (0.15 against 0.027) is kernels/reduction.py's any_ref, which compares the bool array with 0 first.

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_elementwise_cpu_bench.py --benchmark-only
"""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

SHAPE = (256, 1024)


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    an = rng.standard_normal(SHAPE).astype(np.float32)
    return an, tt.tensor(an), rng.standard_normal(SHAPE).astype(np.float32)


def _np_sigmoid(a):
    e = np.negative(a)
    np.exp(e, out=e)
    np.add(e, 1, out=e)
    return np.divide(1, e, out=e)


# group -> (tritensor forward, the best NumPy forward: the value to match)
_CASES = {
    "relu": (F.relu, lambda a: np.maximum(a, 0)),
    "sigmoid": (tt.sigmoid, _np_sigmoid),
    "silu": (F.silu, lambda a: a / (1 + np.exp(-a))),
    "clamp": (lambda t: t.clamp(-1, 1), lambda a: np.clip(a, -1, 1)),
    "square": (lambda t: t ** 2, np.square),
    "isnan-any": (lambda t: t.isnan().any(), lambda a: np.isnan(a).any()),
}


@pytest.mark.parametrize("op", list(_CASES))
def test_tritensor(benchmark, arrays, op):
    benchmark.group = f"elementwise-cpu-256x1024-{op}"
    an, a, _ = arrays
    y = benchmark(_CASES[op][0], a)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(np.asarray(y.numpy(), np.float64), _CASES[op][1](an), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op", list(_CASES))
def test_numpy(benchmark, arrays, op):
    benchmark.group = f"elementwise-cpu-256x1024-{op}"
    with np.errstate(over="ignore"):
        benchmark(_CASES[op][1], arrays[0])


@pytest.mark.parametrize("op", list(_CASES))
def test_tritensor_8_elements(benchmark, op):
    benchmark.group = f"elementwise-cpu-8-{op}"
    benchmark(_CASES[op][0], tt.tensor(np.linspace(-2, 2, 8, dtype=np.float32)))


@pytest.mark.parametrize("op", list(_CASES))
def test_numpy_8_elements(benchmark, op):
    benchmark.group = f"elementwise-cpu-8-{op}"
    with np.errstate(over="ignore"):
        benchmark(_CASES[op][1], np.linspace(-2, 2, 8, dtype=np.float32))


_BACKWARD = {
    "relu": (F.relu, lambda a, g: (np.maximum(a, 0), np.multiply(g, a > 0))),
    "sigmoid": (tt.sigmoid, lambda a, g: (lambda s: (s, g * (s * (1 - s))))(_np_sigmoid(a))),
    "silu": (F.silu, lambda a, g: (lambda s: (a * s, g * (s * (1 + a * (1 - s)))))(_np_sigmoid(a))),
    "clamp": (lambda t: t.clamp(-1, 1), lambda a, g: (np.clip(a, -1, 1), g * ((a >= -1) & (a <= 1)))),
    "square": (lambda t: t ** 2, lambda a, g: (np.square(a), g * (2 * a))),
}


def _forward_backward(fn, x, g):
    x.grad = None
    fn(x).backward(g)
    return x.grad


@pytest.mark.parametrize("op", list(_BACKWARD))
def test_tritensor_forward_backward(benchmark, arrays, op):
    benchmark.group = f"elementwise-cpu-256x1024-{op}-fwd+bwd"
    an, _, gn = arrays
    x, g = tt.tensor(an, requires_grad=True), tt.tensor(gn)
    benchmark(_forward_backward, _BACKWARD[op][0], x, g)


@pytest.mark.parametrize("op", list(_BACKWARD))
def test_numpy_forward_backward(benchmark, arrays, op):
    benchmark.group = f"elementwise-cpu-256x1024-{op}-fwd+bwd"
    an, _, gn = arrays
    with np.errstate(over="ignore"):
        benchmark(_BACKWARD[op][1], an, gn)
