"""Binary arithmetic kernels in Triton's interpreter against their NumPy references (forward and
backward), edge values against Python's own semantics, and the backward references against central
finite differences in float64."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import binary as B

from tests.conftest import as_device
from tritensor import dtypes

# Masked-off lanes compute on zeros in the interpreter (0/0, log(0)): NumPy warns for values never stored.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float64, np.float16, BF16]
INTS = [np.int32, np.int64, np.uint8]
# (rtol, atol) for ops whose fp32/fp64 result may differ from NumPy's by an ulp or two (pow, atan2,
# a fused multiply-add); 16-bit results round an fp32 value once, so they differ by at most one of
# their own ulps.
ULP_TOL = {np.float32: (1e-6, 1e-7), np.float64: (1e-13, 1e-300), np.float16: (1e-3, 1e-5),
           BF16: (8e-3, 1e-5)}
SHAPE = (5, 7)


def to_device(x):
    return as_device(x) if isinstance(x, np.ndarray) else x


def launch(fn, out_dtype, shape, *inputs, strided_out=False, **params) -> np.ndarray:
    """Run a forward wrapper into a fresh (optionally transposed, non-contiguous) output."""
    out = np.zeros(shape[::-1], out_dtype).T if strided_out else np.zeros(shape, out_dtype)
    fn(as_device(out), *[to_device(x) for x in inputs], **params)
    return out


def layouts(values: np.ndarray, dt, row: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`values` as a transposed view, and `row` (or values' first row) broadcast with stride 0."""
    a = np.ascontiguousarray(values.T.astype(dt)).T
    b_row = values[:1] if row is None else row
    return a, np.broadcast_to(b_row.astype(dt), values.shape)


def assert_close(out, ref, dt, tol=None):
    """Exact unless `tol`; bf16 always gets one ulp: the interpreter truncates fp32 -> bf16 on store
    (the GPU rounds to nearest), so an inexact result may land one bf16 ulp below NumPy's."""
    out64, ref64 = np.asarray(out).astype(np.float64), np.asarray(ref).astype(np.float64)
    if tol is None and dt == BF16:
        tol = ULP_TOL
    if tol is None:
        np.testing.assert_array_equal(out64, ref64)
    else:
        rtol, atol = tol[dt]
        np.testing.assert_allclose(out64, ref64, rtol=rtol, atol=atol, equal_nan=True)


def nonzero(rng, shape, scale=3.0):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.25, 1.0, shape) * scale


# ================================================================ forward against the references
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
    out = launch(getattr(B, op), dt, a.shape, a, b)
    np.testing.assert_array_equal(out, getattr(B, f"{op}_ref")(a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_pow_tensor_tensor(rng, dt):
    a, b = layouts(rng.uniform(0.1, 3.0, SHAPE), dt, row=rng.uniform(-3, 3, (1, SHAPE[1])))
    out = launch(B.pow, dt, SHAPE, a, b, strided_out=True)
    assert_close(out, B.pow_ref(a, b), dt, ULP_TOL)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pow_special_values(dt):
    inf, nan = np.inf, np.nan
    pairs = [(-2.0, 3.0), (-2.0, 2.0), (-2.0, 0.5), (-2.0, -3.0), (0.0, -1.0), (-0.0, -1.0), (-0.0, 3.0),
             (-0.0, 0.5), (0.0, 0.0), (nan, 0.0), (1.0, nan), (-1.0, inf), (-1.0, -inf), (0.5, inf),
             (2.0, -inf), (-inf, 3.0), (-inf, 2.0), (-inf, -3.0), (-inf, 0.5), (inf, -0.5), (nan, 1.0),
             (3.0, nan), (0.0, 2.0)]
    a = np.array([p[0] for p in pairs], dt)
    b = np.array([p[1] for p in pairs], dt)
    out = launch(B.pow, dt, a.shape, a, b)
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
    out = launch(B.pow, dt, SHAPE, a, b)
    assert_close(out, B.pow_ref(a, b), dt)
    if dt != np.uint8:  # PyTorch: a negative exponent gives 1 for 1, +-1 for -1, 0 otherwise
        x = np.array([1, -1, -1, 2, 0, -3], dt)
        e = np.array([-5, -3, -2, -1, -2, -1], dt)
        np.testing.assert_array_equal(launch(B.pow, dt, x.shape, x, e), np.array([1, -1, 1, 0, 0, 0], dt))


def test_pow_int64_wraps_like_pytorch():
    a = np.array([3, -7, 2, 5], np.int64)
    b = np.array([50, 33, 63, 40], np.int64)
    expect = np.array([pow(int(x), int(y), 2**64) for x, y in zip(a, b)], np.uint64).view(np.int64)
    np.testing.assert_array_equal(launch(B.pow, np.int64, a.shape, a, b), expect)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -0.5, -1, -2, 1.7, -2.5, 0, 1])
