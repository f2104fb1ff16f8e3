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


# ---------------------------------------------------------------- the grown COO type
@pytest.mark.parametrize("device", DEVICES)
def test_repr_as_pytorch(device):
    s = tt.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3.0, 4.0, 5.0], (2, 3), device=device)
    dev = "device='cuda:0', " if device == "cuda" else ""
    assert repr(s) == ("tensor(indices=tensor([[0, 1, 1],\n"
                       "                       [2, 0, 2]]),\n"
                       "       values=tensor([3., 4., 5.]),\n"
                       f"       {dev}size=(2, 3), nnz=3, layout=tritensor.sparse_coo)")
    h = tt.sparse_coo_tensor([[1]], [[1.0, 2.0]], (2, 2), dtype=tt.float64)
    assert str(h) == ("tensor(indices=tensor([[1]]),\n       values=tensor([[1., 2.]]),\n"
                      "       size=(2, 2), nnz=1, dtype=tritensor.float64, layout=tritensor.sparse_coo)")


@pytest.mark.parametrize("device", DEVICES)
def test_to_sparse_round_trip_and_hybrid(rng, device):
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    x[1] = 0
    x[2, 0] = 0
    x[3, 1, 0] = 0
    t = _t(x, device)
    s = t.to_sparse()
    assert s.is_sparse and s.is_coalesced() and s.sparse_dim() == 3 and s.dense_dim() == 0
    assert s._nnz() == int((x != 0).sum()) and s.layout is tt.sparse_coo and s.device.type == device
    np.testing.assert_array_equal(_np(s.indices()), np.stack(np.nonzero(x)))
    np.testing.assert_array_equal(_np(s.values()), x[x != 0])
    np.testing.assert_array_equal(_np(s.to_dense()), x)
    assert t.to_sparse_coo()._nnz() == s._nnz() and s.to_sparse() is s and s.to_sparse(3) is s
    h = t.to_sparse(1)  # rows 0, 2, 3 (row 1 is all zeros), each a dense (3, 2) block
    assert h.sparse_dim() == 1 and h.dense_dim() == 2 and h._nnz() == 3
    np.testing.assert_array_equal(_np(h.indices()), [[0, 2, 3]])
    np.testing.assert_array_equal(_np(h.values()), x[[0, 2, 3]])
    np.testing.assert_array_equal(_np(h.to_dense()), x)
    np.testing.assert_array_equal(_np(t.to_sparse(dense_dim=1).indices()), np.stack(np.nonzero(x.any(2))))
    z = t.to_sparse(0)
    assert z.sparse_dim() == 0 and z._nnz() == 1 and z._values().shape == (1, 4, 3, 2)
    np.testing.assert_array_equal(_np(z.to_dense()), x)
    assert not _t(np.zeros((2, 2), np.float32), device).to_sparse()._nnz()
    assert _t(x, device).to_dense() is not None and not t.is_sparse_csr and not s.is_sparse_csr
    with pytest.raises(RuntimeError, match="sparse_dim must be less than or equal to self.dim\\(\\)"):
        t.to_sparse(4)
    with pytest.raises(RuntimeError, match="conversion from Sparse to Sparse with sparse_dim argument !=self"):
        s.to_sparse(1)


@pytest.mark.parametrize("device", DEVICES)
def test_coalesce_hybrid_and_devices(device):
    i = [[1, 0, 1, 1]]
    v = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    s = tt.sparse_coo_tensor(i, v, device=device)
    assert s.shape == (2, 2) and s.dense_dim() == 1
    c = s.coalesce()
    np.testing.assert_array_equal(_np(c.indices()), [[0, 1]])
    np.testing.assert_array_equal(_np(c.values()), [[3, 4], [13, 16]])
    with pytest.raises(RuntimeError, match="Cannot get values on an uncoalesced tensor, please call .coalesce"):
        s.values()
    other = "cpu" if device == "cuda" else "cuda"
    moved = s.to(other)
    assert moved.is_sparse and moved.device.type == other and moved._indices().device.type == other
    np.testing.assert_array_equal(_np(moved.to_dense()), _np(s.to_dense()))
    d = s.to(tt.float64)
    assert d.dtype is tt.float64 and d._values().dtype is tt.float64
    assert s.cpu().device.type == "cpu" and s.cuda().device.type == "cuda"
    t2 = tt.sparse_coo_tensor([[0, 1], [2, 0]], [1.0, 2.0], (2, 3), device=device).t()
    assert t2.shape == (3, 2)
    np.testing.assert_array_equal(_np(t2.to_dense()), [[0, 2], [0, 0], [1, 0]])
    trusted = tt.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (3,), is_coalesced=True, device=device)
    assert trusted.is_coalesced() and trusted.coalesce() is trusted
    assert (s * 2)._nnz() == 4 and not (-s).is_coalesced() and s.numel() == 4 and not s.is_contiguous()


