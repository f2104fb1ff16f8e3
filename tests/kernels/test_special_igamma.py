"""kernels/special_igamma.py: the P(a, x) / Q(a, x) Triton kernels in the interpreter against SciPy (float64),
region by region of the three expansions, in fp32 and fp64 (fp16/bf16 through the fp32 math), with PyTorch's
edge values, a broadcast (stride-0) operand and a non-contiguous one; and the references' own edge values."""

import ml_dtypes
import numpy as np
import pytest
from scipy import special as sp
from tritensor.kernels import special_igamma as K

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
FNS = {"igamma": (K.igamma, K.igamma_ref, sp.gammainc), "igammac": (K.igammac, K.igammac_ref, sp.gammaincc)}
# fp32 computes in fp32. The exponent of x^a e^-x / Gamma(a) is conditioned like |a - x| (up to a few hundred
# here) and a series of O(sqrt(a)) terms adds their roundings, so a ~ 1e3 costs fp64 two to three digits; the
# far tails (values below 1e-3, compared down to 1e-20) a few more.
RTOL = {np.float32: 4e-6, np.float64: 5e-13}
TAIL_RTOL = {np.float32: 4e-5, np.float64: 1e-11}


def _run(fn, a, x):
    out = np.empty(np.broadcast_shapes(a.shape, x.shape), np.result_type(a, x))
    # Every lane computes every expansion in the interpreter (where-based), so unused ones see 0/0, log(0), ...
    with np.errstate(all="ignore"):
        fn(as_device(out), as_device(a), as_device(x))
    return out


def _regions(rng):
    """(a, x) pairs over every branch: series (x < a), fraction (x > a, x > 1.1), the small-x/small-a series,
    x ~ a (the Lanczos prefactor) for small and large a, and tails."""
    small = (rng.uniform(1e-3, 1.2, 40), rng.uniform(1e-3, 1.1, 40))
    series = (rng.uniform(1, 30, 40), None)
    near = (10 ** rng.uniform(-1, 3.5, 60), None)
    tails = (10 ** rng.uniform(0, 3, 30), None)
    a = np.concatenate([small[0], series[0], near[0], tails[0]])
    x = np.concatenate([small[1], series[0] * rng.uniform(0.05, 3, 40), near[0] * rng.uniform(0.7, 1.3, 60),
                        tails[0] * rng.choice([0.2, 3.0], 30)])
    return a, x


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(FNS))
def test_kernel_matches_scipy_over_every_region(rng, name, dt):
    fn, _, want_fn = FNS[name]
    a, x = (v.astype(dt) for v in _regions(rng))
    got = _run(fn, a, x).astype(np.float64)
    want = want_fn(a.astype(np.float64), x.astype(np.float64))
    big = want > 1e-3
    np.testing.assert_allclose(got[big], want[big], rtol=RTOL[dt])
    tail = (want > 1e-20) & ~big
    np.testing.assert_allclose(got[tail], want[tail], rtol=TAIL_RTOL[dt])
    assert np.all(got >= 0) and np.all(got <= 1)


def test_complement(rng):
    # P + Q = 1 where neither is tiny: the two kernels pick different expansions for the same lane.
    a, x = (v[::3].astype(np.float64) for v in _regions(rng))  # every region, a third of the lanes
    total = _run(K.igamma, a, x) + _run(K.igammac, a, x)
    np.testing.assert_allclose(total, 1.0, rtol=1e-14)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(FNS))
