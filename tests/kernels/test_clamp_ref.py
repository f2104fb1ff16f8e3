"""clamp's cpu reference (np.clip's one pass) against the two ufuncs it replaces, np.minimum(np.maximum(x, lo), hi),
bit for bit: ties at zeros of either sign, NaN inputs and bounds, min > max, missing and 0-d array bounds."""

import numpy as np
import pytest
from tritensor.kernels import clamp as CL

_UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}


def _inputs(dt, n=3000, seed=0):
    """Special values, normal values and random bit patterns without signaling NaNs (r + 0 quiets those)."""
    rng = np.random.default_rng(seed)
    ut = _UINT[dt]
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, 1e-45, -1e-45], dt)
    raw = rng.integers(0, np.iinfo(ut).max, n, dtype=ut, endpoint=True)
    quiet_bit = ut(1) << ut(np.finfo(dt).nmant - 1)
    raw = np.where(np.isnan(raw.view(dt)), raw | quiet_bit, raw).view(dt)
    return np.concatenate([special, (rng.standard_normal(n) * 3).astype(dt), raw])


def _two_ufuncs(x, lo, hi):
    r = x.astype(np.float32) if x.dtype == np.float16 else x
    for b, pick in ((lo, np.maximum), (hi, np.minimum)):
        if b is not None:
            r = pick(r, np.asarray(b, x.dtype).astype(r.dtype))
    return r.astype(x.dtype)


_BOUNDS = [(-1, 1), (0, None), (None, 0), (0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (None, -0.0), (-0.0, None),
           (2, -2), (0.25, 0.25), (float("nan"), 1), (0, float("nan")), (None, 6.0), (-np.inf, np.inf), (1, 0)]


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("lo,hi", _BOUNDS)
def test_clamp_ref_is_min_of_max_bit_for_bit(dt, lo, hi):
    x = _inputs(dt)
    want = _two_ufuncs(x, lo, hi)
    for bounds in ((lo, hi), tuple(None if b is None else np.array(b, dt) for b in (lo, hi))):  # numbers, 0-d
        got = CL.clamp_ref(x, *bounds)
        assert got.dtype == dt
        if np.isnan(lo if lo is not None else 0) or np.isnan(hi if hi is not None else 0):
            assert np.isnan(got).all()
        else:
            assert np.array_equal(got.view(_UINT[dt]), want.view(_UINT[dt])), bounds


def test_clamp_ref_known_values():
    x = np.array([-0.0, 0.0, -3.0, 3.0, np.nan, -np.inf, np.inf], np.float32)
    y = CL.clamp_ref(x, 0, None)  # a tie gives the bound: clamp(-0.0, min=0) is +0.0, as PyTorch's max
    np.testing.assert_array_equal(y, [0, 0, 0, 3, np.nan, 0, np.inf])
    assert not np.signbit(y[:2]).any()
    np.testing.assert_array_equal(CL.clamp_ref(x, 2, -2), [-2, -2, -2, -2, np.nan, -2, -2])  # min > max gives max
    assert np.isnan(CL.clamp_ref(x, np.nan, 1)).all()
    y = CL.clamp_ref(x, None, -0.0)
    assert np.signbit(y[:3]).all() and y[3] == 0 and np.signbit(y[3])


def test_clamp_ref_zero_dim_gives_an_array():
    for lo, hi in ((0, None), (None, 0), (-1, 1)):
        y = CL.clamp_ref(np.array(-0.0, np.float32), lo, hi)
        assert isinstance(y, np.ndarray) and y.shape == () and y == 0
        assert np.signbit(y) == (lo == -1)  # -0.0 stays where no bound ties with it


def test_clamp_ref_does_not_touch_its_input():
    x = np.linspace(-3, 3, 1001, dtype=np.float16)
    before = x.copy()
    CL.clamp_ref(x, -1, 1)
    np.testing.assert_array_equal(x, before)
    x32 = before.astype(np.float32)
    y = CL.clamp_ref(x32, 0, None)
    assert y is not x32 and (x32 == before.astype(np.float32)).all()


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_clamp_backward_ref_is_the_where_bits(dt):
    x = _inputs(dt)
    g = _inputs(dt, seed=3)
    lo_t, hi_t = _inputs(dt, seed=4), _inputs(dt, seed=5)
    x32, lo32, hi32 = (v.astype(np.float32) if dt == np.float16 else v for v in (x, lo_t, hi_t))
    zero = np.zeros((), dt)
    for lo, hi in ((-1, 1), (0, None), (None, 0.5), (lo_t, hi_t), (lo_t, None), (None, hi_t)):
        gx, gmin, gmax = CL.clamp_backward_ref(g, x, lo, hi)
        lo_c = None if lo is None else (lo32 if lo is lo_t else np.asarray(lo, dt).astype(x32.dtype))
        hi_c = None if hi is None else (hi32 if hi is hi_t else np.asarray(hi, dt).astype(x32.dtype))
        ok = np.ones(x.shape, bool)
        if lo_c is not None:
            ok &= x32 >= lo_c
        if hi_c is not None:
            ok &= x32 <= hi_c
        assert np.array_equal(gx.view(_UINT[dt]), np.where(ok, g, zero).view(_UINT[dt]))
        if lo is lo_t:
            takes = (x32 < lo_c) & (lo_c < hi_c) if hi_c is not None else x32 < lo_c
            assert np.array_equal(gmin.view(_UINT[dt]), np.where(takes, g, zero).view(_UINT[dt]))
        if hi is hi_t:
            takes = (x32 > hi_c) | (hi_c < lo_c) if lo_c is not None else x32 > hi_c
            assert np.array_equal(gmax.view(_UINT[dt]), np.where(takes, g, zero).view(_UINT[dt]))


def test_clamp_backward_ref_broadcast_grad():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    gx = CL.clamp_backward_ref(np.float32(3.0) * np.ones((1, 4), np.float32), x, -1, 1)[0]
    np.testing.assert_array_equal(gx, np.where((x >= -1) & (x <= 1), 3.0, 0.0))
