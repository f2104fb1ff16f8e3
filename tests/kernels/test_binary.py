"""Binary arithmetic kernels (sub, div, floor_divide, remainder, fmod) in Triton's interpreter against their
NumPy references (forward and backward), edge values against Python's own semantics, and the backward
references against central finite differences in float64."""

import math

import numpy as np
import pytest
from tritensor.kernels import atan2 as A
from tritensor.kernels import binary as B
from tritensor.kernels import maximum as MX
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
    nonzero,
)

# Masked-off lanes compute on zeros in the interpreter (0/0, log(0)): NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS + INTS)
def test_sub(rng, dt):
    integer = np.issubdtype(dt, np.integer)
    if integer:  # a - 3 * b stays >= 0 for uint8 (wrapping is tested on int32 below)
        a, b = layouts(rng.integers(50, 100, SHAPE), dt, row=rng.integers(0, 12, (1, SHAPE[1])))
    else:
        a, b = layouts(rng.standard_normal(SHAPE) * 20, dt, row=rng.standard_normal((1, SHAPE[1])))
    out = launch(B.sub, dt, SHAPE, a, b, strided_out=True)
    assert_close(out, B.sub_ref(a, b), dt)
    alpha = 3 if integer else 0.3
    out = launch(B.sub, dt, SHAPE, a, b, alpha=alpha)
    assert_close(out, B.sub_ref(a, b, alpha), dt, None if integer else ULP_TOL)


def test_sub_wraps_integers():
    a, b = np.array([0, -2**31, 5], np.int32), np.array([1, 1, -2**31 + 5], np.int32)
    out = launch(B.sub, np.int32, (3,), a, b)
    np.testing.assert_array_equal(out, (a.astype(np.int64) - b).astype(np.int32))


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
@pytest.mark.parametrize("dt", FLOATS)
def test_div_float(rng, dt, mode):
    a, b = layouts(rng.standard_normal(SHAPE) * 10, dt, row=nonzero(rng, (1, SHAPE[1])))
    out = launch(B.div, dt, SHAPE, a, b, rounding_mode=mode, strided_out=mode == "floor")
    assert_close(out, B.div_ref(a, b, mode), dt)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dt", INTS)
def test_div_int(rng, dt, mode):
    lo = 0 if dt == np.uint8 else -100
    a = rng.integers(lo, 100, SHAPE).astype(dt)
    b = rng.integers(1, 9, SHAPE) * (1 if dt == np.uint8 else rng.choice([-1, 1], SHAPE))
    a, b = a.T.copy().T, b.astype(dt)
    out = launch(B.div, dt, SHAPE, a, b, rounding_mode=mode)
    assert_close(out, B.div_ref(a, b, mode), dt)
    assert_close(launch(B.floor_divide, dt, SHAPE, a, b), B.floor_divide_ref(a, b), dt)


def test_true_division_of_integers_is_refused():
    a = np.arange(4, dtype=np.int32)
    with pytest.raises(TypeError):
        launch(B.div, np.float32, (4,), a, a)
    with pytest.raises(ValueError):
        launch(B.div, np.float32, (4,), a.astype(np.float32), a.astype(np.float32), rounding_mode="round")


@pytest.mark.parametrize("op", ["remainder", "fmod"])
@pytest.mark.parametrize("dt", FLOATS + INTS)
def test_remainder_fmod(rng, op, dt):
    if np.issubdtype(dt, np.integer):
        lo = 0 if dt == np.uint8 else -100
        a = rng.integers(lo, 100, SHAPE).astype(dt)
        b = rng.integers(1, 9, (1, SHAPE[1])) * (1 if dt == np.uint8 else rng.choice([-1, 1], (1, SHAPE[1])))
        a, b = a, np.broadcast_to(b.astype(dt), SHAPE)
    else:
        a, b = layouts(rng.standard_normal(SHAPE) * 10, dt, row=nonzero(rng, (1, SHAPE[1])))
    out = launch(getattr(B, op), dt, SHAPE, a, b, strided_out=True)
    assert_close(out, getattr(B, f"{op}_ref")(a, b), dt)


