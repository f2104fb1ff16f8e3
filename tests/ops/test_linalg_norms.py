"""tt.linalg.norm / vector_norm / matrix_norm / cross / vecdot / multi_dot / matrix_power, tt.cross, tt.matrix_power:
values on cpu and cuda against NumPy, errors, float64 gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tritensor as tt
from tests.ops.linalg_helpers import DEVICES, _np, _t
from tritensor.autograd import gradcheck

RNG = np.random.default_rng(13)




@pytest.mark.parametrize("device", DEVICES)
def test_matrix_and_vector_norms(device):
    a = RNG.standard_normal((2, 4, 3))
    A = _t(a, device)
    for o in ("fro", 1, -1, math.inf, -math.inf):
        np.testing.assert_allclose(_np(tt.linalg.matrix_norm(A, o)), np.linalg.norm(a, o, axis=(-2, -1)), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.matrix_norm(A, 1, dim=(0, 2), keepdim=True)),
                               np.linalg.norm(a, 1, axis=(0, 2), keepdims=True), rtol=1e-12)
    for o in (2, 1, 3.5, math.inf, -math.inf, 0):
        np.testing.assert_allclose(_np(tt.linalg.vector_norm(A, o, dim=-1)), np.linalg.norm(a, o, axis=-1),
                                   rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.vector_norm(A)), np.linalg.norm(a.ravel()), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.norm(A)), np.linalg.norm(a.ravel()), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.norm(A[0], math.inf)), np.linalg.norm(a[0], math.inf), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.norm(A, 1, dim=1)), np.linalg.norm(a, 1, axis=1), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.norm(A, dim=(1, 2))), np.linalg.norm(a, axis=(1, 2)), rtol=1e-12)


def test_spectral_norms_on_cpu():
    a = RNG.standard_normal((2, 4, 3))
    for o in (2, -2, "nuc"):
        np.testing.assert_allclose(tt.linalg.matrix_norm(_t(a), o).numpy(), np.linalg.norm(a, o, axis=(-2, -1)),
                                   rtol=1e-12)
    assert tt.linalg.matrix_norm(_t(a), "nuc", keepdim=True).shape == (2, 1, 1)


def test_norm_errors():
    with pytest.raises(RuntimeError, match="linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                       "2D. Got 3D."):
        tt.linalg.norm(tt.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
        tt.linalg.matrix_norm(tt.ones(2, 2), 3)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2 dimensions."):
        tt.linalg.matrix_norm(tt.ones(2))
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                       "Got Long"):
        tt.linalg.matrix_norm(tt.ones(2, 2, dtype=tt.int64))
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or complex tensor"):
        tt.linalg.vector_norm(tt.ones(2, dtype=tt.int64))
    with pytest.raises(NotImplementedError, match="linalg.svd"):
        tt.linalg.matrix_norm(tt.ones(2, 2, device="cuda"), 2)


@pytest.mark.parametrize("device", DEVICES)
def test_cross_and_vecdot(device):
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 1, 3))
    np.testing.assert_allclose(_np(tt.linalg.cross(_t(a, device)[None], _t(b, device))), np.cross(a[None], b),
                               rtol=1e-12)
    c = RNG.standard_normal((3, 5))
    np.testing.assert_allclose(_np(tt.cross(_t(c, device), _t(c[::-1].copy(), device))), np.cross(c, c[::-1], axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(_np(_t(c, device).cross(_t(c[::-1].copy(), device), dim=0)),
                               np.cross(c, c[::-1], axis=0), rtol=1e-12)
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 5 and 5"):
        tt.linalg.cross(_t(c, device), _t(c, device))
    np.testing.assert_allclose(_np(tt.linalg.vecdot(_t(a, device), _t(b, device))), (a * b).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.vecdot(_t(c, device), _t(c, device), dim=0)), (c * c).sum(0),
                               rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_matrix_power(device):
    a = RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    A = _t(a, device)
    for n in (0, 1, 2, 5, -1, -3):
        np.testing.assert_allclose(_np(tt.linalg.matrix_power(A, n)), np.linalg.matrix_power(a, n), rtol=1e-10,
                                   atol=1e-12)
    np.testing.assert_allclose(_np(tt.matrix_power(A, 3)), np.linalg.matrix_power(a, 3), rtol=1e-10)
    np.testing.assert_allclose(_np(A.matrix_power(2)), a @ a, rtol=1e-10)
    with pytest.raises(RuntimeError, match="linalg.matrix_power: A must be batches of square matrices, but they are "
                       "3 by 2 matrices"):
        tt.linalg.matrix_power(A[..., :2], 2)


@pytest.mark.parametrize("device", DEVICES)
def test_multi_dot(device):
    mats = [RNG.standard_normal(s) for s in [(3,), (3, 4), (4, 2), (2,)]]
    ts = [_t(m, device) for m in mats]
    np.testing.assert_allclose(_np(tt.linalg.multi_dot(ts)), np.linalg.multi_dot(mats), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.linalg.multi_dot(ts[1:3])), mats[1] @ mats[2], rtol=1e-12)
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): expected at least 2 tensors but got 1"):
        tt.linalg.multi_dot(ts[:1])
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): tensor 1 must be 2D but got 1D"):
        tt.linalg.multi_dot([ts[1], ts[0], ts[1]])
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): tensors 0 and 1 with shapes \[3, 4\] and \[3, 4\] cannot "
                       r"be multiplied"):
        tt.linalg.multi_dot([ts[1], ts[1]])


def test_gradcheck_norms_and_products():
    a = RNG.standard_normal((3, 3)) + 2 * np.eye(3)
    A, B = _t(a, requires_grad=True), _t(RNG.standard_normal((3, 3)), requires_grad=True)
    for o in ("fro", 1, -math.inf, 2, "nuc"):
        assert gradcheck(lambda x, o=o: tt.linalg.matrix_norm(x, o), (A,))
    assert gradcheck(lambda x: tt.linalg.vector_norm(x, 3, dim=0), (A,))
    assert gradcheck(lambda x, y: tt.linalg.cross(x, y), (A, B))
    assert gradcheck(lambda x, y: tt.linalg.vecdot(x, y), (A, B))
    assert gradcheck(lambda x: tt.linalg.matrix_power(x, 3), (A,))
    assert gradcheck(lambda x: tt.linalg.matrix_power(x, -2), (A,))
    assert gradcheck(lambda x, y: tt.linalg.multi_dot([x[0], y, x, y[:, 1]]), (A, B))
