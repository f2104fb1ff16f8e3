"""maximum/minimum kernels in Triton's interpreter against their NumPy references (forward and backward), NaN
propagation, and the backward references against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import maximum as MX

from tests.kernels.map_helpers import (
    FLOATS,
    INTS,
    SHAPE,
    check_backward,
    check_backward_refs,
    launch,
    layouts,
)

# Masked-off lanes compute on zeros in the interpreter (0/0, log(0)): NumPy warns for values never stored.


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@pytest.mark.parametrize("dt", FLOATS + INTS + [np.bool_])
def test_maximum_minimum(rng, op, dt):
    if dt == np.bool_:
        a, b = rng.random(SHAPE) < 0.5, rng.random(SHAPE) < 0.5
    else:
        vals = rng.integers(0, 50, SHAPE) if np.issubdtype(dt, np.integer) else rng.standard_normal(SHAPE)
        a, b = layouts(vals, dt, row=vals[2:3])  # the broadcast row ties with row 2 of a
    out = launch(getattr(MX, op), dt, SHAPE, a, b)
    np.testing.assert_array_equal(out, getattr(MX, f"{op}_ref")(a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_maximum_minimum_propagate_nan(dt):
    nan, inf = np.nan, np.inf
    a = np.array([nan, 1.0, nan, inf, -inf, 0.0], dt)
    b = np.array([1.0, nan, nan, -inf, 2.0, -0.0], dt)
    np.testing.assert_array_equal(launch(MX.maximum, dt, a.shape, a, b).astype(np.float64),
                                  [nan, nan, nan, inf, 2.0, 0.0])
    np.testing.assert_array_equal(launch(MX.minimum, dt, a.shape, a, b).astype(np.float64),
                                  [nan, nan, nan, -inf, -inf, 0.0])


# ================================================================ backward kernels and references
BACKWARD_OPS = ['maximum', 'minimum']


@pytest.mark.parametrize("name", BACKWARD_OPS)
@pytest.mark.parametrize("dt", FLOATS)
def test_backward(rng, name, dt):
    check_backward(MX.OPS, rng, name, dt)


@pytest.mark.parametrize("name", BACKWARD_OPS)
def test_backward_refs_match_finite_differences(rng, name):
    check_backward_refs(MX.OPS, rng, name)