@pytest.mark.parametrize("op", ["fmod", "remainder", "floor_divide"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fmod_is_exact_for_huge_quotients(dt, op):
    # Triton's float % is a - trunc(a / b) * b, off once a / b needs more bits than the mantissa has;
    # C's fmod is exact. Subnormal divisors and 1e300 / 1e-300 force many long-division steps.
    tiny = np.finfo(dt).smallest_subnormal
    a = np.array([1e30, -1e30, 3e38, 7.0, -7.0, 1e10, 1.5, 1e-30, 3e38, 2.5], np.float64)
    b = np.array([3.0, 7.1, 1e-38, 0.1, 0.1, 1e-5, 0.1, 1e-35, tiny, -0.7], np.float64)
    if dt == np.float64:
        a[[0, 2, 8]] = [1e300, 1.7e308, 1.7e308]
        b[[2]] = [1e-300]
    a, b = a.astype(dt), b.astype(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        out = launch(getattr(B, op), dt, a.shape, a, b)
    np.testing.assert_array_equal(out, getattr(B, f"{op}_ref")(a, b))


def test_multi_program_and_high_rank_layouts(rng):
    # 1320 elements (two programs), and a 6-d non-collapsible operand (host loop over slices).
    a = rng.standard_normal((33, 40)).astype(np.float32)
    b = nonzero(rng, (33, 40)).astype(np.float32)
    np.testing.assert_array_equal(launch(B.remainder, np.float32, a.shape, a, b), B.remainder_ref(a, b))
    x = rng.standard_normal((2, 3, 2, 3, 2, 5))[:, :, :, ::2, :, ::2]
    y = nonzero(rng, x.shape)
    np.testing.assert_array_equal(launch(B.div, np.float64, x.shape, x, y, rounding_mode="floor"),
                                  B.div_ref(x, y, "floor"))


@pytest.mark.parametrize("dt", FLOATS)
def test_division_by_zero_each_rounding_mode(dt):
    a = np.array([1.0, -1.0, 0.0, np.inf, -np.inf, np.nan, 2.5, -2.5], dt)
    for zero in (0.0, -0.0):
        b = np.full(a.shape, zero, dt)
        with np.errstate(divide="ignore", invalid="ignore"):
            quotient = a.astype(np.float64) / zero
        for mode in (None, "trunc", "floor"):
            with np.errstate(divide="ignore", invalid="ignore"):
                out = launch(B.div, dt, a.shape, a, b, rounding_mode=mode).astype(np.float64)
            np.testing.assert_array_equal(out, quotient, err_msg=f"{mode} / {zero}")
            np.testing.assert_array_equal(np.signbit(out), np.signbit(quotient))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = launch(B.remainder, dt, a.shape, a, b).astype(np.float64)
        assert np.isnan(out).all()


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, np.int32, np.int64])
def test_negative_operands_follow_python(dt):
    vals = [(-7, 2), (7, -2), (-7, -2), (7, 2), (-6, 3), (6, -3), (0, -5), (-1, 5)]
    if np.issubdtype(dt, np.floating):
        vals += [(-7.5, 2.0), (7.5, -2.0), (-0.5, 3.0), (1e-3, -1.0), (-5.0, np.inf), (5.0, -np.inf)]
    a = np.array([v[0] for v in vals], dt)
    b = np.array([v[1] for v in vals], dt)
    py = float if np.issubdtype(dt, np.floating) else int  # Python's semantics on the dt-rounded values
    pa, pb = [py(v) for v in a], [py(v) for v in b]
    floor = launch(B.floor_divide, dt, a.shape, a, b)
    np.testing.assert_array_equal(floor, np.array([x // y for x, y in zip(pa, pb)], dt))
    rem = launch(B.remainder, dt, a.shape, a, b)
    np.testing.assert_array_equal(rem, np.array([x % y for x, y in zip(pa, pb)], dt))
    fm = launch(B.fmod, dt, a.shape, a, b)
    np.testing.assert_array_equal(fm, np.array([math.fmod(x, y) for x, y in zip(pa, pb)], dt))
    trunc = launch(B.div, dt, a.shape, a, b, rounding_mode="trunc")
    np.testing.assert_array_equal(trunc, np.array([math.trunc(x / y) if math.isfinite(x / y) else x / y
                                                   for x, y in zip(pa, pb)], dt))


# ================================================================ backward kernels and references
BACKWARD_OPS = ['sub', 'div', 'remainder', 'fmod']


@pytest.mark.parametrize("name", BACKWARD_OPS)
@pytest.mark.parametrize("dt", FLOATS)
def test_backward(rng, name, dt):
    check_backward(B.OPS, rng, name, dt)


def test_backward_edge_conventions():
    # maximum/minimum split ties; pow's base gradient at 0; atan2 at the origin; div with rounding.
    g = np.array([1.0, 2.0, 4.0, 8.0])
    a = np.array([1.0, 3.0, 0.0, np.nan])
    b = np.array([1.0, 2.0, 5.0, 1.0])
    ga, gb = np.zeros(4), np.zeros(4)
    MX.maximum_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    np.testing.assert_array_equal(ga, [0.5, 2.0, 0.0, 8.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0, 4.0, 8.0])
    MX.minimum_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    np.testing.assert_array_equal(ga, [0.5, 0.0, 4.0, 8.0])
    np.testing.assert_array_equal(gb, [0.5, 2.0, 0.0, 8.0])

    base = np.zeros(5)
    exponent = np.array([0.0, 0.5, 1.0, 2.0, -1.0])
    ga, gb = np.zeros(5), np.zeros(5)
    with np.errstate(divide="ignore", invalid="ignore"):
        P.pow_backward(as_device(ga), as_device(gb), as_device(np.ones(5)), as_device(base), as_device(exponent))
    np.testing.assert_array_equal(ga, [0.0, np.inf, 1.0, 0.0, -np.inf])
    np.testing.assert_array_equal(gb, [0.0, 0.0, 0.0, 0.0, -np.inf])  # a == 0 and b >= 0 -> 0

    ga, gb = np.zeros(1), np.zeros(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        A.atan2_backward(as_device(ga), as_device(gb), as_device(np.ones(1)), as_device(np.zeros(1)),
                         as_device(np.zeros(1)))
    assert np.isnan(ga).all() and np.isnan(gb).all()

    ga, gb = np.full(2, 7.0), np.full(2, 7.0)
    B.div_backward(as_device(ga), as_device(gb), as_device(np.array([np.inf, 1.0])), as_device(np.ones(2)),
                   as_device(np.ones(2)), rounding_mode="floor")
    np.testing.assert_array_equal(np.concatenate([ga, gb]), 0.0)


@pytest.mark.parametrize("name", BACKWARD_OPS)
def test_backward_refs_match_finite_differences(rng, name):
    check_backward_refs(B.OPS, rng, name)
