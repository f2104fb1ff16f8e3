"""kernels/pool.py in Triton's interpreter against kernels/pool_ref.py, and the references against known values
and float64 finite differences: odd sizes, padding, dilation, ceil_mode windows, count_include_pad,
divisor_override, adaptive windows, non-contiguous inputs, every float dtype, argmax indices."""

import numpy as np
import pytest
from tritensor.kernels import pool as K
from tritensor.kernels import pool_ref as R

from tests.conftest import as_device


def _p(max_, kernel, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1), adaptive=False, cip=True, div=0):
    return dict(max=max_, adaptive=adaptive, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                count_include_pad=cip, divisor=div)


def test_reference_known_values_1d():
    x = np.array([[[[1.0, 5.0, 2.0, 4.0, 3.0]]]])
    out, idx = R.pool_ref(x.reshape(1, 1, 1, 5), (1, 1, 3), _p(True, (1, 1, 2), (1, 1, 2), (0, 0, 1)))
    np.testing.assert_array_equal(out.ravel(), [1.0, 5.0, 4.0])
    np.testing.assert_array_equal(idx.ravel(), [0, 1, 3])
    avg, _ = R.pool_ref(x.reshape(1, 1, 1, 5), (1, 1, 3), _p(False, (1, 1, 2), (1, 1, 2), (0, 0, 1)))
    np.testing.assert_allclose(avg.ravel(), [0.5, 3.5, 3.5])  # padding counted: (0 + 1) / 2
    avg, _ = R.pool_ref(x.reshape(1, 1, 1, 5), (1, 1, 3), _p(False, (1, 1, 2), (1, 1, 2), (0, 0, 1), cip=False))
    np.testing.assert_allclose(avg.ravel(), [1.0, 3.5, 3.5])
    # Adaptive 5 -> 3: windows [0, 2), [1, 4), [3, 5).
    ad, _ = R.pool_ref(x.reshape(1, 1, 1, 5), (1, 1, 3), _p(False, (1, 1, 3), adaptive=True))
    np.testing.assert_allclose(ad.ravel(), [3.0, 11.0 / 3, 3.5])
    mx, idx = R.pool_ref(x.reshape(1, 1, 1, 5), (1, 1, 3), _p(True, (1, 1, 3), adaptive=True))
    np.testing.assert_array_equal(mx.ravel(), [5.0, 5.0, 4.0])
    np.testing.assert_array_equal(idx.ravel(), [1, 1, 3])


def test_reference_nan_and_ties_follow_pytorch():
    x = np.array([3.0, 3.0, np.nan, 1.0, np.nan, -np.inf, -np.inf]).reshape(1, 1, 1, 7)
    # windows [-1, 0]: the max 3 at 0 (not the later tie); [1, 2]: the NaN at 2; [3, 4]: the NaN at 4;
    # [5, 6], all -inf: the first valid tap, 5.
    out, idx = R.pool_ref(x, (1, 1, 4), _p(True, (1, 1, 2), (1, 1, 2), (0, 0, 1)))
    np.testing.assert_array_equal(idx.ravel(), [0, 2, 4, 5])
    assert np.isnan(out.ravel()[1]) and np.isnan(out.ravel()[2]) and out.ravel()[3] == -np.inf


