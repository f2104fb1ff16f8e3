"""Comparison, logical, bitwise and selection kernels in Triton's interpreter against their NumPy
references (forward and backward), edge values (NaN, inf, out-of-range shifts, clamp's bounds), and
the backward references against central finite differences in float64."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import comparison as C

from tests.conftest import as_device

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float64, np.float16, BF16]
INTS = [np.int32, np.int64, np.uint8]
SHAPE = (5, 7)


def to_device(x):
    return as_device(x) if isinstance(x, np.ndarray) else x


def launch(fn, out_dtype, shape, *inputs, strided_out=False, **params) -> np.ndarray:
    out = np.zeros(shape[::-1], out_dtype).T if strided_out else np.zeros(shape, out_dtype)
    fn(as_device(out), *[to_device(x) for x in inputs], **{k: to_device(v) for k, v in params.items()})
    return out


def values(rng, dt, shape=SHAPE, special=True) -> np.ndarray:
    """Sample values of dt: floats with NaN/inf/ties sprinkled in, small integers, or bools."""
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dt, np.integer):
        return rng.integers(0 if dt == np.uint8 else -9, 10, shape).astype(dt)
    x = np.round(rng.standard_normal(shape) * 4) / 4  # quarter steps: exact ties in every dtype
    if special:
        x.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return x.astype(dt)


def pair(rng, dt):
    """a as a transposed view; b broadcast from a row with stride 0 (ties with a's row 0)."""
    a = values(rng, dt)
    b = np.broadcast_to(a[:1] if dt != np.bool_ else values(rng, dt, (1, SHAPE[1])), SHAPE)
    a = np.ascontiguousarray(a.T).T
    return a, b


def assert_equal(out, ref):
    np.testing.assert_array_equal(np.asarray(out).astype(np.float64), np.asarray(ref).astype(np.float64))


# ================================================================ comparisons
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


# ================================================================ logical and bitwise
@pytest.mark.parametrize("dt", [np.float32, np.float16, np.int32, np.uint8, np.bool_])
def test_logical(rng, dt):
    a, b = pair(rng, dt)
    for name in ("logical_and", "logical_or", "logical_xor"):
        out = launch(getattr(C, name), np.bool_, SHAPE, a, b)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, b), err_msg=name)
    np.testing.assert_array_equal(launch(C.logical_not, np.bool_, SHAPE, a), C.logical_not_ref(a))
    # NaN is true, -0.0 is false (also through a non-bool output, which gets 0/1).
    if dt in (np.float32, np.float16):
        x = np.array([np.nan, -0.0, 0.0, 2.0], dt)
        np.testing.assert_array_equal(launch(C.logical_not, np.float32, (4,), x), [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("dt", INTS + [np.int8, np.bool_])
def test_bitwise(rng, dt):
    if dt == np.bool_:
        a, b = rng.random(SHAPE) < 0.5, rng.random(SHAPE) < 0.5
        scalar = True
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
        b = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
        scalar = 0x5A
    a = np.ascontiguousarray(a.T).T
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        out = launch(getattr(C, name), dt, SHAPE, a, b, strided_out=True)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, b), err_msg=name)
        out = launch(getattr(C, name), dt, SHAPE, a, scalar)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, scalar), err_msg=f"{name} scalar")
    np.testing.assert_array_equal(launch(C.bitwise_not, dt, SHAPE, a), C.bitwise_not_ref(a))


