"""tt.sparse_csr_tensor and Tensor.to_sparse_csr: structure, conversions, printing, autograd, PyTorch's errors."""

import numpy as np
import pytest
import scipy.sparse as sp

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _t


@pytest.mark.parametrize("device", DEVICES)
def test_construction_attributes_and_conversions(rng, device):
    a = sp.random(5, 4, density=0.4, format="csr", random_state=rng)
    a.sort_indices()
    s = tt.sparse_csr_tensor(a.indptr, a.indices, a.data, (5, 4), device=device)
    assert s.layout is tt.sparse_csr and s.is_sparse_csr and not s.is_sparse and s.shape == (5, 4)
    assert s.dtype is tt.float64 and s.device.type == device and s._nnz() == a.nnz and s.dim() == 2
    assert s.sparse_dim() == 2 and s.dense_dim() == 0 and s.crow_indices().dtype is tt.int64
    np.testing.assert_array_equal(_np(s.crow_indices()), a.indptr)
    np.testing.assert_array_equal(_np(s.col_indices()), a.indices)
    np.testing.assert_array_equal(_np(s.values()), a.data)
    np.testing.assert_array_equal(_np(s.to_dense()), a.toarray())
    coo = s.to_sparse()
    assert coo.is_sparse and coo.is_coalesced() and s.to_sparse_coo()._nnz() == a.nnz
    np.testing.assert_array_equal(_np(coo.indices()), np.stack(a.nonzero()))
    back = coo.to_sparse_csr()
    np.testing.assert_array_equal(_np(back.crow_indices()), a.indptr)
    np.testing.assert_array_equal(_np(back.col_indices()), a.indices)
    dense = _t(a.toarray(), device)
    for c in (dense.to_sparse_csr(), dense.to_sparse(layout=tt.sparse_csr), s.to_sparse(layout=tt.sparse_csr)):
        np.testing.assert_array_equal(_np(c.crow_indices()), a.indptr)
        np.testing.assert_array_equal(_np(c.values()), a.data)
    assert s.to_sparse_csr() is s
    # uncoalesced COO: duplicates summed on the way to CSR
    dup = tt.sparse_coo_tensor([[1, 0, 1], [2, 1, 2]], [1.0, 2.0, 3.0], (2, 3), device=device).to_sparse_csr()
    np.testing.assert_array_equal(_np(dup.crow_indices()), [0, 1, 2])
    np.testing.assert_array_equal(_np(dup.values()), [2.0, 4.0])
    inferred = tt.sparse_csr_tensor([0, 1, 1], [3], [1.0], device=device)
    assert inferred.shape == (2, 4) and inferred.dtype is tt.float32
    other = "cpu" if device == "cuda" else "cuda"
    moved = s.to(other)
    assert moved.device.type == other and moved.crow_indices().device.type == other
    np.testing.assert_array_equal(_np(moved.to_dense()), a.toarray())
    assert s.to(tt.float32).dtype is tt.float32 and s.cpu().device.type == "cpu" and s.cuda().device.type == "cuda"
    np.testing.assert_array_equal(_np(s.clone().to_dense()), a.toarray())
    np.testing.assert_allclose(_np(tt.sparse.sum(s)), a.sum(), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.sparse.sum(s, 0).to_dense()), np.asarray(a.sum(0)).ravel(), rtol=1e-12)


def test_repr_as_pytorch():
    s = tt.sparse_csr_tensor([0, 2, 4], [0, 1, 0, 1], [1, 2, 3, 4])
    assert repr(s) == ("tensor(crow_indices=tensor([0, 2, 4]),\n"
                       "       col_indices=tensor([0, 1, 0, 1]),\n"
                       "       values=tensor([1, 2, 3, 4]), size=(2, 2), nnz=4,\n"
                       "       layout=tritensor.sparse_csr)")


