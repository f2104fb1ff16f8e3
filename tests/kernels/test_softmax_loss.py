"""softmax/log_softmax, cross-entropy/nll and dropout kernels in Triton's interpreter against their NumPy
references; the references against naive formulas and central finite differences in float64."""

from contextlib import contextmanager

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import dropout as KD
from tritensor.kernels import loss as KL
from tritensor.kernels import softmax as KS
from tritensor.kernels import tuning

from tests.conftest import as_device
from tests.kernels.tuning_helpers import every_config

# The interpreter evaluates IEEE edge cases (exp(-inf - -inf), log(0)) in NumPy, which warns.

BF16 = ml_dtypes.bfloat16
TOL = {np.float32: 1e-5, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _close(got, want, dt):
    np.testing.assert_allclose(_f64(got), _f64(want), rtol=TOL[dt], atol=TOL[dt])


def _numeric_grad(f, x, eps=1e-6):
    """d sum(f(x) * w) / dx by central differences, for a fixed random weighting w of f's output."""
    w = np.random.default_rng(1).standard_normal(np.shape(f(x)))
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += eps
        lo[i] -= eps
        g[i] = (np.sum(f(hi) * w) - np.sum(f(lo) * w)) / (2 * eps)
    return w, g


# ---------------------------------------------------------------- softmax references
def test_softmax_ref_known_values_and_gradients():
    x = np.array([[0.0, np.log(3.0)], [1.0, 1.0]])
    np.testing.assert_allclose(KS.softmax_ref(x, 1), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-15)
    np.testing.assert_allclose(KS.log_softmax_ref(x, 1), np.log([[0.25, 0.75], [0.5, 0.5]]), rtol=1e-15)
    x = np.random.default_rng(0).standard_normal((3, 4))
    for axis in (0, 1):
        for log in (False, True):
            w, numeric = _numeric_grad(lambda v, a=axis, lg=log: KS.softmax_ref(v, a, lg), x)
            analytic = KS.softmax_backward_ref(w, KS.softmax_ref(x, axis, log), axis, log)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("grad_shape", [(1, 6), (6,)])
def test_log_softmax_backward_ref_from_the_kept_exp_with_a_grad_broadcast_over_rows(rng, grad_shape):
    """A grad broadcast across the rows ((1, R) or (R,)) with the forward's kept exp: the same bits as the same grad
    expanded to every row (it used to raise ValueError: a (1, 1) row sum divided in place by the (M, 1) sums)."""
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y, exp = KS.log_softmax_exp_ref(x, 1)
    g = rng.standard_normal(grad_shape).astype(np.float32)
    full = np.ascontiguousarray(np.broadcast_to(g, x.shape))
    want = KS.log_softmax_backward_ref(full, y, 1, exp)
    assert np.array_equal(KS.log_softmax_backward_ref(g, y, 1, exp), want)
    assert np.array_equal(KS.log_softmax_backward_ref(g, y, 1, (exp[0].copy(), exp[1]), consume=True), want)
    x64 = x.astype(np.float64)
    p = np.exp(x64 - x64.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(want, full - p * full.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(KS.log_softmax_backward_ref(g, y, 1), want, rtol=1e-5, atol=1e-6)  # from exp(y)
    np.testing.assert_allclose(KS.softmax_backward_ref(g, KS.softmax_ref(x, 1), 1),
                               p * (full - (full * p).sum(1, keepdims=True)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("cols", [0, 1, 7, 1001, 4096, (1 << 20) + 3])  # the last: a vector of ones not kept
def test_row_sums_values_and_bits_per_row(rng, monkeypatch, dt, cols):
    """host_threads.row_sums (the references' row sums: a dot per row with ones): the float64 sums within float
    error, and each row's bits whatever rows come with it and wherever the row starts (a misaligned copy)."""
    from tritensor.kernels import host_threads

    rows = 3 if cols > 5000 else 37
    a = rng.standard_normal((rows, cols)).astype(dt)
    got = host_threads.row_sums(a)
    assert got.shape == (rows,) and got.dtype == dt
    want = a.astype(np.float64).sum(1)
    scale = np.abs(a).astype(np.float64).sum(1) + 1
    assert (np.abs(got - want) <= scale * (1e-6 if dt == np.float32 else 1e-14)).all()
    for lo, hi in ((0, 1), (2, 3), (1, rows)):
        assert np.array_equal(host_threads.row_sums(a[lo:hi]), got[lo:hi])
    shifted = np.empty((rows, cols + 1), dt)[:, 1:]
    shifted[...] = a
    out = np.empty(rows, dt)
    assert host_threads.row_sums(shifted, out=out) is out and np.array_equal(out, got)
    if cols > host_threads._ONES_KEPT:
        assert len(host_threads._ONES.get(np.dtype(dt), ())) <= host_threads._ONES_KEPT


def test_softmax_ref_non_finite_rows_and_normaliser():
    """softmax_ref's sums (row_sums) and its multiplication by the reciprocal: NaN rows for +inf / all -inf, exact
    zeros for other -inf, rows summing to 1 within float32 rounding."""
    x = np.zeros((4, 1000), np.float32)
    x[0] = -np.inf
    x[1, 5] = np.inf
    x[2, :3] = -np.inf
    x[3] = np.linspace(-30, 30, 1000, dtype=np.float32)
    y = KS.softmax_ref(x, 1)
    assert np.isnan(y[:2]).all() and not np.isnan(y[2:]).any() and (y[2, :3] == 0).all()
    np.testing.assert_allclose(y[2:].sum(1, dtype=np.float64), 1, rtol=1e-6)
    x64 = x[3].astype(np.float64)
    # (float32 x - max rounds by up to |x - max| * 2^-24: exp(x - max) by up to 60 * 6e-8 relative here)
    np.testing.assert_allclose(y[3], np.exp(x64 - x64.max()) / np.exp(x64 - x64.max()).sum(), rtol=1e-5, atol=1e-30)
    logy = KS.log_softmax_ref(x, 1)
    assert np.isnan(logy[:2]).all() and (logy[2, :3] == -np.inf).all()


# ---------------------------------------------------------------- softmax kernels
def _softmax_kernel(x, log, out_dtype=None):
    out = np.empty(x.shape, out_dtype or x.dtype)
    KS.softmax(as_device(out), as_device(x), log)
    return out


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.float64])
@pytest.mark.parametrize("shape", [(5, 7), (70, 16), (1, 1), (3, 3000)])  # 3000: the BLOCK_R loop
@pytest.mark.parametrize("log", [False, True])
def test_softmax_kernel_rows(rng, dt, shape, log):
    x = (rng.standard_normal(shape) * 3).astype(dt)
    _close(_softmax_kernel(x, log), KS.softmax_ref(x, -1, log), dt)
    g = rng.standard_normal(shape).astype(dt)
    y = KS.softmax_ref(x, -1, log)
    gx = np.empty(shape, dt)
    KS.softmax_backward(as_device(gx), as_device(g), as_device(y), log)
    _close(gx, KS.softmax_backward_ref(g, y, -1, log), dt)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_kernel_strided_middle_dim_and_broadcast_grad(rng, log):
    """(M0, M1, R) views of a contiguous (4, 5, 6) array reducing its middle dim, and a transposed 2-d array;
    the gradient broadcast with zero strides."""
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    out = np.empty_like(x)
    v = (4, 6, 5), (30, 1, 6)
    KS.softmax(as_device(out).view_as(*v), as_device(x).view_as(*v), log)
    _close(out, KS.softmax_ref(x, 1, log), np.float32)
    xt = rng.standard_normal((40, 3)).astype(np.float32)  # softmax over dim 0: rows are strided
    out = np.empty_like(xt)
    KS.softmax(as_device(out).view_as((3, 40), (1, 3)), as_device(xt).view_as((3, 40), (1, 3)), log)
    _close(out, KS.softmax_ref(xt, 0, log), np.float32)
    y = KS.softmax_ref(x, 1, log)
    g = rng.standard_normal((6,)).astype(np.float32)  # broadcast over dims 0 and 1
    gx = np.empty_like(x)
    gview = as_device(g).view_as((4, 6, 5), (0, 1, 0))
    KS.softmax_backward(as_device(gx).view_as(*v), gview, as_device(y).view_as(*v), log)
    _close(gx, KS.softmax_backward_ref(np.broadcast_to(g, x.shape), y, 1, log), np.float32)


@pytest.mark.parametrize("width", [3, 2500, 12000, 20000])
def test_softmax_kernel_non_finite_rows(width):
    """As PyTorch: a row of only -inf, or holding +inf, is NaN (on every path); other -inf entries give 0."""
    x = np.zeros((4, width), np.float32)
    x[0] = -np.inf  # all -inf: NaN row
    x[1, 0] = np.inf  # +inf: NaN row
    x[2, :2] = -np.inf  # some -inf: exact zeros / -inf
    for log in (False, True):
        with np.errstate(invalid="ignore"):
            got = _softmax_kernel(x, log)
        want = KS.softmax_ref(x, -1, log)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isnan(got[:2]).all() and not np.isnan(got[2:]).any()
        finite = ~np.isnan(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6)
        assert (got[2, :2] == (-np.inf if log else 0)).all()


@contextmanager
def _launched():
    """The configs of every launch inside the block, as (tunable name, config) pairs."""
    seen = []

    def observe(record):
        seen.append((record.tunable.name, record.config))

    tuning.add_observer(observe)
    try:
        yield seen
    finally:
        tuning.remove_observer(observe)


# Row lengths at each path boundary: the shared short-row tile (<= 2048), a row per program held in registers
# (up to 8192 for the backward and fp64, 16384 for the forward), the chunked loop beyond.
BOUNDARIES = [2048, 2049, 8192, 8193, 16384, 16385, 40000]


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.float64])
@pytest.mark.parametrize("R", BOUNDARIES)
def test_softmax_kernel_path_boundaries(rng, dt, R):
    """Forward and backward on both sides of every one-pass limit, checking which path each launch took."""
    x = (rng.standard_normal((2, R)) * 4).astype(dt)
    g = rng.standard_normal((2, R)).astype(dt)
    fp64 = dt is np.float64
    for log in (False, True):
        y = KS.softmax_ref(x, -1, log)
        gx = np.empty_like(x)
        with _launched() as seen:
            got = _softmax_kernel(x, log)
            KS.softmax_backward(as_device(gx), as_device(g), as_device(y), log)
        _close(got, y, dt)
        _close(gx, KS.softmax_backward_ref(g, y, -1, log), dt)
        (_, fwd), (_, bwd) = seen
        assert fwd["ONE_PASS"] == (R <= (8192 if fp64 else 16384))
        assert bwd["ONE_PASS"] == (R <= 8192)
        # Long rows get one program each (the grid is the row count); one-pass rows hold the whole row.
        if R > 2048:
            assert fwd["BLOCK_M"] == bwd["BLOCK_M"] == 1
        assert all(c["BLOCK_R"] >= R for c in (fwd, bwd) if c["ONE_PASS"])


@pytest.mark.parametrize("R", [3000, 12000, 40000])
def test_softmax_kernel_long_strided_rows_and_out_dtype(rng, R):
    """Rows of a transposed-inner view (row stride 2R, element stride 1 every other row) and an fp32 output
    of bf16 input, on the long-row paths."""
    base = (rng.standard_normal((6, R)) * 3).astype(np.float32)
    xv = as_device(base).view_as((3, R), (2 * R, 1))  # every other row
    out = np.zeros((6, R), np.float32)
    for log in (False, True):
        KS.softmax(as_device(out).view_as((3, R), (2 * R, 1)), xv, log)
        _close(out[::2], KS.softmax_ref(base[::2], -1, log), np.float32)
        assert not out[1::2].any()  # rows between were never written
    xb = base[:2].astype(BF16)
    got = _softmax_kernel(xb, False, np.float32)
    np.testing.assert_allclose(got, KS.softmax_ref(xb.astype(np.float32), -1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("R", [5, 3000, 12000, 40000])
def test_softmax_kernel_extreme_values(R):
    """Huge logits, -inf entries, and a row whose max rises chunk after chunk (the online rescale), on the
    short, register-held and looping paths."""
    x = np.zeros((4, R), np.float32)
    x[0, 0], x[0, -1] = 1e38, -1e38  # exp(x - max) underflows to 0 everywhere but the max
    x[1] = np.linspace(-80.0, 80.0, R)  # the max grows with every chunk
    x[2, ::2] = -np.inf  # half the row masked out
    x[3, : R // 2] = -np.inf  # the leading chunks see only -inf
    x[3, -1] = 1e4
    for log in (False, True):
        got = _softmax_kernel(x, log)
        want = KS.softmax_ref(x, -1, log)
        assert not np.isnan(got).any()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30 if not log else 1e-3)
        if not log:
            np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)
            assert got[0, 0] == 1 and (got[2, ::2] == 0).all() and got[3, -1] == 1
        else:
            assert (got[2, ::2] == -np.inf).all() and got[0, 0] == 0


# ---------------------------------------------------------------- cross-entropy references
def _naive_cross_entropy(x, t, w, ignore_index, reduction, eps, nll):
    """Sample by sample, straight from PyTorch's documented formula ((N, C) inputs)."""
    n, c = x.shape
    w = np.ones(c) if w is None else w
    losses, weights = [], []
    for i in range(n):
        if t[i] == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        logp = x[i] if nll else x[i] - np.log(np.sum(np.exp(x[i])))
        loss = -w[t[i]] * logp[t[i]]
        if eps:
            loss = (1 - eps) * loss - eps / c * np.sum(w * logp)
        losses.append(loss)
        weights.append(w[t[i]])
    losses = np.array(losses)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / np.sum(weights)


@pytest.mark.parametrize("nll", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_ref_against_naive_and_finite_differences(rng, nll, weighted, eps, reduction):
    if nll and eps:
        return
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, -100, 1, 3])
    w = rng.random(4) + 0.5 if weighted else None
    got = KL.cross_entropy_ref(x, t, w, -100, reduction, eps, nll)
    np.testing.assert_allclose(got, _naive_cross_entropy(x, t, w, -100, reduction, eps, nll), rtol=1e-12)
    weights, numeric = _numeric_grad(lambda v: KL.cross_entropy_ref(v, t, w, -100, reduction, eps, nll), x)
    analytic = KL.cross_entropy_backward_ref(weights, x, t, w, -100, reduction, eps, nll)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_cross_entropy_ref_spatial_and_bounds():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    t = np.array([[0, 1, 2, 1], [2, 2, 0, -100]])
    flat = KL.cross_entropy_ref(np.moveaxis(x, 1, -1).reshape(8, 3), t.reshape(-1), reduction="none")
    np.testing.assert_allclose(KL.cross_entropy_ref(x, t, reduction="none"), flat.reshape(2, 4))
    np.testing.assert_allclose(KL.cross_entropy_ref(x[0, :, 0], np.array(0), reduction="none"),
                               -np.log(np.exp(x[0, 0, 0]) / np.exp(x[0, :, 0]).sum()))
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        KL.cross_entropy_ref(x, np.array([[0, 1, 2, 3], [0, 0, 0, 0]]))


# ---------------------------------------------------------------- cross-entropy kernels
def _ce_kernel(xv, tv, w, ignore_index, eps, nll, reduction, gxv, g):
    """Forward (+ reduce_rows) and backward kernels on (M0, M1, C) / (M0, M1) views; g is the incoming
    gradient, shaped like the targets for reduction="none", else one element."""
    M = tv.numel()
    acc = np.float64 if xv.dtype.np == np.float64 else np.float32
    loss, wt, lse = (np.empty(M, acc) for _ in range(3))
    wv = None if w is None else as_device(w)
    KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), xv, tv, wv, ignore_index, eps, nll)
    denom = None
    if reduction == "none":
        result = loss.reshape(tv.shape)
        gv = as_device(g.reshape(tv.shape))
    else:
        out = np.empty(1, xv.dtype.np)
        denom = np.empty(1, acc) if reduction == "mean" else None
        KL.reduce_rows(as_device(out), None if denom is None else as_device(denom), as_device(loss), as_device(wt),
                       reduction == "mean")
        result = out[0]
        gv = as_device(g).view_as(tv.shape, (0, 0))
    KL.cross_entropy_backward(gxv, gv, None if denom is None else as_device(denom), xv, tv, wv, as_device(lse),
                              ignore_index, eps, nll)
    return result


