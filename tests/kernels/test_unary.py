"""Unary math kernels (abs, sign, sqrt, rsqrt, square, reciprocal, floor, ceil, round, trunc) in Triton's
interpreter against their NumPy references (forward and backward), the backward references against central
finite differences in float64; and, for every unary family (unary, exponential, trigonometric, special),
special values, known values and the registry."""

import math

import numpy as np
import pytest
from tritensor.kernels import exponential as E
from tritensor.kernels import special as S
from tritensor.kernels import trigonometric as TR
from tritensor.kernels import unary as U

from tests.conftest import as_device
from tests.kernels.unary_helpers import FLOATS, SHAPE, TOL, check_backward_ref, check_forward_backward, run_forward

# Lanes past the end of a block load 0 in the interpreter, so log(0), 1/0 ... raise NumPy warnings
# for elements that are never stored.


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(U.OPS))
def test_forward_backward_vs_ref(rng, name, dt):
    check_forward_backward(U.OPS[name], rng, name, dt)


@pytest.mark.parametrize("name", list(U.OPS))
def test_backward_ref_vs_finite_differences(rng, name):
    check_backward_ref(U.OPS[name], rng, name)


# Every unary family: what the special-value and registry checks cover.
FAMILIES = (U, E, TR, S)
ALL_OPS = {name: op for module in FAMILIES for name, op in module.OPS.items()}


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-30, -1e-30, 1e-4, -1e-4, 30.0, -30.0,
                    80.0, -80.0, 100.0, -100.0, 800.0, -800.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
def test_special_values_vs_ref(dt):
    """Zeros, tiny, huge (overflowing exp/sinh/cosh), infinite and NaN inputs, every op."""
    x = SPECIAL.astype(dt)
    for name, op in ALL_OPS.items():
        out = np.zeros_like(x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # log(0), sqrt(-1), exp(800) on purpose
            op.forward(as_device(out), as_device(x))
        ref = op.forward_ref(x)
        np.testing.assert_allclose(out, ref, rtol=TOL[dt][0], atol=0, equal_nan=True, err_msg=name)
        finite = np.isfinite(x) & np.isfinite(ref)  # no IEEE special in or out: the kernel must not warn here
        out = np.zeros_like(x[finite])
        op.forward(as_device(out), as_device(x[finite]))
        np.testing.assert_allclose(out, ref[finite], rtol=TOL[dt][0], atol=0, err_msg=f"{name} (finite lanes)")


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
    np.testing.assert_allclose(launch(TR.asin, np.array([1.0, -1.0], f32)), [math.pi / 2, -math.pi / 2], rtol=1e-7)
    np.testing.assert_allclose(launch(TR.acos, np.array([-1.0, 1.0])), [math.pi, 0.0], rtol=1e-15)
    with np.errstate(invalid="ignore"):  # sqrt(1 - x * x) < 0 outside [-1, 1]: NaN on purpose
        assert np.isnan(launch(TR.asin, np.array([1.5, -1.01], f32))).all()
        assert np.isnan(launch(TR.acos, np.array([1.01, -1.5]))).all()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # +-inf inputs, log1p(-1), expm1(1000)
        np.testing.assert_array_equal(launch(TR.tanh, np.array([np.inf, -np.inf, 50.0], f32)), [1.0, -1.0, 1.0])
        np.testing.assert_array_equal(launch(E.log1p, np.array([-1.0, np.inf], f32)), [-np.inf, np.inf])
        np.testing.assert_array_equal(launch(E.expm1, np.array([-np.inf, 1000.0, -1000.0], f32)), [-1.0, np.inf, -1.0])
    s = launch(S.sigmoid, np.array([-80.0, 80.0], f32))  # stable: no 1 / (1 + inf) = 0 from exp(80)
    np.testing.assert_allclose(s, [math.exp(-80), 1.0], rtol=1e-6)
    np.testing.assert_allclose(launch(TR.sinh, np.array([89.0, -89.0], f32)), [math.sinh(89), -math.sinh(89)],
                               rtol=1e-6)  # finite although exp(89) overflows fp32
    np.testing.assert_allclose(launch(E.expm1, np.array([1e-10, -1e-20])), [1.00000000005e-10, -1e-20], rtol=1e-15)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_integer_ops_keep_dtype(rng, dt):
    info = np.iinfo(dt)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000), SHAPE, endpoint=True).astype(dt)
    x.flat[:2] = [info.min, info.max]
    for name, op in ALL_OPS.items():
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
    for module in FAMILIES:
        for name, op in module.OPS.items():
            assert op.saves in ("input", "output"), name
            assert op.forward is getattr(module, name) and op.backward is getattr(module, f"{name}_backward")
            assert op.params == {}
    assert {n for n, op in ALL_OPS.items() if op.keeps_int} == {"abs", "sign", "square", "floor", "ceil", "round",
                                                               "trunc"}
