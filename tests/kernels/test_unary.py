"""Unary math kernels in Triton's interpreter against their NumPy references (forward and backward),
and the backward references against central finite differences in float64."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import unary as U

from tests.conftest import as_device

# Lanes past the end of a block load 0 in the interpreter, so log(0), 1/0 ... raise NumPy warnings
# for elements that are never stored.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
# (rtol, atol): 16-bit results may differ by one rounding of an fp32 value that differs in its last bits.
TOL = {np.float32: (1e-5, 1e-6), np.float16: (2e-3, 1e-4), BF16: (1.6e-2, 1e-3), np.float64: (1e-12, 1e-14)}
SHAPE = (3, 17)

POSITIVE = ("log", "log2", "log10", "sqrt", "rsqrt")
RANGES = {"log1p": (-0.9, 4.0), "asin": (-0.98, 0.98), "acos": (-0.98, 0.98), "tan": (-1.4, 1.4)}
PIECEWISE = ("floor", "ceil", "round", "trunc")


def sample(name: str, shape, rng) -> np.ndarray:
    """float64 inputs covering the op's domain."""
    if name in POSITIVE:
        return rng.uniform(0.05, 4.0, shape)
    if name == "reciprocal":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 3.0, shape)
    if name in PIECEWISE:  # quarters hit the ties of round exactly, in every dtype
        return np.where(rng.random(shape) < 0.5, np.round(rng.uniform(-4, 4, shape) * 4) / 4,
                        rng.uniform(-4, 4, shape))
    lo, hi = RANGES.get(name, (-4.0, 4.0))
    return rng.uniform(lo, hi, shape)


def assert_close(actual, expected, dt, scale=1.0):
    rtol, atol = TOL[dt]
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def run_forward(op, x, dt, **params):
    """op.forward on a transposed input into a column-strided output; checks the gaps stay untouched."""
    x_t = np.ascontiguousarray(x.T).T  # same values, transposed (non-contiguous) layout
    buf = np.zeros((x.shape[0], 2 * x.shape[1]), dt)
    op.forward(as_device(buf[:, ::2]), as_device(x_t), **params)
    assert (buf[:, 1::2].astype(np.float64) == 0).all()
    return buf[:, ::2]


def run_backward(op, grad_row, saved, dt, **params):
    """op.backward with a broadcast (stride-0) grad and a transposed saved tensor."""
    grad = np.broadcast_to(grad_row, saved.shape)
    grad_x = np.zeros(saved.shape, dt)
    op.backward(as_device(grad_x), as_device(grad), as_device(np.ascontiguousarray(saved.T).T), **params)
    return grad_x


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(U.OPS))
def test_forward_backward_vs_ref(rng, name, dt):
    op = U.OPS[name]
    x = sample(name, SHAPE, rng).astype(dt)
    out = run_forward(op, x, dt)
    ref = op.forward_ref(x)
    assert ref.dtype == x.dtype
    assert_close(out, ref, dt)

    grad_row = rng.standard_normal(SHAPE[1]).astype(dt)
    saved = x if op.saves == "input" else ref
    grad_x = run_backward(op, grad_row, saved, dt)
    (ref_gx,) = op.backward_ref(np.broadcast_to(grad_row, SHAPE), saved)
    assert ref_gx.dtype == dt and ref_gx.shape == SHAPE
    assert_close(grad_x, ref_gx, dt, scale=2.0)  # two roundings of fp32 intermediates at most


def finite_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name", list(U.OPS))
def test_backward_ref_vs_finite_differences(rng, name):
    op = U.OPS[name]
    x = sample(name, (64,), rng)
    if name in PIECEWISE or name in ("abs", "sign"):  # stay clear of the kinks and jumps
        x = np.floor(x) + rng.uniform(0.1, 0.4, x.shape) * rng.choice([-1, 1], x.shape) + 0.5
    grad = rng.standard_normal(x.shape)
    saved = x if op.saves == "input" else op.forward_ref(x)
    (gx,) = op.backward_ref(grad, saved)
    np.testing.assert_allclose(gx, grad * finite_difference(op.forward_ref, x), rtol=1e-6, atol=1e-7)


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-30, -1e-30, 1e-4, -1e-4, 30.0, -30.0,
                    80.0, -80.0, 100.0, -100.0, 800.0, -800.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
