"""index_select, index_add, take (and nonzero, one_hot) on cpu and interpreted cuda against NumPy, forward
and backward."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _strided, _t


# ================================================================ index_select / index_add
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64])
def test_index_select_and_index_add(rng, device, dtype):
    a, x = _strided(rng, (4, 3, 5), dtype, device)
    idx = np.array([3, 0, 3, -0, 1])
    for dim in (0, -1, 1):
        i = idx % a.shape[dim]
        r = tt.index_select(x, dim, _t(i, device))
        np.testing.assert_array_equal(_np(r).astype(np.float64), np.take(a, i, axis=dim).astype(np.float64))
    i = np.array([1, 4, 1])
    src_a = (rng.standard_normal((4, 3, 3)) * 4).astype(dtype.np)
    expected = a.astype(np.float64).copy()
    np.add.at(np.moveaxis(expected, -1, 0), i, 2 * np.moveaxis(src_a.astype(np.float64), -1, 0))
    r = x.index_add(-1, _t(i, device), _t(src_a, device), alpha=2)
    tol = 1.6e-2 if dtype is tt.bfloat16 else 1e-6
    np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_index_select_add_backward(rng, device):
    a, s = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    i = np.array([2, 2])
    x, src = _t(a, device, True), _t(s, device, True)
    w = rng.standard_normal((4, 3))
    (x.index_add(1, _t(i, device), src, alpha=3) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), w, rtol=1e-12)
    np.testing.assert_allclose(_np(src.grad), 3 * w[:, i], rtol=1e-12)
    x = _t(a, device, True)
    w2 = rng.standard_normal((4, 2))
    (x.index_select(1, _t(i, device)) * _t(w2, device)).sum().backward()
    expected = np.zeros_like(a)
    expected[:, 2] = w2.sum(1)
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_index_select_add_fill_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    s = tt.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    v = tt.tensor(1.5, dtype=tt.float64, requires_grad=True)
    i = tt.tensor([3, 0, 3])
    assert tt.autograd.gradcheck(lambda x: tt.index_select(x, -1, i), (x,))
    assert tt.autograd.gradcheck(lambda x, s: tt.index_add(x, 1, i, s, alpha=-2), (x, s))
    assert tt.autograd.gradcheck(lambda x, v: tt.index_fill(x, 1, tt.tensor([1, 3]), v), (x, v))

# ================================================================ take / nonzero / one_hot
@pytest.mark.parametrize("device", DEVICES)
def test_take_nonzero_one_hot(rng, device):
    a, x = _strided(rng, (3, 4), tt.float32, device)
    idx = np.array([[0, -1], [11, 5], [5, 5]])
    np.testing.assert_array_equal(_np(tt.take(x, _t(idx, device))), a.reshape(-1)[idx])
    xg = _t(a.astype(np.float64), device, True)
    xg.take(_t(idx, device)).sum().backward()
    expected = np.zeros(12)
    np.add.at(expected, idx.reshape(-1) % 12, 1)
    np.testing.assert_array_equal(_np(xg.grad), expected.reshape(3, 4))
    m = (rng.random((2, 3, 4)) < 0.4).astype(np.int32)
    t = _t(m, device).permute(2, 0, 1)
    np.testing.assert_array_equal(_np(tt.nonzero(t)), np.argwhere(m.transpose(2, 0, 1)))
    np.testing.assert_array_equal(_np(t.argwhere()), np.argwhere(m.transpose(2, 0, 1)))
    cols = t.nonzero(as_tuple=True)
    for c, e in zip(cols, np.nonzero(m.transpose(2, 0, 1))):
        np.testing.assert_array_equal(_np(c), e)
    assert tt.nonzero(tt.zeros(3, device=device)).shape == (0, 1)
    assert tt.nonzero(tt.tensor(2.0, device=device)).shape == (1, 0)
    assert [_np(c).tolist() for c in tt.tensor(5, device=device).nonzero(as_tuple=True)] == [[0]]
    labels = np.array([[2, 0], [1, 4]])
    oh = tt.one_hot(_t(labels, device))
    assert oh.dtype is tt.int64 and oh.shape == (2, 2, 5)
    np.testing.assert_array_equal(_np(oh), np.eye(5, dtype=np.int64)[labels])
    np.testing.assert_array_equal(_np(tt.one_hot(_t(labels, device), 6)), np.eye(6, dtype=np.int64)[labels])


def test_take_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    idx = tt.tensor([[0, -1, 5], [5, 11, 5]])
    assert tt.autograd.gradcheck(lambda x: tt.take(x.t(), idx), (x,))
