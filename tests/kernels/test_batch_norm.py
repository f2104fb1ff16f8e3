"""kernels/batch_norm*.py: the NumPy references against known values and finite differences, and the Triton kernels
in the interpreter against the references: planar and channels-last layouts, (N, C) inputs, odd sizes, strided
operands, every float dtype, train and eval, the split plan (few channels, many elements) and its determinism."""

import numpy as np
import pytest
from tritensor.kernels import batch_norm_launch as L
from tritensor.kernels import batch_norm_ref as R
from tritensor.kernels import tuning

from tests.conftest import as_device

TOL = {np.float32: 2e-5, np.float64: 1e-12, np.float16: 2e-3}


def _acc(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _tol(dtype):
    return TOL.get(dtype, 1.6e-2)  # bfloat16


def _forward(x, w, b, rm, rv, training, momentum=0.1, eps=1e-5):
    """The kernels' (y, mean, invstd), the running buffers updated in place."""
    C = x.shape[1]
    acc = _acc(x.dtype)
    y = np.zeros(x.shape, x.dtype)
    mean, invstd, coef = np.zeros(C, acc), np.zeros(C, acc), np.zeros((4, C), acc)
    xv = L.ncs_view(as_device(x))
    part = np.zeros(max(1, L.scratch_numel(L.reduce_views(xv)[0], 3)), acc)
    dev = [None if a is None else as_device(a) for a in (rm, rv, w, b)]
    L.batch_norm_forward(L.ncs_view(as_device(y)), as_device(mean), as_device(invstd), as_device(coef), xv, *dev,
                         as_device(part), training, momentum, eps)
    return y, mean, invstd


def _backward(dy, x, mean, invstd, w, training, need=(True, True, True)):
    C = x.shape[1]
    acc = mean.dtype
    pdt = w.dtype if w is not None else x.dtype
    gx, gw, gb = np.zeros(x.shape, x.dtype), np.zeros(C, pdt), np.zeros(C, pdt)
    xv, gv = L.ncs_view(as_device(x)), L.ncs_view(as_device(dy))
    part = np.zeros(max(1, L.scratch_numel(L.reduce_views(xv, gv)[0], 2)), acc)
    outs = [as_device(a) if n else None for a, n in zip((gx, gw, gb), need)]
    L.batch_norm_backward(None if outs[0] is None else L.ncs_view(outs[0]), outs[1], outs[2],
                          as_device(np.zeros((4, C), acc)), gv, xv, as_device(mean), as_device(invstd),
                          None if w is None else as_device(w), as_device(part), training)
    return gx, gw, gb


def _params(rng, C, dtype):
    w = rng.standard_normal(C).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    rm = rng.standard_normal(C).astype(dtype)
    rv = (rng.random(C) + 0.5).astype(dtype)
    return w, b, rm, rv


def _check(x, rng, training=True, affine=True, tol=None):
    dtype = x.dtype.type
    tol = tol or _tol(dtype)
    w, b, rm, rv = _params(rng, x.shape[1], dtype)
    if not affine:
        w = b = None
    rm_k, rv_k = rm.copy(), rv.copy()
    y, mean, invstd = _forward(x, w, b, rm_k, rv_k, training)
    y_r, mean_r, invstd_r = R.batch_norm_ref(x, rm, rv, w, b, training, 0.1, 1e-5)
    np.testing.assert_allclose(y.astype(np.float64), y_r.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(mean, mean_r, rtol=tol, atol=tol)
    np.testing.assert_allclose(invstd, invstd_r, rtol=tol, atol=tol)
    np.testing.assert_allclose(rm_k.astype(np.float64), rm.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(rv_k.astype(np.float64), rv.astype(np.float64), rtol=tol, atol=tol)
    dy = rng.standard_normal(x.shape).astype(dtype)
    got = _backward(dy, x, mean_r, invstd_r, w, training)
    want = R.batch_norm_backward_ref(dy, x, mean_r, invstd_r, w, training)
    count = x.size // x.shape[1]
    for g, r, scale in zip(got, want, (1.0, count ** 0.5, count ** 0.5)):  # sums grow with the count
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol * scale)
    return (w, b, rm_k, rv_k), (y, mean, invstd)


# ---------------------------------------------------------------- references
def test_reference_normalises_and_updates_running_stats(rng):
    x = rng.standard_normal((6, 3, 4)) * 3 + 2
    rm, rv = np.zeros(3), np.ones(3)
    y, mean, invstd = R.batch_norm_ref(x, rm, rv, None, None, True, 0.25, 0.0)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, atol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)))
    np.testing.assert_allclose(invstd, 1 / x.std(axis=(0, 2)))
    np.testing.assert_allclose(rm, 0.25 * x.mean(axis=(0, 2)))
    np.testing.assert_allclose(rv, 0.75 + 0.25 * x.var(axis=(0, 2), ddof=1))  # the unbiased variance
    y, _, _ = R.batch_norm_ref(x, rm, rv, np.full(3, 2.0), np.full(3, -1.0), False, 0.1, 1e-5)
    np.testing.assert_allclose(y, (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5) * 2 - 1)