def test_edge_values_follow_pytorch(name, dt):
    nan, inf = np.nan, np.inf
    pairs = [(nan, 0), (nan, 1), (1, nan), (0, nan), (inf, nan), (nan, inf), (0, 0), (0, 1), (inf, inf), (inf, 1),
             (1, inf), (0, inf), (-1, 1), (1, -1), (1, -0.0), (-0.0, 1), (2, 0), (-inf, 1), (1, -inf)]
    a = np.array([p[0] for p in pairs], dt)
    x = np.array([p[1] for p in pairs], dt)
    lower = np.array([0, nan, nan, nan, 0, 1, nan, 1, nan, 0, 1, 1, nan, nan, 0, 1, 0, nan, nan], np.float64)
    want = lower if name == "igamma" else 1 - lower
    got = _run(FNS[name][0], a, x).astype(np.float64)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(FNS[name][1](a, x).astype(np.float64), want)  # the reference's edges too


@pytest.mark.parametrize("name", list(FNS))
def test_broadcast_and_strided_operands(rng, name):
    fn, ref, _ = FNS[name]
    a = np.ascontiguousarray(rng.uniform(0.2, 6, (7, 5)).T).T  # a transposed, non-contiguous view
    x_row = rng.uniform(0.05, 9, (1, 5))
    x = np.broadcast_to(x_row, (7, 5))  # stride 0 along the rows
    got = _run(fn, a, x)
    np.testing.assert_allclose(got, ref(a, x), rtol=RTOL[np.float64])
    col = np.broadcast_to(a[:, :1], (7, 5))  # both operands stride 0, along different axes
    got = _run(fn, col, x)
    np.testing.assert_allclose(got, ref(a[:, :1], x_row), rtol=RTOL[np.float64])


@pytest.mark.parametrize("dt", [np.float16, BF16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("name", list(FNS))
def test_half_precision_computes_in_fp32(rng, name, dt):
    fn, ref, _ = FNS[name]
    a = rng.uniform(0.3, 8, 33).astype(dt)
    x = rng.uniform(0.05, 10, 33).astype(dt)
    got = _run(fn, a, x).astype(np.float64)
    want = ref(a.astype(np.float64), x.astype(np.float64))  # the same rounded inputs, exact math
    # One rounding of the fp32 result to 16 bits (the interpreter truncates bf16 on store: up to one ulp).
    np.testing.assert_allclose(got, want, rtol=2e-3 if dt == np.float16 else 8e-3, atol=1e-4)


def test_reference_keeps_dtype_and_broadcasts():
    a = np.array([[1.0], [2.0]], np.float32)
    x = np.array([0.5, 1.0, 4.0], np.float32)
    got = K.igamma_ref(a, x)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got[0], 1 - np.exp(-x), rtol=1e-6)  # P(1, x) = 1 - e^-x
    np.testing.assert_allclose(K.igammac_ref(a, x)[0], np.exp(-x), rtol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(FNS))
def test_large_orders_take_the_uniform_expansion(rng, name, dt):
    # a above TEMME_A, x within 4 sqrt(a) of a: where SciPy's own Temme expansion runs (so it is exact there).
    fn, _, want_fn = FNS[name]
    a = 10 ** rng.uniform(np.log10(K.TEMME_A.value), 7, 40)
    x = a + rng.uniform(-4, 4, 40) * np.sqrt(a)
    a, x = a.astype(dt), x.astype(dt)
    got = _run(fn, a, x).astype(np.float64)
    want = want_fn(a.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=RTOL[dt])


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name", list(FNS))
def test_extreme_orders_and_limits(name, dt):
    # Subnormal and huge operands on a grid: no overflow of lgamma, A(a) or a ratio turns into a wrong 0, 1 or NaN.
    tiny = 1e-40 if dt == np.float32 else 1e-300  # subnormal in fp32
    vals = np.array([tiny, 1e-10, 0.01, 0.5, 1.05, 20.1, 201.0, 5.1e4, 1e10, 1e30])
    a, x = (v.ravel().astype(dt) for v in np.meshgrid(vals, vals))
    fn, ref, _ = FNS[name]
    got = _run(fn, a, x).astype(np.float64)
    want = ref(a.astype(np.float64), x.astype(np.float64)).astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=TAIL_RTOL[dt], atol=1e-30 if dt == np.float32 else 1e-290)
