"""The torch.special kernels (kernels/special_gamma.py, special_erf.py, special_bessel.py and the sinc, entr,
logit, xlogy, xlog1py math of special.py) in Triton's interpreter against SciPy in float64, fp32 and fp64,
over the whole range each approximation covers, with edge values."""

import math

import numpy as np
import pytest
from scipy import special as sp
from tritensor.kernels import special as KS
from tritensor.kernels import special_bessel as KB
from tritensor.kernels import special_erf as KE
from tritensor.kernels import special_gamma as KG

from tests.conftest import as_device

# fp32 computes in fp32: a few ulp, more where the function's condition number is large.
RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def _run(fn, *arrays, **params):
    out = np.empty(np.broadcast_shapes(*(a.shape for a in arrays)), arrays[0].dtype)
    # Unused branches of the where-based math see out-of-domain lanes (log(0), 0/0) on the interpreter.
    with np.errstate(all="ignore"):
        fn(as_device(out), *(as_device(a) for a in arrays), **params)
    return out


def _check(got, want, rtol, atol=0.0):
    want = np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
def test_gamma_family(rng, dt):
    x = np.concatenate([rng.uniform(-20, 20, 200), rng.uniform(0, 3, 50), np.logspace(-8, 10, 20)])
    x = x[np.abs(x - np.round(x)) > 1e-3].astype(dt)
    ref = x.astype(np.float64)
    _check(_run(KG.lgamma, x), sp.gammaln(ref), RTOL[dt] * 4, RTOL[dt] * 4)
    _check(_run(KG.digamma, x), sp.psi(ref), RTOL[dt] * 20, RTOL[dt] * 4)  # near the poles 1/(x - n)
    for n in (1, 2, 4):
        _check(_run(KG.polygamma, x, n=n), KG._np_polygamma(n, ref), RTOL[dt] * 20, RTOL[dt])
    s, q = rng.uniform(1.1, 10, 64).astype(dt), rng.uniform(0.01, 20, 64).astype(dt)
    _check(_run(KG.zeta, s, q), sp.zeta(s.astype(np.float64), q.astype(np.float64)), RTOL[dt] * 4)
    # Negative non-integer q with integer s: the direct terms (SciPy has NaN there; the reference sums them).
    qn = np.array([-2.5, -0.3, -7.25], dt)
    _check(_run(KG.zeta, np.full(3, 3.0, dt), qn), KG._np_zeta(3.0, qn.astype(np.float64)), RTOL[dt] * 10)


def test_gamma_edge_values():
    x = np.array([0.0, -0.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 1.0, 2.0])
    np.testing.assert_array_equal(_run(KG.lgamma, x), [np.inf, np.inf, np.inf, np.inf, np.inf, np.inf, np.nan, 0, 0])
    np.testing.assert_array_equal(_run(KG.digamma, x)[:7], [-np.inf, np.inf, np.nan, np.nan, np.inf, np.nan, np.nan])
    s = np.array([1.0, 0.5, 2.0, 2.5, 2.0])
    q = np.array([1.0, 1.0, -1.0, -0.5, np.inf])
    np.testing.assert_array_equal(_run(KG.zeta, s, q), [np.inf, np.nan, np.inf, np.nan, 0.0])


def _math_erfc(a):
    # SciPy's erfc takes exp(-x^2) unsplit (about 1e-13 off at x = 25); C's erfc is the float64 reference.
    return np.vectorize(math.erfc)(a.astype(np.float64))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
def test_error_function_family(rng, dt):
    top = 26.0 if dt == np.float64 else 9.0
    x = np.concatenate([rng.uniform(-5, top, 200), np.linspace(0.45, 0.55, 11)]).astype(dt)
    _check(_run(KE.erfc, x), _math_erfc(x), RTOL[dt] * 4)
    z = (rng.uniform(-8, 8, 100)).astype(dt)
    ndtr = 0.5 * _math_erfc(-z.astype(np.float64) / math.sqrt(2))
    # ndtr(z) = erfc(-z/sqrt 2)/2: rounding z/sqrt 2 costs z^2 ulp in the tail, in PyTorch too.
    _check(_run(KE.ndtr, z), ndtr, RTOL[dt] * 40)
    _check(_run(KE.log_ndtr, z), sp.log_ndtr(z.astype(np.float64)), RTOL[dt] * 40)
    tiny = 1e-300 if dt == np.float64 else 1e-37
    p = np.concatenate([rng.uniform(0, 1, 100), np.logspace(math.log10(tiny), -1, 40), [0.25, 0.5, 0.75]]).astype(dt)
    _check(_run(KE.ndtri, p), sp.ndtri(p.astype(np.float64)), RTOL[dt] * 4)
    e = np.concatenate([rng.uniform(-1, 1, 100), 1 - np.logspace(-6, -1, 10), [0.5, -0.5, 1e-10]]).astype(dt)
    _check(_run(KE.erfinv, e), sp.erfinv(e.astype(np.float64)), RTOL[dt] * 4)


