"""What the tests split from tests/test_ops_reduction.py share."""

import math

import numpy as np

import tritensor as tt

DEVICES = ["cpu", "cuda"]


# Relative tolerance of one rounding to the result dtype (plus fp32 accumulation of a few dozen terms).
TOL = {tt.float32: 2e-6, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}


DIM_CASES = [(None, False), (1, False), (-1, True), ((0, 2), False), ((2, 0), True)]


def _np(t):
    t = t.detach().cpu()
    return t.numpy().astype(np.float64) if t.dtype.is_floating_point else t.numpy()


def _close(actual, expected, dtype, scale=1.0):
    tol = TOL.get(dtype, 0)
    np.testing.assert_allclose(_np(actual), expected, rtol=tol * 4, atol=tol * 4 * scale)


def _input(rng, device, dtype=tt.float32, shape=(3, 4, 2)):
    """A non-contiguous (2, 3, 4) tensor (a permuted view) and its values as float64/int NumPy."""
    a = (rng.standard_normal(shape) * 2).astype(dtype.np)
    t = tt.tensor(a, device=device).permute(2, 0, 1)
    ref = a.transpose(2, 0, 1)
    return t, ref.astype(np.float64) if dtype.is_floating_point else ref


def _axis(dim):
    return dim if dim is None or isinstance(dim, int) else tuple(dim)


def _lse(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


def _norm(a, p, axis, keepdims):
    b = np.abs(a)
    if p == math.inf:
        return np.max(b, axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return np.min(b, axis=axis, keepdims=keepdims)
    if p == 0:
        return np.sum(b != 0, axis=axis, keepdims=keepdims).astype(np.float64)
    return np.sum(b ** p, axis=axis, keepdims=keepdims) ** (1 / p)
