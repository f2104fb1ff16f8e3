"""kernels/pool_ref.py's tiled fast path (kernel == stride, no padding or dilation, windows inside the input)
against the general gather path and known values: ties (the first max), NaN windows (the last NaN), -inf
windows, floor-mode crops, 1/2/3-d kernels, 16-bit and float64 inputs, divisor_override, both backwards, and
the geometries that must leave the fast path."""

import numpy as np
import pytest
from tritensor.kernels import pool_ref as R


def _p(max_, kernel, stride=None, padding=(0, 0, 0), dilation=(1, 1, 1), adaptive=False, div=0):
    return dict(max=max_, adaptive=adaptive, kernel=kernel, stride=stride or kernel, padding=padding,
                dilation=dilation, count_include_pad=True, divisor=div)


def _general(monkeypatch, fn, *args):
    """fn(*args) with the fast path switched off (the gather path over window tables)."""
    with monkeypatch.context() as m:
        m.setattr(R, "_tiled", lambda *a: False)
        return fn(*args)


def _ties_and_nans(shape, seed):
    """Small integers (many ties), a few NaNs (some windows with two) and -inf runs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, flat.size // 9, replace=False)] = np.nan
    flat[rng.choice(flat.size, flat.size // 9, replace=False)] = -np.inf
    return x


def test_tiled_max_known_values():
    # Windows (kernel 2x2) of the 2 x 6 plane: [1 3; 2 NaN] -> the NaN at 7; [3 0; 5 5] -> the first 5, at 8;
    # [NaN 1; NaN 2] -> the last NaN, at 10; each index is flat h * W + w.
    x = np.array([[1.0, 3.0, 3.0, 0.0, np.nan, 1.0],
                  [2.0, np.nan, 5.0, 5.0, np.nan, 2.0]]).reshape(1, 1, 2, 6)
    p = _p(True, (1, 2, 2))
    assert R._tiled(x.shape[1:], (1, 1, 3), p)
    out, idx = R.pool_ref(x, (1, 1, 3), p)
    np.testing.assert_array_equal(idx.ravel(), [7, 8, 10])
    np.testing.assert_array_equal(out.ravel(), [np.nan, 5.0, np.nan])
    # All -inf: the first tap; a tie at the max: the first.
    y = np.array([-np.inf, -np.inf, 4.0, 4.0]).reshape(1, 1, 1, 4)
    out, idx = R.pool_ref(y, (1, 1, 2), _p(True, (1, 1, 2)))
    np.testing.assert_array_equal(idx.ravel(), [0, 2])
    np.testing.assert_array_equal(out.ravel(), [-np.inf, 4.0])


def test_tiled_avg_known_values():
    x = np.arange(12.0).reshape(1, 1, 3, 4)  # floor mode: the last row is outside every window
    avg, idx = R.pool_ref(x, (1, 1, 2), _p(False, (1, 2, 2)))
    assert idx is None
    np.testing.assert_allclose(avg.ravel(), [2.5, 4.5])
    avg, _ = R.pool_ref(x, (1, 1, 2), _p(False, (1, 2, 2), div=3))
    np.testing.assert_allclose(avg.ravel(), [10 / 3, 6.0])
    gx = R.pool_backward_ref(np.array([4.0, 8.0]).reshape(1, 1, 1, 2), (1, 3, 4), _p(False, (1, 2, 2)))
    np.testing.assert_array_equal(gx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0]])


def test_tiled_max_backward_known_values():
    x = np.array([[1.0, 4.0, 4.0, 0.0], [4.0, 2.0, 1.0, 3.0]]).reshape(1, 1, 2, 4)
    p = _p(True, (1, 2, 2))
    _, idx = R.pool_ref(x, (1, 1, 2), p)
    gx = R.pool_backward_ref(np.array([5.0, 7.0]).reshape(1, 1, 1, 2), (1, 2, 4), p, idx)
    np.testing.assert_array_equal(gx[0, 0], [[0, 5, 7, 0], [0, 0, 0, 0]])  # the first max of each window only


CASES = [  # (NC, D, H, W) input, kernel (== stride), output
    ((3, 1, 8, 8), (1, 2, 2), (1, 4, 4)),
    ((2, 1, 7, 9), (1, 2, 3), (1, 3, 3)),   # floor mode: a row and columns outside every window
    ((2, 4, 5, 6), (2, 2, 2), (2, 2, 3)),
    ((4, 1, 1, 11), (1, 1, 3), (1, 1, 3)),
    ((2, 1, 6, 6), (1, 3, 3), (1, 2, 2)),   # 9 taps
    ((2, 1, 4, 4), (1, 1, 1), (1, 4, 4)),   # one tap
]


@pytest.mark.parametrize("shape, kernel, out_sp", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_tiled_max_matches_general(monkeypatch, shape, kernel, out_sp, dtype):
    x = _ties_and_nans(shape, sum(shape)).astype(dtype)
    p = _p(True, kernel)
    assert R._tiled(shape[1:], out_sp, p)
    out, idx = R.pool_ref(x, out_sp, p)
    want, want_idx = _general(monkeypatch, R.pool_ref, x, out_sp, p)
    assert out.dtype == want.dtype == dtype and idx.dtype == want_idx.dtype == np.int64
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(out, want)  # NaN == NaN here
    g = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    gx = R.pool_backward_ref(g, shape[1:], p, idx)
    np.testing.assert_array_equal(gx, _general(monkeypatch, R.pool_backward_ref, g, shape[1:], p, want_idx))


@pytest.mark.parametrize("shape, kernel, out_sp", CASES)
@pytest.mark.parametrize("div", [0, 5])
def test_tiled_avg_matches_general(monkeypatch, shape, kernel, out_sp, div):
    x = np.random.default_rng(2).standard_normal(shape)
    p = _p(False, kernel, div=div)
    out, _ = R.pool_ref(x, out_sp, p)
    np.testing.assert_allclose(out, _general(monkeypatch, R.pool_ref, x, out_sp, p)[0], rtol=1e-14, atol=1e-15)
    g = np.random.default_rng(3).standard_normal(out.shape)
    np.testing.assert_allclose(R.pool_backward_ref(g, shape[1:], p),
                               _general(monkeypatch, R.pool_backward_ref, g, shape[1:], p), rtol=1e-14, atol=1e-15)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(R.pool_ref(x32, out_sp, p)[0], _general(monkeypatch, R.pool_ref, x32, out_sp, p)[0],
                               rtol=1e-6, atol=1e-7)


def test_tiled_strided_input(monkeypatch):
    base = _ties_and_nans((2, 1, 8, 12), 5)
    x = base[:, :, :, ::2]  # a non-contiguous (2, 1, 8, 6) view
    p = _p(True, (1, 2, 2))
    out, idx = R.pool_ref(x, (1, 4, 3), p)
    want, want_idx = _general(monkeypatch, R.pool_ref, x, (1, 4, 3), p)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("p, in_sp, out_sp", [
    (_p(True, (1, 2, 2), stride=(1, 1, 1)), (1, 4, 4), (1, 3, 3)),   # overlapping windows
    (_p(True, (1, 2, 2), padding=(0, 1, 1)), (1, 4, 4), (1, 3, 3)),  # padding
    (_p(True, (1, 2, 2), dilation=(1, 2, 1)), (1, 5, 4), (1, 2, 2)),  # dilation
    (_p(True, (1, 2, 2)), (1, 5, 5), (1, 3, 3)),                      # ceil_mode: a window past the input
    (_p(False, (1, 2, 2), adaptive=True), (1, 4, 4), (1, 2, 2)),      # adaptive
])
def test_other_geometries_leave_the_fast_path(p, in_sp, out_sp):
    assert not R._tiled(in_sp, out_sp, p)
    x = np.arange(float(np.prod(in_sp))).reshape(1, *in_sp)
    out, _ = R.pool_ref(x, out_sp, p)  # the general path still answers
    assert out.shape == (1, *out_sp)


@pytest.mark.parametrize("shape, kernel, out_sp", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiled_max_without_nans_matches_general(monkeypatch, shape, kernel, out_sp, dtype):
    # Without NaNs the 2-d windows take the separable folds (rows, then columns): ties and -inf must still give
    # the general path's first max.
    x = _ties_and_nans(shape, sum(shape) + 1)
    x[np.isnan(x)] = 1.0
    x = x.astype(dtype)
    p = _p(True, kernel)
    out, idx = R.pool_ref(x, out_sp, p)
    want, want_idx = _general(monkeypatch, R.pool_ref, x, out_sp, p)
    assert out.dtype == dtype and idx.dtype == np.int64 and out.flags.c_contiguous and idx.flags.c_contiguous
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(out, want)