def test_more_construction_errors():
    with pytest.raises(RuntimeError, match="found negative index -1 for dim 0"):
        tt.sparse_coo_tensor([[-1]], [1.0], (2,))
    with pytest.raises(RuntimeError, match="indices must be an int64 tensor"):
        tt.sparse_coo_tensor(tt.tensor([[0.0]]), [1.0], (2,))
    with pytest.raises(RuntimeError, match="indices must be sparse_dim x nnz, but got: \\[2\\]"):
        tt.sparse_coo_tensor([0, 1], [1.0, 2.0], (2,))
    with pytest.raises(RuntimeError, match="values has incorrect size, expected \\[1, 3\\], got \\[1, 2\\]"):
        tt.sparse_coo_tensor([[0]], [[1.0, 2.0]], (2, 3))
    with pytest.raises(RuntimeError, match="`indices` is not coalesced"):
        tt.sparse_coo_tensor([[1, 0]], [1.0, 2.0], (2,), check_invariants=True, is_coalesced=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype can require gradients"):
        tt.sparse_coo_tensor([[0]], [1], (2,), requires_grad=True)


# ---------------------------------------------------------------- autograd
@pytest.mark.parametrize("device", DEVICES)
def test_autograd_through_values(rng, device):
    i = np.array([[0, 2, 0, 1], [1, 0, 1, 1]])
    v = rng.standard_normal(4)
    w = rng.standard_normal((3, 2))
    values = _t(v, device, True)
    s = tt.sparse_coo_tensor(i, values, (3, 2))
    assert s.requires_grad and s.grad_fn is None and s.is_leaf  # values passed through as they are
    (s.to_dense() * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(values.grad), w[i[0], i[1]], rtol=1e-12)  # each entry, duplicates included
    # a sparse leaf: .grad is sparse with the leaf's pattern
    leaf = tt.sparse_coo_tensor(i, v, (3, 2), requires_grad=True, device=device)
    assert leaf.requires_grad and leaf.grad is None
    (leaf.coalesce().to_dense() * _t(w, device)).sum().backward()
    g = leaf.grad
    assert g.is_sparse and g.shape == (3, 2) and g._nnz() == 4
    np.testing.assert_array_equal(_np(g._indices()), i)
    np.testing.assert_allclose(_np(g._values()), w[i[0], i[1]], rtol=1e-12)
    leaf.grad = None
    assert leaf.grad is None and leaf.detach().requires_grad is False
    assert "requires_grad=True" in repr(leaf)
    # dense -> sparse -> dense: the gradient is the dense gradient (masked to the stored entries)
    x = rng.standard_normal((3, 2))
    x[1, 0] = 0
    xt = _t(x, device, True)
    (xt.to_sparse().to_dense() * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(xt.grad), np.where(x != 0, w, 0), rtol=1e-12)


def test_gradcheck_to_dense_coalesce_sum(rng):
    i = tt.tensor([[0, 2, 0, 1], [1, 0, 1, 1]])

    def f(values):
        s = tt.sparse_coo_tensor(i, values, (3, 2))
        return s.coalesce().to_dense() * 2 + tt.sparse.sum(s, 1).to_dense().unsqueeze(1)

    assert tt.autograd.gradcheck(f, (tt.tensor(rng.standard_normal(4), requires_grad=True),))


# ---------------------------------------------------------------- sum
@pytest.mark.parametrize("device", DEVICES)
def test_sparse_sum(rng, device):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    x[0, 1] = 0
    x[2] = 0
    s = _t(x, device).to_sparse(2)  # hybrid: sparse (3, 4), dense (2,)
    full = tt.sparse.sum(s)
    assert not full.is_sparse and full.shape == ()
    np.testing.assert_allclose(_np(full), x.sum(), rtol=1e-5)
    np.testing.assert_allclose(_np(s.sum()), x.sum(), rtol=1e-5)
    both = tt.sparse.sum(s, (0, 1))  # every sparse dim: dense
    assert not both.is_sparse
    np.testing.assert_allclose(_np(both), x.sum((0, 1)), rtol=1e-5)
    r0 = tt.sparse.sum(s, 0)
    assert r0.is_sparse and r0.is_coalesced() and r0.shape == (4, 2)
    np.testing.assert_allclose(_np(r0.to_dense()), x.sum(0), rtol=1e-5)
    r_dense = tt.sparse.sum(s, -1)  # a dense dim: stays sparse over (3, 4)
    assert r_dense.is_sparse and r_dense.shape == (3, 4)
    np.testing.assert_allclose(_np(r_dense.to_dense()), x.sum(2), rtol=1e-5)
    r12 = tt.sparse.sum(s, [1, 2], dtype=tt.float64)
    assert r12.dtype is tt.float64 and r12.shape == (3,)
    np.testing.assert_allclose(_np(r12.to_dense()), x.sum((1, 2)), rtol=1e-5)
    np.testing.assert_allclose(_np(tt.sparse.sum(_t(x, device), 1)), x.sum(1), rtol=1e-6)  # dense input
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        tt.sparse.sum(s, (0, -3))
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.sparse.sum(s, 3)
