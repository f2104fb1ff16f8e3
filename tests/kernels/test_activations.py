"""Activation kernels in Triton's interpreter against their NumPy references (forward and backward),
and the backward references against central finite differences in float64."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import activations as A

from tests.conftest import as_device

# Lanes past the end of a block load 0 in the interpreter; warnings from them concern no stored element.

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
TOL = {np.float32: (1e-5, 1e-6), np.float16: (2e-3, 1e-4), BF16: (1.6e-2, 1e-3), np.float64: (1e-12, 1e-14)}
SHAPE = (3, 17)

# Every op with its defaults, plus non-default parameters (fp32-exact ones, see the module docstring).
CASES = [(name, {}) for name in A.OPS] + [
    ("gelu", {"approximate": "tanh"}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}),
    ("softplus", {"beta": 0.5, "threshold": 1.0}),
    ("elu", {"alpha": 0.3}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardtanh", {"min_val": 0.0, "max_val": 6.0}),  # relu6
]
IDS = [name + "".join(f"-{k}={v}" for k, v in params.items()) for name, params in CASES]


def kinks(name: str, params: dict) -> list[float]:
    if name == "hardtanh":
        return [params.get("min_val", -1.0), params.get("max_val", 1.0)]
    if name in ("hardsigmoid", "hardswish"):
        return [-3.0, 3.0]
    if name == "softplus":  # the threshold switch is a (tiny) jump
        return [params.get("threshold", 20.0) / params.get("beta", 1.0)]
    return [0.0]


def sample(shape, rng, scale=5.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape)


def assert_close(actual, expected, dt, scale=1.0):
    rtol, atol = TOL[dt]
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol * scale, atol=atol * scale, equal_nan=True)


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_forward_backward_vs_ref(rng, name, params, dt):
    op = A.OPS[name]
    x = sample(SHAPE, rng).astype(dt)
    x.flat[:3] = kinks(name, params)[0]  # the kink itself, where the gradient convention applies
    # forward: transposed (non-contiguous) input into a column-strided output
    buf = np.zeros((SHAPE[0], 2 * SHAPE[1]), dt)
    op.forward(as_device(buf[:, ::2]), as_device(np.ascontiguousarray(x.T).T), **params)
    ref = op.forward_ref(x, **params)
    assert ref.dtype == dt
    assert_close(buf[:, ::2], ref, dt)
    assert (buf[:, 1::2].astype(np.float64) == 0).all()

    # backward: broadcast (stride-0) grad, transposed saved tensor
    grad_row = rng.standard_normal(SHAPE[1]).astype(dt)
    saved = x if op.saves == "input" else ref
    grad_x = np.zeros(SHAPE, dt)
    op.backward(as_device(grad_x), as_device(np.broadcast_to(grad_row, SHAPE)),
                as_device(np.ascontiguousarray(saved.T).T), **params)
    (ref_gx,) = op.backward_ref(np.broadcast_to(grad_row, SHAPE), saved, **params)
    assert ref_gx.dtype == dt and ref_gx.shape == SHAPE
    assert_close(grad_x, ref_gx, dt, scale=2.0)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_backward_ref_vs_finite_differences(rng, name, params):
    op = A.OPS[name]
    x = sample((64,), rng)
    for k in kinks(name, params):  # move points off the kinks
        x = np.where(np.abs(x - k) < 1e-3, x + 0.01, x)
    h = 1e-6
    fd = (op.forward_ref(x + h, **params) - op.forward_ref(x - h, **params)) / (2 * h)
    grad = rng.standard_normal(x.shape)
    saved = x if op.saves == "input" else op.forward_ref(x, **params)
    (gx,) = op.backward_ref(grad, saved, **params)
    np.testing.assert_allclose(gx, grad * fd, rtol=1e-6, atol=1e-7)


EXTREME = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-4, -1e-4, 15.0, -15.0, 25.0, -25.0, 45.0, -45.0, 80.0, -80.0,
                    1e4, -1e4, 1e30, -1e30, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
def test_extreme_values_vs_ref(dt):
    """Stable forms: no overflow to inf/NaN for huge |x|; infinities and NaN as PyTorch."""
    x = EXTREME.astype(dt)
    for name, params in CASES:
        op = A.OPS[name]
        out = np.zeros_like(x)
        with np.errstate(invalid="ignore"):
            op.forward(as_device(out), as_device(x), **params)
        np.testing.assert_allclose(out, op.forward_ref(x, **params), rtol=TOL[dt][0], atol=0, equal_nan=True,
                                   err_msg=f"{name} {params}")
        grad = np.ones_like(x)
        gx = np.zeros_like(x)
        saved = x if op.saves == "input" else out
        # inf * 0 for the infinite inputs; gelu_tanh's backward overflows x**3 at 1e30 (NaN, as PyTorch's).
        with np.errstate(invalid="ignore", over="ignore"):
            op.backward(as_device(gx), as_device(grad), as_device(saved), **params)
        finite = np.isfinite(x)
        np.testing.assert_allclose(gx[finite], op.backward_ref(grad, saved, **params)[0][finite],
                                   rtol=TOL[dt][0], atol=0, equal_nan=True, err_msg=f"{name} {params} backward")


def launch(fn, x, *args, **params):
    out = np.zeros_like(x)
    fn(as_device(out), *(as_device(a) for a in (*args, x)), **params)
    return out


def test_known_values_and_stability():
    f32 = np.float32
    x = np.array([-1e4, -80.0, -30.0, 30.0, 80.0, 1e4], f32)
    np.testing.assert_allclose(launch(A.softplus, x), [0.0, math.exp(-80), math.exp(-30), 30.0, 80.0, 1e4],
                               rtol=1e-6)
    np.testing.assert_allclose(launch(A.softplus, x, beta=1.0, threshold=1e4),  # no exp overflow below threshold
                               [0.0, math.exp(-80), math.exp(-30), 30.0, 80.0, 1e4], rtol=1e-6)
    np.testing.assert_allclose(launch(A.logsigmoid, x), [-1e4, -80.0, -30.0, -math.exp(-30), -math.exp(-80), 0.0],
                               rtol=1e-6)
    np.testing.assert_allclose(launch(A.silu, x), [-0.0, -80 * math.exp(-80), -30 * math.exp(-30), 30.0, 80.0,
                                                   1e4], rtol=1e-6)
    np.testing.assert_allclose(launch(A.mish, np.array([-30.0, 1e4, 50.0], f32)), [-30 * math.exp(-30), 1e4, 50.0],
                               rtol=1e-6)
    assert np.isnan(launch(A.relu, np.array([np.nan], f32))).all()  # relu keeps NaN, like torch.relu
    assert np.isnan(launch(A.hardtanh, np.array([np.nan], f32))).all()
    np.testing.assert_allclose(launch(A.selu, np.array([1.0, -1.0])),
                               [A.SELU_SCALE, A.SELU_SCALE * A.SELU_ALPHA * math.expm1(-1.0)], rtol=1e-15)


def test_gradient_conventions_at_kinks():
    f32 = np.float32

    def grad_at(fn, x, **params):
        x = np.asarray(x, f32)
        return list(launch(fn, x, np.full_like(x, 2.0), **params))

    relu_out = np.array([0.0, -0.0, 1.0], f32)  # relu saves its output
    assert grad_at(A.relu_backward, relu_out) == [0.0, 0.0, 2.0]
    assert grad_at(A.leaky_relu_backward, [0.0, 1.0, -1.0], negative_slope=0.25) == [0.5, 2.0, 0.5]
    assert grad_at(A.elu_backward, [0.0, 1.0], alpha=0.5) == [1.0, 2.0]
    assert grad_at(A.hardtanh_backward, [-1.0, 1.0, 0.0, -2.0], min_val=-1.0, max_val=1.0) == [0.0, 0.0, 2.0, 0.0]
    assert grad_at(A.hardsigmoid_backward, [-3.0, 3.0, 0.0]) == [0.0, 0.0, np.float32(2.0 / 6.0)]
    assert grad_at(A.hardswish_backward, [-3.0, 3.0, 0.0]) == [0.0, 2.0, 1.0]
    np.testing.assert_allclose(grad_at(A.selu_backward, [0.0]), [2 * A.SELU_SCALE * A.SELU_ALPHA], rtol=1e-6)


@pytest.mark.parametrize("dt", [np.int8, np.int32, np.int64])
def test_relu_keeps_integers(rng, dt):
    x = rng.integers(-100, 100, SHAPE).astype(dt)
    out = launch(A.relu, x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    assert A.relu_ref(x).dtype == dt


def test_fp64_parameters_keep_double_precision():
    hi, lo = A._split(0.1)
    assert np.float32(hi) == hi and np.float32(lo) == lo and abs(hi + lo - 0.1) < 1e-16
    x = np.array([-1.0, -3.0, 2.0])
    np.testing.assert_allclose(launch(A.leaky_relu, x, negative_slope=0.1), [-0.1, -0.3, 2.0], rtol=1e-15)
    np.testing.assert_allclose(launch(A.elu, x, alpha=0.1), 0.1 * np.expm1(np.minimum(x, 0)) + np.maximum(x, 0),
                               rtol=1e-15)


def test_gelu_rejects_unknown_approximation():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError):
        launch(A.gelu, x, approximate="sigmoid")
    with pytest.raises(ValueError):
        A.gelu_ref(x, approximate="sigmoid")


def test_table_is_consistent():
    for name, op in A.OPS.items():
        assert op.forward is getattr(A, name) and op.backward is getattr(A, f"{name}_backward")
        assert op.saves == ("output" if name == "relu" else "input")
        assert op.keeps_int == (name == "relu")
    assert A.OPS["softplus"].params == {"beta": 1.0, "threshold": 20.0}
    assert A.OPS["gelu"].params == {"approximate": "none"}