@pytest.mark.parametrize("dt", FLOATS)
def test_pow_scalar(rng, dt, exponent):
    x = rng.uniform(0.1, 3.0, SHAPE).astype(dt).T
    out = launch(B.pow_scalar, dt, x.shape, x, exponent=exponent)
    assert_close(out, B.pow_scalar_ref(x, exponent), dt, ULP_TOL)


def test_pow_scalar_int_and_fp64_exactness():
    x = np.arange(-4, 5, dtype=np.int64)
    np.testing.assert_array_equal(launch(B.pow_scalar, np.int64, x.shape, x, exponent=3), x**3)
    np.testing.assert_array_equal(launch(B.pow_scalar, np.int64, x.shape, x, exponent=1), x)
    # 1/3 is not an fp32 value: an fp32 exponent would give 8 ** 0.33333334 != 2 - 5e-8.
    y = np.array([8.0, 27.0, 1e-9], np.float64)
    out = launch(B.pow_scalar, np.float64, y.shape, y, exponent=1 / 3)
    np.testing.assert_allclose(out, y ** (1 / 3), rtol=ULP_TOL[np.float64][0])


@pytest.mark.parametrize("dt", FLOATS + [np.int32])
def test_rpow(rng, dt):
    if dt == np.int32:
        x = rng.integers(0, 12, SHAPE).astype(dt)
        base = 3
    else:
        x = rng.uniform(-3, 3, SHAPE).astype(dt)
        base = 2.5
    out = launch(B.rpow, dt, SHAPE, x.T.copy().T, base=base)
    assert_close(out, B.rpow_ref(x, base), dt, None if dt == np.int32 else ULP_TOL)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
@pytest.mark.parametrize("dt", FLOATS + INTS + [np.bool_])
def test_maximum_minimum(rng, op, dt):
    if dt == np.bool_:
        a, b = rng.random(SHAPE) < 0.5, rng.random(SHAPE) < 0.5
    else:
        vals = rng.integers(0, 50, SHAPE) if np.issubdtype(dt, np.integer) else rng.standard_normal(SHAPE)
        a, b = layouts(vals, dt, row=vals[2:3])  # the broadcast row ties with row 2 of a
    out = launch(getattr(B, op), dt, SHAPE, a, b)
    np.testing.assert_array_equal(out, getattr(B, f"{op}_ref")(a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_maximum_minimum_propagate_nan(dt):
    nan, inf = np.nan, np.inf
    a = np.array([nan, 1.0, nan, inf, -inf, 0.0], dt)
    b = np.array([1.0, nan, nan, -inf, 2.0, -0.0], dt)
    np.testing.assert_array_equal(launch(B.maximum, dt, a.shape, a, b).astype(np.float64),
                                  [nan, nan, nan, inf, 2.0, 0.0])
    np.testing.assert_array_equal(launch(B.minimum, dt, a.shape, a, b).astype(np.float64),
                                  [nan, nan, nan, -inf, -inf, 0.0])


@pytest.mark.parametrize("dt", FLOATS)
def test_atan2(rng, dt):
    a, b = layouts(rng.standard_normal(SHAPE) * 3, dt, row=rng.standard_normal((1, SHAPE[1])))
    out = launch(B.atan2, dt, SHAPE, a, b, strided_out=True)
    assert_close(out, B.atan2_ref(a, b), dt, ULP_TOL)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_atan2_signed_zeros_and_infinities(rng, dt):
    vals = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 5e20]
    y, x = (np.array(v, dt) for v in zip(*[(p, q) for p in vals for q in vals]))
    out = launch(B.atan2, dt, y.shape, y, x)
    ref = np.arctan2(y, x)
    np.testing.assert_allclose(out, ref, rtol=ULP_TOL[dt][0], atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))


