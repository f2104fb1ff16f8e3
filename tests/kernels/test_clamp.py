"""clamp kernels in Triton's interpreter against their NumPy references (forward and backward, tensor and
scalar bounds, NaN and min > max), and the backward references of the differentiable comparison-family ops
(clamp, where, nan_to_num) against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import clamp as CL
from tritensor.kernels import nonfinite as N
from tritensor.kernels import where as W

from tests.conftest import as_device
from tests.kernels.comparison_helpers import FLOATS, SHAPE, assert_equal, launch, to_device, values

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS + [np.int32, np.int64, np.uint8])
def test_clamp(rng, dt):
    x = values(rng, dt)
    lo_row = values(rng, dt, (1, SHAPE[1]), special=False)
    hi_row = values(rng, dt, (1, SHAPE[1]), special=False)
    lo = np.broadcast_to(lo_row, SHAPE)
    hi = np.ascontiguousarray(hi_row.repeat(SHAPE[0], 0).T).T  # some min > max: the result is max
    floats = not np.issubdtype(dt, np.integer)
    s_lo, s_hi = (-0.3, 0.6) if floats else (2, 6)
    cases = [(lo, hi), (lo, None), (None, hi), (s_lo, s_hi), (s_lo, None), (None, s_hi), (None, None),
             (s_hi, s_lo)]
    for mn, mx in cases:
        out = launch(CL.clamp, dt, SHAPE, x, min=mn, max=mx)
        assert_equal(out, CL.clamp_ref(x, mn, mx))
    assert CL.OPS["clip"].forward is CL.clamp
    with pytest.raises(TypeError):
        launch(CL.clamp, dt, SHAPE, x, min=lo, max=s_hi)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_clamp_nan_and_bounds(dt):
    x = np.array([np.nan, 1.0, -np.inf, np.inf, 0.5], dt)
    lo = np.array([0.0, np.nan, 0.0, 0.0, 2.0], dt)
    hi = np.array([1.0, 2.0, 1.0, 1.0, 1.0], dt)
    assert_equal(launch(CL.clamp, dt, x.shape, x, min=lo, max=hi), [np.nan, np.nan, 0.0, 1.0, 1.0])
    assert_equal(launch(CL.clamp, dt, x.shape, x, min=0.0, max=1.0), [np.nan, 1.0, 0.0, 1.0, 0.5])
    # 0.1 is not an fp32 value: the fp64 bound must stay exact.
    y = np.array([0.0, 0.1, 1.0], np.float64)
    assert_equal(launch(CL.clamp, np.float64, y.shape, y, min=0.1), [0.1, 0.1, 1.0])


@pytest.mark.parametrize("dt", FLOATS)
def test_clamp_backward(rng, dt):
    x = values(rng, dt, special=False)
    g = rng.standard_normal(SHAPE).astype(dt)
    # min: x's first row or half below it, broadcast (stride 0), so ties x == min occur.
    lo = np.broadcast_to(np.where(rng.random((1, SHAPE[1])) < 0.5, x[:1], x[:1] - 0.5).astype(dt), SHAPE)
    # max: ties with min, and some max < min; transposed.
    hi = np.ascontiguousarray((lo + values(rng, dt, special=False)).astype(dt).T).T
    for mn, mx in [(lo, hi), (lo, None), (None, hi), (-0.25, 0.5), (0.25, None), (None, x[2, 3].item())]:
        ref = CL.clamp_backward_ref(g, x, mn, mx)
        grads = [np.full(SHAPE, np.nan, dt) if r is not None else None for r in ref]
        CL.clamp_backward(*[None if o is None else as_device(o) for o in grads], as_device(g), as_device(x),
                         min=to_device(mn), max=to_device(mx))
        for got, want in zip(grads, ref):
            if want is not None:
                assert_equal(got, want)
    # Only the bound gradients (x's is not needed), and PyTorch's convention at the bounds.
    gmin = np.zeros(SHAPE, dt)
    CL.clamp_backward(None, as_device(gmin), None, as_device(g), as_device(x), min=as_device(lo),
                     max=as_device(hi))
    assert_equal(gmin, CL.clamp_backward_ref(g, x, lo, hi)[1])
    xb = np.array([1.0, 2.0, 3.0], dt)
    gx = np.zeros(3, dt)
    CL.clamp_backward(as_device(gx), None, None, as_device(np.ones(3, dt)), as_device(xb), min=1.0, max=3.0)
    assert_equal(gx, [1.0, 1.0, 1.0])


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_backward_refs_match_finite_differences(rng):
    shape = (4, 6)
    g = rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    lo = x + rng.choice([-1, 1], shape) * rng.uniform(0.1, 0.5, shape)  # away from the kinks
    hi = lo + rng.choice([-1, 1], shape) * rng.uniform(0.1, 0.5, shape)  # some max < min
    gx, gmin, gmax = CL.clamp_backward_ref(g, x, lo, hi)
    np.testing.assert_allclose(gx, g * central_difference(lambda t: CL.clamp_ref(t, lo, hi), x), atol=1e-7)
    np.testing.assert_allclose(gmin, g * central_difference(lambda t: CL.clamp_ref(x, t, hi), lo), atol=1e-7)
    np.testing.assert_allclose(gmax, g * central_difference(lambda t: CL.clamp_ref(x, lo, t), hi), atol=1e-7)
    gx, _, _ = CL.clamp_backward_ref(g, x, -0.3, 0.4)
    mask = (np.abs(x + 0.3) > 1e-3) & (np.abs(x - 0.4) > 1e-3)
    slope = central_difference(lambda t: CL.clamp_ref(t, -0.3, 0.4), x)
    np.testing.assert_allclose(gx[mask], (g * slope)[mask], atol=1e-7)
    a, b, cond = rng.standard_normal(shape), rng.standard_normal(shape), rng.random(shape) < 0.5
    ga, gb = W.where_backward_ref(g, cond)
    np.testing.assert_allclose(ga, g * central_difference(lambda t: W.where_ref(cond, t, b), a), atol=1e-7)
    np.testing.assert_allclose(gb, g * central_difference(lambda t: W.where_ref(cond, a, t), b), atol=1e-7)
    (gn,) = N.nan_to_num_backward_ref(g, x)
    np.testing.assert_allclose(gn, g * central_difference(N.nan_to_num_ref, x), atol=1e-7)
