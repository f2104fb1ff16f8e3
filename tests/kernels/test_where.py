"""where kernels in Triton's interpreter against their NumPy references, forward (tensor and scalar values) and
backward."""

import numpy as np
import pytest
from tritensor.kernels import where as W

from tests.conftest import as_device
from tests.kernels.comparison_helpers import FLOATS, SHAPE, assert_equal, launch, pair

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS + [np.int64, np.uint8, np.bool_])
def test_where(rng, dt):
    a, b = pair(rng, dt)
    cond = rng.random(SHAPE) < 0.5
    assert_equal(launch(W.where, dt, SHAPE, cond, a, b, strided_out=True), W.where_ref(cond, a, b))
    s = True if dt == np.bool_ else 7 if np.issubdtype(dt, np.integer) else 0.1
    s_ref = np.asarray(s).astype(dt)
    assert_equal(launch(W.where, dt, SHAPE, cond, s, b), W.where_ref(cond, s_ref, b))
    assert_equal(launch(W.where, dt, SHAPE, cond, a, s), W.where_ref(cond, a, s_ref))
    assert_equal(launch(W.where, dt, SHAPE, cond, s, 0), W.where_ref(cond, s_ref, np.zeros((), dt)))
    # A uint8 condition (PyTorch's deprecated mask type) selects by nonzero.
    assert_equal(launch(W.where, dt, SHAPE, cond.astype(np.uint8) * 3, a, b), W.where_ref(cond, a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_where_backward(rng, dt):
    g = rng.standard_normal(SHAPE).astype(dt)
    cond = np.broadcast_to(rng.random((1, SHAPE[1])) < 0.5, SHAPE)
    ga, gb = np.zeros(SHAPE, dt), np.zeros(SHAPE[::-1], dt).T
    W.where_backward(as_device(ga), as_device(gb), as_device(g), as_device(cond))
    ra, rb = W.where_backward_ref(g, cond)
    assert_equal(ga, ra)
    assert_equal(gb, rb)
    only_b = np.full(SHAPE, 9.0, dt)
    W.where_backward(None, as_device(only_b), as_device(g), as_device(cond))
    assert_equal(only_b, rb)