def _rows(a, m0, m1, c, strides):
    return as_device(a).view_as((m0, m1, c), strides)


@pytest.mark.parametrize("dt", [np.float32, BF16, np.float64])
@pytest.mark.parametrize("nll,weighted,eps", [(False, False, 0.0), (False, True, 0.0), (False, False, 0.1),
                                              (False, True, 0.25), (True, False, 0.0), (True, True, 0.0)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_kernels_2d(rng, dt, nll, weighted, eps, reduction):
    n, c = 9, 7
    x = rng.standard_normal((n, c)).astype(dt)
    t = rng.integers(0, c, n)
    t[[1, 6]] = -100
    w = (rng.random(c) + 0.5).astype(dt) if weighted else None
    g = rng.standard_normal(n).astype(dt) if reduction == "none" else np.array([1.5], dt)
    gx = np.empty_like(x)
    result = _ce_kernel(_rows(x, 1, n, c, (0, c, 1)), as_device(t).view_as((1, n), (0, 1)), w, -100, eps, nll,
                        reduction, _rows(gx, 1, n, c, (0, c, 1)), g)
    _close(np.reshape(result, -1), np.reshape(KL.cross_entropy_ref(x, t, w, -100, reduction, eps, nll), -1), dt)
    g_ref = g if reduction == "none" else g.reshape(())
    _close(gx, KL.cross_entropy_backward_ref(g_ref, x, t, w, -100, reduction, eps, nll), dt)


def test_cross_entropy_kernels_spatial_long_rows_and_bad_targets(rng):
    # (N, C, L): classes strided by L inside a contiguous array; ignore_index inside the class range.
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    t = rng.integers(0, 5, (3, 4))
    w = rng.random(5).astype(np.float32)
    gx = np.empty_like(x)
    g = np.array([0.7], np.float32)
    result = _ce_kernel(_rows(x, 3, 4, 5, (20, 1, 4)), as_device(t), w, 2, 0.2, False, "mean",
                        _rows(gx, 3, 4, 5, (20, 1, 4)), g)
    _close(result, KL.cross_entropy_ref(x, t, w, 2, "mean", 0.2), np.float32)
    _close(gx, KL.cross_entropy_backward_ref(g.reshape(()), x, t, w, 2, "mean", 0.2), np.float32)
    # Per-row gradients of a spatial "none" loss, given transposed (non-contiguous) targets.
    tt_ = np.ascontiguousarray(t.T)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    result = _ce_kernel(_rows(x, 3, 4, 5, (20, 1, 4)), as_device(tt_).view_as((3, 4), (1, 3)), None, -100, 0.0,
                        False, "none", _rows(gx, 3, 4, 5, (20, 1, 4)), g)
    _close(result, KL.cross_entropy_ref(x, t, reduction="none"), np.float32)
    _close(gx, KL.cross_entropy_backward_ref(g, x, t, reduction="none"), np.float32)
    # Vocabulary-sized rows loop over the classes in BLOCK_C chunks.
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    t = np.array([2999, 17])
    gx = np.empty_like(x)
    result = _ce_kernel(_rows(x, 1, 2, 3000, (0, 3000, 1)), as_device(t).view_as((1, 2), (0, 1)), None, -100, 0.1,
                        False, "sum", _rows(gx, 1, 2, 3000, (0, 3000, 1)), np.array([1.0], np.float32))
    _close(result, KL.cross_entropy_ref(x, t, None, -100, "sum", 0.1), np.float32)
    _close(gx, KL.cross_entropy_backward_ref(np.array(1.0), x, t, None, -100, "sum", 0.1), np.float32)
    # A target out of range (and not ignored) gives NaN instead of reading out of bounds.
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = np.array([1, 4, -100])
    loss, wt, lse = (np.empty(3, np.float32) for _ in range(3))
    KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), as_device(x), as_device(t))
    assert not np.isnan(loss[0]) and np.isnan(loss[1]) and loss[2] == 0 and list(wt) == [1, 0, 0]


