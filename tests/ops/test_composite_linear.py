"""Linear-algebra composites (trace, kron, inner, tensordot, addmv, addr, addbmm, chain_matmul) on cpu and
interpreted cuda against NumPy, gradients in float64, in-place and out= forms, and every error."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device="cpu", requires_grad=False):
    return tt.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _f64(rng, *shape):
    return _t(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("device", DEVICES)
def test_trace(rng, device):
    a = _f32(rng, 3, 5)
    np.testing.assert_allclose(_np(tt.trace(_t(a, device))), np.trace(a), rtol=1e-6)
    r = _t(np.arange(12).reshape(4, 3), device).trace()
    assert r.dtype is tt.int64 and r.item() == 0 + 4 + 8
    assert tt.autograd.gradcheck(tt.trace, (_f64(rng, 3, 4),))
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 3"):
        tt.trace(tt.zeros(2, 2, 2))


@pytest.mark.parametrize("device", DEVICES)
def test_kron(rng, device):
    for sa, sb in (((2, 3), (4, 1)), ((3,), (2, 2)), ((2, 1, 3), (2,)), ((), (3,))):
        a, b = _f32(rng, *sa), _f32(rng, *sb)
        np.testing.assert_allclose(_np(tt.kron(_t(a, device), _t(b, device))), np.kron(a, b), rtol=1e-6)
    i = np.arange(4).reshape(2, 2)
    r = _t(i, device).kron(_t(np.ones((2, 2), np.float32), device))
    assert r.dtype is tt.float32
    np.testing.assert_array_equal(_np(r), np.kron(i, np.ones((2, 2))))
    out = tt.empty(4, 4, device=device)
    assert tt.kron(_t(i, device), _t(i, device), out=out) is out
    np.testing.assert_array_equal(_np(out), np.kron(i, i))
    assert tt.autograd.gradcheck(tt.kron, (_f64(rng, 2, 3), _f64(rng, 2, 1)))
    with pytest.raises(TypeError, match="argument 'other' \\(position 2\\) must be Tensor, not int"):
        tt.kron(tt.zeros(2), 3)


@pytest.mark.parametrize("device", DEVICES)
def test_tensordot(rng, device):
    a, b = _f32(rng, 2, 3, 4), _f32(rng, 3, 4, 5)
    x, y = _t(a, device), _t(b, device)
    np.testing.assert_allclose(_np(tt.tensordot(x, y)), np.tensordot(a, b), rtol=1e-5, atol=1e-5)
    e = _f32(rng, 4, 2)
    np.testing.assert_allclose(_np(tt.tensordot(x, _t(e, device), 1)), np.tensordot(a, e, 1), rtol=1e-5, atol=1e-5)
    c = _f32(rng, 4, 3)
    np.testing.assert_allclose(_np(tt.tensordot(x, _t(c, device), ([1, 2], [1, 0]))),
                               np.tensordot(a, c, ([1, 2], [1, 0])), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(tt.tensordot(x, _t(c, device), dims=([-1], [0]))),
                               np.tensordot(a, c, ([2], [0])), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(tt.tensordot(x, y, 0)), np.tensordot(a, b, 0), rtol=1e-6)
    # a contracted dim of size 1 on one side sums the other side's dim (PyTorch's rule)
    d = _f32(rng, 1, 5)
    np.testing.assert_allclose(_np(tt.tensordot(_t(c, device), _t(d, device), ([1], [0]))),
                               np.tensordot(c.sum(1, keepdims=True), d, ([1], [0])), rtol=1e-5, atol=1e-5)
    out = tt.empty(2, 5, device=device)
    assert tt.tensordot(x, y, out=out) is out
    assert tt.autograd.gradcheck(lambda p, q: tt.tensordot(p, q, ([0, 2], [1, 0])), (_f64(rng, 2, 3, 4),
                                                                                    _f64(rng, 4, 2)))


def test_tensordot_errors():
    a, b = tt.zeros(2, 3), tt.zeros(3, 4)
    with pytest.raises(RuntimeError, match="tensordot expects dims >= 0, but got dims=-1"):
        tt.tensordot(a, b, -1)
    with pytest.raises(RuntimeError, match="tensordot expects dims < ndim_a or ndim_b, but got dims=3"):
        tt.tensordot(a, b, 3)
    with pytest.raises(RuntimeError, match="both dimension lists should have same length"):
        tt.tensordot(a, b, ([0, 1], [0]))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match, but first has size 2 in dim 0 and "
                                           "second has size 3 in dim 0"):
        tt.tensordot(a, b, ([0], [0]))
    with pytest.raises(RuntimeError, match="both inputs should have same dtype"):
        tt.tensordot(a, b.double(), 1)


@pytest.mark.parametrize("device", DEVICES)
def test_inner(rng, device):
    a, b = _f32(rng, 2, 3), _f32(rng, 4, 5, 3)
    np.testing.assert_allclose(_np(tt.inner(_t(a, device), _t(b, device))), np.inner(a, b), rtol=1e-5, atol=1e-6)
    v, w = _f32(rng, 3), _f32(rng, 3)
    r = _t(v, device).inner(_t(w, device))
    assert r.shape == ()
    np.testing.assert_allclose(_np(r), np.inner(v, w), rtol=1e-5)
    np.testing.assert_allclose(_np(tt.inner(tt.tensor(2.0, device=device), _t(a, device))), 2 * a, rtol=1e-6)
    assert tt.autograd.gradcheck(tt.inner, (_f64(rng, 2, 3), _f64(rng, 3)))
    with pytest.raises(RuntimeError, match=r"inner\(\) the last dimension must match on both input tensors but got "
                                           r"shapes \[2, 3\] and \[2, 4\]"):
        tt.inner(tt.zeros(2, 3), tt.zeros(2, 4))


@pytest.mark.parametrize("device", DEVICES)
def test_addmv(rng, device):
    c, m, v = _f32(rng, 3), _f32(rng, 3, 4), _f32(rng, 4)
    r = tt.addmv(_t(c, device), _t(m, device), _t(v, device), beta=0.5, alpha=2)
    np.testing.assert_allclose(_np(r), 0.5 * c + 2 * m @ v, rtol=1e-5, atol=1e-6)
    nan = _t(np.full(3, np.nan, np.float32), device)
    np.testing.assert_allclose(_np(tt.addmv(nan, _t(m, device), _t(v, device), beta=0)), m @ v, rtol=1e-5, atol=1e-6)
    one = _t(np.ones(1, np.float32), device)
    np.testing.assert_allclose(_np(one.addmv(_t(m, device), _t(v, device))), 1 + m @ v, rtol=1e-5, atol=1e-6)
    x = _t(c, device)
    assert x.addmv_(_t(m, device), _t(v, device), alpha=-1) is x
    np.testing.assert_allclose(_np(x), c - m @ v, rtol=1e-5, atol=1e-6)
    assert tt.autograd.gradcheck(lambda a, b, d: tt.addmv(a, b, d, beta=0.3, alpha=-2),
                                 (_f64(rng, 3), _f64(rng, 3, 2), _f64(rng, 2)))
    with pytest.raises(RuntimeError, match="vector \\+ matrix @ vector expected, got 1, 2, 2"):
        tt.addmv(tt.zeros(3), tt.zeros(3, 4), tt.zeros(4, 1))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(3\), mat \(3x4\), vec \(5\)"):
        tt.addmv(tt.zeros(3), tt.zeros(3, 4), tt.zeros(5))
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must not be a floating point"):
        tt.addmv(tt.zeros(3, dtype=tt.int64), tt.zeros(3, 4, dtype=tt.int64), tt.zeros(4, dtype=tt.int64),
                 alpha=0.5)


@pytest.mark.parametrize("device", DEVICES)
def test_addr(rng, device):
    c, v, w = _f32(rng, 3, 4), _f32(rng, 3), _f32(rng, 4)
    r = tt.addr(_t(c, device), _t(v, device), _t(w, device), beta=2, alpha=0.5)
    np.testing.assert_allclose(_np(r), 2 * c + 0.5 * np.outer(v, w), rtol=1e-6)
    row = _f32(rng, 4)
    np.testing.assert_allclose(_np(_t(row, device).addr(_t(v, device), _t(w, device))), row + np.outer(v, w),
                               rtol=1e-6)
    x = _t(c, device)
    assert x.addr_(_t(v, device), _t(w, device), beta=0) is x
    np.testing.assert_allclose(_np(x), np.outer(v, w), rtol=1e-6)
    i = np.arange(3)
    assert tt.addr(_t(np.ones((3, 3), np.int64)), _t(i), _t(i), alpha=2).tolist() == (1 + 2 * np.outer(i, i)).tolist()
    assert tt.autograd.gradcheck(lambda a, b, d: tt.addr(a, b, d, beta=-1, alpha=3),
                                 (_f64(rng, 2, 3), _f64(rng, 2), _f64(rng, 3)))
    with pytest.raises(RuntimeError, match="addr: Expected 1-D argument vec1, but got 2-D"):
        tt.addr(tt.zeros(3, 3), tt.zeros(3, 1), tt.zeros(3))
    with pytest.raises(RuntimeError, match="addr: Expected 1-D argument vec2, but got 0-D"):
        tt.addr(tt.zeros(3, 3), tt.zeros(3), tt.tensor(1.0))
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        tt.addr(tt.zeros(2, 3), tt.zeros(3), tt.zeros(3))
    with pytest.raises(RuntimeError, match="argument beta must not be a floating point number"):
        tt.addr(_t(np.ones((3, 3), np.int64)), _t(i), _t(i), beta=1.5)


@pytest.mark.parametrize("device", DEVICES)
def test_addbmm(rng, device):
    c, b1, b2 = _f32(rng, 3, 2), _f32(rng, 4, 3, 5), _f32(rng, 4, 5, 2)
    r = tt.addbmm(_t(c, device), _t(b1, device), _t(b2, device), beta=0.5, alpha=-1)
    np.testing.assert_allclose(_np(r), 0.5 * c - np.einsum("bij,bjk->ik", b1, b2), rtol=1e-5, atol=1e-5)
    x = _t(c, device)
    assert x.addbmm_(_t(b1, device), _t(b2, device)) is x
    np.testing.assert_allclose(_np(x), c + np.einsum("bij,bjk->ik", b1, b2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(_t(c[0], device).addbmm(_t(b1, device), _t(b2, device))),
                               c[0] + np.einsum("bij,bjk->ik", b1, b2), rtol=1e-5, atol=1e-5)
    assert tt.autograd.gradcheck(lambda a, p, q: tt.addbmm(a, p, q, beta=2, alpha=0.5),
                                 (_f64(rng, 2, 2), _f64(rng, 3, 2, 4), _f64(rng, 3, 4, 2)))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        tt.addbmm(tt.zeros(2, 2), tt.zeros(2, 2), tt.zeros(1, 2, 2))
    with pytest.raises(RuntimeError, match="batch2 must be a 3D tensor"):
        tt.addbmm(tt.zeros(2, 2), tt.zeros(1, 2, 2), tt.zeros(2, 2))
    with pytest.raises(RuntimeError, match="batch1 and batch2 must have same number of batches, got 2 and 3"):
        tt.addbmm(tt.zeros(2, 2), tt.zeros(2, 2, 2), tt.zeros(3, 2, 2))
    with pytest.raises(RuntimeError, match=r"Incompatible matrix sizes for bmm \(3x4 and 5x6\)"):
        tt.addbmm(tt.zeros(3, 6), tt.zeros(2, 3, 4), tt.zeros(2, 5, 6))


@pytest.mark.parametrize("device", DEVICES)
def test_chain_matmul(rng, device):
    mats = [_f32(rng, 2, 3), _f32(rng, 3, 4), _f32(rng, 4, 2)]
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated"):
        r = tt.chain_matmul(*[_t(m, device) for m in mats])
    np.testing.assert_allclose(_np(r), mats[0] @ mats[1] @ mats[2], rtol=1e-5, atol=1e-5)
    single = _t(mats[0], device)
    with pytest.warns(UserWarning):
        one = tt.chain_matmul(single)
    assert one is not single
    np.testing.assert_array_equal(_np(one), mats[0])
    with pytest.warns(UserWarning):
        assert tt.autograd.gradcheck(tt.chain_matmul, (_f64(rng, 2, 3), _f64(rng, 3, 2)))
        with pytest.raises(RuntimeError, match=r"chain_matmul\(\): Expected one or more matrices"):
            tt.chain_matmul()
        with pytest.raises(RuntimeError, match="Tensor dimension is 3, expected 2 instead."):
            tt.chain_matmul(tt.zeros(2, 2), tt.zeros(2, 2, 2))
