"""ops/composite_math.py on cpu and interpreted cuda against NumPy: logaddexp(2), copysign, signbit,
deg2rad/rad2deg, positive, sgn, frac, heaviside, float_power, gcd/lcm, nansum/nanmean, diff, trapezoid,
cumulative_trapezoid, renorm, dist, logcumsumexp; float64 gradchecks, in-place and out= forms, every error."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, **kw):
    return tt.tensor(np.asarray(a), device=device, **kw)


@pytest.mark.parametrize("device", DEVICES)
def test_logaddexp_and_logaddexp2(device, rng):
    a = np.concatenate([rng.standard_normal(6) * 30, [-np.inf, np.inf, -np.inf, 1.0, np.nan]]).astype(np.float32)
    b = np.concatenate([rng.standard_normal(6) * 30, [-np.inf, np.inf, 2.0, np.inf, 0.0]]).astype(np.float32)
    x, y = _t(a, device), _t(b, device)
    with np.errstate(invalid="ignore"):  # NumPy warns on the NaN lane; the op itself must not
        ref, ref2 = np.logaddexp(a, b), np.logaddexp2(a, b)
    np.testing.assert_allclose(_np(tt.logaddexp(x, y)), ref, rtol=1e-6)
    np.testing.assert_allclose(_np(x.logaddexp2(y)), ref2, rtol=1e-6)
    big = _t(np.array([1000.0, -1000.0], np.float32), device)
    np.testing.assert_allclose(_np(tt.logaddexp(big, big)), [1000 + math.log(2), -1000 + math.log(2)], rtol=1e-6)
    out = tt.empty(11, device=device)
    assert tt.logaddexp(x, y, out=out) is out
    np.testing.assert_allclose(_np(out), ref, rtol=1e-6)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tt.logaddexp(_t([1], device), _t([2], device))


def test_logaddexp_gradcheck(rng):
    a = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    b = tt.tensor(rng.standard_normal(4), dtype=tt.float64, requires_grad=True)
    assert gradcheck(tt.logaddexp, (a, b))
    assert gradcheck(tt.logaddexp2, (a, b))


@pytest.mark.parametrize("device", DEVICES)
def test_copysign_signbit(device):
    a = np.array([1.0, -2.0, 3.0, 0.0, -0.0, np.inf], np.float32)
    b = np.array([-1.0, 2.0, -0.0, -5.0, 1.0, -np.inf], np.float32)
    x, y = _t(a, device), _t(b, device)
    np.testing.assert_array_equal(_np(tt.copysign(x, y)), np.copysign(a, b))
    assert np.array_equal(np.signbit(_np(tt.copysign(x, y))), np.signbit(np.copysign(a, b)))
    np.testing.assert_array_equal(_np(tt.signbit(y)), np.signbit(b))
    np.testing.assert_array_equal(_np(tt.signbit(_t([-3, 0, 4], device))), [True, False, False])
    np.testing.assert_array_equal(_np(tt.copysign(_t([1, 2], device), -1.0)), [-1.0, -2.0])
    assert tt.copysign(_t([1, 2], device), _t([1, -1], device)).dtype is tt.float32
    z = x.clone()
    z.copysign_(y)
    np.testing.assert_array_equal(_np(z), np.copysign(a, b))
    assert tt.signbit(y).dtype is tt.bool


def test_copysign_gradcheck(rng):
    a = tt.tensor(rng.standard_normal(5) + 0.5, dtype=tt.float64, requires_grad=True)
    b = tt.tensor(rng.standard_normal(5), dtype=tt.float64)
    assert gradcheck(lambda x: tt.copysign(x, b), (a,))


@pytest.mark.parametrize("device", DEVICES)
def test_degrees_positive_sgn_frac(device):
    a = np.array([180.0, -90.0, 45.5, 0.0], np.float32)
    x = _t(a, device)
    np.testing.assert_allclose(_np(tt.deg2rad(x)), np.deg2rad(a), rtol=1e-6)
    np.testing.assert_allclose(_np(x.rad2deg()), np.rad2deg(a), rtol=1e-6)
    ints = tt.deg2rad(_t([180, 90], device))
    assert ints.dtype is tt.float32
    np.testing.assert_allclose(_np(ints), [math.pi, math.pi / 2], rtol=1e-6)
    y = x.clone()
    y.deg2rad_()
    np.testing.assert_allclose(_np(y), np.deg2rad(a), rtol=1e-6)
    y.rad2deg_()
    np.testing.assert_allclose(_np(y), a, rtol=1e-5)
    assert tt.positive(x) is x and x.positive() is x
    with pytest.raises(RuntimeError, match="on a bool tensor is not supported"):
        tt.positive(_t([True], device))
    np.testing.assert_array_equal(_np(tt.sgn(_t([-2.0, 0.0, 3.0], device))), [-1.0, 0.0, 1.0])
    f = np.array([1.5, -2.25, 3.0, -0.5], np.float32)
    np.testing.assert_array_equal(_np(tt.frac(_t(f, device))), f - np.trunc(f))
    z = _t(f, device)
    z.frac_()
    np.testing.assert_array_equal(_np(z), f - np.trunc(f))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tt.frac(_t([1], device))


def test_sgn_complex_and_inplace():
    z = tt.tensor(np.array([3 + 4j, 0j, -2j], np.complex64))
    np.testing.assert_allclose(_np(tt.sgn(z)), [0.6 + 0.8j, 0, -1j], rtol=1e-6)
    x = tt.tensor([-3.0, 2.0])
    x.sgn_()
    np.testing.assert_array_equal(_np(x), [-1.0, 1.0])


@pytest.mark.parametrize("device", DEVICES)
def test_heaviside(device):
    a = np.array([-1.5, 0.0, 2.0, 0.0, np.nan], np.float32)
    v = np.array([0.5, 0.25, 9.0, 7.0, 1.0], np.float32)
    # PyTorch's kernel is `a == 0 ? b : a > 0`, so NaN gives 0 (NumPy's heaviside would give NaN).
    np.testing.assert_array_equal(_np(tt.heaviside(_t(a, device), _t(v, device))), [0.0, 0.25, 1.0, 7.0, 0.0])
    x = _t([-2, 0, 3], device)
    x.heaviside_(_t([5], device))
    np.testing.assert_array_equal(_np(x), [0, 5, 1])
    with pytest.raises(RuntimeError, match="different dtypes"):
        tt.heaviside(_t([1.0], device), _t([1], device))


@pytest.mark.parametrize("device", DEVICES)
def test_float_power(device):
    r = tt.float_power(_t([2, 3], device), 2)
    assert r.dtype is tt.float64
    np.testing.assert_array_equal(_np(r), [4.0, 9.0])
    r = tt.float_power(2, _t([0.5, -1.0], device))
    np.testing.assert_allclose(_np(r), [math.sqrt(2), 0.5])
    x = _t([2.0, 4.0], device, dtype=tt.float64)
    x.float_power_(0.5)
    np.testing.assert_allclose(_np(x), [math.sqrt(2), 2.0])
    with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float but the operation's "
                                           "result requires dtype Double"):
        tt.tensor([2.0], device=device).float_power_(2)


@pytest.mark.parametrize("device", DEVICES)
def test_gcd_lcm(device, rng):
    a = rng.integers(-30, 30, 8)
    b = rng.integers(-30, 30, 8)
    a[:2], b[:2] = 0, [0, 7]
    x, y = _t(a, device), _t(b, device)
    np.testing.assert_array_equal(_np(tt.gcd(x, y)), np.gcd(a, b))
    np.testing.assert_array_equal(_np(x.lcm(y)), np.lcm(a, b))
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        tt.gcd(tt.tensor([1.0], device=device), tt.tensor([2.0], device=device))


def test_gcd_lcm_inplace_and_broadcast():
    a, b = np.array([12, 18, -27]), np.array([8])
    z = tt.tensor(a)
    z.gcd_(tt.tensor(b))
    np.testing.assert_array_equal(_np(z), np.gcd(a, b))
    z = tt.tensor(a)
    z.lcm_(tt.tensor(b))
    np.testing.assert_array_equal(_np(z), np.lcm(a, b))
    np.testing.assert_array_equal(_np(tt.gcd(tt.tensor(a), 6)), np.gcd(a, 6))


@pytest.mark.parametrize("device", DEVICES)
def test_nansum_nanmean(device, rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    a[0, 1] = a[2, 3] = np.nan
    a[1, :] = np.nan
    x = _t(a, device)
    np.testing.assert_allclose(_np(tt.nansum(x)), np.nansum(a), rtol=1e-5)
    np.testing.assert_allclose(_np(x.nansum(1, keepdim=True)), np.nansum(a, 1, keepdims=True), rtol=1e-5)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmean(a, 1)
    np.testing.assert_allclose(_np(tt.nanmean(x, 1)), expected, rtol=1e-5)
    np.testing.assert_allclose(_np(x.nanmean()), np.nanmean(a), rtol=1e-5)
    assert tt.nansum(_t([1, 2, 3], device)).item() == 6
    with pytest.raises(RuntimeError, match="expected input to have floating point or complex dtype but got Long"):
        tt.nanmean(_t([1, 2], device))


def test_nansum_nanmean_gradcheck(rng):
    a = rng.standard_normal((3, 4))
    a[0, 1] = np.nan
    x = tt.tensor(a, requires_grad=True)
    tt.nansum(x).backward()
    expected = np.ones_like(a)
    expected[0, 1] = 0
    np.testing.assert_array_equal(_np(x.grad), expected)
    y = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: tt.nanmean(t, 0), (y,))


@pytest.mark.parametrize("device", DEVICES)
def test_diff(device, rng):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    x = _t(a, device)
    np.testing.assert_allclose(_np(tt.diff(x)), np.diff(a), rtol=1e-6)
    np.testing.assert_allclose(_np(x.diff(2, 0)), np.diff(a, 2, 0), rtol=1e-5, atol=1e-6)
    p, q = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((3, 1)).astype(np.float32)
    np.testing.assert_allclose(_np(tt.diff(x, 1, -1, _t(p, device), _t(q, device))),
                               np.diff(a, 1, -1, prepend=p, append=q), rtol=1e-5, atol=1e-6)
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(_np(tt.diff(_t(b, device))), np.diff(b))
    assert tuple(tt.diff(x, 7).shape) == (3, 0)
    assert tt.diff(x, 0) is x
    with pytest.raises(RuntimeError, match="diff expects input to be at least one-dimensional"):
        tt.diff(_t(1.0, device))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        tt.diff(x, -1)
    with pytest.raises(RuntimeError, match="diff expects prepend or append to be the same dimension as input"):
        tt.diff(x, prepend=_t([1.0, 2.0], device))


def test_diff_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(lambda t: tt.diff(t, 2, 1), (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_trapezoid(device, rng):
    y = rng.standard_normal((3, 5)).astype(np.float32)
    xs = np.sort(rng.standard_normal(5)).astype(np.float32)
    yt = _t(y, device)
    np.testing.assert_allclose(_np(tt.trapezoid(yt)), np.trapezoid(y), rtol=1e-5)
    np.testing.assert_allclose(_np(tt.trapezoid(yt, dx=0.5, dim=0)), np.trapezoid(y, dx=0.5, axis=0), rtol=1e-5)
    np.testing.assert_allclose(_np(tt.trapezoid(yt, _t(xs, device))), np.trapezoid(y, xs), rtol=1e-5)
    np.testing.assert_allclose(_np(tt.trapz(yt, _t(xs, device))), np.trapezoid(y, xs), rtol=1e-5)
    xf = np.sort(rng.standard_normal((3, 5)), 1).astype(np.float32)
    np.testing.assert_allclose(_np(tt.trapezoid(yt, _t(xf, device))), np.trapezoid(y, xf), rtol=1e-5)
    cum = np.cumsum((y[:, 1:] + y[:, :-1]) / 2 * np.diff(xs), -1)
    np.testing.assert_allclose(_np(tt.cumulative_trapezoid(yt, _t(xs, device))), cum, rtol=1e-5, atol=1e-6)
    assert tt.trapezoid(_t([1, 2, 3], device)).item() == 4.0
    with pytest.raises(RuntimeError, match="There must be one `x` value for each sample point"):
        tt.trapezoid(yt, _t([1.0, 2.0], device))


def test_trapezoid_gradcheck(rng):
    y = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    x = tt.tensor(np.sort(rng.standard_normal(4)), requires_grad=True)
    assert gradcheck(tt.trapezoid, (y, x))
    assert gradcheck(lambda a: tt.cumulative_trapezoid(a, dx=0.3), (y,))


@pytest.mark.parametrize("device", DEVICES)
def test_renorm_and_dist(device, rng):
    a = (rng.standard_normal((3, 4)) * 3).astype(np.float32)
    x = _t(a, device)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    expected = np.where(norms > 2.0, a * (2.0 / (norms + 1e-7)), a)
    np.testing.assert_allclose(_np(tt.renorm(x, 2, 0, 2.0)), expected, rtol=1e-5)
    z = x.clone()
    z.renorm_(2, 0, 2.0)
    np.testing.assert_allclose(_np(z), expected, rtol=1e-5)
    b = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(_np(tt.dist(x, _t(b, device))), np.linalg.norm((a - b).ravel()), rtol=1e-5)
    np.testing.assert_allclose(_np(x.dist(_t(b, device), 1)), np.abs(a - b).sum(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="renorm: non-positive-norm not supported"):
        tt.renorm(x, 0, 0, 1.0)
    with pytest.raises(RuntimeError, match="renorm: expected maxnorm to be >= 0 but got -1"):
        tt.renorm(x, 2, 0, -1)
    with pytest.raises(RuntimeError, match="renorm: input needs at least 2 dimensions, got 1 dimensions"):
        tt.renorm(_t(b, device), 2, 0, 1.0)


def test_renorm_dist_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    y = tt.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda t: tt.renorm(t, 2, 0, 1.5), (x,))
    assert gradcheck(lambda a, b: tt.dist(a, b, 3), (x, y))


@pytest.mark.parametrize("device", DEVICES)
def test_logcumsumexp(device, rng):
    a = (rng.standard_normal((3, 7)) * 5).astype(np.float32)
    a[0, 0] = -1000.0
    a[1, 2] = -np.inf
    x = _t(a, device)
    with np.errstate(divide="ignore"):
        expected = np.log(np.cumsum(np.exp(a.astype(np.float64)), 1))
    expected[0, 0] = -1000.0
    np.testing.assert_allclose(_np(tt.logcumsumexp(x, 1)), expected, rtol=1e-5)
    np.testing.assert_allclose(_np(x.logcumsumexp(0)), np.logaddexp.accumulate(a, 0), rtol=1e-5)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tt.logcumsumexp(_t([1, 2], device), 0)


def test_logcumsumexp_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert gradcheck(lambda t: tt.logcumsumexp(t, 1), (x,))


def test_type_errors():
    with pytest.raises(TypeError, match=r"logaddexp\(\): argument 'input' must be Tensor, not list"):
        tt.logaddexp([1.0], tt.tensor([1.0]))
    with pytest.raises(TypeError, match=r"diff\(\): argument 'input' must be Tensor, not int"):
        tt.diff(3)


def test_dtype_rules_and_remaining_errors():
    ints = tt.tensor([[1, 2], [3, 4]])
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or complex tensor as "
                                           "input. Got Long"):
        tt.dist(ints, ints)
    with pytest.raises(RuntimeError, match="\"renorm_cpu\" not implemented for 'Long'"):
        tt.renorm(ints, 2, 0, 1.0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.trapezoid(tt.tensor(1.0))
    with pytest.raises(RuntimeError, match="heaviside is not yet implemented for complex tensors."):
        tt.heaviside(tt.tensor(np.array([1j], np.complex64)), tt.tensor(np.array([1j], np.complex64)))
    got = tt.nanmean(ints, dtype=tt.float64)
    assert got.dtype is tt.float64 and got.item() == 2.5
    assert tt.nansum(ints, 0, dtype=tt.float32).dtype is tt.float32
    assert tt.cumulative_trapezoid(ints).dtype is tt.float32
    np.testing.assert_array_equal(_np(tt.cumulative_trapezoid(ints)), [[1.5], [3.5]])
    assert tt.positive(ints) is ints
    out = tt.empty(2, 2)
    assert tt.copysign(ints, -1, out=out) is out
    np.testing.assert_array_equal(_np(out), -_np(ints))