@pytest.mark.parametrize("device", DEVICES)
def test_autograd(rng, device):
    values = _t(rng.standard_normal(3), device, True)
    s = tt.sparse_csr_tensor([0, 2, 2, 3], [0, 2, 1], values, (3, 3))
    w = rng.standard_normal((3, 3))
    (s.to_dense() * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(values.grad), [w[0, 0], w[0, 2], w[2, 1]], rtol=1e-12)
    leaf = tt.sparse_csr_tensor([0, 2, 2, 3], [0, 2, 1], rng.standard_normal(3), (3, 3), requires_grad=True,
                                device=device)
    b = rng.standard_normal((3, 2))
    (leaf @ _t(b, device)).sum().backward()
    g = leaf.grad
    assert g.layout is tt.sparse_csr
    np.testing.assert_array_equal(_np(g.col_indices()), [0, 2, 1])
    np.testing.assert_allclose(_np(g.values()), b.sum(1)[[0, 2, 1]], rtol=1e-12)
    x = rng.standard_normal((3, 4))
    x[0, 1] = 0
    xt = _t(x, device, True)
    (xt.to_sparse_csr().to_dense() * _t(w[:, :3].repeat(2, 1)[:, :4], device)).sum().backward()
    np.testing.assert_allclose(_np(xt.grad), np.where(x != 0, w[:, :3].repeat(2, 1)[:, :4], 0), rtol=1e-12)


def test_errors():
    with pytest.raises(RuntimeError, match="crow_indices.size\\(-1\\) must be equal to size\\[-2\\] \\+ 1 "
                                           "\\(that is 3\\), but got: 4"):
        tt.sparse_csr_tensor([0, 1, 1, 1], [0], [1.0], (2, 2))
    with pytest.raises(RuntimeError, match="col_indices and values must have the same number of elements"):
        tt.sparse_csr_tensor([0, 1, 1], [0, 1], [1.0], (2, 2))
    cases = [([1, 1, 1], [0], "`crow_indices\\[..., 0\\] == 0` is not satisfied."),
             ([0, 1, 2], [0], "`crow_indices\\[..., -1\\] == nnz` is not satisfied."),
             ([0, 2, 1, 2], [0, 1], "`0 <= crow_indices\\[..., 1:\\] - crow_indices\\[..., :-1\\] <= ncols`"),
             ([0, 1, 1], [5], "`0 <= col_indices < ncols` is not satisfied.")]
    for crow, col, message in cases:
        with pytest.raises(RuntimeError, match=message):
            tt.sparse_csr_tensor(crow, col, [1.0] * len(col), (len(crow) - 1, 2))
    unsorted = ([0, 2, 2], [1, 0], [1.0, 2.0])
    assert tt.sparse_csr_tensor(*unsorted, (2, 2))._nnz() == 2  # as PyTorch: only checked on request
    with pytest.raises(RuntimeError, match="`col_indices\\[..., crow_indices\\[..., i - 1\\]:"
                                           "crow_indices\\[..., i\\]\\] for all i = 1, ..., nrows are sorted"):
        tt.sparse_csr_tensor(*unsorted, (2, 2), check_invariants=True)
    assert tt.sparse_csr_tensor([0, 1, 2], [1, 0], [1.0, 2.0], (2, 2), check_invariants=True)._nnz() == 2
    with pytest.raises(RuntimeError, match="crow_indices must be an int64 or int32 tensor"):
        tt.sparse_csr_tensor(tt.tensor([0.0, 1.0]), [0], [1.0])
    with pytest.raises(RuntimeError, match="col_indices must have dim 1"):
        tt.sparse_csr_tensor([0, 1], [[0]], [1.0])
    with pytest.raises(RuntimeError, match="values must have dim 1"):
        tt.sparse_csr_tensor([0, 1], [0], [[1.0]])
    with pytest.raises(RuntimeError, match="size must have 2 dims"):
        tt.sparse_csr_tensor([0, 1], [0], [1.0], (1, 1, 1))
    with pytest.raises(RuntimeError, match="only 2-D tensors can be converted to the SparseCsr layout"):
        tt.ones(3).to_sparse_csr()
    with pytest.raises(RuntimeError, match="conversion from Sparse to SparseCsr for input tensors with sparse_dim"):
        tt.sparse_coo_tensor([[0]], [[1.0]], (1, 1)).to_sparse_csr()
    with pytest.raises(NotImplementedError, match="blocksize"):
        tt.ones(2, 2).to_sparse(layout=tt.sparse_csr, blocksize=(1, 1))
