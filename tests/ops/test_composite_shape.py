"""Shape composites (diagonal/diag/diag_embed/diagflat, block_diag, cartesian_prod, meshgrid, broadcasting,
atleast_nd, column_stack, tensor_split/hsplit/vsplit/dsplit, take_along_dim, select, adjoint, rot90) on cpu and
interpreted cuda against NumPy, gradients in float64 and every error."""

import itertools

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device="cpu", requires_grad=False):
    return tt.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def _f64(rng, *shape):
    return _t(rng.standard_normal(shape), requires_grad=True)


# ================================================================ diagonal family
@pytest.mark.parametrize("device", DEVICES)
def test_diagonal_is_a_strided_view(rng, device):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x = _t(a, device)
    for offset, d1, d2 in [(0, 0, 1), (1, 0, 1), (-2, 0, 1), (2, -1, 0), (0, 2, 1), (7, 0, 1), (-9, 1, 2)]:
        v = tt.diagonal(x, offset, d1, d2)
        np.testing.assert_array_equal(_np(v), np.diagonal(a, offset, d1, d2))
    v = x.diagonal(1, 1, 2)
    assert v.shape == (3, 4) and v.stride() == (20, 6) and v.storage_offset() == 1
    v.mul_(0)  # a view: writes show in the base
    expect = a.copy()
    for i in range(4):
        expect[:, i, i + 1] = 0
    np.testing.assert_array_equal(_np(x), expect)
    t = _t(a, device).transpose(0, 2)  # a non-contiguous input
    np.testing.assert_array_equal(_np(t.diagonal(-1)), np.diagonal(a.transpose(2, 1, 0), -1))