@pytest.mark.parametrize("training", [True, False])
def test_reference_backward_against_finite_differences(rng, training):
    x = rng.standard_normal((3, 2, 5))
    w, b, rm, rv = _params(rng, 2, np.float64)
    dy = rng.standard_normal(x.shape)

    def loss(xx, ww, bb):
        return (R.batch_norm_ref(xx, rm.copy(), rv.copy(), ww, bb, training, 0.1, 1e-5)[0] * dy).sum()

    _, mean, invstd = R.batch_norm_ref(x, rm.copy(), rv.copy(), w, b, training, 0.1, 1e-5)
    gx, gw, gb = R.batch_norm_backward_ref(dy, x, mean, invstd, w, training)
    h = 1e-6
    for arr, grad in ((x, gx), (w, gw), (b, gb)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            orig = arr[i]
            arr[i] = orig + h
            up = loss(x, w, b)
            arr[i] = orig - h
            down = loss(x, w, b)
            arr[i] = orig
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- kernels against the references
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (5, 7, 3), (6, 5), (2, 3, 1), (3, 2, 2, 3, 3), (7, 1, 13)])
@pytest.mark.parametrize("training", [True, False])
def test_kernels_shapes_train_and_eval(rng, shape, training):
    _check((rng.standard_normal(shape) * 2 + 3).astype(np.float32), rng, training)


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16", np.float64])
def test_kernels_dtypes(rng, dtype):
    import ml_dtypes

    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
    _check(rng.standard_normal((3, 4, 9)).astype(dt), rng, True)


def test_kernels_without_affine(rng):
    _check(rng.standard_normal((5, 3, 6)).astype(np.float32), rng, True, affine=False)
    _check(rng.standard_normal((5, 3, 6)).astype(np.float32), rng, False, affine=False)


def test_kernels_channels_last_and_strided(rng):
    nhwc = rng.standard_normal((3, 5, 4, 6)).astype(np.float32)  # (N, H, W, C) memory
    x = nhwc.transpose(0, 3, 1, 2)
    assert L._layout(L.reduce_views(L.ncs_view(as_device(x)))[0]) == "inner"
    _check(x, rng, True)
    _check(x, rng, False)
    wide = rng.standard_normal((4, 3, 10)).astype(np.float32)
    _check(wide[:, :, ::2], rng, True)  # spatial stride 2


def test_eval_backward_without_reductions(rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w, _, rm, rv = _params(rng, 3, np.float32)
    _, mean, invstd = R.batch_norm_ref(x, rm, rv, w, None, False, 0.1, 1e-5)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gx, _, _ = _backward(dy, x, mean, invstd, w, False, need=(True, False, False))
    np.testing.assert_allclose(gx, R.batch_norm_backward_ref(dy, x, mean, invstd, w, False)[0], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- the split plan
def test_split_plan_fills_the_machine_for_few_channels():
    sms = tuning.sm_count()
    big = as_device(np.zeros(1, np.float32)).view_as((256, 2, 56 * 56), (2 * 56 * 56, 56 * 56, 1))
    chunk_n, chunk_s, s_chunks, n_chunks = L.split_plan(big)
    # Whole rows of N per chunk (contiguous runs), at least 2 x SM-count programs over the 2 channels.
    assert 2 * n_chunks >= 2 * sms and chunk_s == 56 * 56 and s_chunks == 1
    assert (n_chunks - 1) * chunk_n < 256 <= n_chunks * chunk_n
    one_image = as_device(np.zeros(1, np.float32)).view_as((1, 3, 1 << 20), (3 << 20, 1 << 20, 1))
    chunk_n, chunk_s, s_chunks, n_chunks = L.split_plan(one_image)
    assert 3 * n_chunks >= 2 * sms and chunk_s % L.GRANULE == 0 and s_chunks == n_chunks
    assert (s_chunks - 1) * chunk_s < (1 << 20) <= s_chunks * chunk_s
    many = as_device(np.zeros(1, np.float32)).view_as((32, 512, 49), (512 * 49, 49, 1))
    assert L.split_plan(many) == (32, 49, 1, 1)  # 512 channels fill the GPU by themselves


@pytest.fixture
def small_machine(monkeypatch):
    """A 4-SM GPU with 64-element chunks (granules of 16): the split path on shapes the interpreter runs fast."""
    monkeypatch.setattr(L, "MIN_CHUNK", 64)
    monkeypatch.setattr(L, "GRANULE", 16)
    before = tuning.sm_count()
    tuning.set_sm_count(4)
    yield
    tuning.set_sm_count(before)


@pytest.mark.parametrize("shape, nhwc", [((5, 2, 3, 37), False), ((1, 3, 150), False), ((300, 3), False),
                                         ((2, 7, 10, 3), True)])
def test_split_path_matches_reference_and_is_deterministic(rng, small_machine, shape, nhwc):
    a = (rng.standard_normal(shape) * 0.5 + 100).astype(np.float32)  # a large mean: Welford's case
    x = a.transpose(0, 3, 1, 2) if nhwc else a
    assert L.split_plan(L.reduce_views(L.ncs_view(as_device(x)))[0])[3] >= 2
    (w, b, rm, rv), first = _check(x, rng, True, tol=1e-4)
    again = _forward(x, w, b, rm, rv, True)
    for p, q in zip(first, again):
        assert np.array_equal(p, q)


def test_split_path_at_the_real_machine_size(rng):
    x = (rng.standard_normal((1, 2, 4100)) + 10).astype(np.float32)
    plan = L.split_plan(L.ncs_view(as_device(x)))
    assert plan[2] == plan[3] == 2 and plan[1] % L.GRANULE == 0  # two chunks of S for 2 x 4100 elements
    _check(x, rng, True, tol=1e-4)
