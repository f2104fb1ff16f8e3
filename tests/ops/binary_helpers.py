"""What the tests split from tests/test_ops_binary.py share."""

import numpy as np

import tritensor as tt

DEVICES = ["cpu", "cuda"]


FLOATS = [tt.float32, tt.float16, tt.bfloat16, tt.float64]


TOL = {tt.float32: 1e-6, tt.float64: 1e-12, tt.float16: 1e-3, tt.bfloat16: 8e-3}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64) if t.dtype.is_floating_point else t.cpu().numpy()


def _operands(rng, dtype, device, positive=False):
    """a: a (4, 3) non-contiguous view; b: (3,), broadcast against it. Returns float64 copies of the values
    the tensors hold (rounded to dtype)."""
    a = rng.standard_normal((3, 4)) * 3
    b = rng.standard_normal(3) * 2
    if positive:
        a, b = np.abs(a) + 0.5, np.abs(b) + 0.5
    ta = tt.tensor(a.astype(dtype.np), device=device).t()
    tb = tt.tensor(b.astype(dtype.np), device=device)
    assert not ta.is_contiguous()
    return ta, tb, _np(ta), _np(tb)


def _check(result, expected, dtype, scale=4):
    tol = TOL[dtype] * scale
    assert result.dtype is dtype
    np.testing.assert_allclose(_np(result), np.asarray(expected, dtype=dtype.np).astype(np.float64),
                               rtol=tol, atol=tol)
