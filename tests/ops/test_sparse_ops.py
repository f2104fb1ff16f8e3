"""tt.sparse.mm / addmm / softmax / log_softmax and tt.mm, tt.matmul, tt.addmm, `@` with a sparse first operand:
values against dense NumPy products, gradients (dense side, sparse values), PyTorch's errors."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _t


def _random_coo(rng, m, k, nnz, dtype=np.float64, duplicates=True):
    """(indices (2, nnz), values (nnz,), the dense matrix they sum to)."""
    idx = np.stack([rng.integers(0, m, nnz), rng.integers(0, k, nnz)])
    if duplicates:
        idx[:, -1] = idx[:, 0]  # at least one repeated entry: mm must sum it
    v = rng.standard_normal(nnz).astype(dtype)
    dense = np.zeros((m, k), dtype)
    np.add.at(dense, (idx[0], idx[1]), v)
    return idx, v, dense


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mm_values(rng, device, dtype):
    idx, v, a = _random_coo(rng, 6, 5, 9, dtype)
    b = rng.standard_normal((5, 7)).astype(dtype)
    s = tt.sparse_coo_tensor(idx, v, (6, 5), device=device)
    d = _t(b, device)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype is np.float32 else dict(rtol=1e-12, atol=1e-12)
    csr = s.to_sparse_csr()
    for out in (tt.sparse.mm(s, d), tt.mm(s, d), tt.matmul(s, d), s @ d, s.mm(d), tt.sparse.mm(csr, d), csr @ d,
                tt.mm(csr, d)):
        assert not out.is_sparse and out.shape == (6, 7) and out.device.type == device and out.dtype == s.dtype
        np.testing.assert_allclose(_np(out), ref, **tol)
    vec = rng.standard_normal(5).astype(dtype)
    np.testing.assert_allclose(_np(s @ _t(vec, device)), a @ vec, **tol)
    # sparse @ sparse keeps the first operand's layout; dense @ sparse is dense
    ss = tt.sparse.mm(s, _t(b, device).to_sparse())
    assert ss.is_sparse
    np.testing.assert_allclose(_np(ss.to_dense()), ref, **tol)
    assert tt.sparse.mm(csr, _t(b, device).to_sparse_csr()).layout is tt.sparse_csr
    c = rng.standard_normal((4, 6)).astype(dtype)
    np.testing.assert_allclose(_np(tt.sparse.mm(_t(c, device), s)), c @ a, **tol)
    np.testing.assert_allclose(_np(tt.sparse.mm(_t(c, device), csr)), c @ a, **tol)
    if device == "cpu" or dtype is np.float32:  # dense @ dense is tt.mm (no float64 kernel on cuda)
        np.testing.assert_allclose(_np(tt.sparse.mm(_t(c, device), _t(a, device))), c @ a, **tol)
    out = _t(np.zeros((6, 7), dtype), device)
    assert tt.mm(s, d, out=out) is out
    np.testing.assert_allclose(_np(out), ref, **tol)


@pytest.mark.parametrize("device", DEVICES)
def test_addmm(rng, device):
    idx, v, a = _random_coo(rng, 4, 3, 5)
    b = rng.standard_normal((3, 2))
    c = rng.standard_normal((4, 2))
    s = tt.sparse_coo_tensor(idx, v, (4, 3), device=device)
    np.testing.assert_allclose(_np(tt.sparse.addmm(_t(c, device), s, _t(b, device), beta=0.5, alpha=2.0)),
                               0.5 * c + 2 * a @ b, rtol=1e-12)
    row = rng.standard_normal(2)  # broadcast to (4, 2)
    np.testing.assert_allclose(_np(tt.addmm(_t(row, device), s, _t(b, device))), row + a @ b, rtol=1e-12)
    nan = np.full((4, 2), np.nan)  # beta == 0 ignores input
    np.testing.assert_allclose(_np(tt.sparse.addmm(_t(nan, device), s, _t(b, device), beta=0)), a @ b, rtol=1e-12)
    np.testing.assert_allclose(_np(tt.sparse.addmm(_t(c, device).to_sparse(), s.to_sparse_csr(), _t(b, device))),
                               c + a @ b, rtol=1e-12)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor \\(2\\) must match the existing "
                                           "size \\(3\\)"):
        tt.sparse.addmm(_t(np.zeros((4, 3)), device), s, _t(b, device))


@pytest.mark.parametrize("device", DEVICES)
def test_mm_gradients(rng, device):
    idx, v, a = _random_coo(rng, 5, 4, 7)
    b = rng.standard_normal((4, 3))
    g = rng.standard_normal((5, 3))
    leaf = tt.sparse_coo_tensor(idx, v, (5, 4), requires_grad=True, device=device)
    d = _t(b, device, True)
    out = tt.sparse.mm(leaf, d)
    assert out.grad_fn.name() == "SparseAddmmBackward0"
    (out * _t(g, device)).sum().backward()
    np.testing.assert_allclose(_np(d.grad), a.T @ g, rtol=1e-12)
    dense_grad = g @ b.T
    assert leaf.grad.is_sparse  # the sparse operand's gradient has its pattern: each stored entry's
    np.testing.assert_array_equal(_np(leaf.grad._indices()), idx)
    np.testing.assert_allclose(_np(leaf.grad._values()), dense_grad[idx[0], idx[1]], rtol=1e-12)
    # CSR: the gradient reaches the dense side and the values
    values = _t(a[a != 0], device, True)
    nz = np.nonzero(a)
    crow = np.concatenate([[0], np.cumsum(np.bincount(nz[0], minlength=5))])
    csr = tt.sparse_csr_tensor(crow, nz[1], values, (5, 4))
    d2 = _t(b, device, True)
    (tt.mm(csr, d2) * _t(g, device)).sum().backward()
    np.testing.assert_allclose(_np(d2.grad), a.T @ g, rtol=1e-12)
    np.testing.assert_allclose(_np(values.grad), dense_grad[nz], rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_mm_gradcheck(rng, device):
    # small operands: on cuda every perturbation runs the interpreted kernels
    idx, v, _ = _random_coo(rng, 3, 3, 4)
    i = _t(idx, device)

    def coo(values, dense):
        return tt.sparse.mm(tt.sparse_coo_tensor(i, values, (3, 3)), dense)

    def csr(values, dense):
        s = tt.sparse_csr_tensor(_t(np.array([0, 2, 2, 3]), device), _t(np.array([0, 2, 1]), device), values, (3, 3))
        return tt.sparse.addmm(dense[:, :1], s, dense, beta=0.5, alpha=1.5)

    dense = _t(rng.standard_normal((3, 1 if device == "cuda" else 2)), device, True)
    assert tt.autograd.gradcheck(coo, (_t(v, device, True), dense))
    assert tt.autograd.gradcheck(csr, (_t(rng.standard_normal(3), device, True), dense))


@pytest.mark.parametrize("device", DEVICES)
def test_mm_errors(device):
    s = tt.sparse_coo_tensor([[0, 1], [1, 2]], [1.0, 2.0], (2, 3), device=device)
    csr = s.to_sparse_csr()
    with pytest.raises(RuntimeError, match="addmm: Argument #3 \\(dense\\): Expected dim 0 size 3, got 4"):
        tt.sparse.mm(s, tt.ones(4, 2, device=device))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied \\(2x3 and 4x2\\)"):
        csr @ tt.ones(4, 2, device=device)
    with pytest.raises(RuntimeError, match="addmm: matrices expected, got 3D tensor"):
        tt.sparse.mm(s, tt.ones(3, 2, 1, device=device))
    with pytest.raises(RuntimeError, match="addmm: matrices expected, got 3D tensor"):
        tt.sparse.mm(tt.sparse_coo_tensor([[0], [0], [0]], [1.0], (1, 1, 1), device=device), tt.ones(1, 1))
    with pytest.raises(RuntimeError, match="addmm: scalar values expected, got 1D values"):
        tt.sparse.mm(tt.sparse_coo_tensor([[0], [0]], [[1.0]], (1, 1, 1), device=device), tt.ones(1, 1))
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float != double"):
        tt.sparse.mm(s, tt.ones(3, 2, dtype=tt.float64, device=device))
    with pytest.raises(TypeError, match="argument 'mat2' \\(position 2\\) must be Tensor, not list"):
        tt.sparse.mm(s, [[1.0]])
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.sparse.mm(s, tt.ones(3, 2, device=other))
    if device == "cuda":
        with pytest.raises(RuntimeError, match="\"addmm_sparse_cuda\" not implemented for 'Long'"):
            tt.sparse.mm(tt.sparse_coo_tensor([[0], [0]], [1], (1, 1), device=device), tt.ones(1, 1, dtype=tt.int64,
                                                                                           device=device))
    else:  # integer products on the cpu
        np.testing.assert_array_equal(_np(tt.sparse.mm(tt.sparse_coo_tensor([[0, 0], [0, 1]], [2, 3], (1, 2)),
                                                       tt.tensor([[5], [7]]))), [[31]])


def _masked_softmax(dense, mask, axis, log):
    x = np.where(mask, dense, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.where(mask, np.exp(x - np.where(np.isfinite(m), m, 0)), 0)
    out = e / np.where(mask, e.sum(axis=axis, keepdims=True), 1)
    return np.where(mask, np.log(np.where(mask, out, 1)) if log else out, 0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax(rng, device, log):
    x = rng.standard_normal((4, 5)) * 3
    mask = rng.random((4, 5)) < 0.5
    mask[1] = False  # an empty row
    s = _t(np.where(mask, x, 0), device).to_sparse()
    fn = tt.sparse.log_softmax if log else tt.sparse.softmax
    for dim in (0, 1, -1):
        out = fn(s, dim)
        assert out.is_sparse and out.is_coalesced() and out._nnz() == int(mask.sum())
        np.testing.assert_allclose(_np(out.to_dense()), _masked_softmax(x, mask, dim % 2, log), rtol=1e-12,
                                   atol=1e-14)
    h = _t(x, device).to_sparse(1)  # hybrid: softmax along the dense dim
    np.testing.assert_allclose(_np(fn(h, 1).to_dense()), _masked_softmax(x, np.ones_like(mask), 1, log), rtol=1e-12)
    assert fn(s, 1, dtype=tt.float32).dtype is tt.float32
    # gradients: float64 gradcheck on the cpu; cuda's backward (interpreted kernels, slow to gradcheck) against it
    i = np.array([[0, 0, 1, 0], [0, 2, 1, 1]])  # rows of 3, 1 and 0 entries
    v, w = rng.standard_normal(4), rng.standard_normal((3, 3))
    assert tt.autograd.gradcheck(lambda t: fn(tt.sparse_coo_tensor(i, t, (3, 3)), 1).to_dense(),
                                 (_t(v, "cpu", True),))
    grads = []
    for dev in ("cpu", device):
        t = _t(v, dev, True)
        (fn(tt.sparse_coo_tensor(_t(i, dev), t, (3, 3)), 1).to_dense() * _t(w, dev)).sum().backward()
        grads.append(_np(t.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="expected a sparse COO tensor"):
        fn(_t(x, device), 1)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        fn(tt.sparse_coo_tensor([[0]], [1], (2,), device=device), 0)


def test_spmm_is_the_sparse_product():
    # gcn/gat call torch.spmm(adjacency, features)
    dense = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]], dtype=np.float32)
    features = np.arange(6, dtype=np.float32).reshape(3, 2)
    for sparse in (tt.tensor(dense).to_sparse(), tt.tensor(dense).to_sparse_csr(), tt.tensor(dense)):
        np.testing.assert_allclose(tt.spmm(sparse, tt.tensor(features)).numpy(), dense @ features)
