"""atan2 kernels in Triton's interpreter against their NumPy references (forward and backward), C99's signed
zeros and infinities, and the backward reference against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import atan2 as A

from tests.kernels.map_helpers import (
    FLOATS,
    SHAPE,
    ULP_TOL,
    assert_close,
    check_backward,
    check_backward_refs,
    launch,
    layouts,
)

# Masked-off lanes compute on zeros in the interpreter (0/0, log(0)): NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS)
def test_atan2(rng, dt):
    a, b = layouts(rng.standard_normal(SHAPE) * 3, dt, row=rng.standard_normal((1, SHAPE[1])))
    out = launch(A.atan2, dt, SHAPE, a, b, strided_out=True)
    assert_close(out, A.atan2_ref(a, b), dt, ULP_TOL)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_atan2_signed_zeros_and_infinities(rng, dt):
    vals = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 5e20]
    y, x = (np.array(v, dt) for v in zip(*[(p, q) for p in vals for q in vals]))
    with np.errstate(invalid="ignore"):
        out = launch(A.atan2, dt, y.shape, y, x)
    ref = np.arctan2(y, x)
    np.testing.assert_allclose(out, ref, rtol=ULP_TOL[dt][0], atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))


# ================================================================ backward kernels and references
BACKWARD_OPS = ['atan2']


@pytest.mark.parametrize("name", BACKWARD_OPS)
@pytest.mark.parametrize("dt", FLOATS)
def test_backward(rng, name, dt):
    check_backward(A.OPS, rng, name, dt)


@pytest.mark.parametrize("name", BACKWARD_OPS)
def test_backward_refs_match_finite_differences(rng, name):
    check_backward_refs(A.OPS, rng, name)