@pytest.mark.parametrize("dt", FLOATS)
def test_lerp(rng, dt):
    s, e = layouts(rng.standard_normal(SHAPE), dt, row=rng.standard_normal((1, SHAPE[1])))
    w = rng.uniform(-0.5, 1.5, SHAPE).astype(dt)
    assert_close(launch(B.lerp, dt, SHAPE, s, e, w), B.lerp_ref(s, e, w), dt, ULP_TOL)
    assert_close(launch(B.lerp, dt, SHAPE, s, e, weight=0.7), B.lerp_ref(s, e, 0.7), dt, ULP_TOL)
    # The two-sided formula is exact at both ends.
    assert_close(launch(B.lerp, dt, SHAPE, s, e, weight=1.0), e, dt)
    assert_close(launch(B.lerp, dt, SHAPE, s, e, weight=0.0), s, dt)


def test_multi_program_and_high_rank_layouts(rng):
    # 1320 elements (two programs), and a 6-d non-collapsible operand (host loop over slices).
    a = rng.standard_normal((33, 40)).astype(np.float32)
    b = nonzero(rng, (33, 40)).astype(np.float32)
    np.testing.assert_array_equal(launch(B.remainder, np.float32, a.shape, a, b), B.remainder_ref(a, b))
    x = rng.standard_normal((2, 3, 2, 3, 2, 5))[:, :, :, ::2, :, ::2]
    y = nonzero(rng, x.shape)
    np.testing.assert_array_equal(launch(B.div, np.float64, x.shape, x, y, rounding_mode="floor"),
                                  B.div_ref(x, y, "floor"))


# ================================================================ edge values against Python's semantics
@pytest.mark.parametrize("dt", FLOATS)
def test_division_by_zero_each_rounding_mode(dt):
    a = np.array([1.0, -1.0, 0.0, np.inf, -np.inf, np.nan, 2.5, -2.5], dt)
    for zero in (0.0, -0.0):
        b = np.full(a.shape, zero, dt)
        with np.errstate(all="ignore"):
            quotient = a.astype(np.float64) / zero
        for mode in (None, "trunc", "floor"):
            out = launch(B.div, dt, a.shape, a, b, rounding_mode=mode).astype(np.float64)
            np.testing.assert_array_equal(out, quotient, err_msg=f"{mode} / {zero}")
            np.testing.assert_array_equal(np.signbit(out), np.signbit(quotient))
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


def test_encode_scalar():
    assert B.encode_scalar(0.1, dtypes.float64) == int(np.float64(0.1).view(np.int64))
    assert B.encode_scalar(0.1, dtypes.float16) == float(np.float16(0.1))
    assert B.encode_scalar(0.1, dtypes.float16, opmath=True) == float(np.float32(0.1))
    assert B.encode_scalar(3.0, dtypes.int32) == 3 and B.encode_scalar(True, dtypes.bool) == 1
    with pytest.raises(ValueError):
        B.encode_scalar(0.5, dtypes.int64)


