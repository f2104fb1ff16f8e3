"""Comparison kernels (eq/ne/lt/le/gt/ge, isclose) in Triton's interpreter against their NumPy references:
NaN, inf, ties, scalar operands rounded like PyTorch, and isclose's rounding in 16-bit dtypes."""

import numpy as np
import pytest
from tritensor.kernels import comparison as C

from tests.kernels.comparison_helpers import FLOATS, INTS, SHAPE, launch, pair, values

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.


CMP = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("dt", FLOATS + INTS + [np.bool_])
def test_comparisons(rng, dt):
    a, b = pair(rng, dt)
    b = b.copy()
    b[1:, ::2] = values(rng, dt, b[1:, ::2].shape)  # differences as well as ties
    for name in CMP:
        out = launch(getattr(C, name), np.bool_, SHAPE, a, b, strided_out=name == "ne")
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, b), err_msg=name)
        scalar = True if dt == np.bool_ else 3 if np.issubdtype(dt, np.integer) else 0.25
        out = launch(getattr(C, name), np.bool_, SHAPE, a, scalar)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, scalar), err_msg=f"{name} scalar")


def test_comparison_scalars_round_like_pytorch():
    # PyTorch casts the scalar to the tensor's dtype: fp16(0.1) == 0.1 is true, and an fp64 scalar
    # stays exact (an fp32 kernel parameter would turn 0.1 into 0.10000000149).
    x16 = np.array([0.1, 0.2], np.float16)
    np.testing.assert_array_equal(launch(C.eq, np.bool_, (2,), x16, 0.1), [True, False])
    x64 = np.array([0.1, float(np.float32(0.1)), 1.0], np.float64)
    np.testing.assert_array_equal(launch(C.eq, np.bool_, (3,), x64, 0.1), [True, False, False])
    np.testing.assert_array_equal(launch(C.gt, np.bool_, (3,), x64, 0.1), [False, True, True])
    # An integer scalar of 1 (the launcher makes that a constexpr on a GPU) and a large int64.
    xi = np.array([1, 2, 2**40], np.int64)
    np.testing.assert_array_equal(launch(C.eq, np.bool_, (3,), xi, 1), [True, False, False])
    np.testing.assert_array_equal(launch(C.ge, np.bool_, (3,), xi, 2**40), [False, False, True])


@pytest.mark.parametrize("dt", FLOATS)
def test_isclose_floats(rng, dt):
    a = values(rng, dt)
    b = (a.astype(np.float64) + rng.standard_normal(SHAPE) * 10.0 ** rng.integers(-8, 0, SHAPE)).astype(dt)
    b.flat[:6] = [np.nan, np.inf, -np.inf, 0.0, np.nan, 1.0]  # vs NaN, inf, -inf, -0.0 ...
    b = np.ascontiguousarray(b.T).T
    for rtol, atol, equal_nan in [(1e-5, 1e-8, False), (1e-5, 1e-8, True), (1e-2, 0.0, False),
                                  (0.0, 0.0, True), (0.0, 1e-3, False)]:
        with np.errstate(invalid="ignore"):
            out = launch(C.isclose, np.bool_, SHAPE, a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        np.testing.assert_array_equal(out, C.isclose_ref(a, b, rtol, atol, equal_nan))


def test_isclose_rounds_like_the_tensor_dtype():
    # fp16: |a - b| and the tolerance are rounded to fp16 after each step (PyTorch computes in the
    # tensor's dtype); 60000 - (-60000) overflows fp16 to inf, so it is never "close".
    a = np.array([1.0, 60000.0, 1.0], np.float16)
    b = np.array([np.float16(1.0) + np.float16(2.0**-10), -60000.0, 1.001], np.float16)
    with np.errstate(over="ignore"):
        out = launch(C.isclose, np.bool_, (3,), a, b, rtol=0.0, atol=2.0**-10)
    np.testing.assert_array_equal(out, C.isclose_ref(a, b, 0.0, 2.0**-10))
    np.testing.assert_array_equal(out, [True, False, True])
    with np.errstate(over="ignore"):
        assert not launch(C.isclose, np.bool_, (2,), a[1:2].repeat(2), b[1:2].repeat(2), rtol=1.0, atol=1e4).any()
    # fp64 tolerances stay exact: |1 - (1 + 1e-12)| <= 1e-12 is true only with an exact atol.
    c = np.array([1.0], np.float64)
    d = np.array([1.0 + 1e-12], np.float64)
    diff = float(abs(c - d)[0])
    assert launch(C.isclose, np.bool_, (1,), c, d, rtol=0.0, atol=diff)[0]
    assert not launch(C.isclose, np.bool_, (1,), c, d, rtol=0.0, atol=np.nextafter(diff, 0))[0]


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8, np.int8, np.bool_])
def test_isclose_integers(rng, dt):
    a, b = values(rng, dt), values(rng, dt)
    for rtol, atol in [(1e-5, 1e-8), (0.5, 1.0), (0.0, 3.0)]:
        out = launch(C.isclose, np.bool_, SHAPE, a, b, rtol=rtol, atol=atol)
        np.testing.assert_array_equal(out, C.isclose_ref(a, b, rtol, atol))
    if dt == np.uint8:  # |3 - 5| wraps to 254 in uint8, as PyTorch computes it
        out = launch(C.isclose, np.bool_, (1,), np.array([3], dt), np.array([5], dt), rtol=0.0, atol=3.0)
        assert not out[0]
