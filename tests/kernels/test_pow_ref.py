"""pow_scalar's cpu reference: exponents 2, 0.5 and -1 through square, sqrt and reciprocal (PyTorch's formulas,
correctly rounded, so the bits of pow), the others through pow; pow_scalar's backward computes only its own
gradient, b = 2's a^1 as a."""

import numpy as np
import pytest
from tritensor.kernels import pow as P

_UINT = {np.float16: np.uint16, np.float32: np.uint32, np.float64: np.uint64}


def _inputs(dt, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    ut = _UINT[dt]
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, 1e-45, -1e-45, 3e4, -3e4], dt)
    raw = rng.integers(0, np.iinfo(ut).max, n, dtype=ut, endpoint=True).view(dt)
    return np.concatenate([special, (rng.standard_normal(n) * 3).astype(dt), raw])


def _power(x, e):
    x32 = x.astype(np.float32) if x.dtype == np.float16 else x
    with np.errstate(all="ignore"):
        return np.power(x32, np.asarray(e, x32.dtype)).astype(x.dtype)


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("e", [2, 2.0, 0.5, -1, -1.0, 3, -2, -0.5, 2.5, 0, 1, True])
def test_pow_scalar_ref_is_pow(dt, e):
    x = _inputs(dt)
    want, got = _power(x, e), P.pow_scalar_ref(x, e)
    assert got.dtype == dt
    finite = ~np.isnan(want)  # NaN stays NaN (its payload is the loop's)
    np.testing.assert_array_equal(np.isnan(got), ~finite)
    assert np.array_equal(got.view(_UINT[dt])[finite], want.view(_UINT[dt])[finite])


def test_pow_scalar_ref_known_values():
    x = np.array([-3.0, -0.0, 0.0, 4.0, np.inf, -np.inf], np.float32)
    np.testing.assert_array_equal(P.pow_scalar_ref(x, 2), [9, 0, 0, 16, np.inf, np.inf])
    np.testing.assert_array_equal(P.pow_scalar_ref(x, 0.5), [np.nan, -0.0, 0, 2, np.inf, np.nan])
    np.testing.assert_array_equal(P.pow_scalar_ref(x, -1), np.float32([-1 / 3, -np.inf, np.inf, 0.25, 0, -0.0]))
    assert np.signbit(P.pow_scalar_ref(x, 0.5)[1])  # sqrt(-0.0) = -0.0, as PyTorch (and NumPy's power here)
    np.testing.assert_array_equal(P.pow_scalar_ref(np.arange(-3, 4, dtype=np.int64), 2), [9, 4, 1, 0, 1, 4, 9])


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("e", [2, 3, 0.5, 0, -1.5])
def test_pow_scalar_backward_ref_is_the_formula(dt, e):
    x, g = _inputs(dt, 5000), _inputs(dt, 5000, seed=1)
    x32, g32 = (v.astype(np.float32) if dt == np.float16 else v for v in (x, g))
    b = np.asarray(e, x32.dtype)
    with np.errstate(all="ignore"):
        want = np.where(b == 0, 0, g32 * (b * np.power(x32, b - 1))).astype(dt)
    (got,) = P.pow_scalar_backward_ref(g, x, e)
    assert got.dtype == dt
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), ~finite)
    assert np.array_equal(got.view(_UINT[dt])[finite], want.view(_UINT[dt])[finite])
