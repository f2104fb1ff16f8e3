"""The elementwise map kernel in Triton's interpreter against its NumPy references."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import elementwise as E
from tritensor.kernels import reduction as R

from tests.conftest import as_device

FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16, np.float64]
TOL = {np.float32: 1e-6, np.float16: 1e-3, ml_dtypes.bfloat16: 1e-2, np.float64: 1e-12}


@pytest.mark.parametrize("dt", FLOATS)
def test_add_broadcast_and_strided_output(rng, dt):
    a = rng.standard_normal((3, 5)).astype(dt)
    b = rng.standard_normal(5).astype(dt)
    out = np.zeros((5, 3), dt).T  # a transposed (non-contiguous) output
    E.add(as_device(out), as_device(a), as_device(np.broadcast_to(b, (3, 5))), alpha=2.0)
    ref = E.add_ref(a.astype(np.float64), b.astype(np.float64), 2.0)
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=TOL[dt] * 4, atol=TOL[dt] * 4)


def test_mul_backward_two_outputs(rng):
    g, a, b = (rng.standard_normal((4, 7)).astype(np.float32) for _ in range(3))
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    E.mul_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    ra, rb = E.mul_backward_ref(g, a, b)
    np.testing.assert_allclose(ga, ra, rtol=1e-6)
    np.testing.assert_allclose(gb, rb, rtol=1e-6)


def test_high_rank_layout_loops_over_leading_dims(rng):
    x = rng.standard_normal((2, 3, 4, 5, 6, 3)).astype(np.float32)[:, :, ::2, :, ::-1][..., ::2]
    x = np.ascontiguousarray(x)[:, ::-1].copy()[:, :, :, ::2]  # 6-d, non-collapsible after slicing
    out = np.zeros_like(x)
    E.neg(as_device(out), as_device(x))
    np.testing.assert_array_equal(out, E.neg_ref(x))


@pytest.mark.parametrize("src", [np.float64, np.int32, np.bool_, np.float16])
def test_copy_casts_to_bfloat16(src):
    x = np.arange(-3, 5).astype(src)
    out = np.zeros(8, ml_dtypes.bfloat16)
    E.copy(as_device(out), as_device(x))
    np.testing.assert_array_equal(out.astype(np.float64), x.astype(ml_dtypes.bfloat16).astype(np.float64))


def test_fill_strided():
    x = np.zeros((4, 6), np.int64)
    E.fill(as_device(x[:, ::2]), 7)
    assert (x[:, ::2] == 7).all() and (x[:, 1::2] == 0).all()


@pytest.mark.parametrize("shape,axis", [((3, 5000), 1), ((37, 5), 0), ((1, 1), 1)])
@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_sum_rows(rng, shape, axis, dt):
    x = (rng.standard_normal(shape) * 10).astype(dt)
    view = x if axis == 1 else x.T  # reduce the last axis of the (M, R) view
    out = np.zeros(view.shape[0], np.float32 if dt == np.float32 else np.int64)
    R.sum(as_device(out), as_device(view))
    np.testing.assert_allclose(out, R.sum_ref(view, (1,), False, out.dtype), rtol=1e-5)