def test_special_values_vs_ref(dt):
    """Zeros, tiny, huge (overflowing exp/sinh/cosh), infinite and NaN inputs, every op."""
    x = SPECIAL.astype(dt)
    for name, op in U.OPS.items():
        out = np.zeros_like(x)
        op.forward(as_device(out), as_device(x))
        ref = op.forward_ref(x)
        np.testing.assert_allclose(out, ref, rtol=TOL[dt][0], atol=0, equal_nan=True, err_msg=name)


def launch(fn, x):
    out = np.zeros_like(x)
    fn(as_device(out), as_device(x))
    return out


def test_known_values():
    f32 = np.float32
    assert list(launch(U.round, np.array([0.5, 1.5, 2.5, -0.5, -2.5, -3.5, 2.4999998, 8388609.0], f32))) == \
        [0.0, 2.0, 2.0, -0.0, -2.0, -4.0, 2.0, 8388609.0]
    assert np.signbit(launch(U.round, np.array([-0.4, -0.5], f32))).all()  # round keeps the sign of zero
    assert list(launch(U.trunc, np.array([-1.7, 1.7, -0.5], f32))) == [-1.0, 1.0, 0.0]
    assert list(launch(U.sign, np.array([np.nan, -0.0, -3.0, 2.0], f32))) == [0.0, 0.0, -1.0, 1.0]
    np.testing.assert_allclose(launch(U.asin, np.array([1.0, -1.0], f32)), [math.pi / 2, -math.pi / 2], rtol=1e-7)
    np.testing.assert_allclose(launch(U.acos, np.array([-1.0, 1.0])), [math.pi, 0.0], rtol=1e-15)
    assert np.isnan(launch(U.asin, np.array([1.5, -1.01], f32))).all()
    assert np.isnan(launch(U.acos, np.array([1.01, -1.5]))).all()
    np.testing.assert_array_equal(launch(U.tanh, np.array([np.inf, -np.inf, 50.0], f32)), [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(launch(U.log1p, np.array([-1.0, np.inf], f32)), [-np.inf, np.inf])
    np.testing.assert_array_equal(launch(U.expm1, np.array([-np.inf, 1000.0, -1000.0], f32)), [-1.0, np.inf, -1.0])
    s = launch(U.sigmoid, np.array([-80.0, 80.0], f32))  # stable: no 1 / (1 + inf) = 0 from exp(80)
    np.testing.assert_allclose(s, [math.exp(-80), 1.0], rtol=1e-6)
    np.testing.assert_allclose(launch(U.sinh, np.array([89.0, -89.0], f32)), [math.sinh(89), -math.sinh(89)],
                               rtol=1e-6)  # finite although exp(89) overflows fp32
    np.testing.assert_allclose(launch(U.expm1, np.array([1e-10, -1e-20])), [1.00000000005e-10, -1e-20], rtol=1e-15)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_integer_ops_keep_dtype(rng, dt):
    info = np.iinfo(dt)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000), SHAPE, endpoint=True).astype(dt)
    x.flat[:2] = [info.min, info.max]
    for name, op in U.OPS.items():
        if not op.keeps_int:
            continue
        out = run_forward(op, x, dt)
        ref = op.forward_ref(x)
        assert ref.dtype == dt, name
        np.testing.assert_array_equal(out, ref, err_msg=name)


def test_gradient_conventions_at_kinks():
    x = np.array([0.0, -0.0, 1.0, -2.0], np.float32)
    g = np.array([3.0, 3.0, 3.0, 3.0], np.float32)
    out = np.zeros_like(x)
    U.abs_backward(as_device(out), as_device(g), as_device(x))
    np.testing.assert_array_equal(out, [0.0, 0.0, 3.0, -3.0])  # abs'(0) = 0
    g_inf = np.array([np.inf, np.nan, 1.0, -np.inf], np.float32)
    for fn in (U.sign_backward, U.floor_backward, U.ceil_backward, U.round_backward, U.trunc_backward):
        fn(as_device(out), as_device(g_inf), as_device(x))
        np.testing.assert_array_equal(out, 0.0)  # zeros_like(grad), even for inf/NaN grads


def test_table_is_consistent():
    for name, op in U.OPS.items():
        assert op.saves in ("input", "output"), name
        assert op.forward is getattr(U, name) and op.backward is getattr(U, f"{name}_backward")
        assert op.params == {}
    assert {n for n, op in U.OPS.items() if op.keeps_int} == {"abs", "sign", "square", "floor", "ceil", "round",
                                                               "trunc"}