@pytest.mark.parametrize("dt", [np.float32, BF16, np.float64])
@pytest.mark.parametrize("c", [7, 5000, 40000])  # a shared tile, one row held in registers, the chunked loop
@pytest.mark.parametrize("weighted,eps,reduction", [(False, 0.0, "mean"), (True, 0.2, "mean"), (True, 0.0, "none"),
                                                    (False, 0.1, "sum")])
def test_cross_entropy_kernels_on_each_path(rng, dt, c, weighted, eps, reduction):
    """ignore_index, class weights and label smoothing, forward and backward, where the classes fit one
    program's registers (one read of the logits, held) and where they are looped over (32000-class heads)."""
    n = 3
    x = (rng.standard_normal((n, c)) * 3).astype(dt)
    x[1, ::2] += np.linspace(0, 40, (c + 1) // 2).astype(dt)  # the row max rises chunk after chunk
    t = np.array([c - 1, 0, -100])
    w = (rng.random(c) + 0.5).astype(dt) if weighted else None
    g = rng.standard_normal(n).astype(dt) if reduction == "none" else np.array([1.5], dt)
    gx = np.empty_like(x)
    with _launched() as seen:
        result = _ce_kernel(_rows(x, n, 1, c, (c, 0, 1)), as_device(t).view_as((n, 1), (1, 0)), w, -100, eps, False,
                            reduction, _rows(gx, n, 1, c, (c, 0, 1)), g)
    _close(np.reshape(result, -1), np.reshape(KL.cross_entropy_ref(x, t, w, -100, reduction, eps), -1), dt)
    g_ref = g if reduction == "none" else g.reshape(())
    _close(gx, KL.cross_entropy_backward_ref(g_ref, x, t, w, -100, reduction, eps), dt)
    assert not gx[2].any()  # the ignored row
    configs = [cfg for name, cfg in seen if name.startswith("loss.cross_entropy")]
    one_pass = c <= (2048 if dt is np.float64 else 8192)
    assert len(configs) == 2 and all((cfg["BLOCK_C"] >= c) == one_pass for cfg in configs)
    if c > 2048:
        assert all(cfg["BLOCK_M"] == 1 for cfg in configs)


@pytest.mark.parametrize("c", [7, 5000, 40000])
def test_cross_entropy_kernel_non_finite_logits(c):
    """As PyTorch: -inf logits off the target are ignored, a -inf target logit gives an infinite loss, a row of
    only -inf (or holding +inf) a NaN loss; huge finite logits stay finite."""
    x = np.zeros((5, c), np.float32)
    x[0, 1:] = -np.inf  # only the target is finite: loss 0
    x[1, 0] = -np.inf  # the target's logit is -inf: loss inf
    x[2] = -np.inf
    x[3, -1] = np.inf
    x[4, 0], x[4, -1] = 1e38, -1e38
    t = np.zeros(5, np.int64)
    loss, wt, lse = (np.empty(5, np.float32) for _ in range(3))
    with np.errstate(invalid="ignore"):  # inf - inf in the interpreter's NumPy
        KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), as_device(x), as_device(t))
    assert loss[0] == 0 and loss[1] == np.inf and np.isnan(loss[2]) and np.isnan(loss[3]) and loss[4] == 0
    np.testing.assert_allclose(lse[[0, 4]], [0, 1e38], rtol=1e-6)