# ================================================================ backward kernels against the references
def grad_inputs(rng, name, dt):
    """(a, b) in the op's differentiable domain (a transposed view, b broadcast), and the grad."""
    shape = SHAPE
    if name == "pow":
        a, b = layouts(rng.uniform(0.2, 3.0, shape), dt, row=rng.uniform(-2, 2, (1, shape[1])))
    elif name in ("div", "remainder", "fmod"):
        a, b = layouts(rng.standard_normal(shape) * 5, dt, row=nonzero(rng, (1, shape[1])))
    else:
        a, b = layouts(rng.standard_normal(shape), dt, row=rng.standard_normal((1, shape[1])))
    g = rng.standard_normal(shape).astype(dt)
    return g, a, b


BACKWARD_OPS = ["sub", "div", "remainder", "fmod", "pow", "maximum", "minimum", "atan2"]


@pytest.mark.parametrize("name", BACKWARD_OPS)
@pytest.mark.parametrize("dt", FLOATS)
def test_backward(rng, name, dt):
    g, a, b = grad_inputs(rng, name, dt)
    entry = B.OPS[name]
    params = {"alpha": 0.5} if name == "sub" else {}
    ref_a, ref_b = entry.backward_ref(g, a, b, **params)
    ga = np.zeros(SHAPE[::-1], dt).T  # a strided gradient output
    gb = np.zeros(SHAPE, dt)
    entry.backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b), **params)
    assert_close(ga, ref_a, dt, ULP_TOL)
    assert_close(gb, ref_b, dt, ULP_TOL)
    # One gradient at a time (the other input is a constant or a scalar).
    only_a, only_b = np.zeros(SHAPE, dt), np.zeros(SHAPE, dt)
    entry.backward(as_device(only_a), None, as_device(g), as_device(a), as_device(b), **params)
    entry.backward(None, as_device(only_b), as_device(g), as_device(a), as_device(b), **params)
    assert_close(only_a, ga, dt)
    assert_close(only_b, gb, dt)


def test_backward_edge_conventions():
    # maximum/minimum split ties; pow's base gradient at 0; atan2 at the origin; div with rounding.
    g = np.array([1.0, 2.0, 4.0, 8.0])
    a = np.array([1.0, 3.0, 0.0, np.nan])
    b = np.array([1.0, 2.0, 5.0, 1.0])
    ga, gb = np.zeros(4), np.zeros(4)
    B.maximum_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    np.testing.assert_array_equal(ga, [0.5, 2.0, 0.0, 8.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0, 4.0, 8.0])
    B.minimum_backward(as_device(ga), as_device(gb), as_device(g), as_device(a), as_device(b))
    np.testing.assert_array_equal(ga, [0.5, 0.0, 4.0, 8.0])
    np.testing.assert_array_equal(gb, [0.5, 2.0, 0.0, 8.0])

    base = np.zeros(5)
    exponent = np.array([0.0, 0.5, 1.0, 2.0, -1.0])
    ga, gb = np.zeros(5), np.zeros(5)
    B.pow_backward(as_device(ga), as_device(gb), as_device(np.ones(5)), as_device(base), as_device(exponent))
    np.testing.assert_array_equal(ga, [0.0, np.inf, 1.0, 0.0, -np.inf])
    np.testing.assert_array_equal(gb, [0.0, 0.0, 0.0, 0.0, -np.inf])  # a == 0 and b >= 0 -> 0

    ga, gb = np.zeros(1), np.zeros(1)
    B.atan2_backward(as_device(ga), as_device(gb), as_device(np.ones(1)), as_device(np.zeros(1)),
                     as_device(np.zeros(1)))
    assert np.isnan(ga).all() and np.isnan(gb).all()

    ga, gb = np.full(2, 7.0), np.full(2, 7.0)
    B.div_backward(as_device(ga), as_device(gb), as_device(np.array([np.inf, 1.0])), as_device(np.ones(2)),
                   as_device(np.ones(2)), rounding_mode="floor")
    np.testing.assert_array_equal(np.concatenate([ga, gb]), 0.0)


