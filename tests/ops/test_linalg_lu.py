"""tt.linalg.lu_factor / lu_factor_ex / lu_solve / solve_triangular and tt.cholesky_solve on cpu and cuda."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import tritensor as tt
from tests.ops.linalg_helpers import DEVICES, _np, _t
from tritensor.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(5)




@pytest.mark.parametrize("device", DEVICES)
def test_lu_factor_matches_scipy(device):
    a = RNG.standard_normal((2, 4, 4))
    LU, piv = tt.linalg.lu_factor(_t(a, device))
    assert piv.dtype is tt.int32 and piv.shape == (2, 4)
    for i in range(2):
        ref_lu, ref_piv = scipy.linalg.lu_factor(a[i])
        np.testing.assert_allclose(_np(LU)[i], ref_lu, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(_np(piv)[i], ref_piv + 1)  # 1-based, as LAPACK and PyTorch
    LU, piv, info = tt.linalg.lu_factor_ex(_t(a[:, :, :3], device))  # rectangular
    ref_lu, ref_piv, _ = scipy.linalg.lapack.dgetrf(a[0, :, :3])
    np.testing.assert_allclose(_np(LU)[0], ref_lu, rtol=1e-12, atol=1e-12)
    assert _np(piv)[0].tolist() == (ref_piv + 1).tolist() and _np(info).tolist() == [0, 0]


@pytest.mark.parametrize("device", DEVICES)
def test_lu_solve_left_right_adjoint(device):
    a, b = RNG.standard_normal((2, 3, 3)), RNG.standard_normal((2, 3, 2))
    LU, piv = tt.linalg.lu_factor(_t(a, device))
    B = _t(b, device)
    np.testing.assert_allclose(_np(tt.linalg.lu_solve(LU, piv, B)), np.linalg.solve(a, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.lu_solve(LU, piv, B, adjoint=True)),
                               np.linalg.solve(np.swapaxes(a, -1, -2), b), rtol=1e-10, atol=1e-12)
    x = _np(tt.linalg.lu_solve(LU, piv, B.mT, left=False))
    np.testing.assert_allclose(x @ a, np.swapaxes(b, -1, -2), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B "
                       r"\(3x3 and 2x3\)"):
        tt.linalg.lu_solve(LU, piv, B.mT)


@pytest.mark.parametrize("device", DEVICES)
def test_solve_triangular(device):
    a = RNG.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = RNG.standard_normal((1, 4, 3))
    A, B = _t(a, device), _t(b, device)
    for upper in (True, False):
        for unit in (True, False):
            x = _np(tt.linalg.solve_triangular(A, B, upper=upper, unitriangular=unit))
            for i in range(2):
                ref = scipy.linalg.solve_triangular(a[i], b[0], lower=not upper, unit_diagonal=unit)
                np.testing.assert_allclose(x[i], ref, rtol=1e-10, atol=1e-12)
    x = _np(tt.linalg.solve_triangular(A, B.mT, upper=True, left=False))
    np.testing.assert_allclose(x @ np.triu(a), np.broadcast_to(np.swapaxes(b, -1, -2), x.shape), rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(RuntimeError, match="linalg.solve_triangular: A must be batches of square matrices, but they "
                       "are 3 by 4 matrices"):
        tt.linalg.solve_triangular(B.mT, B, upper=True)


@pytest.mark.parametrize("device", DEVICES)
def test_cholesky_solve(device):
    x = RNG.standard_normal((3, 3))
    spd, b = x @ x.T + 3 * np.eye(3), RNG.standard_normal((3, 2))
    L = tt.linalg.cholesky(_t(spd, device))
    np.testing.assert_allclose(_np(tt.cholesky_solve(_t(b, device), L)), np.linalg.solve(spd, b), rtol=1e-10)
    np.testing.assert_allclose(_np(_t(b, device).cholesky_solve(L.mT, upper=True)), np.linalg.solve(spd, b),
                               rtol=1e-10)


def test_lu_errors():
    with pytest.raises(RuntimeError, match="torch.linalg.lu_factor: Expected a floating point or complex tensor as "
                       "input. Got Int"):
        tt.linalg.lu_factor(tt.ones(2, 2, dtype=tt.int32))
    with pytest.raises(NotImplementedError, match="LU without pivoting"):
        tt.linalg.lu_factor(tt.ones(2, 2), pivot=False)
    s = tt.tensor([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor_ex: \(Batch element 0\): U\[2,2\] is zero"):
        tt.linalg.lu_factor_ex(s, check_errors=True)
    assert tt.linalg.lu_factor_ex(s).info.tolist() == [2, 0]


def test_gradcheck_lu_family():
    a = RNG.standard_normal((1, 3, 3)) + 2 * np.eye(3)
    b = RNG.standard_normal((1, 3, 2))
    A, B = _t(a, requires_grad=True), _t(b, requires_grad=True)
    assert gradcheck(lambda x: tt.linalg.lu_factor(x).LU, (A,))

    def lu_solve(x, y, adjoint, left):
        LU, piv = tt.linalg.lu_factor(x)
        return tt.linalg.lu_solve(LU, piv, y if left else y.mT, adjoint=adjoint, left=left)

    for adjoint in (False, True):
        for left in (True, False):
            assert gradcheck(lambda x, y, adjoint=adjoint, left=left: lu_solve(x, y, adjoint, left), (A, B))
    for upper in (False, True):
        assert gradcheck(lambda x, y, upper=upper: tt.linalg.solve_triangular(x, y, upper=upper), (A, B))
        assert gradcheck(lambda x, y, upper=upper: tt.linalg.solve_triangular(x, y.mT, upper=upper, left=False,
                                                                              unitriangular=True), (A, B))
    S = _t(a[0] @ a[0].T, requires_grad=True)
    assert gradcheck(lambda s, y: tt.cholesky_solve(y[0], tt.linalg.cholesky(s @ s.mT)), (S, B))


def test_cuda_backward_matches_cpu():
    a, b = RNG.standard_normal((3, 3)) + 2 * np.eye(3), RNG.standard_normal((3, 2))
    grads = {}
    for device in DEVICES:
        A, B = _t(a, device, requires_grad=True), _t(b, device, requires_grad=True)
        LU, piv = tt.linalg.lu_factor(A)
        loss = (tt.linalg.lu_solve(LU, piv, B) ** 2).sum() + tt.linalg.lu_solve(LU, piv, B, adjoint=True).sum()
        loss = loss + tt.linalg.solve_triangular(A, B, upper=True).sum()
        loss.backward()
        grads[device] = (_np(A.grad), _np(B.grad))
    for g_cpu, g_cuda in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 5, 3), (1, 4)])
def test_lu_factor_backward_rectangular(shape):
    # PyTorch differentiates getrf for wide and tall matrices: the extra block of U (wide) or L (tall) is carried
    # through the square factorization of the leading block.
    A = _t(RNG.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda x: tt.linalg.lu_factor(x).LU, (A,))
    assert gradcheck(lambda x: tt.linalg.lu_factor_ex(x).LU, (A,))
    assert gradgradcheck(lambda x: tt.linalg.lu_factor(x).LU.sin(), (A,))


def test_lu_factor_backward_rectangular_known_value():
    # A = [[2, 1, 4]]: no pivoting, L = [[1]], U = A, so d sum(LU) / dA = ones; tall [[2], [1]]: L = [[1], [0.5]],
    # U = [[2]], and d(0.5 = a1 / a0) adds (-a1 / a0^2, 1 / a0) = (-0.25, 0.5) to (1, 0).
    A = _t([[2.0, 1.0, 4.0]], requires_grad=True)
    tt.linalg.lu_factor(A).LU.sum().backward()
    np.testing.assert_allclose(A.grad.numpy(), [[1.0, 1.0, 1.0]])
    B = _t([[2.0], [1.0]], requires_grad=True)
    tt.linalg.lu_factor(B).LU.sum().backward()
    np.testing.assert_allclose(B.grad.numpy(), [[0.75], [0.5]])


def test_cuda_rectangular_lu_backward_matches_cpu():
    a = RNG.standard_normal((2, 3, 4))
    grads = {}
    for device in DEVICES:
        wide, tall = _t(a, device, requires_grad=True), _t(np.swapaxes(a, -1, -2), device, requires_grad=True)
        loss = (tt.linalg.lu_factor(wide).LU ** 2).sum() + tt.linalg.lu_factor(tall).LU.sin().sum()
        loss.backward()
        grads[device] = (_np(wide.grad), _np(tall.grad))
    for g_cpu, g_cuda in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-9, atol=1e-10)
