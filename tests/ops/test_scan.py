"""cumsum/cumprod on cpu and interpreted cuda against NumPy: dtypes, edge cases, backward, gradcheck."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.scan_sort_helpers import DEVICES, TOL, _input, _np


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16])
def test_cumsum_cumprod_float(rng, device, dtype):
    x, a = _input(rng, device, dtype)
    x, a = x * 0.25 + 1, (a.astype(dtype.np).astype(np.float64) * 0.25 + 1)  # products stay well scaled
    a = _np(x)  # the inputs as rounded to dtype
    tol = TOL[dtype] * 8
    for dim in (0, 1, -1):
        s, p = x.cumsum(dim), tt.cumprod(x, dim)
        assert s.dtype is dtype and p.dtype is dtype and s.is_contiguous() and p.is_contiguous()
        np.testing.assert_allclose(_np(s), np.cumsum(a, axis=dim), rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(_np(p), np.cumprod(a, axis=dim), rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.int64, tt.uint8, tt.bool])
def test_cumsum_cumprod_integer_results_are_int64(rng, device, dtype):
    a = rng.integers(0 if dtype in (tt.uint8, tt.bool) else -3, 2 if dtype is tt.bool else 4, (3, 6))
    x = tt.tensor(a.astype(dtype.np), device=device).t()
    a = a.T.astype(np.int64)
    for dim in (0, 1):
        s, p = x.cumsum(dim), x.cumprod(dim)
        assert s.dtype is tt.int64 and p.dtype is tt.int64
        np.testing.assert_array_equal(_np(s), np.cumsum(a, axis=dim))
        np.testing.assert_array_equal(_np(p), np.cumprod(a, axis=dim))
    r = x.cumsum(1, dtype=tt.float32)
    assert r.dtype is tt.float32 and _np(r).tolist() == np.cumsum(a, axis=1).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_scan_edge_cases(device):
    s = tt.tensor(2.5, device=device)
    assert s.cumsum(0).item() == 2.5 and s.cumprod(-1).shape == ()
    assert tt.zeros(0, 3, device=device).cumsum(0).shape == (0, 3)
    assert tt.ones(2, 0, device=device).cumprod(1).shape == (2, 0)
    assert tt.tensor([1.7, 2.6], device=device).cumsum(0, dtype=tt.int64).tolist() == [1, 3]  # cast first
    x = tt.ones(3, 5000, device=device)
    assert x.cumsum(1)[:, -1].tolist() == [5000.0] * 3
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.cumsum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.cumprod(x, -3)


def _cumprod_grad(a, g, axis):
    """d(sum(g * cumprod(a)))/da by brute force: product of the others in each prefix."""
    a, g = np.moveaxis(a, axis, -1), np.moveaxis(g, axis, -1)
    out = np.zeros_like(a)
    n = a.shape[-1]
    for i in range(n):
        for j in range(i, n):
            others = np.prod(np.delete(a[..., : j + 1], i, axis=-1), axis=-1)
            out[..., i] += g[..., j] * others
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("device", DEVICES)
def test_scan_backward(rng, device):
    a = np.round(rng.standard_normal((2, 3, 4)), 1)
    a[0, 1, 2] = a[1, 0, 1] = 0.0  # one zero in a row (along dim 2 and along dim 0)
    a[1, 2, 0] = a[1, 2, 3] = 0.0  # two zeros in a row
    g = rng.standard_normal((2, 3, 4))
    for dim in (2, 0):
        x = tt.tensor(a, device=device, requires_grad=True)
        w = tt.tensor(g, device=device)
        (x.cumsum(dim) * w).sum().backward()
        expected = np.flip(np.cumsum(np.flip(g, dim), dim), dim)
        np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12, atol=1e-12)
        x.grad = None
        (x.cumprod(dim) * w).sum().backward()
        np.testing.assert_allclose(_np(x.grad), _cumprod_grad(a, g, dim), rtol=1e-10, atol=1e-12)
    # create_graph: the tensor-op formulas give the same first derivatives (cumprod's needs no zeros)
    b = np.abs(a) + 0.5
    x = tt.tensor(b, device=device).permute(2, 0, 1).requires_grad_()
    (gs,) = tt.autograd.grad((x.cumsum(1) * 2).sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(gs), 2 * np.flip(np.cumsum(np.ones((4, 2, 3)), 1), 1), rtol=1e-12)
    (gp,) = tt.autograd.grad(x.cumprod(2), x, tt.tensor(g.transpose(2, 0, 1), device=device), create_graph=True)
    np.testing.assert_allclose(_np(gp), _cumprod_grad(b.transpose(2, 0, 1), g.transpose(2, 0, 1), 2), rtol=1e-10)
    with pytest.raises(NotImplementedError, match="without zeros"):
        z = tt.tensor(a, device=device, requires_grad=True)
        tt.autograd.grad(z.cumprod(1).sum(), z, create_graph=True)


def test_scan_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    z = tt.tensor([[1.5, 0.0, 2.0, 0.5], [0.0, 0.0, -1.0, 2.0], [0.5, 2.0, -3.0, 0.0]], dtype=tt.float64,
                  requires_grad=True)
    for fn, inp in ((lambda t: t.cumsum(1), x), (lambda t: t.cumsum(0), x), (lambda t: t.cumprod(1), x),
                    (lambda t: t.cumprod(0), x), (lambda t: t.cumprod(1), z), (lambda t: t.cumprod(0), z)):
        assert tt.autograd.gradcheck(fn, (inp,))
    assert tt.autograd.gradgradcheck(lambda t: t.cumsum(1), (x,))
    assert tt.autograd.gradgradcheck(lambda t: t.cumprod(0), (x,))
