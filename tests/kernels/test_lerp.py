"""lerp kernels in Triton's interpreter against their NumPy references (forward and backward), and the
backward reference against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import lerp as LE

from tests.conftest import as_device
from tests.kernels.map_helpers import (
    FLOATS,
    SHAPE,
    ULP_TOL,
    assert_close,
    check_backward_refs,
    launch,
    layouts,
)

# Masked-off lanes compute on zeros in the interpreter (0/0, log(0)): NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS)
def test_lerp(rng, dt):
    s, e = layouts(rng.standard_normal(SHAPE), dt, row=rng.standard_normal((1, SHAPE[1])))
    w = rng.uniform(-0.5, 1.5, SHAPE).astype(dt)
    assert_close(launch(LE.lerp, dt, SHAPE, s, e, w), LE.lerp_ref(s, e, w), dt, ULP_TOL)
    assert_close(launch(LE.lerp, dt, SHAPE, s, e, weight=0.7), LE.lerp_ref(s, e, 0.7), dt, ULP_TOL)
    # The two-sided formula is exact at both ends.
    assert_close(launch(LE.lerp, dt, SHAPE, s, e, weight=1.0), e, dt)
    assert_close(launch(LE.lerp, dt, SHAPE, s, e, weight=0.0), s, dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_lerp_backward(rng, dt):
    s, e = layouts(rng.standard_normal(SHAPE), dt, row=rng.standard_normal((1, SHAPE[1])))
    w = rng.uniform(-0.5, 1.5, SHAPE).astype(dt)
    g = rng.standard_normal(SHAPE).astype(dt)
    grads = [np.zeros(SHAPE, dt) for _ in range(3)]
    LE.lerp_backward(*[as_device(x) for x in grads], as_device(g), as_device(s), as_device(e), as_device(w))
    for got, ref in zip(grads, LE.lerp_backward_ref(g, s, e, w)):
        assert_close(got, ref, dt, ULP_TOL)
    gs = np.zeros(SHAPE, dt)
    LE.lerp_backward(None, as_device(gs), None, as_device(g), as_device(s), as_device(e), 0.25)
    assert_close(gs, LE.lerp_backward_ref(g, s, e, 0.25)[1], dt, ULP_TOL)
    with pytest.raises(ValueError):
        LE.lerp_backward(None, None, as_device(gs), as_device(g), as_device(s), as_device(e), 0.25)


@pytest.mark.parametrize("name", ["lerp"])
def test_backward_refs_match_finite_differences(rng, name):
    check_backward_refs(LE.OPS, rng, name)


@pytest.mark.parametrize("weight", [0.3, -0.2, 0.5, 0.9, 2.0, float("nan")])
def test_lerp_ref_scalar_weight_is_the_two_sided_formula(rng, weight):
    # one side per scalar weight, in place: the bits of where(|w| < 0.5, s + w (e - s), e - (e - s)(1 - w))
    s, e = rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((6, 5)).astype(np.float32)
    s[0, :3], e[1, :3] = [np.inf, -np.inf, np.nan], [np.inf, -0.0, np.nan]
    w = np.float32(weight)
    with np.errstate(all="ignore"):
        want = np.where(np.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w))
        got = LE.lerp_ref(s, e, weight)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert not np.shares_memory(got, s) and not np.shares_memory(got, e)
