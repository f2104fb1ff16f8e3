"""kernels/host_threads.py and the cpu references that split their rows / elements over it.

Every threaded reference must give the same bits with 1, 2 or 3 threads (rows are independent and no reduction is
split across threads), and the values of the NumPy formulas; tt.set_num_threads / get_num_threads follow PyTorch.
"""

from __future__ import annotations

import gc
import math
import threading
import weakref

import numpy as np
import pytest
import scipy.special
from tritensor.kernels import activations as KA
from tritensor.kernels import activations_ref as KAR
from tritensor.kernels import host_threads as H
from tritensor.kernels import loss_ref as KL
from tritensor.kernels import norm_rows as KN
from tritensor.kernels import softmax as KS

import tritensor as tt
import tritensor.nn.functional as F

# Above MIN_PARALLEL_ELEMENTS, an odd row length (row splits fall mid-SIMD-vector) and a row count that does not
# divide by 3.
ROWS, COLS = 67, 1031


@pytest.fixture(autouse=True)
def _restore_threads():
    before = tt.get_num_threads()
    yield
    tt.set_num_threads(before)


def _each_thread_count(fn):
    """fn() run with 1, 2 and 3 threads: the results, each a tuple of arrays."""
    out = []
    for n in (1, 2, 3):
        tt.set_num_threads(n)
        got = fn()
        out.append(tuple(np.array(a, copy=True) for a in (got if isinstance(got, tuple) else (got,))))
    return out


def _same_bits(results):
    first = results[0]
    for other in results[1:]:
        assert len(other) == len(first)
        for a, b in zip(first, other):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=True)
    return first


@pytest.fixture
def x(rng):
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32) * 4
    a[3, 5], a[7, :] = np.inf, -np.inf  # a +inf row entry and an all -inf row: NaN rows, as the unsplit math gives
    return a


# ---------------------------------------------------------------- the public API
def test_set_get_num_threads():
    tt.set_num_threads(3)
    assert tt.get_num_threads() == 3
    tt.set_num_threads(np.int64(1))
    assert tt.get_num_threads() == 1 and isinstance(tt.get_num_threads(), int)


@pytest.mark.parametrize("bad, message", [(0, "set_num_threads expects a positive integer"),
                                          (-2, "set_num_threads expects a positive integer"),
                                          (1.5, "set_num_threads expects an int, but got float"),
                                          (True, "set_num_threads expects an int, but got bool"),
                                          ("2", "set_num_threads expects an int, but got str")])
def test_set_num_threads_errors(bad, message):
    before = tt.get_num_threads()
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        tt.set_num_threads(bad)
    assert tt.get_num_threads() == before


@pytest.mark.parametrize("env, want", [("3", 3), ("2,1", 2), ("0", None), ("many", None), ("", None)])
def test_default_threads_from_omp_num_threads(monkeypatch, env, want):
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    import os
    assert H._default_threads() == (want or len(os.sched_getaffinity(0)))