def test_bitwise_refuses_floats():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError):
        launch(C.bitwise_and, np.float32, (3,), x, x)
    with pytest.raises(TypeError):
        launch(C.bitwise_left_shift, np.bool_, (3,), x > 0, x > 0)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_shifts(rng, dt):
    bits = np.dtype(dt).itemsize * 8
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, 24, dtype=dt, endpoint=True)
    a[:3] = [info.min, info.max, 1]
    s = rng.integers(0 if dt == np.uint8 else -3, bits + 3, 24)
    s[3:8] = [0, 1, bits - 1, bits, bits + 1]
    s = s.astype(dt)
    if dt != np.uint8:
        s[-3:] = [-1, -bits, bits + 5]
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        out = launch(getattr(C, name), dt, a.shape, a, s)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, s), err_msg=name)
        for scalar in (3, bits - 1, bits):
            out = launch(getattr(C, name), dt, a.shape, a, scalar)
            np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(a, scalar), err_msg=str(scalar))
    # PyTorch's conventions, spelled out for int8: out-of-range left shifts give 0, right shifts the sign.
    if dt == np.int8:
        x = np.array([-5, 5, 3, -128], np.int8)
        sh = np.array([8, 9, -1, 1], np.int8)
        np.testing.assert_array_equal(launch(C.bitwise_left_shift, dt, (4,), x, sh), [0, 0, 0, 0])
        np.testing.assert_array_equal(launch(C.bitwise_right_shift, dt, (4,), x, sh), [-1, 0, 0, -64])
        wrapped = launch(C.bitwise_left_shift, dt, (1,), np.array([65], np.int8), 1)
        np.testing.assert_array_equal(wrapped, [-126])


