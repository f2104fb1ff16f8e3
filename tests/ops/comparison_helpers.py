"""What the tests split from tests/test_ops_comparison.py share."""

import math

import numpy as np

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64) if t.dtype.is_floating_point else t.cpu().numpy()


def _strided_pair(rng, dtype, device):
    """a: a (4, 3) non-contiguous view; b: (3,), broadcast against it; with repeated values (ties)."""
    if dtype is tt.bool:
        a, b = rng.random((3, 4)) > 0.5, np.array([True, False, True])
    else:
        a = rng.integers(0, 6, (3, 4)).astype(np.float64) - (dtype.is_signed or dtype.is_floating_point) * 2
        b = np.array([1.0, 2.0, 0.0]) if not dtype.is_floating_point else np.array([1.0, 0.5, math.nan])
    a, b = a.astype(dtype.np), b.astype(dtype.np)
    ta = tt.tensor(a, device=device).t()
    assert not ta.is_contiguous()
    return ta, tt.tensor(b, device=device), a.T, b
