"""cpu sort / topk / norm / var / gather / argmax of a (256, 1024) float32 tensor: tritensor against the plain
NumPy baselines, one group per op (compare the means within a group). The sort and topk references pack
(order key << 32 | index) into one int64 per element (kernels/sort.py), so one SIMD sort or an in-place
partition gives PyTorch's stable order (NaN largest, ties by index); the NumPy baselines are the quicksort
pair (not stable, NaN ties unordered), the stable argsort (the same order), and argpartition plus a sort of
the k found. norm keeps np.sum's pairwise bits (10x more accurate than the BLAS dot of np.linalg.norm).

Measured on the 2-core host, one thread, CPU time, same run as the base commit 87d6b47 (ms):
  sort(1)        20.2-22.7 -> 2.6-3.9   (NumPy: sort+argsort 6.1-6.6, stable argsort+take 15.6-16.5)
  topk(5, 1)     20.1-20.9 -> 0.87-1.06 (NumPy: argpartition + sort of the 5: 1.04-1.9)
  norm()         0.18-0.21 -> 0.10-0.12 (NumPy: linalg.norm (BLAS dot) 0.023; sum(square), the same bits, 0.085)
  var(1)         0.30-0.33 -> 0.24-0.28 (NumPy: var(ddof=1) 0.21-0.24)
  gather(1, idx) 0.025-0.027 -> 0.019  (NumPy: take_along_axis 0.010; the rest is the op's Python)
  argmax(1)      0.034 (unchanged; NumPy 0.022-0.030)

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_sort_norm_cpu_bench.py --benchmark-only
"""

import numpy as np
import pytest

import tritensor as tt

SHAPE = (256, 1024)
K = 5


@pytest.fixture(scope="module")
def x():
    return tt.randn(*SHAPE)


@pytest.fixture(scope="module")
def index():
    return tt.randint(0, SHAPE[1], (SHAPE[0], 4))


def _np_topk(a: np.ndarray, k: int) -> tuple:
    part = np.argpartition(a, -k, 1)[:, -k:]
    vals = np.take_along_axis(a, part, 1)
    order = np.argsort(-vals, 1, kind="stable")
    return np.take_along_axis(vals, order, 1), np.take_along_axis(part, order, 1)


@pytest.mark.benchmark(group="sort-cpu-256x1024")
def test_tritensor_sort(benchmark, x):
    v, i = benchmark(x.sort, 1)
    np.testing.assert_array_equal(i.numpy(), np.argsort(x.numpy(), 1, kind="stable"))


@pytest.mark.benchmark(group="sort-cpu-256x1024")
def test_numpy_sort_and_argsort(benchmark, x):
    a = x.numpy()
    benchmark(lambda: (np.sort(a, 1), np.argsort(a, 1)))


@pytest.mark.benchmark(group="sort-cpu-256x1024")
def test_numpy_stable_argsort_and_take(benchmark, x):
    a = x.numpy()
    benchmark(lambda: np.take_along_axis(a, np.argsort(a, 1, kind="stable"), 1))


@pytest.mark.benchmark(group="topk-cpu-256x1024")
def test_tritensor_topk(benchmark, x):
    v, i = benchmark(x.topk, K, 1)
    np.testing.assert_array_equal(v.numpy(), _np_topk(x.numpy(), K)[0])


@pytest.mark.benchmark(group="topk-cpu-256x1024")
def test_numpy_argpartition_topk(benchmark, x):
    benchmark(_np_topk, x.numpy(), K)


@pytest.mark.benchmark(group="norm-cpu-256x1024")
def test_tritensor_norm(benchmark, x):
    r = benchmark(x.norm)
    np.testing.assert_allclose(r.item(), np.linalg.norm(x.numpy()), rtol=1e-5)


@pytest.mark.benchmark(group="norm-cpu-256x1024")
def test_numpy_linalg_norm(benchmark, x):
    benchmark(np.linalg.norm, x.numpy())


@pytest.mark.benchmark(group="norm-cpu-256x1024")
def test_numpy_pairwise_sum_of_squares(benchmark, x):
    a = x.numpy()
    benchmark(lambda: np.sqrt(np.sum(np.square(a))))


@pytest.mark.benchmark(group="var-cpu-256x1024")
def test_tritensor_var(benchmark, x):
    benchmark(x.var, 1)


@pytest.mark.benchmark(group="var-cpu-256x1024")
def test_numpy_var(benchmark, x):
    benchmark(x.numpy().var, 1, ddof=1)


@pytest.mark.benchmark(group="gather-cpu-256x1024")
def test_tritensor_gather(benchmark, x, index):
    benchmark(x.gather, 1, index)


@pytest.mark.benchmark(group="gather-cpu-256x1024")
def test_numpy_take_along_axis(benchmark, x, index):
    benchmark(np.take_along_axis, x.numpy(), index.numpy(), 1)


@pytest.mark.benchmark(group="argmax-cpu-256x1024")
def test_tritensor_argmax(benchmark, x):
    benchmark(x.argmax, 1)


@pytest.mark.benchmark(group="argmax-cpu-256x1024")
def test_numpy_argmax(benchmark, x):
    benchmark(x.numpy().argmax, 1)