# ================================================================ where
@pytest.mark.parametrize("dt", FLOATS + [np.int64, np.uint8, np.bool_])
def test_where(rng, dt):
    a, b = pair(rng, dt)
    cond = rng.random(SHAPE) < 0.5
    assert_equal(launch(C.where, dt, SHAPE, cond, a, b, strided_out=True), C.where_ref(cond, a, b))
    s = True if dt == np.bool_ else 7 if np.issubdtype(dt, np.integer) else 0.1
    s_ref = np.asarray(s).astype(dt)
    assert_equal(launch(C.where, dt, SHAPE, cond, s, b), C.where_ref(cond, s_ref, b))
    assert_equal(launch(C.where, dt, SHAPE, cond, a, s), C.where_ref(cond, a, s_ref))
    assert_equal(launch(C.where, dt, SHAPE, cond, s, 0), C.where_ref(cond, s_ref, np.zeros((), dt)))
    # A uint8 condition (PyTorch's deprecated mask type) selects by nonzero.
    assert_equal(launch(C.where, dt, SHAPE, cond.astype(np.uint8) * 3, a, b), C.where_ref(cond, a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_where_backward(rng, dt):
    g = rng.standard_normal(SHAPE).astype(dt)
    cond = np.broadcast_to(rng.random((1, SHAPE[1])) < 0.5, SHAPE)
    ga, gb = np.zeros(SHAPE, dt), np.zeros(SHAPE[::-1], dt).T
    C.where_backward(as_device(ga), as_device(gb), as_device(g), as_device(cond))
    ra, rb = C.where_backward_ref(g, cond)
    assert_equal(ga, ra)
    assert_equal(gb, rb)
    only_b = np.full(SHAPE, 9.0, dt)
    C.where_backward(None, as_device(only_b), as_device(g), as_device(cond))
    assert_equal(only_b, rb)


# ================================================================ clamp
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
        out = launch(C.clamp, dt, SHAPE, x, min=mn, max=mx)
        assert_equal(out, C.clamp_ref(x, mn, mx))
    assert C.OPS["clip"].forward is C.clamp
    with pytest.raises(TypeError):
        launch(C.clamp, dt, SHAPE, x, min=lo, max=s_hi)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_clamp_nan_and_bounds(dt):
    x = np.array([np.nan, 1.0, -np.inf, np.inf, 0.5], dt)
    lo = np.array([0.0, np.nan, 0.0, 0.0, 2.0], dt)
    hi = np.array([1.0, 2.0, 1.0, 1.0, 1.0], dt)
    assert_equal(launch(C.clamp, dt, x.shape, x, min=lo, max=hi), [np.nan, np.nan, 0.0, 1.0, 1.0])
    assert_equal(launch(C.clamp, dt, x.shape, x, min=0.0, max=1.0), [np.nan, 1.0, 0.0, 1.0, 0.5])
    # 0.1 is not an fp32 value: the fp64 bound must stay exact.
    y = np.array([0.0, 0.1, 1.0], np.float64)
    assert_equal(launch(C.clamp, np.float64, y.shape, y, min=0.1), [0.1, 0.1, 1.0])


@pytest.mark.parametrize("dt", FLOATS)
def test_clamp_backward(rng, dt):
    x = values(rng, dt, special=False)
    g = rng.standard_normal(SHAPE).astype(dt)
    # min: x's first row or half below it, broadcast (stride 0), so ties x == min occur.
    lo = np.broadcast_to(np.where(rng.random((1, SHAPE[1])) < 0.5, x[:1], x[:1] - 0.5).astype(dt), SHAPE)
    # max: ties with min, and some max < min; transposed.
    hi = np.ascontiguousarray((lo + values(rng, dt, special=False)).astype(dt).T).T
    for mn, mx in [(lo, hi), (lo, None), (None, hi), (-0.25, 0.5), (0.25, None), (None, x[2, 3].item())]:
        ref = C.clamp_backward_ref(g, x, mn, mx)
        grads = [np.full(SHAPE, np.nan, dt) if r is not None else None for r in ref]
        C.clamp_backward(*[None if o is None else as_device(o) for o in grads], as_device(g), as_device(x),
                         min=to_device(mn), max=to_device(mx))
        for got, want in zip(grads, ref):
            if want is not None:
                assert_equal(got, want)
    # Only the bound gradients (x's is not needed), and PyTorch's convention at the bounds.
    gmin = np.zeros(SHAPE, dt)
    C.clamp_backward(None, as_device(gmin), None, as_device(g), as_device(x), min=as_device(lo),
                     max=as_device(hi))
    assert_equal(gmin, C.clamp_backward_ref(g, x, lo, hi)[1])
    xb = np.array([1.0, 2.0, 3.0], dt)
    gx = np.zeros(3, dt)
    C.clamp_backward(as_device(gx), None, None, as_device(np.ones(3, dt)), as_device(xb), min=1.0, max=3.0)
    assert_equal(gx, [1.0, 1.0, 1.0])


# ================================================================ isnan, isinf, isfinite, nan_to_num
@pytest.mark.parametrize("dt", FLOATS + [np.int32, np.uint8, np.bool_])
def test_isnan_isinf_isfinite(rng, dt):
    x = values(rng, dt).T
    for name in ("isnan", "isinf", "isfinite"):
        out = launch(getattr(C, name), np.bool_, x.shape, x)
        np.testing.assert_array_equal(out, getattr(C, f"{name}_ref")(x), err_msg=name)
    if dt in FLOATS:
        e = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0], dt)
        np.testing.assert_array_equal(launch(C.isnan, np.bool_, (5,), e), [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(launch(C.isinf, np.bool_, (5,), e), [0, 1, 1, 0, 0])
        np.testing.assert_array_equal(launch(C.isfinite, np.bool_, (5,), e), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("dt", FLOATS)
def test_nan_to_num(rng, dt):
    x = values(rng, dt).T
    e = np.array([np.nan, np.inf, -np.inf, 1.5], dt)
    info = ml_dtypes.finfo(dt)
    assert_equal(launch(C.nan_to_num, dt, (4,), e), [0.0, float(info.max), float(info.min), 1.5])
    for params in [{}, {"nan": 2.0}, {"posinf": 10.0}, {"nan": 1.0, "posinf": 9.0, "neginf": -7.0},
                   {"neginf": -3.0}, {"nan": -1.0, "posinf": 4.0, "neginf": -4.0}]:
        out = launch(C.nan_to_num, dt, x.shape, x, strided_out=True, **params)
        assert_equal(out, C.nan_to_num_ref(x, **params))
    g = rng.standard_normal(x.shape).astype(dt)
    gx = np.zeros(x.shape, dt)
    C.nan_to_num_backward(as_device(gx), as_device(g), as_device(x))
    assert_equal(gx, C.nan_to_num_backward_ref(g, x)[0])


def test_nan_to_num_integers_copy():
    x = np.arange(-3, 4, dtype=np.int32)
    assert_equal(launch(C.nan_to_num, np.int32, x.shape, x, nan=5.0), x)


# ================================================================ isclose
@pytest.mark.parametrize("dt", FLOATS)
def test_isclose_floats(rng, dt):
    a = values(rng, dt)
    b = (a.astype(np.float64) + rng.standard_normal(SHAPE) * 10.0 ** rng.integers(-8, 0, SHAPE)).astype(dt)
    b.flat[:6] = [np.nan, np.inf, -np.inf, 0.0, np.nan, 1.0]  # vs NaN, inf, -inf, -0.0 ...
    b = np.ascontiguousarray(b.T).T
    for rtol, atol, equal_nan in [(1e-5, 1e-8, False), (1e-5, 1e-8, True), (1e-2, 0.0, False),
                                  (0.0, 0.0, True), (0.0, 1e-3, False)]:
        out = launch(C.isclose, np.bool_, SHAPE, a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        np.testing.assert_array_equal(out, C.isclose_ref(a, b, rtol, atol, equal_nan))


def test_isclose_rounds_like_the_tensor_dtype():
    # fp16: |a - b| and the tolerance are rounded to fp16 after each step (PyTorch computes in the
    # tensor's dtype); 60000 - (-60000) overflows fp16 to inf, so it is never "close".
    a = np.array([1.0, 60000.0, 1.0], np.float16)
    b = np.array([np.float16(1.0) + np.float16(2.0**-10), -60000.0, 1.001], np.float16)
    out = launch(C.isclose, np.bool_, (3,), a, b, rtol=0.0, atol=2.0**-10)
    np.testing.assert_array_equal(out, C.isclose_ref(a, b, 0.0, 2.0**-10))
    np.testing.assert_array_equal(out, [True, False, True])
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


# ================================================================ registry and finite differences
def test_ops_table():
    for name, entry in C.OPS.items():
        assert callable(entry.forward) and callable(entry.forward_ref), name
        assert (entry.backward is None) == (entry.backward_ref is None), name
    assert {name for name, e in C.OPS.items() if e.backward} == {"where", "clamp", "clip", "nan_to_num"}


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_backward_refs_match_finite_differences(rng):
    shape = (4, 6)
    g = rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    lo = x + rng.choice([-1, 1], shape) * rng.uniform(0.1, 0.5, shape)  # away from the kinks
    hi = lo + rng.choice([-1, 1], shape) * rng.uniform(0.1, 0.5, shape)  # some max < min
    gx, gmin, gmax = C.clamp_backward_ref(g, x, lo, hi)
    np.testing.assert_allclose(gx, g * central_difference(lambda t: C.clamp_ref(t, lo, hi), x), atol=1e-7)
    np.testing.assert_allclose(gmin, g * central_difference(lambda t: C.clamp_ref(x, t, hi), lo), atol=1e-7)
    np.testing.assert_allclose(gmax, g * central_difference(lambda t: C.clamp_ref(x, lo, t), hi), atol=1e-7)
    gx, _, _ = C.clamp_backward_ref(g, x, -0.3, 0.4)
    mask = (np.abs(x + 0.3) > 1e-3) & (np.abs(x - 0.4) > 1e-3)
    slope = central_difference(lambda t: C.clamp_ref(t, -0.3, 0.4), x)
    np.testing.assert_allclose(gx[mask], (g * slope)[mask], atol=1e-7)
    a, b, cond = rng.standard_normal(shape), rng.standard_normal(shape), rng.random(shape) < 0.5
    ga, gb = C.where_backward_ref(g, cond)
    np.testing.assert_allclose(ga, g * central_difference(lambda t: C.where_ref(cond, t, b), a), atol=1e-7)
    np.testing.assert_allclose(gb, g * central_difference(lambda t: C.where_ref(cond, a, t), b), atol=1e-7)
    (gn,) = C.nan_to_num_backward_ref(g, x)
    np.testing.assert_allclose(gn, g * central_difference(C.nan_to_num_ref, x), atol=1e-7)
