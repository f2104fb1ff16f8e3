"""Everyday cpu ops that were far slower than plain NumPy (issue 21): F.cosine_similarity, F.normalize, F.silu at
(256, 1024) float32 and tt.bincount of 10000 int64 values in [0, 100), each against its plain-NumPy twin measured in
the same run, forward and forward+backward. One group per op: compare the means within a group.

What made them slow: cosine_similarity and normalize were composites of a dozen tensor ops (norms, clamps, divisions,
an expand, a sum), each a full-size temporary and a graph node, their backward a dozen more; bincount was seven
tensor ops (a < 0 check, max().item(), ones, zeros, a scatter_add through np.add.at); silu's reference kept three
full-size temporaries besides its result. On this host a call that frees two MiB or more at the heap's top has glibc
hand it back to the kernel, and the next call page-faults it in again (~0.8 ms per two MiB), so full-size temporaries
cost more than their arithmetic. Now cosine_similarity and normalize are one autograd node each on the cpu (NumPy in
row blocks of 2^16 elements, kernels/distance.py), bincount is np.bincount (np.add.at for float32 weights, which
PyTorch sums in float32 in input order), and silu's references run their passes in 2^16-element blocks.

The NumPy twins: "einsum" is the survey's formulation of cosine similarity, sum(a b) / max(|a| |b|, eps), which does
not divide each input by its norm first as PyTorch does (two passes fewer, and results that may leave [-1, 1]);
"same math" is PyTorch's formula, each input divided by its own clamped norm, written in plain NumPy.

Measured on the 2-core host, CPU time (time.process_time), OPENBLAS_NUM_THREADS=1, minimum of 7 repeats of 20 calls
over three interleaved pairs of processes, base c136ad4 -> now (ms; fwd+bwd: the forward, .sum().backward(), the
.grad dropped):
  cosine_similarity  1.30  -> 0.38    fwd+bwd 9.85 -> 1.90
  normalize          0.20  -> 0.16    fwd+bwd 5.84 -> 0.51
  silu               1.62  -> 0.36    fwd+bwd 3.09 -> 0.99
  bincount           0.069 -> 0.010   with float64 weights 0.063 -> 0.013
This file's groups in one run (--benchmark-timer=time.process_time; minimum, bincount's median; ms), tritensor and
its NumPy twins:
  cosine_similarity  0.37 | einsum 0.15, same math 0.27    fwd+bwd 0.75 | 0.55
  normalize          0.16 | einsum + divide 0.10           fwd+bwd 0.45 | 0.30
  silu               0.36 | a / (1 + e^-a) 0.20            fwd+bwd 0.92 | 1.94
  bincount           0.012 | 0.010, weights 0.014 | 0.011
Figures of calls that allocate MiBs depend on the allocator's state, which earlier calls of the process set (glibc
raises its thresholds when a large block is freed): in the issue's survey script the same normalize cost 1.03 ms
before (page faults) and the a / (1 + e^-a) twin 1.0 ms. Compare within one run only. cosine_similarity's remaining
gap to the einsum twin is PyTorch's formula (two divisions of the full inputs) and pairwise sums (those of x.norm()).

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_cpu_outliers_bench.py --benchmark-only
"""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

SHAPE = (256, 1024)
EPS_COS, EPS_NORM = np.float32(1e-8), np.float32(1e-12)


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(SHAPE).astype(np.float32)
    b = rng.standard_normal(SHAPE).astype(np.float32)
    return a, b, rng.integers(0, 100, 10000), rng.standard_normal(10000)


def _rows_norm(a):
    return np.sqrt(np.einsum("ij,ij->i", a, a))[:, None]


def np_cos_einsum(a, b):
    """The survey's twin: sum(a b) / max(|a| |b|, eps), no division of each input first."""
    return np.einsum("ij,ij->i", a, b) / np.maximum(_rows_norm(a)[:, 0] * _rows_norm(b)[:, 0], EPS_COS)


def np_cos(a, b):
    """PyTorch's formula in plain NumPy: each input divided by its own clamped norm, then the product summed."""
    u = np.divide(a, np.maximum(_rows_norm(a), EPS_COS))
    v = np.divide(b, np.maximum(_rows_norm(b), EPS_COS))
    return np.einsum("ij,ij->i", u, v)


def np_cos_forward_backward(a, b, g):
    n1, n2 = _rows_norm(a), _rows_norm(b)
    c1, c2 = np.maximum(n1, EPS_COS), np.maximum(n2, EPS_COS)
    s = np.einsum("ij,ij->i", a / c1, b / c2)[:, None]
    gamma, gs = g[:, None] / (c1 * c2), g[:, None] * s
    beta1, beta2 = -gs / (c1 * n1), -gs / (c2 * n2)  # (no zero norms in these inputs)
    return a * beta1 + b * gamma, b * beta2 + a * gamma


