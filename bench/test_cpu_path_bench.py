"""The cpu path's fused references against the best plain-NumPy formulation we could write, same run, same shapes:
softmax, log_softmax, cross_entropy, layer_norm and GELU (exact, erf form), forward and forward + backward, float32,
(256, 4096) and (64, 1000).

The NumPy baselines are written for speed: float32 throughout, in-place ufuncs (`out=`), as few (M, R)
temporaries as the math allows (on a host NumPy's speed is memory traffic, and a fresh large array costs page
faults), a forward + backward reusing the forward's exp / normaliser / cdf, row sums as a BLAS dot per row with a
vector of ones (`_row_sums`: about twice the speed of NumPy's pairwise sum), column sums as one BLAS product with
ones (`_col_sums`: ~1.5x a.sum(0)), a normaliser applied as a
multiplication by its reciprocal, and the row-wise ones run with NumPy's ufunc buffer no longer than a row
(`_row_buffer`: 1.5-2x faster passes with a broadcast operand, as tritensor's references run them). GELU's
baseline takes SciPy's float32 `erf` (NumPy has none). Compare the means within one group of one run (the machine
is shared); each tritensor test asserts that it computes the baseline's values, so a wrong fast path fails. Each
tritensor test runs twice: with its default intra-op threads (`threads-default`: tt.get_num_threads(), rows /
elements of a large array split over a thread pool, as PyTorch's CPU kernels do) and with tt.set_num_threads(1)
(`threads-1`); the baselines stay plain single-threaded NumPy. Time is wall time (threads), so run it on an
otherwise idle machine; on a shared one, bench/cpu_path_time.py times the same functions in CPU time
(process_time) and wall time, with page faults.

    OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_cpu_path_bench.py --benchmark-only --benchmark-group-by=group
    OPENBLAS_NUM_THREADS=1 python bench/cpu_path_time.py [--warm-heap]
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.special

import tritensor as tt
import tritensor.nn.functional as F

SHAPES = [(256, 4096), (64, 1000)]
IDS = [f"{m}x{r}" for m, r in SHAPES]
EPS = 1e-5
_SQRT_HALF = np.float32(math.sqrt(0.5))
_INV_SQRT_2PI = np.float32(1 / math.sqrt(2 * math.pi))


@pytest.fixture(scope="module", params=SHAPES, ids=IDS)
def operands(request):
    m, r = request.param
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, r), dtype=np.float32)
    g = rng.standard_normal((m, r), dtype=np.float32)
    w = rng.standard_normal(r, dtype=np.float32)
    b = rng.standard_normal(r, dtype=np.float32)
    t = rng.integers(0, r, m)
    return x, g, w, b, t


@pytest.fixture(autouse=True)
def _group_per_shape(request):
    """Each group compares one op at one shape: the shape joins the marker's group name (the thread count does
    not: both tritensor figures sit in the NumPy baseline's group)."""
    if "benchmark" in request.fixturenames:
        bench = request.getfixturevalue("benchmark")
        m, r = request.getfixturevalue("operands")[0].shape
        bench.group = f"{bench.group}-{m}x{r}"


@pytest.fixture(params=[None, 1], ids=["threads-default", "threads-1"])
def threads(request):
    """tritensor with its default intra-op threads (tt.get_num_threads(): the CPUs it may use) and with one; the
    NumPy baselines are plain single-threaded NumPy either way."""
    before = tt.get_num_threads()
    if request.param is not None:
        tt.set_num_threads(request.param)
    yield
    tt.set_num_threads(before)


