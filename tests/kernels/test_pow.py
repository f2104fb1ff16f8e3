"""Power kernels (pow, pow_scalar, rpow) in Triton's interpreter against their NumPy references (forward and
backward), C's special values, integer wrapping, and the backward references against central finite
differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import pow as P

from tests.conftest import as_device
from tests.kernels.map_helpers import (
    FLOATS,
    INTS,
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
def test_pow_tensor_tensor(rng, dt):
    a, b = layouts(rng.uniform(0.1, 3.0, SHAPE), dt, row=rng.uniform(-3, 3, (1, SHAPE[1])))
    out = launch(P.pow, dt, SHAPE, a, b, strided_out=True)
    assert_close(out, P.pow_ref(a, b), dt, ULP_TOL)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pow_special_values(dt):
    inf, nan = np.inf, np.nan
    pairs = [(-2.0, 3.0), (-2.0, 2.0), (-2.0, 0.5), (-2.0, -3.0), (0.0, -1.0), (-0.0, -1.0), (-0.0, 3.0),
             (-0.0, 0.5), (0.0, 0.0), (nan, 0.0), (1.0, nan), (-1.0, inf), (-1.0, -inf), (0.5, inf),
             (2.0, -inf), (-inf, 3.0), (-inf, 2.0), (-inf, -3.0), (-inf, 0.5), (inf, -0.5), (nan, 1.0),
             (3.0, nan), (0.0, 2.0)]
    a = np.array([p[0] for p in pairs], dt)
    b = np.array([p[1] for p in pairs], dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = launch(P.pow, dt, a.shape, a, b)
    with np.errstate(all="ignore"):
        expect = np.power(a, b)  # C's pow
    np.testing.assert_array_equal(out, expect)
    number = ~np.isnan(expect)  # -0.0 ** 3 == -0.0 (a NaN's sign means nothing)
    np.testing.assert_array_equal(np.signbit(out[number]), np.signbit(expect[number]))


@pytest.mark.parametrize("dt", INTS + [np.int8])
def test_pow_int(rng, dt):
    if dt == np.uint8:
        a, b = rng.integers(0, 20, SHAPE), rng.integers(0, 10, SHAPE)
    else:
        a, b = rng.integers(-5, 6, SHAPE), rng.integers(-3, 12, SHAPE)
    a, b = a.astype(dt), b.astype(dt)
    out = launch(P.pow, dt, SHAPE, a, b)
    assert_close(out, P.pow_ref(a, b), dt)
    if dt != np.uint8:  # PyTorch: a negative exponent gives 1 for 1, +-1 for -1, 0 otherwise
        x = np.array([1, -1, -1, 2, 0, -3], dt)
        e = np.array([-5, -3, -2, -1, -2, -1], dt)
        np.testing.assert_array_equal(launch(P.pow, dt, x.shape, x, e), np.array([1, -1, 1, 0, 0, 0], dt))


def test_pow_int64_wraps_like_pytorch():
    a = np.array([3, -7, 2, 5], np.int64)
    b = np.array([50, 33, 63, 40], np.int64)
    expect = np.array([pow(int(x), int(y), 2**64) for x, y in zip(a, b)], np.uint64).view(np.int64)
    np.testing.assert_array_equal(launch(P.pow, np.int64, a.shape, a, b), expect)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -0.5, -1, -2, 1.7, -2.5, 0, 1])
@pytest.mark.parametrize("dt", FLOATS)
def test_pow_scalar(rng, dt, exponent):
    x = rng.uniform(0.1, 3.0, SHAPE).astype(dt).T
    out = launch(P.pow_scalar, dt, x.shape, x, exponent=exponent)
    assert_close(out, P.pow_scalar_ref(x, exponent), dt, ULP_TOL)


def test_pow_scalar_int_and_fp64_exactness():
    x = np.arange(-4, 5, dtype=np.int64)
    np.testing.assert_array_equal(launch(P.pow_scalar, np.int64, x.shape, x, exponent=3), x**3)
    np.testing.assert_array_equal(launch(P.pow_scalar, np.int64, x.shape, x, exponent=1), x)
    # 1/3 is not an fp32 value: an fp32 exponent would give 8 ** 0.33333334 != 2 - 5e-8.
    y = np.array([8.0, 27.0, 1e-9], np.float64)
    out = launch(P.pow_scalar, np.float64, y.shape, y, exponent=1 / 3)
    np.testing.assert_allclose(out, y ** (1 / 3), rtol=ULP_TOL[np.float64][0])


@pytest.mark.parametrize("dt", FLOATS + [np.int32])
def test_rpow(rng, dt):
    if dt == np.int32:
        x = rng.integers(0, 12, SHAPE).astype(dt)
        base = 3
    else:
        x = rng.uniform(-3, 3, SHAPE).astype(dt)
        base = 2.5
    out = launch(P.rpow, dt, SHAPE, x.T.copy().T, base=base)
    assert_close(out, P.rpow_ref(x, base), dt, None if dt == np.int32 else ULP_TOL)


@pytest.mark.parametrize("dt", FLOATS)
def test_pow_scalar_and_rpow_backward(rng, dt):
    x = rng.uniform(0.2, 3.0, SHAPE).astype(dt)
    g = rng.standard_normal(SHAPE).astype(dt)
    for exponent in (2.5, 0):
        out = np.zeros(SHAPE, dt)
        P.pow_scalar_backward(as_device(out), as_device(g), as_device(x), exponent)
        assert_close(out, P.pow_scalar_backward_ref(g, x, exponent)[0], dt, ULP_TOL)
    out = np.zeros(SHAPE, dt)
    P.rpow_backward(as_device(out), as_device(g), as_device(x - 1.5), 1.7)
    assert_close(out, P.rpow_backward_ref(g, x - 1.5, 1.7)[0], dt, ULP_TOL)


# ================================================================ backward kernels and references
BACKWARD_OPS = ['pow']


@pytest.mark.parametrize("name", BACKWARD_OPS)
@pytest.mark.parametrize("dt", FLOATS)
def test_backward(rng, name, dt):
    check_backward(P.OPS, rng, name, dt)


@pytest.mark.parametrize("name", BACKWARD_OPS + ["pow_scalar", "rpow"])
def test_backward_refs_match_finite_differences(rng, name):
    check_backward_refs(P.OPS, rng, name)
