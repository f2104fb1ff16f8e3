"""kernels/linalg.py in Triton's interpreter against its LAPACK references: Cholesky, LU, triangular/LU solves."""

from __future__ import annotations

import numpy as np
import pytest
from tritensor.kernels import linalg as K

from tests.conftest import as_device

RNG = np.random.default_rng(7)
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _spd(batch: int, n: int, dtype) -> np.ndarray:
    x = RNG.standard_normal((batch, n, n))
    return (x @ np.swapaxes(x, -1, -2) + n * np.eye(n)).astype(dtype)


def _well_conditioned(batch: int, n: int, dtype) -> np.ndarray:
    return (RNG.standard_normal((batch, n, n)) + 2 * n * np.eye(n)).astype(dtype)


@pytest.mark.parametrize("dtype,n", [(np.float32, 5), (np.float64, 1), (np.float64, 9)])
def test_cholesky_matches_lapack(dtype, n):
    a = _spd(3, n, dtype)
    a[:, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] = 99.0  # the upper triangle is never read
    out, info = np.zeros_like(a), np.full(3, -1, np.int32)
    K.cholesky(as_device(out), as_device(a), as_device(info))
    ref, ref_info = K.cholesky_ref(a)
    assert np.array_equal(info, [0, 0, 0]) and np.array_equal(ref_info, info)
    np.testing.assert_allclose(out, ref, rtol=TOL[dtype], atol=TOL[dtype] * n)


def test_cholesky_info_names_the_first_failing_minor():
    a = _spd(3, 4, np.float64)
    a[1, 2, 2] = -50.0  # the leading minor of order 3 of matrix 1 is not positive-definite
    out, info = np.zeros_like(a), np.zeros(3, np.int32)
    K.cholesky(as_device(out), as_device(a), as_device(info))
    assert info.tolist() == [0, 3, 0] == K.cholesky_ref(a)[1].tolist()


@pytest.mark.parametrize("dtype,shape", [(np.float32, (4, 4)), (np.float64, (6, 3)), (np.float64, (3, 5)),
                                         (np.float64, (9, 9))])
def test_lu_matches_getrf(dtype, shape):
    a = RNG.standard_normal((2, *shape)).astype(dtype)
    k = min(shape)
    lu, piv, info = np.zeros_like(a), np.zeros((2, k), np.int32), np.zeros(2, np.int32)
    K.lu_factor(as_device(lu), as_device(a), as_device(piv), as_device(info))
    ref_lu, ref_piv, ref_info = K.lu_factor_ref(a)
    assert np.array_equal(piv, ref_piv) and np.array_equal(info, ref_info)
    np.testing.assert_allclose(lu, ref_lu, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_lu_info_of_a_singular_matrix():
    a = RNG.standard_normal((2, 3, 3))
    a[0, :, 1] = 2 * a[0, :, 0]  # column 1 is a multiple of column 0: U[2, 2] is exactly zero
    a[0] = np.round(a[0] * 4) / 4
    a[0, :, 1] = 2 * a[0, :, 0]
    lu, piv, info = np.zeros_like(a), np.zeros((2, 3), np.int32), np.zeros(2, np.int32)
    K.lu_factor(as_device(lu), as_device(a), as_device(piv), as_device(info))
    assert info.tolist() == K.lu_factor_ref(a)[2].tolist() == [2, 0]


@pytest.mark.parametrize("dtype,mode,unit", [(np.float64, K.MODE_LOWER, False), (np.float32, K.MODE_LOWER, True),
                                            (np.float32, K.MODE_UPPER, False), (np.float64, K.MODE_UPPER, True)])
def test_triangular_solve_matches_trsm(dtype, mode, unit):
    n, k = 4, 37  # more right-hand sides than one program's BLOCK_K
    a = _well_conditioned(2, n, dtype)
    b = RNG.standard_normal((2, k, n)).astype(dtype).transpose(0, 2, 1)  # non-contiguous right-hand sides
    x = np.zeros((2, n, k), dtype)
    K.tri_solve(as_device(x), as_device(a), as_device(b), as_device(np.zeros(1, np.int32)), mode, unit)
    np.testing.assert_allclose(x, K.tri_solve_ref(a, np.ascontiguousarray(b), None, mode, unit),
                               rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lu_solve_matches_numpy_solve(dtype):
    a = RNG.standard_normal((2, 4, 4)).astype(dtype)
    b = RNG.standard_normal((2, 4, 2)).astype(dtype)
    lu, piv, _ = K.lu_factor_ref(a)
    x = np.zeros_like(b)
    K.tri_solve(as_device(x), as_device(lu), as_device(b), as_device(piv), K.MODE_LU)
    np.testing.assert_allclose(x, np.linalg.solve(a.astype(np.float64), b), rtol=TOL[dtype] * 100,
                               atol=TOL[dtype] * 100)
    np.testing.assert_allclose(K.tri_solve_ref(lu, b, piv, K.MODE_LU), np.linalg.solve(a, b), rtol=1e-4, atol=1e-4)


def test_references_on_known_values():
    a = np.array([[[4.0, 2.0], [2.0, 3.0]]])
    L, info = K.cholesky_ref(a)
    np.testing.assert_allclose(L[0], [[2.0, 0.0], [1.0, np.sqrt(2.0)]])
    lu, piv, info = K.lu_factor_ref(np.array([[[1.0, 2.0], [3.0, 4.0]]]))
    assert piv.tolist() == [[2, 2]] and info.tolist() == [0]
    np.testing.assert_allclose(lu[0], [[3.0, 4.0], [1 / 3, 2 - 4 / 3]])