# ---------------------------------------------------------------- the plain NumPy baselines
def _row_buffer(fn):
    """fn run with NumPy's ufunc buffer no longer than a row (768 <= R <= 4096), as tritensor's references run: with
    rows of at most half a buffer (8192 elements) NumPy copies several rows through its buffers on a pass with a
    broadcast operand (a row's max or mean, a weight), 1.5-2x slower than one inner loop per row; the same bits."""
    def run(x, *args):
        with np.errstate():  # restores the buffer size on exit
            r = x.shape[-1]
            if 768 <= r <= 4096:
                np.setbufsize(r // 16 * 16)
            return fn(x, *args)
    run.__name__ = fn.__name__
    return run


@functools.cache
def _ones(n, dtype):
    return np.ones(n, dtype)


def _row_sums(a):
    """a's row sums as a dot per row with a vector of ones (BLAS): about twice as fast as a.sum(1), NumPy's
    pairwise sum, within float error of it."""
    return np.vecdot(a, _ones(a.shape[1], a.dtype))


@_row_buffer
def np_softmax(x):
    y = np.subtract(x, x.max(1, keepdims=True))
    np.exp(y, out=y)
    y *= (1 / _row_sums(y))[:, None]  # a multiplication pass is cheaper than a division pass
    return y


@_row_buffer
def np_softmax_fb(x, g):
    y = np_softmax(x)
    gx = np.subtract(g, np.vecdot(g, y)[:, None])  # sum(g * y) as a dot per row: no product array
    gx *= y
    return y, gx


@_row_buffer
def np_log_softmax(x):
    m = x.max(1, keepdims=True)
    y = np.subtract(x, m)
    np.exp(y, out=y)
    total = _row_sums(y)[:, None]
    np.subtract(x, m, out=y)  # a second subtraction is cheaper than a second (M, R) array
    y -= np.log(total)
    return y


@_row_buffer
def np_log_softmax_fb(x, g):
    m = x.max(1, keepdims=True)
    p = np.subtract(x, m)
    np.exp(p, out=p)
    total = _row_sums(p)[:, None]
    y = np.subtract(x, m)
    y -= np.log(total)
    p *= _row_sums(g)[:, None] / total  # softmax * sum(g), from the forward's exp
    np.subtract(g, p, out=p)
    return y, p


def _ce_exp(x):
    m = x.max(1)
    e = np.subtract(x, m[:, None])
    np.exp(e, out=e)
    total = _row_sums(e)
    return m, e, total


_CE_BLOCK_BYTES = 1 << 19  # half a core's L2 here: x streams through the other half


@_row_buffer
def np_cross_entropy(x, t):
    # The loss needs only the exp's row sums: computed block by block in one L2-sized scratch, x's two reads are
    # the only passes over memory (a full (N, C) exp array adds a write and two reads).
    rows, C = x.shape
    step = max(1, _CE_BLOCK_BYTES // (C * x.itemsize))
    m, total = x.max(1), np.empty(rows, x.dtype)
    scratch = np.empty((min(step, rows), C), x.dtype)
    for a in range(0, rows, step):
        es = scratch[:min(step, rows - a)]
        np.subtract(x[a:a + step], m[a:a + step, None], out=es)
        total[a:a + step] = _row_sums(np.exp(es, out=es))
    rows = np.arange(len(t))
    return np.float32((np.log(total) + m - x[rows, t]).mean())


@_row_buffer
def np_cross_entropy_fb(x, t):
    m, e, total = _ce_exp(x)
    rows = np.arange(len(t))
    loss = np.float32((np.log(total) + m - x[rows, t]).mean())
    e *= (1 / (total * len(t)))[:, None]
    e[rows, t] -= np.float32(1 / len(t))
    return loss, e


def _col_sums(a):
    """a's column sums as a BLAS matrix-vector product with a vector of ones: ~1.5x the speed of a.sum(0)."""
    return _ones(a.shape[0], a.dtype) @ a


def _ln_xhat(x):
    xhat = np.subtract(x, (_row_sums(x) / np.float32(x.shape[1]))[:, None])
    rstd = 1 / np.sqrt(np.vecdot(xhat, xhat) / np.float32(x.shape[1]) + np.float32(EPS))
    xhat *= rstd[:, None]
    return xhat, rstd


@_row_buffer
def np_layer_norm(x, w, b):
    y, _ = _ln_xhat(x)
    y *= w
    y += b
    return y


@_row_buffer
def np_layer_norm_fb(x, w, b, g):
    xhat, rstd = _ln_xhat(x)
    y = xhat * w
    y += b
    dx = g * w
    c1 = np.vecdot(dx, xhat) / np.float32(x.shape[1])
    dx -= (_row_sums(dx) / np.float32(x.shape[1]))[:, None]
    dw = np.einsum("ij,ij->j", g, xhat)
    xhat *= c1[:, None]
    dx -= xhat
    dx *= rstd[:, None]
    return y, dx, dw, _col_sums(g)


def _np_cdf(x):
    cdf = x * _SQRT_HALF
    scipy.special.erf(cdf, out=cdf)
    cdf += 1
    cdf *= 0.5
    return cdf


def np_gelu(x):
    y = _np_cdf(x)
    y *= x
    return y


def np_gelu_fb(x, g):
    cdf = _np_cdf(x)
    y = x * cdf
    gx = x * x
    gx *= -0.5
    np.exp(gx, out=gx)
    gx *= _INV_SQRT_2PI
    gx *= x
    gx += cdf
    gx *= g
    return y, gx


# ---------------------------------------------------------------- tritensor (cpu)
def tt_fb(fn, x, g, *more):
    """fn(x, *more) and d/dx of sum(fn * g) (and of the extra leaves), as one training step runs them."""
    y = fn(x, *more)
    return (y,) + tt.autograd.grad(y, (x,) + tuple(more), g)


def _close(got, want, rtol=2e-5, atol=2e-6):
    np.testing.assert_allclose(np.asarray(got.detach().numpy() if isinstance(got, tt.Tensor) else got, np.float64),
                               np.asarray(want, np.float64), rtol=rtol, atol=atol)


def _leaf(a):
    return tt.from_numpy(a.copy()).requires_grad_()


@pytest.mark.benchmark(group="softmax-fwd")
def test_numpy_softmax(benchmark, operands):
    benchmark(np_softmax, operands[0])


@pytest.mark.benchmark(group="softmax-fwd")
def test_tritensor_softmax(benchmark, operands, threads):
    x = operands[0]
    _close(benchmark(F.softmax, tt.from_numpy(x), 1), np_softmax(x))


@pytest.mark.benchmark(group="softmax-fwd-bwd")
def test_numpy_softmax_fb(benchmark, operands):
    benchmark(np_softmax_fb, operands[0], operands[1])


@pytest.mark.benchmark(group="softmax-fwd-bwd")
def test_tritensor_softmax_fb(benchmark, operands, threads):
    x, g = operands[:2]
    y, gx = benchmark(tt_fb, lambda a: F.softmax(a, 1), _leaf(x), tt.from_numpy(g))
    want = np_softmax_fb(x, g)
    _close(y, want[0])
    _close(gx, want[1])


@pytest.mark.benchmark(group="log_softmax-fwd")
def test_numpy_log_softmax(benchmark, operands):
    benchmark(np_log_softmax, operands[0])


@pytest.mark.benchmark(group="log_softmax-fwd")
def test_tritensor_log_softmax(benchmark, operands, threads):
    x = operands[0]
    _close(benchmark(F.log_softmax, tt.from_numpy(x), 1), np_log_softmax(x))


@pytest.mark.benchmark(group="log_softmax-fwd-bwd")
def test_numpy_log_softmax_fb(benchmark, operands):
    benchmark(np_log_softmax_fb, operands[0], operands[1])


@pytest.mark.benchmark(group="log_softmax-fwd-bwd")
def test_tritensor_log_softmax_fb(benchmark, operands, threads):
    x, g = operands[:2]
    y, gx = benchmark(tt_fb, lambda a: F.log_softmax(a, 1), _leaf(x), tt.from_numpy(g))
    want = np_log_softmax_fb(x, g)
    _close(y, want[0])
    _close(gx, want[1], atol=1e-5)


@pytest.mark.benchmark(group="cross_entropy-fwd")
def test_numpy_cross_entropy(benchmark, operands):
    benchmark(np_cross_entropy, operands[0], operands[4])


@pytest.mark.benchmark(group="cross_entropy-fwd")
def test_tritensor_cross_entropy(benchmark, operands, threads):
    x, t = operands[0], operands[4]
    _close(benchmark(F.cross_entropy, tt.from_numpy(x), tt.from_numpy(t)), np_cross_entropy(x, t))


@pytest.mark.benchmark(group="cross_entropy-fwd-bwd")
def test_numpy_cross_entropy_fb(benchmark, operands):
    benchmark(np_cross_entropy_fb, operands[0], operands[4])


@pytest.mark.benchmark(group="cross_entropy-fwd-bwd")
def test_tritensor_cross_entropy_fb(benchmark, operands, threads):
    x, t = operands[0], operands[4]
    tx, tt_ = _leaf(x), tt.from_numpy(t)

    def step():
        loss = F.cross_entropy(tx, tt_)
        return loss, tt.autograd.grad(loss, (tx,))[0]

    loss, gx = benchmark(step)
    want = np_cross_entropy_fb(x, t)
    _close(loss, want[0])
    _close(gx, want[1], atol=1e-8)


@pytest.mark.benchmark(group="layer_norm-fwd")
def test_numpy_layer_norm(benchmark, operands):
    x, _, w, b, _ = operands
    benchmark(np_layer_norm, x, w, b)


@pytest.mark.benchmark(group="layer_norm-fwd")
def test_tritensor_layer_norm(benchmark, operands, threads):
    x, _, w, b, _ = operands
    y = benchmark(F.layer_norm, tt.from_numpy(x), (x.shape[1],), tt.from_numpy(w), tt.from_numpy(b), EPS)
    _close(y, np_layer_norm(x, w, b), atol=2e-5)


@pytest.mark.benchmark(group="layer_norm-fwd-bwd")
def test_numpy_layer_norm_fb(benchmark, operands):
    x, g, w, b, _ = operands
    benchmark(np_layer_norm_fb, x, w, b, g)


@pytest.mark.benchmark(group="layer_norm-fwd-bwd")
def test_tritensor_layer_norm_fb(benchmark, operands, threads):
    x, g, w, b, _ = operands
    shape = (x.shape[1],)
    got = benchmark(tt_fb, lambda a, wt, bt: F.layer_norm(a, shape, wt, bt, EPS), _leaf(x), tt.from_numpy(g),
                    _leaf(w), _leaf(b))
    for have, want in zip(got, np_layer_norm_fb(x, w, b, g)):
        _close(have, want, rtol=1e-4, atol=2e-4)


@pytest.mark.benchmark(group="gelu-fwd")
def test_numpy_gelu(benchmark, operands):
    benchmark(np_gelu, operands[0])


@pytest.mark.benchmark(group="gelu-fwd")
def test_tritensor_gelu(benchmark, operands, threads):
    x = operands[0]
    _close(benchmark(F.gelu, tt.from_numpy(x)), np_gelu(x))


@pytest.mark.benchmark(group="gelu-fwd-bwd")
def test_numpy_gelu_fb(benchmark, operands):
    benchmark(np_gelu_fb, operands[0], operands[1])


@pytest.mark.benchmark(group="gelu-fwd-bwd")
def test_tritensor_gelu_fb(benchmark, operands, threads):
    x, g = operands[:2]
    y, gx = benchmark(tt_fb, F.gelu, _leaf(x), tt.from_numpy(g))
    want = np_gelu_fb(x, g)
    _close(y, want[0])
    _close(gx, want[1])
