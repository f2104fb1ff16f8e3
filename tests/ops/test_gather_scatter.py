"""gather, scatter, scatter_add on cpu and interpreted cuda against NumPy, forward and backward."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _along, _np, _strided, _t


# ================================================================ gather / scatter
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64])
@pytest.mark.parametrize("dim", [0, -1])
def test_gather_matches_numpy(rng, device, dtype, dim):
    a, x = _strided(rng, (3, 4, 5), dtype, device)
    ishape = (5, 2, 5) if dim == 0 else (2, 4, 7)
    idx = rng.integers(0, a.shape[dim], ishape)  # repeated indices included
    r = tt.gather(x, dim, _t(idx, device))
    assert r.dtype is dtype and r.shape == ishape
    np.testing.assert_array_equal(_np(r), a[_along(idx, dim % 3)])
    np.testing.assert_array_equal(_np(x.gather(dim, _t(idx, device))), a[_along(idx, dim % 3)])


@pytest.mark.parametrize("device", DEVICES)
def test_gather_backward_accumulates_repeats(rng, device):
    a = rng.standard_normal((4, 3))
    idx = np.array([[0, 0, 3], [1, 0, 0], [3, 3, 3]])
    w = rng.standard_normal(idx.shape)
    x = _t(a, device, requires_grad=True)
    (x.gather(0, _t(idx, device)) * _t(w, device)).sum().backward()
    expected = np.zeros_like(a)
    np.add.at(expected, _along(idx, 0), w)
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_gather_gradcheck_and_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    idx = tt.tensor([[0, 2, 2], [1, 1, 0], [3, 0, 3]])
    assert tt.autograd.gradcheck(lambda x: tt.gather(x, -1, idx), (x,))
    assert tt.autograd.gradgradcheck(lambda x: tt.gather(x, 1, idx) * tt.gather(x, 1, idx), (x,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.int32])
def test_scatter_src_value_and_reduce(rng, device, dtype):
    a, x = _strided(rng, (4, 5), dtype, device)
    src_a = (rng.standard_normal((3, 5)) * 4).astype(dtype.np)  # larger than index: its window is read
    # scatter without reduce: distinct targets per column (duplicates have no defined winner)
    idx = np.stack([rng.permutation(4)[:2] for _ in range(4)], axis=1)
    src = _t(src_a, device)
    expected = a.copy()
    expected[_along(idx, 0)] = src_a[:2, :4]
    np.testing.assert_array_equal(_np(tt.scatter(x, 0, _t(idx, device), src)), expected)
    expected = a.copy()
    expected[_along(idx, 0)] = 3
    np.testing.assert_array_equal(_np(x.scatter(0, _t(idx, device), 3)), expected)
    # reduce: repeated indices combine
    ridx = rng.integers(0, 5, (3, 4))
    for reduce, ufunc in (("add", np.add), ("multiply", np.multiply)):
        expected = a.astype(np.float64).copy()
        ufunc.at(expected, _along(ridx, 1), src_a[:3, :4].astype(np.float64))
        r = x.scatter(-1, _t(ridx, device), src, reduce=reduce)
        np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64),
                                   rtol=2e-3 if dtype is tt.float16 else 1e-6)
    expected = a.astype(np.float64).copy()
    np.add.at(expected, _along(ridx, 1), src_a[:3, :4].astype(np.float64))
    r = tt.scatter_add(x, 1, _t(ridx, device), src)
    np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64),
                               rtol=2e-3 if dtype is tt.float16 else 1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_inplace_forms(device):
    x = tt.zeros(3, 4, device=device)
    idx = tt.tensor([[0, 1, 2, 0]], device=device)
    x.scatter_(0, idx, tt.ones(1, 4, device=device))
    x.scatter_add_(0, idx, tt.full((1, 4), 2.0, device=device))
    assert x.tolist() == [[3, 0, 0, 3], [0, 3, 0, 0], [0, 0, 3, 0]]


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_backward(rng, device):
    a, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    idx = np.array([[2, 0, 1, 1], [0, 2, 0, 2]])
    w = rng.standard_normal((3, 4))
    for reduce in (None, "add"):
        x, src = _t(a, device, True), _t(s, device, True)
        r = x.scatter(0, _t(idx, device), src) if reduce is None else x.scatter_add(0, _t(idx, device), src)
        (r * _t(w, device)).sum().backward()
        gx = w.copy()
        if reduce is None:
            gx[_along(idx, 0)] = 0
        gs = np.zeros_like(s)
        gs[:2, :4] = w[_along(idx, 0)]
        np.testing.assert_allclose(_np(x.grad), gx, rtol=1e-12)
        np.testing.assert_allclose(_np(src.grad), gs, rtol=1e-12)


def test_scatter_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    idx = tt.tensor([[2, 0, 1, 1], [0, 2, 0, 2]])
    assert tt.autograd.gradcheck(lambda x, s: tt.scatter(x, 0, idx, s), (x, src))
    rep = tt.tensor([[2, 2, 1, 1], [2, 2, 2, 2]])
    assert tt.autograd.gradcheck(lambda x, s: tt.scatter_add(x, 0, rep, s), (x, src))
    assert tt.autograd.gradcheck(lambda x: x.scatter(1, idx, 0.5), (x,))
