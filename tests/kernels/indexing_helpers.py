"""Shared by the indexing kernels' tests: random data, tolerances, finite-difference VJPs."""

import ml_dtypes
import numpy as np

BF16 = ml_dtypes.bfloat16
TOL = {np.float32: 1e-6, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def data(rng, shape, dt):
    """Random values of dtype dt (small integers for int dtypes, coin flips for bool)."""
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(np.dtype(dt), np.integer):
        return rng.integers(-50, 50, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def close(actual, expected, dt, scale=1.0):
    if dt in TOL:
        t = TOL[dt] * scale
        np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                                   rtol=t, atol=t)
    else:
        np.testing.assert_array_equal(actual, expected)


def idx(rng, high, shape):
    return rng.integers(0, high, shape).astype(np.int64)


def fd_vjp(f, args, which, grad, eps=1e-6):
    """d/d args[which] of sum(f(*args) * grad), by central differences (float64)."""
    x = args[which]
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        vals = []
        for sign in (1, -1):
            xp = x.copy()
            xp[i] += sign * eps
            a = list(args)
            a[which] = xp
            vals.append(np.sum(f(*a) * grad))
        out[i] = (vals[0] - vals[1]) / (2 * eps)
    return out


def check_vjp(f, args, grad, analytic):
    """Each float64 argument's analytic gradient against central differences of sum(f(*args) * grad)."""
    for which, expected in analytic.items():
        np.testing.assert_allclose(expected, fd_vjp(f, args, which, grad), atol=1e-7)