def test_diagonal_backward_on_cuda_matches_cpu(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal(3).astype(np.float32)
    grads = []
    for device in DEVICES:
        x = _t(a, device, requires_grad=True)
        d = x.diagonal(1)
        assert d.grad_fn.name() == "DiagonalBackward0"
        (d * _t(w, device)).sum().backward()
        grads.append(_np(x.grad))
    expect = np.zeros((3, 4), np.float32)
    expect[[0, 1, 2], [1, 2, 3]] = w
    np.testing.assert_array_equal(grads[0], expect)
    np.testing.assert_array_equal(grads[1], expect)
    e = tt.diag_embed(_t(w, "cuda", requires_grad=True))
    assert e.grad_fn.name() == "DiagEmbedBackward0"


def test_diagonal_family_gradcheck(rng):
    x = _f64(rng, 3, 4, 2)
    assert tt.autograd.gradcheck(lambda t: tt.diagonal(t, 1, 0, 1), (x,))
    assert tt.autograd.gradgradcheck(lambda t: tt.diagonal(t, -1, 2, 0) * 2, (x,))
    v = _f64(rng, 2, 3)
    assert tt.autograd.gradcheck(lambda t: tt.diag_embed(t, 1, 0, 2), (v,))
    assert tt.autograd.gradgradcheck(lambda t: tt.diag_embed(t, -1), (v,))
    assert tt.autograd.gradcheck(lambda t: tt.diag(t, 1), (_f64(rng, 3),))
    assert tt.autograd.gradcheck(lambda t: tt.diag(t, -1), (_f64(rng, 3, 4),))
    assert tt.autograd.gradcheck(lambda t: tt.diagflat(t, 2), (v,))


@pytest.mark.parametrize("device", DEVICES)
def test_diag_diag_embed_diagflat(rng, device):
    v = rng.standard_normal(4).astype(np.float32)
    m = rng.standard_normal((3, 5)).astype(np.float32)
    for k in (0, 2, -1):
        np.testing.assert_array_equal(_np(tt.diag(_t(v, device), k)), np.diag(v, k))
        np.testing.assert_array_equal(_np(_t(m, device).diag(k)), np.diag(m, k))
        np.testing.assert_array_equal(_np(tt.diagflat(_t(m, device), k)), np.diagflat(m, k))
    d = tt.diag(_t(m, device))
    d.add_(1)  # diag of a matrix is a copy, not a view
    np.testing.assert_array_equal(_np(tt.diag(_t(m, device))), np.diag(m))
    out = tt.empty(3, device=device)
    assert tt.diag(_t(m, device), out=out) is out
    np.testing.assert_array_equal(_np(out), np.diag(m))
    b = rng.integers(-5, 5, (2, 3)).astype(np.int64)
    e = tt.diag_embed(_t(b, device), 1)
    assert e.shape == (2, 4, 4) and e.dtype is tt.int64
    expect = np.zeros((2, 4, 4), np.int64)
    for i in range(2):
        expect[i] = np.diag(b[i], 1)
    np.testing.assert_array_equal(_np(e), expect)
    e = _t(b, device).diag_embed(0, 0, 2)  # the new dims at 0 and 2: the batch dim in the middle
    np.testing.assert_array_equal(_np(e), np.stack([np.diag(b[i]) for i in range(2)], 1))


def test_diagonal_errors():
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical 1, -1"):
        tt.diagonal(tt.zeros(2, 2), 0, 1, -1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.diagonal(tt.zeros(2))
    with pytest.raises(RuntimeError, match=r"diag\(\): Supports 1D or 2D tensors. Got 3D"):
        tt.diag(tt.zeros(1, 2, 3))
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        tt.diag_embed(tt.zeros(2), 0, 0, -2)


# ================================================================ block_diag, cartesian_prod, meshgrid
@pytest.mark.parametrize("device", DEVICES)
def test_block_diag(rng, device):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    c = np.array([4, 5], np.int64)
    r = tt.block_diag(_t(a, device), tt.tensor(7, device=device), _t(c, device), tt.zeros(0, 2, device=device))
    assert r.dtype is tt.float32 and r.shape == (4, 8)
    expect = np.zeros((4, 8), np.float32)
    expect[:2, :3] = a
    expect[2, 3] = 7
    expect[3, 4:6] = c
    np.testing.assert_array_equal(_np(r), expect)
    assert tt.block_diag().shape == (1, 0)
    x, y = _f64(rng, 2, 2), _f64(rng, 3)
    assert tt.autograd.gradcheck(lambda p, q: tt.block_diag(p, q), (x, y))
    with pytest.raises(RuntimeError, match="Input tensors must have 2 or fewer dimensions. Input 1 has 3 dimensions"):
        tt.block_diag(tt.zeros(2), tt.zeros(1, 1, 1))


def test_block_diag_device_error():
    with pytest.raises(RuntimeError, match="Input 0 is on device cpu and input 1 is on device cuda:0"):
        tt.block_diag(tt.zeros(2), tt.zeros(2, device="cuda"))


@pytest.mark.parametrize("device", DEVICES)
def test_meshgrid_and_cartesian_prod(rng, device):
    a, b, c = np.arange(2), np.arange(3) * 10, np.arange(4) * 100
    for indexing in ("ij", "xy"):
        got = tt.meshgrid(_t(a, device), _t(b, device), _t(c, device), indexing=indexing)
        for g, e in zip(got, np.meshgrid(a, b, c, indexing=indexing)):
            np.testing.assert_array_equal(_np(g), e)
    got = tt.meshgrid([_t(a, device), tt.tensor(5, device=device)], indexing="xy")
    for g, e in zip(got, np.meshgrid(a, 5, indexing="xy")):
        np.testing.assert_array_equal(_np(g), e)
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        g = tt.meshgrid(_t(a, device), _t(b, device))
    assert g[0].shape == (2, 3)
    p = tt.cartesian_prod(_t(a, device), _t(b, device), _t(c, device))
    np.testing.assert_array_equal(_np(p), np.array(list(itertools.product(a, b, c))))
    single = _t(a, device)
    assert tt.cartesian_prod(single) is single
    x, y = _f64(rng, 2), _f64(rng, 3)
    assert tt.autograd.gradcheck(lambda p, q: tt.cartesian_prod(p, q), (x, y))


def test_meshgrid_errors():
    with pytest.raises(RuntimeError, match="meshgrid expects a non-empty TensorList"):
        tt.meshgrid(indexing="ij")
    with pytest.raises(RuntimeError, match='indexing must be one of "xy" or "ij", but received: ji'):
        tt.meshgrid(tt.zeros(2), indexing="ji")
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list"):
        tt.meshgrid(tt.zeros(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="to have the same dtype"):
        tt.meshgrid(tt.zeros(2), tt.zeros(2, dtype=tt.int64), indexing="ij")
    with pytest.raises(RuntimeError, match="to have the same device"):
        tt.meshgrid(tt.zeros(2), tt.zeros(2, device="cuda"), indexing="ij")
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 3\]"):
        tt.cartesian_prod(tt.zeros(2), tt.zeros(2, 3))


# ================================================================ broadcasting
@pytest.mark.parametrize("device", DEVICES)
def test_broadcast_tensors_and_shapes(rng, device):
    a = rng.standard_normal((3, 1)).astype(np.float32)
    b = rng.standard_normal((2, 1, 4)).astype(np.float32)
    got = tt.broadcast_tensors(_t(a, device), _t(b, device), tt.tensor(1.0, device=device))
    for g, e in zip(got, np.broadcast_arrays(a, b, np.float32(1.0))):
        assert g.shape == e.shape
        np.testing.assert_array_equal(_np(g), e)
    assert got[0].stride() == (0, 1, 0)  # views, no copy
    assert tt.broadcast_tensors([_t(a, device)])[0].shape == (3, 1)
    x = _f64(rng, 3, 1)
    assert tt.autograd.gradcheck(lambda t: tt.broadcast_tensors(t, tt.zeros(2, 3, 4, dtype=tt.float64))[0], (x,))
    assert tt.broadcast_shapes((2, 1), (3,), 1, [1, 1, 1]) == (1, 2, 3)
    assert isinstance(tt.broadcast_shapes((2,)), tt.Size)
    assert tt.broadcast_shapes() == ()
    assert tt.broadcast_shapes((0, 1), (3,)) == (0, 3)
    with pytest.raises(RuntimeError, match="Shape mismatch: objects cannot be broadcast to a single shape"):
        tt.broadcast_shapes((2, 3), (4,))
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension \(-1\)"):
        tt.broadcast_shapes((-1,))
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        tt.broadcast_tensors(tt.zeros(2), tt.zeros(3))


# ================================================================ atleast_nd, column_stack
def test_atleast_nd():
    s, v, m = tt.tensor(1.0), tt.arange(3.0), tt.zeros(2, 3)
    assert tt.atleast_1d(s).shape == (1,) and tt.atleast_1d(v) is v
    assert [t.shape for t in tt.atleast_2d(s, v, m)] == [(1, 1), (1, 3), (2, 3)]
    assert [t.shape for t in tt.atleast_3d([s, v, m])] == [(1, 1, 1), (1, 3, 1), (2, 3, 1)]
    assert isinstance(tt.atleast_1d((s,)), tuple)
    for fn, arr in ((tt.atleast_1d, np.atleast_1d), (tt.atleast_2d, np.atleast_2d), (tt.atleast_3d, np.atleast_3d)):
        for t in (s, v, m):
            np.testing.assert_array_equal(_np(fn(t)), arr(_np(t)))


@pytest.mark.parametrize("device", DEVICES)
def test_column_stack(rng, device):
    a = rng.standard_normal(3).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    r = tt.column_stack([_t(a, device), _t(b, device), tt.ones(3, dtype=tt.int32, device=device)])
    np.testing.assert_array_equal(_np(r), np.column_stack([a, b, np.ones(3, np.float32)]))
    np.testing.assert_array_equal(_np(tt.column_stack((tt.tensor(2.0, device=device),))), [[2.0]])
    with pytest.raises(TypeError, match="must be tuple of Tensors, not Tensor"):
        tt.column_stack(tt.zeros(2))
    with pytest.raises(RuntimeError, match="column_stack expects a non-empty TensorList"):
        tt.column_stack([])


# ================================================================ tensor_split and friends
@pytest.mark.parametrize("device", DEVICES)
def test_tensor_split(rng, device):
    a = rng.standard_normal((7, 4)).astype(np.float32)
    x = _t(a, device)
    for arg in (3, 7, 9, [2, 5], (1, -2), [3, 1, 10], [], tt.tensor(2), tt.tensor([1, 4])):
        np_arg = arg.tolist() if isinstance(arg, tt.Tensor) else arg
        got = tt.tensor_split(x, arg)
        want = np.array_split(a, np_arg)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(_np(g), w)
    got = x.tensor_split([1, 3], dim=-1)
    for g, w in zip(got, np.array_split(a, [1, 3], axis=1)):
        np.testing.assert_array_equal(_np(g), w)
    assert got[0]._base is not None or got[0].data_ptr() == x.data_ptr()  # views of x
    t = _f64(rng, 5, 2)
    assert tt.autograd.gradcheck(lambda p: tt.tensor_split(p, 2)[0] * 2 + tt.tensor_split(p, [4])[1].sum(), (t,))


def test_tensor_split_errors():
    with pytest.raises(RuntimeError, match="expected at least a 1-dimensional tensor, but got a tensor with 0 dims"):
        tt.tensor_split(tt.tensor(1.0), 2)
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0, got 0"):
        tt.tensor_split(tt.zeros(3), 0)
    with pytest.raises(RuntimeError, match="to have dtype of long, but got Float"):
        tt.tensor_split(tt.zeros(3), tt.tensor([1.0]))
    with pytest.raises(RuntimeError, match="zero-dimensional or one-dimensional tensor, but got a tensor with 2 dims"):
        tt.tensor_split(tt.zeros(3), tt.tensor([[1]]))
    with pytest.raises(RuntimeError, match="to be on cpu"):
        tt.tensor_split(tt.zeros(3), tt.tensor([1], device="cuda"))


@pytest.mark.parametrize("device", DEVICES)
def test_hsplit_vsplit_dsplit(device):
    a = np.arange(48.0, dtype=np.float32).reshape(2, 4, 6)
    x = _t(a, device)
    for fn, npfn in ((tt.hsplit, np.hsplit), (tt.vsplit, np.vsplit), (tt.dsplit, np.dsplit)):
        for arg in (2, [1, 3]):
            got, want = fn(x, arg), npfn(a, arg)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(_np(g), w)
    v = _t(np.arange(6.0), device)
    for g, w in zip(v.hsplit(3), np.hsplit(np.arange(6.0), 3)):
        np.testing.assert_array_equal(_np(g), w)
    assert len(x.vsplit([1])) == 2 and len(x.dsplit(3)) == 3


def test_directional_split_errors():
    with pytest.raises(RuntimeError, match="torch.hsplit requires a tensor with at least 1 dimension, but got a "
                                           "tensor with 0 dimensions!"):
        tt.hsplit(tt.tensor(1.0), 1)
    with pytest.raises(RuntimeError, match="torch.vsplit requires a tensor with at least 2 dimension"):
        tt.vsplit(tt.zeros(3), 1)
    with pytest.raises(RuntimeError, match="torch.dsplit requires a tensor with at least 3 dimension"):
        tt.dsplit(tt.zeros(3, 3), 1)
    with pytest.raises(RuntimeError, match="torch.hsplit attempted to split along dimension 1, but the size of the "
                                           "dimension 5 is not divisible by the split_size 2!"):
        tt.hsplit(tt.zeros(2, 5), 2)
    with pytest.raises(RuntimeError, match="not divisible by the split_size 0!"):
        tt.vsplit(tt.zeros(2, 5), 0)


# ================================================================ take_along_dim, select, adjoint, rot90
@pytest.mark.parametrize("device", DEVICES)
def test_take_along_dim(rng, device):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    x = _t(a, device)
    idx = np.argsort(a, axis=1)
    np.testing.assert_array_equal(_np(tt.take_along_dim(x, _t(idx, device), 1)), np.take_along_axis(a, idx, 1))
    col = np.array([[2], [0], [3]])
    np.testing.assert_array_equal(_np(x.take_along_dim(_t(col, device), dim=-1)), np.take_along_axis(a, col, 1))
    flat = np.array([0, 11, 5])
    np.testing.assert_array_equal(_np(tt.take_along_dim(x, _t(flat, device))), a.reshape(-1)[flat])
    # broadcasting over the other dims: a (1, 4) index row for every row of x
    row = np.array([[0, 2, 1, 0]])
    np.testing.assert_array_equal(_np(tt.take_along_dim(x, _t(row, device), 0)),
                                  np.take_along_axis(a, np.broadcast_to(row, (1, 4)), 0))
    b = rng.standard_normal((1, 4)).astype(np.float32)
    i2 = np.array([[1], [3], [0]])
    np.testing.assert_array_equal(_np(tt.take_along_dim(_t(b, device), _t(i2, device), 1)),
                                  np.take_along_axis(np.broadcast_to(b, (3, 4)), i2, 1))
    out = tt.empty(3, device=device)
    assert tt.take_along_dim(x, _t(flat, device), out=out) is out
    t = _f64(rng, 3, 4)
    assert tt.autograd.gradcheck(lambda p: tt.take_along_dim(p, _t(idx), 1), (t,))
    with pytest.raises(RuntimeError, match="dtype of indices should be Long but got Int"):
        tt.take_along_dim(x, _t(idx.astype(np.int32), device), 1)
    with pytest.raises(RuntimeError, match="should have the same number of dimensions, but got 2 dimensions for "
                                           "input, and 1 dimensions for indices"):
        tt.take_along_dim(x, _t(flat, device), 1)


@pytest.mark.parametrize("device", DEVICES)
def test_select_and_adjoint(rng, device):
    a = rng.standard_normal((3, 4, 2)).astype(np.float32)
    x = _t(a, device)
    np.testing.assert_array_equal(_np(tt.select(x, 1, 2)), a[:, 2])
    np.testing.assert_array_equal(_np(x.select(-1, -1)), a[..., -1])
    s = x.select(0, 1)
    s.zero_()  # a view
    assert not _np(x)[1].any()
    np.testing.assert_array_equal(_np(tt.adjoint(x)), np.swapaxes(_np(x), -2, -1))
    assert x.adjoint().stride() == (8, 1, 2)
    z = tt.tensor(3.0, device=device)
    assert tt.adjoint(z) is z
    c = np.array([[1 + 2j, 3j, 1], [2, -1j, 4 - 1j]], np.complex64)
    np.testing.assert_array_equal(_np(tt.tensor(c, device=device).adjoint()), c.conj().T)
    np.testing.assert_array_equal(_np(tt.tensor(c, device=device).diagonal()), np.diagonal(c))
    t = _f64(rng, 3, 4)
    assert tt.autograd.gradcheck(lambda p: tt.select(p, 1, 1) * 3, (t,))
    assert tt.autograd.gradcheck(lambda p: p.adjoint() * 2, (t,))
    with pytest.raises(IndexError, match=r"select\(\): index 4 out of range for tensor of size \[3, 4, 2\] at "
                                         "dimension 1"):
        tt.select(x, 1, 4)
    with pytest.raises(IndexError, match="select\\(\\) cannot be applied to a 0-dim tensor."):
        tt.select(z, 0, 0)
    with pytest.raises(RuntimeError, match="only supported on matrices or batches of matrices. Got 1-D tensor."):
        tt.adjoint(tt.zeros(3))


@pytest.mark.parametrize("device", DEVICES)
def test_rot90(rng, device):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x = _t(a, device)
    for k in range(-5, 6):
        for dims in ((0, 1), (2, 0), (-1, 1)):
            np.testing.assert_array_equal(_np(tt.rot90(x, k, dims)), np.rot90(a, k, dims))
    np.testing.assert_array_equal(_np(x.rot90()), np.rot90(a))
    r0 = tt.rot90(x, 4)
    assert r0.data_ptr() != x.data_ptr()  # k % 4 == 0 is a copy, like PyTorch
    t = _f64(rng, 2, 3)
    assert tt.autograd.gradcheck(lambda p: tt.rot90(p, 1), (t,))
    assert tt.autograd.gradcheck(lambda p: tt.rot90(p, 2, [1, 0]), (t,))
    with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
        tt.rot90(x, 1, [0, 1, 2])
    with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
        tt.rot90(tt.zeros(3))
    with pytest.raises(RuntimeError, match="expected rotation dims to be different, but got dim0 = 0 and dim1 = -3"):
        tt.rot90(x, 1, [0, -3])
    with pytest.raises(RuntimeError, match="Rotation dim1 out of range, dim1 = 4"):
        tt.rot90(x, 1, [0, 4])
    with pytest.raises(RuntimeError, match="Rotation dim0 out of range, dim0 = -4"):
        tt.rot90(x, 1, [-4, 0])
