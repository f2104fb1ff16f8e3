"""What the kernel tests of the reduction families (reduction, statistics, extrema) share: tolerances, (M, R)
layouts, and running a forward or backward wrapper into fresh outputs."""

import ml_dtypes
import numpy as np

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
TOL = {np.float32: 1e-5, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def f64(a):
    return np.asarray(a).astype(np.float64)


def close(got, want, dt, scale=1.0):
    np.testing.assert_allclose(f64(got), f64(want), rtol=TOL[dt], atol=TOL[dt] * scale)


def layout(x, axis):
    """The (M, R) view reducing `axis` of a 2-d array: the array itself or its (strided) transpose."""
    return x if axis == 1 else x.T


def run(fn, x2, *out_dtypes, **params):
    outs = [np.zeros(x2.shape[0], d) for d in out_dtypes]
    fn(*[as_device(o) for o in outs], as_device(x2), **params)
    return outs if len(outs) > 1 else outs[0]


def backward(fn, x2, grad, *saved, **params):
    gx = np.full(x2.shape, 123, x2.dtype)  # garbage: every element must be written
    fn(as_device(gx), as_device(grad), *[as_device(s) for s in saved], **params)
    return gx


def fd(f, x, g, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        grad[idx] = np.sum((f(xp) - f(xm)) * g) / (2 * eps)
    return grad