def test_reduce_rows_all_ignored_mean_is_nan():
    loss, wt = np.zeros(5, np.float32), np.zeros(5, np.float32)
    out, denom = np.empty(1, np.float32), np.empty(1, np.float32)
    with np.errstate(invalid="ignore"):
        KL.reduce_rows(as_device(out), as_device(denom), as_device(loss), as_device(wt), True)
    assert np.isnan(out[0]) and denom[0] == 0
    loss = np.arange(2000, dtype=np.float32)  # more rows than one block
    KL.reduce_rows(as_device(out), None, as_device(loss), as_device(loss), False)
    assert out[0] == loss.sum()


# ---------------------------------------------------------------- dropout
@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64, BF16])
@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**31 - 1])
def test_dropout_kernel_matches_numpy_philox(rng, dt, seed):
    x = rng.standard_normal((37, 53)).astype(dt)
    out = np.empty_like(x)
    KD.dropout(as_device(out), as_device(x), 0.3, seed)
    want = KD.dropout_ref(x, 0.3, seed)
    keep = KD.dropout_mask_ref(x.shape, 0.3, seed)
    np.testing.assert_array_equal(out != 0, keep & (x != 0))  # the same Philox stream, bit for bit
    if dt is BF16:  # the interpreter rounds fp32 -> bf16 differently from ml_dtypes: one bf16 ulp
        _close(out, want, dt)
    else:
        np.testing.assert_array_equal(out, want)