# ---------------------------------------------------------------- the pool
def test_for_rows_splits_large_work_and_runs_small_work_inline():
    tt.set_num_threads(2)
    seen = []
    lock = threading.Lock()
    second = threading.Event()

    def record(lo, hi):
        with lock:
            seen.append((lo, hi, threading.get_ident()))
        if lo == 0:  # the first chunk waits for the second: only another thread can run it meanwhile
            assert second.wait(10)
        else:
            second.set()

    H.for_rows(record, 10, H.MIN_PARALLEL_ELEMENTS // 10 + 1)
    assert sorted(s[:2] for s in seen) == [(0, 5), (5, 10)]
    assert len({s[2] for s in seen}) == 2
    seen.clear()
    tt.set_num_threads(3)
    H.for_rows(record, 100, H.MIN_PARALLEL_ELEMENTS)  # a few chunks per thread, covering every row once
    bounds = sorted(s[:2] for s in seen)
    assert len(bounds) == 12 and bounds[0][0] == 0 and bounds[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    seen.clear()
    H.for_rows(record, 10, 10)  # small: one inline call
    assert seen == [(0, 10, threading.get_ident())]
    seen.clear()
    H.for_rows(record, 0, 10)
    assert seen == []


def test_a_job_the_caller_finished_keeps_none_of_its_arrays():
    # With the pool's worker busy, the caller takes every chunk itself and returns while the worker's task is still
    # queued: that task holds the job, which must no longer hold fn (its closure keeps the caller's arrays alive).
    tt.set_num_threads(2)
    release = threading.Event()
    blocker = H._state.executor().submit(release.wait)

    class Held:
        pass

    held = Held()
    ref = weakref.ref(held)
    seen = []
    H.for_rows(lambda lo, hi, h=held: seen.append((lo, hi, h is not None)), 8, 1 << 20)
    del held
    gc.collect()
    try:
        assert sorted(seen)[0][0] == 0 and sum(hi - lo for lo, hi, _ in seen) == 8
        assert ref() is None
    finally:
        release.set()
        blocker.result()


def test_for_rows_one_thread_nested_and_errors():
    tt.set_num_threads(1)
    calls = []
    H.for_rows(lambda lo, hi: calls.append((lo, hi)), 4, H.MIN_PARALLEL_ELEMENTS)
    assert calls == [(0, 4)]
    tt.set_num_threads(2)
    inner = []

    def outer(lo, hi):  # a nested call runs inline in the range's thread (no waiting on the pool from inside it)
        H.for_rows(lambda a, b: inner.append((a, b, threading.get_ident())), 4, H.MIN_PARALLEL_ELEMENTS)
        assert inner[-1] == (0, 4, threading.get_ident())

    H.for_rows(outer, 2, H.MIN_PARALLEL_ELEMENTS)
    assert len(inner) == 2

    def fail(lo, hi):
        if lo:
            raise ValueError("worker failed")

    with pytest.raises(ValueError, match="worker failed"):
        H.for_rows(fail, 2, H.MIN_PARALLEL_ELEMENTS)
    with pytest.raises(ValueError, match="worker failed"):  # chunks after the failure are skipped, not waited for
        H.for_rows(fail, 64, H.MIN_PARALLEL_ELEMENTS)


def test_workers_run_under_the_callers_errstate():
    tt.set_num_threads(2)
    a = np.full((2, H.MIN_PARALLEL_ELEMENTS), np.inf, np.float32)
    out = np.empty_like(a)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        H.for_rows(lambda lo, hi: np.subtract(a[lo:hi], a[lo:hi], out=out[lo:hi]), 2, a.shape[1])
    with np.errstate(invalid="ignore"):
        H.for_rows(lambda lo, hi: np.subtract(a[lo:hi], a[lo:hi], out=out[lo:hi]), 2, a.shape[1])
    assert np.isnan(out).all()


def test_for_elements_and_split_map():
    tt.set_num_threads(3)
    n = H.MIN_PARALLEL_ELEMENTS + 5
    got = []
    H.for_elements(lambda lo, hi: got.append((lo, hi)), n)
    got.sort()
    assert got[0][0] == 0 and got[-1][1] == n and all(a[1] == b[0] for a, b in zip(got, got[1:]))
    assert all(lo % H.ALIGN == 0 for lo, _ in got)
    a = np.arange(n, dtype=np.float64).reshape(5, -1) if n % 5 == 0 else np.arange(n, dtype=np.float64)
    np.testing.assert_array_equal(H.split_map(np.sqrt, [a], np.float32), np.sqrt(a).astype(np.float32))
    assert H.split_map(np.sqrt, [a[:10]], np.float64) is None  # small: the caller runs it
    assert H.split_map(np.sqrt, [a[::2]], np.float64) is None  # strided
    tt.set_num_threads(1)
    assert H.split_map(np.sqrt, [a], np.float64) is None


def test_chunks_hold_at_least_min_chunk_elements():
    """Each chunk costs a GIL hand-over per NumPy call: no chunk under MIN_CHUNK_ELEMENTS (but at least two), a
    few per thread on large work, never more than the rows."""
    big = H.MIN_CHUNK_ELEMENTS
    assert H._chunks(256, 4096, 2) == 2  # 2^20 elements: one chunk per thread
    assert H._chunks(64, H.MIN_PARALLEL_ELEMENTS // 64, 2) == 2  # the smallest split work
    assert H._chunks(64, 2 * big // 64, 16) == 2
    assert H._chunks(1024, 6 * big // 1024, 2) == 6
    assert H._chunks(1024, 64 * big // 1024, 3) == 12  # at most 4 per thread
    assert H._chunks(5, 64 * big // 5, 3) == 5  # at most one per row


def test_pool_restarts_after_fork():
    tt.set_num_threads(2)
    H.for_rows(lambda lo, hi: None, 2, H.MIN_PARALLEL_ELEMENTS)
    assert H._state.pool is not None
    H._state.after_fork()
    assert H._state.pool is None
    H.for_rows(lambda lo, hi: None, 2, H.MIN_PARALLEL_ELEMENTS)  # a fresh pool, not the parent's dead threads
    assert H._state.pool is not None


# ---------------------------------------------------------------- the threaded references: same bits, right values
def _np_softmax(a, axis, log=False):
    a = a.astype(np.float64)
    with np.errstate(invalid="ignore"):
        z = a - a.max(axis, keepdims=True)
        lse = np.log(np.exp(z).sum(axis, keepdims=True))
    return z - lse if log else np.exp(z - lse)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("axis", [1, 0])
def test_softmax_refs_same_bits(x, log, axis):
    y = _same_bits(_each_thread_count(lambda: KS.softmax_ref(x, axis, log)))[0]
    np.testing.assert_allclose(y, _np_softmax(x, axis, log), rtol=2e-5, atol=2e-5)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    yc = np.nan_to_num(y, nan=0.0, neginf=-50.0)
    gx = _same_bits(_each_thread_count(lambda: KS.softmax_backward_ref(g, yc, axis, log)))[0]
    p = np.exp(yc.astype(np.float64)) if log else yc.astype(np.float64)
    want = g - p * g.sum(axis, keepdims=True) if log else p * (g - (g * p).sum(axis, keepdims=True))
    np.testing.assert_allclose(gx, want, rtol=1e-4, atol=1e-4)


def test_softmax_ref_middle_axis_3d(rng):
    a = rng.standard_normal((9, 130, 61)).astype(np.float32)
    y = _same_bits(_each_thread_count(lambda: KS.softmax_ref(a, 1)))[0]
    np.testing.assert_allclose(y, _np_softmax(a, 1), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(3, 23, 1031), (1031,)])
def test_softmax_refs_last_axis_nd_same_bits(rng, shape):
    """Rows of the last axis of a 3-D / 1-D x: one inline call with one thread (runs_inline), slabs split with more;
    the same bits either way, and log_softmax_exp_ref's kept exp and row sums too."""
    a = rng.standard_normal(shape).astype(np.float32) * 4

    def run():
        ylog, (e, total) = KS.log_softmax_exp_ref(a, -1)
        return KS.softmax_ref(a, -1), ylog, e, total

    y, ylog, e, total = _same_bits(_each_thread_count(run))
    np.testing.assert_allclose(y, _np_softmax(a, -1), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(ylog, _np_softmax(a, -1, log=True), rtol=2e-5, atol=2e-5)
    assert e.shape == a.shape and total.shape == shape[:-1] + (1,)
    np.testing.assert_allclose(e / total, _np_softmax(a, -1), rtol=2e-6, atol=1e-9)
    tt.set_num_threads(2)
    assert H.runs_inline(1, 10 ** 9) and H.runs_inline(2, 5) and not H.runs_inline(2, H.MIN_PARALLEL_ELEMENTS)
    tt.set_num_threads(1)
    assert H.runs_inline(2, H.MIN_PARALLEL_ELEMENTS)


def test_log_softmax_exp_ref_and_backward_from_it(x):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    y, (e, total) = KS.log_softmax_exp_ref(x, 1)
    assert np.array_equal(y, KS.log_softmax_ref(x, 1))
    np.testing.assert_allclose(e / total, _np_softmax(x, 1), rtol=2e-6, atol=1e-9)
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    gx = _same_bits(_each_thread_count(lambda: KS.log_softmax_backward_ref(g, y, 1, (e.copy(), total))))[0]
    want = g - _np_softmax(x, 1) * g.sum(1, keepdims=True)
    np.testing.assert_allclose(gx, want, rtol=1e-5, atol=1e-5)
    kept = e.copy()
    assert np.array_equal(KS.log_softmax_backward_ref(g, y, 1, (kept, total)), gx)
    assert np.array_equal(kept, e)  # read, not modified: a second backward gives the same bits
    np.testing.assert_allclose(KS.log_softmax_backward_ref(g, y, 1), gx, rtol=1e-5, atol=1e-6)  # from exp(y)
    assert KS.log_softmax_exp_ref(np.zeros((0, 3), np.float32))[1] is None


def test_cross_entropy_refs_same_bits(x, rng):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    t = rng.integers(0, COLS, ROWS)

    def run():
        loss, _, lse, (e, m, total) = KL.cross_entropy_rows_exp_ref(x, t)
        gx = KL.cross_entropy_backward_ref(np.float32(1.0), x, t, exp_rows=(e, m, total))
        return loss, lse, gx

    loss, lse, gx = _same_bits(_each_thread_count(run))
    want_lse = scipy.special.logsumexp(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(lse, want_lse, rtol=1e-6)
    np.testing.assert_allclose(loss, want_lse - x[np.arange(ROWS), t], rtol=1e-5, atol=1e-5)
    want = np.exp(x - want_lse[:, None]) / ROWS
    want[np.arange(ROWS), t] -= 1 / ROWS
    np.testing.assert_allclose(gx, want, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_refs_same_bits(x, rng, rms, affine):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    w = rng.standard_normal(COLS).astype(np.float32) if affine else None
    b = rng.standard_normal(COLS).astype(np.float32) if affine and not rms else None
    g = rng.standard_normal(x.shape).astype(np.float32)

    def run():
        y, mean, rstd, xhat = KN.layer_norm_ref(x, w, b, 1e-5, rms, keep_xhat=True)
        dx, dw, db = KN.layer_norm_backward_ref(g, x, w, mean, rstd, rms, xhat)
        dx2, dw2, db2 = KN.layer_norm_backward_ref(g, x, w, mean, rstd, rms)  # xhat recomputed: the same bits
        assert np.array_equal(dx, dx2) and np.array_equal(dw, dw2) and np.array_equal(db, db2)
        return y, mean, rstd, dx, dw, db

    y, mean, rstd, dx, dw, db = _same_bits(_each_thread_count(run))
    assert np.array_equal(y, KN.layer_norm_ref(x, w, b, 1e-5, rms)[0])
    x64 = x.astype(np.float64)
    xc = x64 if rms else x64 - x64.mean(1, keepdims=True)
    r = 1 / np.sqrt((xc * xc).mean(1, keepdims=True) + 1e-5)
    xhat = xc * r
    want = xhat * (w if affine else 1) + (b if b is not None else 0)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rstd, r[:, 0], rtol=1e-5)
    wdy = g * (w if affine else 1)
    want_dx = wdy - xhat * (wdy * xhat).mean(1, keepdims=True)
    if not rms:
        want_dx -= wdy.mean(1, keepdims=True)
    np.testing.assert_allclose(dx, want_dx * r, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dw, (g * xhat).sum(0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-4, atol=1e-3)
    assert KN.layer_norm_backward_ref(g, x, w, mean, rstd, rms, need_w=False, need_b=False)[1:] == (None, None)


@pytest.mark.parametrize("cols", [COLS, 4096, 5])
def test_layer_norm_refs_non_finite_rows_same_bits_no_warnings(rng, cols):
    """inf / NaN entries give NaN rows, as PyTorch, without NumPy warnings (errors under this suite's filters), the
    same bits on any thread count; the mean is a dot per row with a vector of ones (row_sums' rule) divided by the
    float32 row length, bit for bit (computed here from its formula, not by the library's helper)."""
    x = rng.standard_normal((ROWS, cols)).astype(np.float32) * 3
    x[3, 1], x[7, :], x[9, 2], x[11, 0] = np.inf, -np.inf, np.nan, -np.inf
    w, b = rng.standard_normal(cols).astype(np.float32), rng.standard_normal(cols).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)

    def run():
        y, mean, rstd, xhat = KN.layer_norm_ref(x, w, b, 1e-5, keep_xhat=True)
        dx, dw, db = KN.layer_norm_backward_ref(g, x, w, mean, rstd, xhat=xhat)
        return y, mean, rstd, dx, dw, db

    y, mean, rstd, dx, dw, db = _same_bits(_each_thread_count(run))
    bad = ~np.isfinite(x).all(1)
    assert np.isnan(y[bad]).all() and np.isnan(dx[bad]).all() and np.isfinite(y[~bad]).all()
    assert np.array_equal(mean, np.vecdot(x, np.ones(cols, np.float32)) / np.float32(cols), equal_nan=True)
    x64 = x[~bad].astype(np.float64)
    xc = x64 - x64.mean(1, keepdims=True)
    want = xc / np.sqrt((xc * xc).mean(1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(y[~bad], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(256, 4096), (7, 33), (1000, 64), (3, 1), (0, 5)])
def test_col_sums_is_one_product_with_ones_at_any_address(rng, shape):
    """col_sums is ones @ a bit for bit (one BLAS call, whatever the array's alignment: a layer_norm's db has the same
    bits in every call), within float32 error of the float64 column sums."""
    a = rng.standard_normal(shape).astype(np.float32)
    got = H.col_sums(a)
    assert got.dtype == np.float32 and got.shape == shape[1:]
    assert np.array_equal(got, np.ones(shape[0], np.float32) @ a)
    buf = np.empty(a.size + 16, np.float32)
    for off in (1, 3, 8):
        moved = buf[off:off + a.size].reshape(shape)
        moved[...] = a
        assert np.array_equal(H.col_sums(moved), got)
    np.testing.assert_allclose(got, a.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5 * math.sqrt(shape[0] + 1))


def test_layer_norm_keep_xhat_never_hands_out_y(x):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    y, _, _, xhat = KN.layer_norm_ref(x, None, None, 1e-5, keep_xhat=True)
    assert xhat is None  # y itself is xhat: the caller's output, never overwritten by the backward
    y16, _, _, xhat16 = KN.layer_norm_ref(x.astype(np.float16), None, None, 1e-5, keep_xhat=True)
    assert xhat16.dtype == np.float32 and np.array_equal(xhat16.astype(np.float16), y16)


def _gelu64(a):
    return 0.5 * a * scipy.special.erfc(-a / math.sqrt(2))


def test_activation_refs_same_bits(x, rng, monkeypatch):
    # relu and silu split only from millions of elements (smaller splits measured slower): split these too
    monkeypatch.setattr(KAR, "_RELU_MIN", 1 << 12)
    monkeypatch.setattr(KAR, "_SILU_MIN", 1 << 12)
    g = rng.standard_normal(x.shape).astype(np.float32)
    a64 = np.nan_to_num(x, posinf=0.0, neginf=0.0).astype(np.float64)
    xs = a64.astype(np.float32)
    y, gx = _same_bits(_each_thread_count(lambda: (KA.gelu_ref(xs), KA.gelu_backward_ref(g, xs)[0])))
    np.testing.assert_allclose(y, _gelu64(a64), rtol=5e-6, atol=1e-7)
    dwant = 0.5 * scipy.special.erfc(-a64 / math.sqrt(2)) + a64 * np.exp(-a64 * a64 / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(gx, g * dwant, rtol=2e-5, atol=1e-6)
    y2, d = _same_bits(_each_thread_count(lambda: KA.gelu_derivative_ref(xs)))
    assert np.array_equal(y2, y)
    kept = d.copy()
    assert KA.gelu_backward_ref(g, xs, derivative=kept)[0] is kept  # the kept derivative becomes the gradient
    assert np.array_equal(kept, gx)  # with the same bits as from x
    g16 = g.astype(np.float16)
    np.testing.assert_array_equal(KA.gelu_backward_ref(g16, xs, derivative=d.copy())[0],
                                  KA.gelu_backward_ref(g16, xs)[0])
    assert KA.gelu_derivative_ref(xs, "tanh")[1] is None and KA.gelu_derivative_ref(a64)[1] is None
    s, sgx = _same_bits(_each_thread_count(lambda: (KA.silu_ref(xs), KA.silu_backward_ref(g, xs)[0])))
    sig = scipy.special.expit(a64)
    np.testing.assert_allclose(s, a64 * sig, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sgx, g * sig * (1 + a64 * (1 - sig)), rtol=1e-5, atol=1e-6)
    big = rng.standard_normal((256, 1031)).astype(np.float32)
    gb = rng.standard_normal(big.shape).astype(np.float32)
    r, rgx = _same_bits(_each_thread_count(lambda: (KA.relu_ref(big), KA.relu_backward_ref(gb, KA.relu_ref(big))[0])))
    np.testing.assert_array_equal(r, np.maximum(big, 0))
    np.testing.assert_array_equal(rgx, np.where(big > 0, gb, 0))


# ---------------------------------------------------------------- through autograd
def _leaf(a):
    return tt.from_numpy(a.copy()).requires_grad_()


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "layer_norm", "gelu", "silu", "cross_entropy"])
def test_ops_same_bits_with_threads_and_byproducts_freed(x, rng, op):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    g = rng.standard_normal(x.shape).astype(np.float32)
    t = tt.from_numpy(rng.integers(0, COLS, ROWS))
    w = tt.from_numpy(rng.standard_normal(COLS).astype(np.float32))
    kept = {"log_softmax": "exp_host", "cross_entropy": "exp_host", "layer_norm": "xhat_host",
            "gelu": "derivative_host"}
    fns = {"softmax": lambda a: F.softmax(a, 1), "log_softmax": lambda a: F.log_softmax(a, 1),
           "layer_norm": lambda a: F.layer_norm(a, (COLS,), w, w), "gelu": F.gelu, "silu": F.silu,
           "cross_entropy": lambda a: F.cross_entropy(a, t)}

    def run():
        a = _leaf(x)
        y = fns[op](a)
        node = y.grad_fn
        grad = tt.from_numpy(g) if y.ndim else None
        if op in kept:  # the forward kept its byproduct for the fused backward
            assert getattr(node, kept[op]) is not None
        (gx,) = tt.autograd.grad(y, (a,), grad, retain_graph=True)
        (gx2,) = tt.autograd.grad(y, (a,), grad)  # a second backward: the same bits (byproducts kept or recomputed)
        assert np.array_equal(gx.numpy(), gx2.numpy())
        for name in ("exp_host", "xhat_host", "derivative_host"):  # dropped once the node ran without retain
            assert getattr(node, name, None) is None
        return y.detach().numpy(), gx.numpy()

    y, gx = _same_bits(_each_thread_count(run))
    with tt.no_grad():
        assert np.array_equal(fns[op](tt.from_numpy(x)).numpy(), y)  # the forward's bits whether recording or not
    a = _leaf(x)
    want = tt.autograd.grad(fns[op](a), (a,), tt.from_numpy(g) if op != "cross_entropy" else None,
                            create_graph=True)[0]  # the tensor-op backward
    np.testing.assert_allclose(gx, want.detach().numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- NumPy's ufunc buffer
def test_unbuffer_rows_sets_a_row_long_buffer_inside_errstate_only():
    default = np.getbufsize()
    with np.errstate():
        H.unbuffer_rows(1031)
        assert np.getbufsize() == 1024  # a multiple of 16 no longer than the row
    assert np.getbufsize() == default
    for short_or_long in (H.ROW_UNBUFFERED_MIN - 1, 4097, 0):  # short rows gain from buffering; long ones need none
        with np.errstate():
            H.unbuffer_rows(short_or_long)
            assert np.getbufsize() == default


@pytest.mark.parametrize("cols", [COLS, 4096])
def test_refs_same_bits_with_numpy_buffering(rng, monkeypatch, cols):
    """The references give the same bits whether NumPy buffers their row passes or not (unbuffer_rows only changes
    how NumPy walks the rows, never which operations run)."""
    x = rng.standard_normal((40, cols)).astype(np.float32) * 3
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(cols).astype(np.float32), rng.standard_normal(cols).astype(np.float32)

    def run():
        tt.set_num_threads(1)
        y, (e, total) = KS.log_softmax_exp_ref(x, 1)
        s = KS.softmax_ref(x, 1)
        ln, mean, rstd = KN.layer_norm_ref(x, w, b, 1e-5)
        return (y, e, total, KS.log_softmax_backward_ref(g, y, 1, (e.copy(), total)), s,
                KS.softmax_backward_ref(g, s, 1), ln, *KN.layer_norm_backward_ref(g, x, w, mean, rstd))

    unbuffered = run()
    monkeypatch.setattr(H, "ROW_UNBUFFERED_MIN", 1 << 30)  # NumPy's default buffering throughout
    for a, b_ in zip(unbuffered, run()):
        assert np.array_equal(a, b_, equal_nan=True)


# ---------------------------------------------------------------- log_softmax's kept exp, used up by the backward
def test_log_softmax_backward_consumes_the_kept_exp(x):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    y, (e, total) = KS.log_softmax_exp_ref(x, 1)
    want = KS.log_softmax_backward_ref(g, y, 1, (e.copy(), total))
    gx = KS.log_softmax_backward_ref(g, y, 1, (e, total), consume=True)
    assert gx is e and np.array_equal(gx, want)  # computed in the kept array, the same bits
    g16 = g.astype(np.float16)  # a result in another dtype than exp's: cast from it, the same values
    y, (e, total) = KS.log_softmax_exp_ref(x.astype(np.float16), 1)
    want = KS.log_softmax_backward_ref(g16, y, 1, (e.copy(), total))
    got = KS.log_softmax_backward_ref(g16, y, 1, (e, total), consume=True)
    assert got.dtype == np.float16 and np.array_equal(got, want)


def test_log_softmax_second_backward_recomputes_the_exp_from_x(x, rng):
    x = np.nan_to_num(x, posinf=9.0, neginf=-9.0)
    g = tt.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    a = _leaf(x)
    y = F.log_softmax(a, 1)
    (g1,) = tt.autograd.grad(y, (a,), g, retain_graph=True)
    assert y.grad_fn.exp_host is None  # used up by the first backward
    (g2,) = tt.autograd.grad(y, (a,), g, retain_graph=True)  # recomputed from x: the same bits
    assert np.array_equal(g1.numpy(), g2.numpy())
    with tt.no_grad():
        a.mul_(2.0)  # x changed in place: its exp is not the forward's any more; exp(y) serves, the same values
    (g3,) = tt.autograd.grad(y, (a,), g)
    np.testing.assert_allclose(g3.numpy(), g1.numpy(), rtol=1e-5, atol=1e-6)
    b = tt.from_numpy(x.copy()).requires_grad_()
    y = F.log_softmax(b * 1.0, 1)  # x an intermediate: freed after the forward
    (h1,) = tt.autograd.grad(y, (b,), g, retain_graph=True)
    (h2,) = tt.autograd.grad(y, (b,), g)
    np.testing.assert_allclose(h2.numpy(), h1.numpy(), rtol=1e-5, atol=1e-6)
