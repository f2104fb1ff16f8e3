"""What the tests split from tests/test_ops_scan_sort.py share."""

import numpy as np

import tritensor as tt

DEVICES = ["cpu", "cuda"]


TOL = {tt.float32: 2e-6, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}


def _np(t):
    t = t.detach().cpu()
    return t.numpy().astype(np.float64) if t.dtype.is_floating_point else t.numpy()


def _input(rng, device, dtype=tt.float32, shape=(4, 5, 3)):
    """A non-contiguous (3, 4, 5) tensor and its values as NumPy (float64 for float dtypes)."""
    a = (rng.standard_normal(shape) * 2).astype(dtype.np) if dtype.is_floating_point else \
        rng.integers(-3, 4, shape).astype(dtype.np)
    ref = a.transpose(2, 0, 1)
    return tt.tensor(a, device=device).permute(2, 0, 1), ref.astype(np.float64) if dtype.is_floating_point else ref
