"""tt.linalg.cholesky / inv / solve / det / slogdet (+ _ex forms), tt.det / logdet / slogdet / inverse: values on
cpu and cuda (the interpreter), PyTorch's errors, and float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
from tests.ops.linalg_helpers import DEVICES, _np, _t
from tritensor.autograd import gradcheck

RNG = np.random.default_rng(3)


def _spd(*shape):
    x = RNG.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def _mat(*shape):
    return RNG.standard_normal(shape) + 2 * np.eye(shape[-1])




@pytest.mark.parametrize("device", DEVICES)
def test_cholesky_lower_and_upper(device):
    a = _spd(2, 4, 4)
    L = tt.linalg.cholesky(_t(a, device))
    assert L.device.type == device and L.shape == (2, 4, 4)
    np.testing.assert_allclose(_np(L), np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
    U = tt.linalg.cholesky(_t(a, device), upper=True)
    np.testing.assert_allclose(_np(U), np.swapaxes(np.linalg.cholesky(a), -1, -2), rtol=1e-12, atol=1e-12)
    L32, info = tt.linalg.cholesky_ex(_t(a[0].astype(np.float32), device))
    assert L32.dtype is tt.float32 and info.dtype is tt.int32 and int(info.item()) == 0
    np.testing.assert_allclose(_np(L32), np.linalg.cholesky(a[0]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_cholesky_errors(device):
    a = _spd(3, 3, 3)
    a[1, 1, 1] = -10.0
    with pytest.raises(RuntimeError, match=r"^linalg.cholesky: \(Batch element 1\): The factorization could not be "
                       r"completed because the input is not positive-definite \(the leading minor of order 2 is not "
                       r"positive-definite\).$"):
        tt.linalg.cholesky(_t(a, device))
    with pytest.raises(RuntimeError, match=r"^linalg.cholesky: The factorization could not be completed because the "
                       r"input is not positive-definite \(the leading minor of order 2"):
        tt.linalg.cholesky(_t(a[1], device))
    L, info = tt.linalg.cholesky_ex(_t(a, device))  # no error: info says which
    assert _np(info).tolist() == [0, 2, 0]
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: A must be batches of square matrices, but they are 2 "
                       r"by 3 matrices"):
        tt.linalg.cholesky(_t(np.ones((2, 3)), device))
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: Expected a floating point or complex tensor as input. "
                       r"Got Long"):
        tt.linalg.cholesky(_t(np.ones((2, 2), np.int64), device))
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: The input tensor A must have at least 2 dimensions."):
        tt.linalg.cholesky(_t(np.ones(3), device))


def test_low_precision_and_large_cuda_inputs_raise():
    with pytest.raises(RuntimeError, match="linalg.inv: Low precision dtypes not supported. Got Half"):
        tt.linalg.inv(tt.ones(2, 2, dtype=tt.float16))
    with pytest.raises(NotImplementedError, match=r"linalg.inv on cuda supports matrices up to 64 x 64 .* 65 x 65. "
                       r"Use A.cpu\(\)"):
        tt.linalg.inv(tt.zeros(65, 65, device="cuda"))
    with pytest.raises(TypeError, match="inv\\(\\): argument 'A' must be Tensor, not list"):
        tt.linalg.inv([[1.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_inv_and_inverse(device):
    a = _mat(1, 2, 4, 4)
    np.testing.assert_allclose(_np(tt.linalg.inv(_t(a, device))), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(tt.inverse(_t(a[0, 0], device))), np.linalg.inv(a[0, 0]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(_t(a[0, 0], device).inverse()), np.linalg.inv(a[0, 0]), rtol=1e-10)
    X, info = tt.linalg.inv_ex(_t(a.astype(np.float32), device))
    assert X.dtype is tt.float32 and _np(info).shape == (1, 2) and not _np(info).any()
    np.testing.assert_allclose(_np(X), np.linalg.inv(a), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_singular_errors(device):
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(RuntimeError, match=r"^linalg.inv: The diagonal element 2 is zero, the inversion could not be "
                       r"completed because the input matrix is singular.$"):
        tt.linalg.inv(_t(s, device))
    batch = np.stack([np.eye(2), s])
    with pytest.raises(RuntimeError, match=r"^linalg.inv: \(Batch element 1\): The diagonal element 2 is zero"):
        tt.linalg.inv(_t(batch, device))
    with np.errstate(divide="ignore", invalid="ignore"):  # the singular matrix's inverse is inf/NaN, as PyTorch's
        X, info = tt.linalg.inv_ex(_t(batch, device))
    assert _np(info).tolist() == [0, 2]
    np.testing.assert_allclose(_np(X)[0], np.eye(2))
    with pytest.raises(RuntimeError, match=r"^torch.linalg.solve_ex: \(Batch element 1\): The solver failed because "
                       r"the input matrix is singular.$"):
        tt.linalg.solve(_t(batch, device), _t(np.ones((2, 2)), device))
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor: U\[2,2\] is zero and using it on lu_solve would "
                       r"result in a division by zero."):
        tt.linalg.lu_factor(_t(s, device))
    assert float(_np(tt.linalg.det(_t(s, device)))) == 0.0
    with np.errstate(divide="ignore"):  # log|0| = -inf
        sign, logabs = tt.linalg.slogdet(_t(s, device))
    assert float(_np(sign)) == 0.0 and float(_np(logabs)) == -np.inf


@pytest.mark.parametrize("device", DEVICES)
def test_solve_broadcasts_and_vectors(device):
    a, b = _mat(2, 1, 4, 4), RNG.standard_normal((3, 4, 2))
    x = tt.linalg.solve(_t(a, device), _t(b, device))
    assert x.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(_np(x), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    v = RNG.standard_normal(4)
    np.testing.assert_allclose(_np(tt.linalg.solve(_t(a[0, 0], device), _t(v, device))), np.linalg.solve(a[0, 0], v),
                               rtol=1e-10)
    vb = RNG.standard_normal((2, 1, 4))  # a batch of vectors shaped like A's batch + (n,)
    np.testing.assert_allclose(_np(tt.linalg.solve(_t(a, device), _t(vb, device))),
                               np.linalg.solve(a, vb[..., None])[..., 0], rtol=1e-10)
    right = tt.linalg.solve(_t(a[0, 0], device), _t(b[0].T, device), left=False)
    np.testing.assert_allclose(_np(right) @ a[0, 0], b[0].T, rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                       r"\(4x4 and 3x2\)"):
        tt.linalg.solve(_t(a[0, 0], device), _t(np.ones((3, 2)), device))
    with pytest.raises(RuntimeError, match="linalg.solve: Expected A and B to have the same dtype, but found A of type "
                       "Double and B of type Float instead"):
        tt.linalg.solve(_t(a[0, 0], device), _t(np.ones((4, 2), np.float32), device))


@pytest.mark.parametrize("device", DEVICES)
def test_det_slogdet_logdet(device):
    a = RNG.standard_normal((2, 3, 3))
    np.testing.assert_allclose(_np(tt.linalg.det(_t(a, device))), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(_np(tt.det(_t(a, device))), np.linalg.det(a), rtol=1e-10)
    sign, logabs = tt.linalg.slogdet(_t(a, device))
    ref_sign, ref_logabs = np.linalg.slogdet(a)
    np.testing.assert_array_equal(_np(sign), ref_sign)
    np.testing.assert_allclose(_np(logabs), ref_logabs, rtol=1e-10)
    s2, l2 = _t(a, device).slogdet()
    np.testing.assert_allclose(_np(l2), ref_logabs, rtol=1e-10)
    ld = _np(tt.logdet(_t(a, device)))
    np.testing.assert_allclose(ld, np.where(ref_sign < 0, np.nan, ref_logabs), rtol=1e-10)
    np.testing.assert_allclose(_np(_t(a[0], device).det()), np.linalg.det(a[0]), rtol=1e-10)


def test_gradcheck_solve_family():
    a, spd, b = _mat(2, 3, 3), _spd(3, 3), RNG.standard_normal((2, 3, 2))
    A, S, B = _t(a, requires_grad=True), _t(spd, requires_grad=True), _t(b, requires_grad=True)
    assert gradcheck(lambda x: tt.linalg.cholesky(x @ x.mT + tt.eye(3, dtype=tt.float64)), (S,))
    assert gradcheck(lambda x: tt.linalg.cholesky(x @ x.mT, upper=True), (S,))
    assert gradcheck(tt.linalg.inv, (A,))
    assert gradcheck(lambda x, y: tt.linalg.solve(x, y), (A, B))
    assert gradcheck(lambda x, y: tt.linalg.solve(x[0], y[0].mT, left=False), (A, B))
    assert gradcheck(tt.linalg.det, (A,))
    assert gradcheck(lambda x: tt.linalg.slogdet(x).logabsdet, (A,))
    assert tt.linalg.inv(A).grad_fn.name() == "LinalgInvExBackward0"
    assert tt.linalg.det(A).grad_fn.name() == "LinalgDetBackward0"


def test_double_backward_through_inv_and_det():
    A = _t(_mat(3, 3), requires_grad=True)
    assert tt.autograd.gradgradcheck(tt.linalg.inv, (A,))
    assert tt.autograd.gradgradcheck(tt.linalg.det, (A,))


def test_cuda_backward_matches_cpu():
    a, b = _mat(2, 3, 3), RNG.standard_normal((2, 3, 2))
    grads = {}
    for device in DEVICES:
        A, B = _t(a, device, requires_grad=True), _t(b, device, requires_grad=True)
        loss = (tt.linalg.solve(A, B) ** 2).sum() + tt.linalg.det(A).sum()
        loss = loss + tt.linalg.cholesky(A + A.mT + 20 * tt.eye(3, dtype=tt.float64, device=device)).sum()
        loss.backward()
        grads[device] = (_np(A.grad), _np(B.grad))
    for g_cpu, g_cuda in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-9, atol=1e-10)


def test_out_arguments():
    a = _mat(3, 3)
    out = tt.empty(3, 3, dtype=tt.float64)
    assert tt.linalg.inv(_t(a), out=out) is out
    np.testing.assert_allclose(out.numpy(), np.linalg.inv(a), rtol=1e-10)
    sign, logabs = tt.empty((), dtype=tt.float64), tt.empty((), dtype=tt.float64)
    result = tt.linalg.slogdet(_t(a), out=(sign, logabs))
    assert result.sign is sign and result.logabsdet is logabs
    np.testing.assert_allclose([sign.item(), logabs.item()], np.linalg.slogdet(a))
    with pytest.raises(RuntimeError, match=r"out has shape \[2, 2\] but the result has shape \[3, 3\]"):
        tt.linalg.inv(_t(a), out=tt.empty(2, 2, dtype=tt.float64))
    with pytest.raises(TypeError, match="slogdet\\(\\): argument 'out' must be tuple of 2 Tensors"):
        tt.linalg.slogdet(_t(a), out=sign)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_inputs(device):
    for shape in [(0, 3, 3), (2, 0, 0)]:
        a = tt.zeros(*shape, dtype=tt.float64, device=device)
        assert tt.linalg.inv(a).shape == shape and tt.linalg.cholesky(a).shape == shape
        assert tt.linalg.solve(a, a).shape == shape
        np.testing.assert_array_equal(_np(tt.linalg.det(a)), np.linalg.det(np.zeros(shape)))
        LU, piv, info = tt.linalg.lu_factor_ex(a)
        assert piv.shape == shape[:-1] and _np(info).tolist() == [0] * shape[0]
        assert tt.linalg.lu_solve(LU, piv, a, adjoint=True).shape == shape


def test_ex_forms_name_themselves_when_checking():
    s = _t(np.array([[[1.0, 2.0], [2.0, 4.0]]]))
    with pytest.raises(RuntimeError, match=r"^linalg.inv_ex: \(Batch element 0\): The diagonal element 2 is zero"):
        tt.linalg.inv_ex(s, check_errors=True)
    with pytest.raises(RuntimeError, match=r"^linalg.cholesky_ex: \(Batch element 0\): The factorization could not"):
        tt.linalg.cholesky_ex(-s, check_errors=True)
    with pytest.raises(RuntimeError, match=r"^torch.linalg.solve_ex: \(Batch element 0\): The solver failed"):
        tt.linalg.solve_ex(s, s, check_errors=True)


def test_cuda_float32_and_strided_operands():
    a = _mat(2, 4, 4).astype(np.float32)
    b = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    A, B = _t(a, "cuda").mT, _t(b, "cuda").mT  # transposed views: the kernels get contiguous copies
    at, bt = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
    x = tt.linalg.solve(A, B)
    assert x.dtype is tt.float32
    np.testing.assert_allclose(_np(x), np.linalg.solve(at.astype(np.float64), bt), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_np(tt.linalg.det(A)), np.linalg.det(at.astype(np.float64)), rtol=1e-4)
    spd = at @ a + 4 * np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(_np(tt.linalg.cholesky(_t(spd, "cuda")[:, ::1])), np.linalg.cholesky(spd), rtol=1e-4,
                               atol=1e-5)


def _cofactors(m):
    n = m.shape[-1]
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1)) for j in range(n)]
                     for i in range(n)])


@pytest.mark.parametrize("device", DEVICES)
def test_det_backward_singular(device):
    # d det / dA is the cofactor matrix, defined for singular A too (PyTorch goes through the SVD there): a batch
    # mixing an invertible matrix, a rank-2 one (nonzero cofactors) and a rank-1 one (zero cofactors).
    a = np.stack([_mat(3, 3), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
                  np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])])
    A = _t(a, device, requires_grad=True)
    (tt.linalg.det(A) * _t([1.0, 2.0, 3.0], device)).sum().backward()
    for i, scale in enumerate([1.0, 2.0, 3.0]):
        np.testing.assert_allclose(_np(A.grad)[i], scale * _cofactors(a[i]), rtol=1e-10, atol=1e-12)
    assert np.abs(_np(A.grad)[1]).max() > 1.0  # the rank-2 matrix's cofactors are not all zero


def test_det_gradcheck_singular():
    S = _t(np.stack([_mat(3, 3), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
                     np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])]), requires_grad=True)
    assert gradcheck(tt.linalg.det, (S,))
    assert tt.autograd.gradgradcheck(tt.linalg.det, (S,))


@pytest.mark.parametrize("device", DEVICES)
def test_slogdet_backward(device):
    # g A^-T, the inverse unchecked as PyTorch's lu_solve (a singular A: non-finite values, no error).
    a = _mat(2, 3, 3)
    A = _t(a, device, requires_grad=True)
    (tt.linalg.slogdet(A).logabsdet * _t([1.0, -2.0], device)).sum().backward()
    ref = np.array([1.0, -2.0])[:, None, None] * np.linalg.inv(np.swapaxes(a, -1, -2))
    np.testing.assert_allclose(_np(A.grad), ref, rtol=1e-10, atol=1e-12)


def test_slogdet_backward_singular_is_not_an_error():
    S = _t([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    tt.logdet(S).backward()
    assert not np.isfinite(_np(S.grad)).all()