@pytest.mark.parametrize("dt", FLOATS)
def test_pow_scalar_and_rpow_backward(rng, dt):
    x = rng.uniform(0.2, 3.0, SHAPE).astype(dt)
    g = rng.standard_normal(SHAPE).astype(dt)
    for exponent in (2.5, 0):
        out = np.zeros(SHAPE, dt)
        B.pow_scalar_backward(as_device(out), as_device(g), as_device(x), exponent)
        assert_close(out, B.pow_scalar_backward_ref(g, x, exponent)[0], dt, ULP_TOL)
    out = np.zeros(SHAPE, dt)
    B.rpow_backward(as_device(out), as_device(g), as_device(x - 1.5), 1.7)
    assert_close(out, B.rpow_backward_ref(g, x - 1.5, 1.7)[0], dt, ULP_TOL)


@pytest.mark.parametrize("dt", FLOATS)
def test_lerp_backward(rng, dt):
    s, e = layouts(rng.standard_normal(SHAPE), dt, row=rng.standard_normal((1, SHAPE[1])))
    w = rng.uniform(-0.5, 1.5, SHAPE).astype(dt)
    g = rng.standard_normal(SHAPE).astype(dt)
    grads = [np.zeros(SHAPE, dt) for _ in range(3)]
    B.lerp_backward(*[as_device(x) for x in grads], as_device(g), as_device(s), as_device(e), as_device(w))
    for got, ref in zip(grads, B.lerp_backward_ref(g, s, e, w)):
        assert_close(got, ref, dt, ULP_TOL)
    gs = np.zeros(SHAPE, dt)
    B.lerp_backward(None, as_device(gs), None, as_device(g), as_device(s), as_device(e), 0.25)
    assert_close(gs, B.lerp_backward_ref(g, s, e, 0.25)[1], dt, ULP_TOL)
    with pytest.raises(ValueError):
        B.lerp_backward(None, None, as_device(gs), as_device(g), as_device(s), as_device(e), 0.25)


# ================================================================ backward refs against finite differences
def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name", BACKWARD_OPS + ["lerp", "pow_scalar", "rpow"])
def test_backward_refs_match_finite_differences(rng, name):
    shape = (4, 6)
    g = rng.standard_normal(shape)
    if name == "pow":
        a, b = rng.uniform(0.3, 3.0, shape), rng.uniform(-2, 2, shape)
    elif name in ("remainder", "fmod"):  # keep a / b away from integers (the jumps)
        b = nonzero(rng, shape)
        a = b * (np.round(rng.uniform(-4, 4, shape)) + rng.uniform(0.1, 0.9, shape))
    elif name in ("maximum", "minimum"):
        a = rng.standard_normal(shape)
        b = a + rng.choice([-1, 1], shape) * rng.uniform(0.1, 1, shape)
    elif name == "div":
        a, b = rng.standard_normal(shape), nonzero(rng, shape)
    else:
        a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    if name == "lerp":
        w = rng.uniform(-0.5, 1.5, shape)
        grads = B.lerp_backward_ref(g, a, b, w)
        fd = [central_difference(lambda t: B.lerp_ref(t, b, w), a),
              central_difference(lambda t: B.lerp_ref(a, t, w), b),
              central_difference(lambda t: B.lerp_ref(a, b, t), w)]
    elif name == "pow_scalar":
        x = rng.uniform(0.3, 3.0, shape)
        grads = B.pow_scalar_backward_ref(g, x, 2.7)
        fd = [central_difference(lambda t: B.pow_scalar_ref(t, 2.7), x)]
    elif name == "rpow":
        grads = B.rpow_backward_ref(g, a, 1.9)
        fd = [central_difference(lambda t: B.rpow_ref(t, 1.9), a)]
    else:
        params = {"alpha": -1.5} if name == "sub" else {}
        ref = B.OPS[name].forward_ref
        grads = B.OPS[name].backward_ref(g, a, b, **params)
        fd = [central_difference(lambda t: ref(t, b, **params), a),
              central_difference(lambda t: ref(a, t, **params), b)]
    for got, slope in zip(grads, fd):
        np.testing.assert_allclose(got, g * slope, rtol=1e-6, atol=1e-7)