def test_dropout_mask_statistics_and_backward_identity():
    keep = KD.dropout_mask_ref((200, 500), 0.25, 42)
    assert abs(keep.mean() - 0.75) < 0.005  # 100000 Bernoulli(0.75) draws: std 0.0014
    assert not np.array_equal(keep, KD.dropout_mask_ref((200, 500), 0.25, 43))
    x = np.ones((200, 500), np.float32)
    np.testing.assert_array_equal(KD.dropout_ref(x, 0.25, 42), np.where(keep, np.float32(1 / 0.75), 0))
    assert KD.dropout_backward_ref is KD.dropout_ref and KD.dropout_backward is KD.dropout
    g = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.testing.assert_allclose(KD.dropout_ref(g, 0.5, 7), np.where(KD.dropout_mask_ref(g.shape, 0.5, 7), 2 * g, 0))


def test_dropout_kernel_needs_dense_operands():
    x = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        KD.dropout(as_device(np.empty((6, 4), np.float32)), as_device(x.T), 0.5, 0)


# ---------------------------------------------------------------- declarations
def test_specs_are_unique_and_name_their_kernels():
    specs = KS.SPECS + KL.SPECS + KD.SPECS
    assert len({s.name for s in specs}) == len(specs)
    kernels = {id(s.kernel) for s in specs}
    assert {id(k) for k in (KS.softmax_kernel, KS.softmax_backward_kernel, KL.cross_entropy_kernel,
                            KL.cross_entropy_backward_kernel, KL.reduce_rows_kernel, KD.dropout_kernel)} == kernels
    for s in specs:
        assert all(c.get("num_warps") for c in s.configs)
    # Every config the launch heuristics pick is a shipped (AOT-checked) one, for many rows and for few.
    fwd64, bwd32 = KS.SPECS[3], KS.SPECS[8]
    assert (fwd64.name, bwd32.name) == ("softmax.softmax[fp64]", "softmax.softmax_backward[fp32]")
    for r in (1, 5, 16, 17, 100, 1000, 2048, 2049, 3000, 8193, 16385, 40000):
        for stride in (1, 9):
            for m in (3, 1 << 20):
                assert KS.softmax_config(r, stride, m) in KS.SPECS[0].configs
                assert KS.softmax_config(r, stride, m, True) in bwd32.configs
                assert KS.softmax_config(r, stride, m, False, "float64") in fwd64.configs
                assert KL.loss_config(r, stride, m) in KL.SPECS[0].configs
                assert KL.loss_config(r, stride, m, "float64") in KL.SPECS[2].configs
                assert KS.softmax_config(r, stride, m, itemsize=2) in KS.SPECS[1].configs  # bf16
                assert KL.loss_config(r, stride, m, "bfloat16") in KL.SPECS[1].configs
    # Few rows: one row per program, so the grid is the row count.
    assert KS.softmax_config(1000, 1, 64)["BLOCK_M"] == 1 and KS.softmax_config(1000, 1)["BLOCK_M"] == 2


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_contiguous_row_tiles_give_every_thread_a_128_bit_access(dtype):
    """Where a program's tile holds 16 bytes per thread, the aligned build can load 128 bits at a time (the AOT
    check's width rule): one row per program for few rows of 128-256 classes runs on 1-2 warps, not 4."""
    itemsize = {"float32": 4, "bfloat16": 2, "float64": 8}[dtype]
    for r in (100, 128, 200, 256, 512, 1000, 2048, 5000):
        for m in (3, 1 << 20):
            configs = [KL.loss_config(r, 1, m, dtype),
                       KS.softmax_config(r, 1, m, dtype="float64" if itemsize == 8 else "float32", itemsize=itemsize)]
            for c in configs:
                tile = c["BLOCK_M"] * c.get("BLOCK_R", c.get("BLOCK_C"))
                assert tile * itemsize >= 32 * 16 * c["num_warps"], (r, m, c)