def np_normalize(a):
    return a / np.maximum(_rows_norm(a), EPS_NORM)


def np_normalize_forward_backward(a, g):
    n = _rows_norm(a)
    c = np.maximum(n, EPS_NORM)
    y = a / c
    return y, g / c - a * (np.einsum("ij,ij->i", g, a)[:, None] / (c * c * n))


def np_silu(a):
    return a / (1 + np.exp(-a))


def np_silu_forward_backward(a, g):
    t = np.negative(a)
    np.exp(t, out=t)
    np.add(t, 1, out=t)
    s = np.divide(1, t, out=t)
    return a * s, g * (s * (1 + a * (1 - s)))


def _tt_cos(x, y):
    return F.cosine_similarity(x, y)


def _tt_normalize(x, y):
    return F.normalize(x, dim=1)


def _tt_silu(x, y):
    return F.silu(x)


_FORWARD = {
    "cosine_similarity": (_tt_cos, {"einsum": np_cos_einsum, "same-math": np_cos}),
    "normalize": (_tt_normalize, {"einsum": lambda a, b: np_normalize(a)}),
    "silu": (_tt_silu, {"formula": lambda a, b: np_silu(a)}),
}
_REFERENCE = {"cosine_similarity": np_cos, "normalize": lambda a, b: np_normalize(a), "silu": lambda a, b: np_silu(a)}


@pytest.mark.parametrize("op", list(_FORWARD))
def test_tritensor(benchmark, arrays, op):
    benchmark.group = f"cpu-outliers-{op}"
    a, b = arrays[:2]
    y = benchmark(_FORWARD[op][0], tt.tensor(a), tt.tensor(b))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(y.numpy(), _REFERENCE[op](a, b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,twin", [(op, twin) for op, (_, twins) in _FORWARD.items() for twin in twins])
def test_numpy(benchmark, arrays, op, twin):
    benchmark.group = f"cpu-outliers-{op}"
    benchmark.name = f"numpy-{twin}"
    a, b = arrays[:2]
    with np.errstate(over="ignore"):
        benchmark(_FORWARD[op][1][twin], a, b)


def _forward_backward(fn, x, y, g):
    x.grad = None
    y.grad = None
    fn(x, y).backward(g)
    return x.grad


_GRAD_SHAPES = {"cosine_similarity": SHAPE[:1], "normalize": SHAPE, "silu": SHAPE}


@pytest.mark.parametrize("op", list(_FORWARD))
def test_tritensor_forward_backward(benchmark, arrays, op):
    benchmark.group = f"cpu-outliers-{op}-fwd+bwd"
    a, b = arrays[:2]
    x, y = tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=op == "cosine_similarity")
    g = tt.tensor(np.ones(_GRAD_SHAPES[op], np.float32))
    benchmark(_forward_backward, _FORWARD[op][0], x, y, g)


_NUMPY_BACKWARD = {
    "cosine_similarity": lambda a, b, g: np_cos_forward_backward(a, b, g),
    "normalize": lambda a, b, g: np_normalize_forward_backward(a, g),
    "silu": lambda a, b, g: np_silu_forward_backward(a, g),
}


@pytest.mark.parametrize("op", list(_NUMPY_BACKWARD))
def test_numpy_forward_backward(benchmark, arrays, op):
    benchmark.group = f"cpu-outliers-{op}-fwd+bwd"
    a, b = arrays[:2]
    with np.errstate(over="ignore"):
        benchmark(_NUMPY_BACKWARD[op], a, b, np.ones(_GRAD_SHAPES[op], np.float32))


@pytest.mark.parametrize("weighted", [False, True], ids=["counts", "weights"])
def test_tritensor_bincount(benchmark, arrays, weighted):
    benchmark.group = f"cpu-outliers-bincount-{'weights' if weighted else 'counts'}"
    idx, w = arrays[2:]
    got = benchmark(tt.bincount, tt.tensor(idx), tt.tensor(w) if weighted else None)
    np.testing.assert_array_equal(got.numpy(), np.bincount(idx, w if weighted else None))


@pytest.mark.parametrize("weighted", [False, True], ids=["counts", "weights"])
def test_numpy_bincount(benchmark, arrays, weighted):
    benchmark.group = f"cpu-outliers-bincount-{'weights' if weighted else 'counts'}"
    idx, w = arrays[2:]
    benchmark(np.bincount, idx, w if weighted else None)