def _fd(fn, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = ((fn(xp) - fn(xm)) * g).sum() / (2 * eps)
    return grad


@pytest.mark.parametrize("p, out_sp", [
    (_p(False, (1, 3, 2), (1, 2, 1), (0, 1, 1), cip=False), (1, 3, 6)),
    (_p(False, (2, 3, 3), (1, 2, 2), (1, 1, 0), div=5), (3, 3, 2)),
    (_p(False, (2, 3, 2), adaptive=True), (2, 3, 4)),
    (_p(True, (1, 2, 2), (1, 2, 1), (0, 1, 1), (1, 2, 1)), (1, 3, 6)),
    (_p(True, (2, 3, 2), adaptive=True), (2, 3, 4)),
])
def test_reference_backward_matches_finite_differences(rng, p, out_sp):
    in_sp = (1, 5, 5) if out_sp[0] == 1 else (3, 5, 5)
    x = rng.permutation(np.prod((2, *in_sp))).reshape(2, *in_sp).astype(np.float64) / 7  # distinct: no ties
    g = rng.standard_normal((2, *out_sp))
    out, idx = R.pool_ref(x, out_sp, p)
    want = _fd(lambda t: R.pool_ref(t, out_sp, p)[0], x, g)
    np.testing.assert_allclose(R.pool_backward_ref(g, in_sp, p, idx), want, atol=1e-6)


# (input spatial, output spatial, geometry): odd sizes, padding, dilation, ceil_mode's short last window,
# count_include_pad off, divisor_override, adaptive windows wider and narrower than the input.
CASES = [
    ((1, 1, 11), (1, 1, 5), _p(True, (1, 1, 3), (1, 1, 2), (0, 0, 1))),
    ((1, 7, 9), (1, 4, 3), _p(True, (1, 3, 2), (1, 2, 3), (0, 1, 1), (1, 1, 2))),  # ceil_mode-sized rows
    ((3, 5, 6), (2, 3, 3), _p(True, (2, 2, 3), (2, 2, 2), (1, 1, 1))),
    ((1, 7, 9), (1, 4, 5), _p(False, (1, 3, 3), (1, 2, 2), (0, 1, 1))),
    ((1, 7, 9), (1, 4, 5), _p(False, (1, 3, 3), (1, 2, 2), (0, 1, 1), cip=False)),
    ((3, 5, 6), (2, 2, 3), _p(False, (2, 3, 2), (2, 2, 2), (1, 1, 0), div=3)),
    ((1, 7, 9), (1, 3, 4), _p(False, (1, 3, 4), adaptive=True)),
    ((3, 5, 6), (4, 2, 7), _p(True, (2, 3, 2), adaptive=True)),
]


def _out(x, out_sp, p, dtype=None):
    out = np.zeros((x.shape[0], *out_sp), dtype or x.dtype)
    idx = np.zeros(out.shape, np.int64) if p["max"] else None
    K.pool_forward(as_device(out), as_device(idx) if idx is not None else None, as_device(x), p)
    return out, idx


@pytest.mark.parametrize("in_sp, out_sp, p", CASES)
def test_kernel_forward_and_backward_match_reference(rng, in_sp, out_sp, p):
    x = rng.standard_normal((3, *in_sp)).astype(np.float32)
    out, idx = _out(x, out_sp, p)
    want, want_idx = R.pool_ref(x, out_sp, p)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    if p["max"]:
        np.testing.assert_array_equal(idx, want_idx)
    g = rng.standard_normal(out.shape).astype(np.float32)
    gx = np.full(x.shape, np.nan, np.float32)
    K.pool_backward(as_device(gx), as_device(g), as_device(idx) if idx is not None else None, p)
    np.testing.assert_allclose(gx, R.pool_backward_ref(g, in_sp, p, want_idx), rtol=1e-5, atol=1e-6)


def test_kernel_non_contiguous_input(rng):
    base = rng.standard_normal((9, 7, 4)).astype(np.float32)
    x = base.transpose(2, 1, 0)[:, None]  # (4, 1, 7, 9), strided
    for p, out_sp in ((_p(True, (1, 3, 2), (1, 2, 2), (0, 1, 1)), (1, 4, 5)),
                      (_p(False, (1, 3, 4), adaptive=True), (1, 3, 4))):
        out, idx = _out(x, out_sp, p)
        want, want_idx = R.pool_ref(np.ascontiguousarray(x), out_sp, p)
        np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
        if idx is not None:
            np.testing.assert_array_equal(idx, want_idx)


def test_kernel_nan_and_all_minus_inf_windows():
    x = np.array([3.0, 3.0, np.nan, 1.0, np.nan, -np.inf, -np.inf], np.float32).reshape(1, 1, 1, 7)
    p = _p(True, (1, 1, 2), (1, 1, 2), (0, 0, 1))
    out, idx = _out(x, (1, 1, 4), p)
    np.testing.assert_array_equal(idx.ravel(), [0, 2, 4, 5])
    assert out.ravel()[0] == 3.0 and np.isnan(out.ravel()[1:3]).all() and out.ravel()[3] == -np.inf


@pytest.mark.parametrize("dtype, tol", [(np.float16, 2e-3), ("bfloat16", 1.6e-2), (np.float64, 1e-12)])
def test_kernel_dtypes(rng, dtype, tol):
    from tritensor import dtypes

    npdt = dtypes.bfloat16.np if dtype == "bfloat16" else dtype
    x = rng.standard_normal((2, 1, 7, 9)).astype(npdt)
    for p, out_sp in ((_p(True, (1, 3, 3), (1, 2, 2), (0, 1, 1)), (1, 4, 5)),
                      (_p(False, (1, 3, 3), (1, 2, 2), (0, 1, 1), cip=False), (1, 4, 5))):
        out, idx = _out(x, out_sp, p)
        want, want_idx = R.pool_ref(x, out_sp, p)
        assert out.dtype == npdt
        np.testing.assert_allclose(out.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol)
        g = rng.standard_normal(out.shape).astype(npdt)
        gx = np.zeros(x.shape, npdt)
        K.pool_backward(as_device(gx), as_device(g), as_device(idx) if idx is not None else None, p)
        np.testing.assert_allclose(gx.astype(np.float64), R.pool_backward_ref(g, x.shape[1:], p, want_idx)
                                   .astype(np.float64), rtol=tol, atol=tol)


def test_specs_declare_each_kind_direction_and_dtype():
    names = {s.name for s in K.SPECS}
    assert len(names) == 32 and "pool.max_backward[bf16]" in names and "pool.avg_adaptive_forward[fp64]" in names
    for s in K.SPECS:
        assert s.configs == [K.SMALL] and len(s.space) >= 2
