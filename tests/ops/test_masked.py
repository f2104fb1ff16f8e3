"""masked_fill, masked_select, masked_scatter on cpu and interpreted cuda against NumPy, forward and backward."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _strided, _t


# ================================================================ masked ops
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int32, tt.bool])
def test_masked_fill_select_scatter(rng, device, dtype):
    a, x = _strided(rng, (3, 5), dtype, device)
    m = rng.random((5,)) < 0.5  # broadcast over rows
    mask = _t(m, device)
    mb = np.broadcast_to(m, a.shape)
    expected = np.where(mb, np.asarray(1).astype(dtype.np), a)
    np.testing.assert_array_equal(_np(tt.masked_fill(x, mask, 1)).astype(np.float64), expected.astype(np.float64))
    np.testing.assert_array_equal(_np(x.masked_fill(mask, _t(np.asarray(1, dtype.np), device))).astype(np.float64),
                                  expected.astype(np.float64))
    sel = tt.masked_select(x, mask)
    assert sel.shape == (int(mb.sum()),)
    np.testing.assert_array_equal(_np(sel).astype(np.float64), a[mb].astype(np.float64))
    source = (rng.standard_normal(20) * 4).astype(dtype.np)
    expected = a.copy()
    expected[mb] = source[: int(mb.sum())]
    r = x.masked_scatter(mask, _t(source, device))
    np.testing.assert_array_equal(_np(r).astype(np.float64), expected.astype(np.float64))
    y = x.clone()
    y.masked_fill_(mask, 0)
    np.testing.assert_array_equal(_np(y).astype(np.float64), np.where(mb, 0, a).astype(np.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_masked_backward(rng, device):
    a = rng.standard_normal((3, 4))
    m = rng.random((3, 1)) < 0.5
    m[0] = True
    w = rng.standard_normal((3, 4))
    x, v = _t(a, device, True), _t(np.float64(2.0), device, True)
    (x.masked_fill(_t(m, device), v) * _t(w, device)).sum().backward()
    mb = np.broadcast_to(m, a.shape)
    np.testing.assert_allclose(_np(x.grad), np.where(mb, 0, w), rtol=1e-12)
    np.testing.assert_allclose(_np(v.grad), w[mb].sum(), rtol=1e-12)
    x = _t(a, device, True)
    sel = x.masked_select(_t(m, device))
    (sel * _t(np.arange(sel.numel(), dtype=np.float64), device)).sum().backward()
    expected = np.zeros_like(a)
    expected[mb] = np.arange(mb.sum())
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_masked_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    v = tt.tensor(0.5, dtype=tt.float64, requires_grad=True)
    s = tt.tensor(rng.standard_normal((7,)), requires_grad=True)
    mask = tt.tensor([[True, False, True, False], [False, False, True, True], [True, False, False, False]])
    assert tt.autograd.gradcheck(lambda x, v: tt.masked_fill(x, mask, v), (x, v))
    assert tt.autograd.gradcheck(lambda x: tt.masked_select(x, mask[0]), (x,))
    assert tt.autograd.gradcheck(lambda x, s: tt.masked_scatter(x, mask, s), (x, s))
    assert tt.autograd.gradgradcheck(lambda x: tt.masked_fill(x, mask, 0.5) * x, (x,))