# ---------------------------------------------------------------- tuning spaces


@pytest.mark.parametrize("shape,strides", [((5, 37), None), ((3, 3000), None), ((2, 9000), None), ((2, 20000), None),
                                           ((40, 3), (1, 40)), ((3, 12), (1, 3))])
def test_every_softmax_config_in_the_space_matches_the_reference(rng, shape, strides):
    """Every candidate the tuner may time for these keys computes the same softmax and gradient."""
    strides = strides or (shape[1], 1)
    x = rng.standard_normal(shape[0] * shape[1]).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    xv = np.lib.stride_tricks.as_strided(x, shape, tuple(4 * s for s in strides))
    gv = np.lib.stride_tricks.as_strided(g, shape, tuple(4 * s for s in strides))
    for log in (False, True):
        y = KS.softmax_ref(xv, -1, log)
        for i in range(4):
            out, gx = np.empty_like(x), np.empty_like(x)
            with every_config(i):
                KS.softmax(as_device(out).view_as(shape, strides), as_device(x).view_as(shape, strides), log)
                KS.softmax_backward(as_device(gx).view_as(shape, strides), as_device(g).view_as(shape, strides),
                                    as_device(y).view_as(shape, strides), log)
            _close(np.lib.stride_tricks.as_strided(out, shape, xv.strides), y, np.float32)
            _close(np.lib.stride_tricks.as_strided(gx, shape, xv.strides), KS.softmax_backward_ref(gv, y, -1, log),
                   np.float32)


