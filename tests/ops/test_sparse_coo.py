"""tt.sparse_coo_tensor and the sparse gradients of embedding(sparse=True): structure, to_dense, coalesce,
addition, accumulation into .grad."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _t
from tritensor.ops.embedding_bag import embedding_bag


@pytest.mark.parametrize("device", DEVICES)
def test_construction_and_attributes(device):
    i = [[0, 2, 0], [1, 0, 1]]
    v = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    s = tt.sparse_coo_tensor(i, v, (3, 2, 2), device=device)
    assert s.is_sparse and s.layout is tt.sparse_coo and not tt.ones(1).is_sparse and tt.ones(1).layout is tt.strided
    assert s.shape == (3, 2, 2) and s.size() == (3, 2, 2) and s.size(1) == 2 and s.dim() == 3
    assert s.dtype is tt.float32 and s.device.type == device
    assert s.sparse_dim() == 2 and s.dense_dim() == 1 and s._nnz() == 3 and not s.is_coalesced()
    dense = np.zeros((3, 2, 2), np.float32)
    np.add.at(dense, (np.array(i[0]), np.array(i[1])), np.array(v, np.float32))
    np.testing.assert_array_equal(_np(s.to_dense()), dense)
    c = s.coalesce()
    assert c.is_coalesced() and c._nnz() == 2 and c.coalesce() is c
    np.testing.assert_array_equal(_np(c.indices()), [[0, 2], [1, 0]])
    np.testing.assert_array_equal(_np(c.values()), [[6.0, 8.0], [3.0, 4.0]])
    np.testing.assert_array_equal(_np(c.to_dense()), dense)
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor, please call .coalesce"):
        s.indices()
    z = c.clone().zero_()
    assert z._nnz() == 0 and z.shape == (3, 2, 2) and not _np(z.to_dense()).any() and c._nnz() == 2
    # size inferred; dtype
    t = tt.sparse_coo_tensor(tt.tensor([[4, 1]]), tt.tensor([1, 2]), dtype=tt.float64, device=device)
    assert t.shape == (5,) and t.dtype is tt.float64
    np.testing.assert_array_equal(_np(t.to_dense()), [0, 2, 0, 0, 1])


@pytest.mark.parametrize("device", DEVICES)
def test_addition(device):
    a = tt.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,), device=device)
    b = tt.sparse_coo_tensor([[1]], [5.0], (3,), device=device)
    s = a + b
    assert s.is_sparse and s._nnz() == 3 and not s.is_coalesced()  # concatenated
    np.testing.assert_array_equal(_np(s._indices()), [[0, 1, 1]])
    np.testing.assert_array_equal(_np(s.to_dense()), [1, 7, 0])
    d = _t(np.array([1.0, 1.0, 1.0], np.float32), device)
    for r in (d + a, a + d):
        assert not r.is_sparse
        np.testing.assert_array_equal(_np(r), [2, 3, 1])
    with pytest.raises(RuntimeError, match="add: expected 'self' and 'other' to have same size"):
        a + tt.sparse_coo_tensor([[0]], [1.0], (4,), device=device)


def test_construction_errors():
    with pytest.raises(RuntimeError, match="size is inconsistent with indices: for dim 0, size is 2 but found index 2"):
        tt.sparse_coo_tensor([[2]], [1.0], (2,))
    with pytest.raises(RuntimeError, match="number of dimensions must be sparse_dim \\(1\\) \\+ dense_dim \\(0\\)"):
        tt.sparse_coo_tensor([[0]], [1.0], (2, 2))
    with pytest.raises(RuntimeError, match="indices and values must have same nnz"):
        tt.sparse_coo_tensor([[0, 1]], [1.0], (2,))


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_sparse_grad(rng, device):
    w = rng.standard_normal((6, 3))
    idx = np.array([[4, 1], [4, 0]])
    g = rng.standard_normal((2, 2, 3))
    dense_w = _t(w, device, True)
    (tt.embedding(dense_w, _t(idx, device), 1) * _t(g, device)).sum().backward()
    x = _t(w, device, True)
    (tt.embedding(x, _t(idx, device), 1, False, True) * _t(g, device)).sum().backward()
    grad = x.grad
    assert grad.is_sparse and grad.shape == (6, 3) and grad.dtype is tt.float64
    assert grad._indices().shape == (1, 3) and grad._values().shape == (3, 3)  # padding entry dropped
    np.testing.assert_array_equal(_np(grad._indices()), [[4, 4, 0]])
    np.testing.assert_allclose(_np(grad.to_dense()), _np(dense_w.grad), rtol=1e-12)
    # a second backward accumulates by concatenation; a dense gradient on top gives a dense .grad
    tt.embedding(x, _t(idx, device), sparse=True).sum().backward()
    assert x.grad.is_sparse and x.grad._nnz() == 7
    expected = _np(dense_w.grad).copy()
    np.add.at(expected, idx.reshape(-1), 1.0)
    np.testing.assert_allclose(_np(x.grad.to_dense()), expected, rtol=1e-12)
    (x * 2).sum().backward()
    assert not x.grad.is_sparse
    np.testing.assert_allclose(_np(x.grad), expected + 2, rtol=1e-12)
    tt.embedding(x, _t(idx, device), sparse=True).sum().backward()  # dense .grad + a sparse gradient: dense
    assert not x.grad.is_sparse
    np.add.at(expected, idx.reshape(-1), 1.0)
    np.testing.assert_allclose(_np(x.grad), expected + 2, rtol=1e-12)


def test_sparse_grad_used_twice_in_one_graph_and_bag(rng):
    w = rng.standard_normal((5, 2))
    x = tt.tensor(w, requires_grad=True)
    i = tt.tensor([0, 3])
    (tt.embedding(x, i, sparse=True).sum() + 2 * tt.embedding(x, i, sparse=True).sum()).backward()
    assert x.grad.is_sparse and x.grad._nnz() == 4
    np.testing.assert_array_equal(_np(x.grad.to_dense())[:, 0], [3, 0, 0, 3, 0])
    y = tt.tensor(w, requires_grad=True)
    embedding_bag(tt.tensor([[0, 3, 3]]), y, mode="sum", sparse=True).sum().backward()
    assert y.grad.is_sparse
    np.testing.assert_array_equal(_np(y.grad.to_dense())[:, 1], [1, 0, 0, 2, 0])
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
        tt.embedding(x, i, -1, True, True).sum().backward()