def test_error_function_edge_values():
    np.testing.assert_array_equal(_run(KE.erfinv, np.array([1.0, -1.0, 0.0, 1.5, np.nan])),
                                  [np.inf, -np.inf, 0.0, np.nan, np.nan])
    np.testing.assert_array_equal(_run(KE.ndtri, np.array([0.0, 1.0, -0.1, np.nan, 0.5])),
                                  [-np.inf, np.inf, np.nan, np.nan, 0.0])
    np.testing.assert_array_equal(_run(KE.erfc, np.array([np.inf, -np.inf, np.nan])), [0.0, 2.0, np.nan])
    got = _run(KE.log_ndtr, np.array([np.inf, -np.inf, -40.0]))
    np.testing.assert_allclose(got, [0.0, -np.inf, sp.log_ndtr(-40.0)], rtol=1e-14)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", ["i0", "i0e", "i1", "i1e", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"])
def test_bessel(rng, dt, name):
    top = 700.0 if dt == np.float64 else 80.0
    x = np.concatenate([rng.uniform(-40, 40, 60), np.logspace(-5, math.log10(top), 30), -np.logspace(-5, 1, 8),
                        [20.0, 20.5, 25.0, 25.5, 1e-3, 9e-4]]).astype(dt)
    ref = getattr(sp, name.replace("bessel_", ""))(x.astype(np.float64))
    # J and Y oscillate: their accuracy is absolute near the zeros.
    atol = RTOL[dt] * 4 if name.startswith("bessel") else 0.0
    _check(_run(getattr(KB, name), x), ref, RTOL[dt] * 40 if name in ("i0", "i1") else RTOL[dt] * 4, atol)


def test_bessel_edge_values():
    x = np.array([0.0, -1.0, np.inf, np.nan])
    np.testing.assert_array_equal(_run(KB.bessel_y0, x), [-np.inf, np.nan, 0.0, np.nan])
    np.testing.assert_allclose(_run(KB.bessel_j0, x[:3]), [1.0, sp.j0(-1.0), 0.0], rtol=1e-15)
    np.testing.assert_array_equal(_run(KB.i0, np.array([np.inf, -np.inf, 0.0])), [np.inf, np.inf, 1.0])


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
def test_misc_special(rng, dt):
    x = np.concatenate([rng.uniform(-30, 30, 50), [0.0, 1.0, -2.0, 1e-8, 1e7 + 0.5]]).astype(dt)
    _check(_run(KS.sinc, x), np.sinc(x.astype(np.float64)), RTOL[dt] * 4, RTOL[dt])
    _check(_run(KS.entr, x), sp.entr(x.astype(np.float64)), RTOL[dt] * 4)
    p = np.array([0.0, 0.2, 0.5, 0.9, 1.0, -0.1, 1.2], dt)
    _check(_run(KS.logit, p, np.full(7, -1.0, dt)), sp.logit(p.astype(np.float64)), RTOL[dt])
    clamped = np.clip(p.astype(np.float64), 0.05, 0.95)
    _check(_run(KS.logit, p, np.full(7, 0.05, dt)), sp.logit(clamped), RTOL[dt] * 4)
    a = np.array([0.0, 0.0, 2.0, -1.5, 3.0], dt)
    b = np.array([0.0, np.nan, 3.0, 0.5, -0.5], dt)
    _check(_run(KS.xlogy, a, b), [0.0, np.nan, 2 * math.log(3.0), -1.5 * math.log(0.5), np.nan], RTOL[dt])
    _check(_run(KS.xlog1py, a, b), sp.xlog1py(a.astype(np.float64), b.astype(np.float64)), RTOL[dt])


BACKWARD = {**{k: KE.OPS[k] for k in KE.OPS}, "lgamma": KG.OPS["lgamma"], "digamma": KG.OPS["digamma"],
            **KB.OPS, **KS.SPECIAL_OPS}
DOMAIN = {"erfinv": (-0.95, 0.95), "ndtri": (0.02, 0.98), "entr": (0.05, 3.0), "lgamma": (0.1, 8.0),
          "digamma": (0.1, 8.0)}


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(BACKWARD))
def test_backward_kernels_match_references(rng, dt, name):
    op = BACKWARD[name]
    lo, hi = DOMAIN.get(name, (-4.0, 4.0))
    x = rng.uniform(lo, hi, 37).astype(dt)
    grad = rng.standard_normal(37).astype(dt)
    saved = op.forward_ref(x) if op.saves == "output" else x
    got = _run(op.backward, grad, saved)
    (want,) = op.backward_ref(grad.astype(np.float64), saved.astype(np.float64))
    _check(got, want, RTOL[dt] * 20, RTOL[dt])


def test_polygamma_backward_kernel(rng):
    x = rng.uniform(0.3, 5.0, 19)
    grad = rng.standard_normal(19)
    for n in (0, 2):
        _check(_run(KG.polygamma_backward, grad, x, n=n), KG.polygamma_backward_ref(grad, x, n=n)[0], 1e-12)