@pytest.mark.parametrize("n,c", [(9, 37), (3, 1500), (4, 5000), (2, 20000)])
def test_every_cross_entropy_config_in_the_space_matches_the_reference(rng, n, c):
    x = rng.standard_normal((n, c)).astype(np.float32)
    t = rng.integers(0, c, n)
    w = (rng.random(c) + 0.5).astype(np.float32)
    want = KL.cross_entropy_ref(x, t, w, -100, "mean", 0.1)
    want_gx = KL.cross_entropy_backward_ref(np.float32(1.5), x, t, w, -100, "mean", 0.1)
    for i in range(4):
        gx = np.empty_like(x)
        with every_config(i):
            got = _ce_kernel(_rows(x, 1, n, c, (0, c, 1)), as_device(t).view_as((1, n), (0, 1)), w, -100, 0.1, False,
                             "mean", _rows(gx, 1, n, c, (0, c, 1)), np.array([1.5], np.float32))
        _close(got, want, np.float32)
        _close(gx, want_gx, np.float32)


def test_tuning_spaces_hold_valid_shipped_configs():
    """Each key's space starts with its heuristic, holds >= 2 configs the AOT check compiles, and a one-pass
    softmax tile always covers the row."""
    for rb in [2**k for k in range(15)]:
        for strided in (False, True):
            for tunable, specs, key in [
                (KS.SOFTMAX_TUNING, KS.SPECS, (False, "float32", "float32", 64, rb, strided)),
                (KS.SOFTMAX_BACKWARD_TUNING, KS.SPECS, (True, "float32", "float32", 64, rb, strided)),
                (KL.CROSS_ENTROPY_TUNING, KL.SPECS, (False, True, True, "float32", 64, rb, strided)),
                (KL.CROSS_ENTROPY_BACKWARD_TUNING, KL.SPECS, (False, True, True, True, "float32", 64, rb, strided)),
            ]:
                for space in ("default", "max"):
                    configs = tunable.configs(key, space)
                    assert len(configs) >= 2 and configs[0] == tunable.heuristic(key)
                    assert all(c in specs[0].space for c in configs)
                    assert all(c["BLOCK_R"] >= rb for c in configs if c.get("ONE_PASS"))
    assert KL.REDUCE_ROWS_TUNING.heuristic(()) in KL.SPECS[-1].configs


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_backward_reference_from_the_forwards_lse_equals_the_recomputed_one(reduction, smoothing):
    """The cpu op hands the forward's log-sum-exp to the backward reference: the same gradient as recomputing it,
    with class weights, an ignored target and K-dim input."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    t = rng.integers(0, 7, (4, 3))
    t[1, 2] = -100
    w = (rng.random(7) + 0.5).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32) if reduction == "none" else np.float32(0.7)
    _, _, lse = KL.cross_entropy_rows_ref(x, t, w, -100, smoothing)
    want = KL.cross_entropy_backward_ref(g, x, t, w, -100, reduction, smoothing)
    got = KL.cross_entropy_backward_ref(g, x, t, w, -100, reduction, smoothing, lse=lse)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
