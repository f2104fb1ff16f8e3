"""kernels/activations_extra.py in Triton's interpreter against its NumPy references (odd sizes, non-contiguous
and broadcast operands, every float dtype), and the backward references against float64 finite differences."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import activations_extra as A

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float16, BF16, np.float64]
TOL = {np.float32: (1e-5, 1e-6), np.float16: (2e-3, 1e-4), BF16: (1.6e-2, 1e-3), np.float64: (1e-12, 1e-14)}
SHAPE = (3, 17)
CASES = [(name, {}) for name in A.OPS] + [
    ("celu", {"alpha": 0.3}), ("hardshrink", {"lambd": 1.25}), ("softshrink", {"lambd": 2.0}),
    ("threshold", {"threshold": 0.5, "value": -7.0}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in p.items()) for name, p in CASES]


def _close(actual, expected, dt, scale=1.0):
    rtol, atol = TOL[dt]
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def _kink(name, params):
    if name in ("hardshrink", "softshrink"):
        return params.get("lambd", 0.5)
    return params.get("threshold", 0.0)


def test_references_known_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(A.celu_ref(x, alpha=2.0), [2 * np.expm1(-1), 2 * np.expm1(-0.25), 0, 0.5, 2])
    np.testing.assert_array_equal(A.hardshrink_ref(x), [-2, 0, 0, 0, 2])  # +-lambd itself is zeroed
    np.testing.assert_array_equal(A.softshrink_ref(x), [-1.5, 0, 0, 0, 1.5])
    np.testing.assert_allclose(A.tanhshrink_ref(x), x - np.tanh(x))
    np.testing.assert_array_equal(A.threshold_ref(x, threshold=0.0, value=9.0), [9, 9, 9, 0.5, 2])
    np.testing.assert_allclose(A.softsign_ref(x), [-2 / 3, -1 / 3, 0, 1 / 3, 2 / 3])
    out, noise = A.rrelu_with_noise_ref(x, np.full(5, 0.5), 0.1, 0.3)
    np.testing.assert_allclose(noise, [0.2, 0.2, 0.2, 1, 1])
    np.testing.assert_allclose(out, [-0.4, -0.1, 0, 0.5, 2])
    gx, gw = A.prelu_backward_ref(np.ones(5), x, np.float64(0.25))
    np.testing.assert_allclose(gx, [0.25, 0.25, 0.25, 1, 1])
    np.testing.assert_allclose(gw, [-2, -0.5, 0, 0, 0])
    assert np.isnan(A.hardshrink_ref(np.array([np.nan]))[0]) and np.isnan(A.threshold_ref(np.array([np.nan]))[0])


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_unary_kernels_vs_ref(rng, name, params, dt):
    op = A.OPS[name]
    x = rng.uniform(-4, 4, SHAPE).astype(dt)
    x.flat[:2] = _kink(name, params)
    x.flat[2:4] = -_kink(name, params)
    buf = np.zeros((SHAPE[0], 2 * SHAPE[1]), dt)
    op.forward(as_device(buf[:, ::2]), as_device(np.ascontiguousarray(x.T).T), **params)
    ref = op.forward_ref(x, **params)
    assert ref.dtype == dt
    _close(buf[:, ::2], ref, dt)
    assert (buf[:, 1::2].astype(np.float64) == 0).all()
    grad_row = rng.standard_normal(SHAPE[1]).astype(dt)
    grad_x = np.zeros(SHAPE, dt)
    op.backward(as_device(grad_x), as_device(np.broadcast_to(grad_row, SHAPE)),
                as_device(np.ascontiguousarray(x.T).T), **params)
    (ref_gx,) = op.backward_ref(np.broadcast_to(grad_row, SHAPE), x, **params)
    _close(grad_x, ref_gx, dt, scale=2.0)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_backward_ref_vs_finite_differences(rng, name, params):
    op = A.OPS[name]
    x = rng.uniform(-4, 4, 64)
    k = _kink(name, params)
    x = x[(np.abs(x - k) > 1e-3) & (np.abs(x + k) > 1e-3)]  # away from the kinks
    h = 1e-6
    numeric = (op.forward_ref(x + h, **params) - op.forward_ref(x - h, **params)) / (2 * h)
    (analytic,) = op.backward_ref(np.ones_like(x), x, **params)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
def test_prelu_kernels_vs_ref(rng, dt):
    shape = (2, 3, 5)
    x = rng.uniform(-3, 3, shape).astype(dt)
    w = rng.uniform(0, 1, (3, 1)).astype(dt)
    wb = np.broadcast_to(w, shape)  # per-channel weight as a zero-stride operand
    out = np.zeros(shape, dt)
    A.prelu(as_device(out), as_device(np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0)), as_device(wb))
    _close(out, A.prelu_ref(x, w), dt)
    g = rng.standard_normal(shape).astype(dt)
    gx, gw = np.zeros(shape, dt), np.zeros(shape, dt)
    A.prelu_backward(as_device(gx), as_device(gw), as_device(g), as_device(x), as_device(wb))
    rgx, rgw = A.prelu_backward_ref(g, x, w)
    _close(gx, rgx, dt, 2.0)
    _close(gw, rgw, dt, 2.0)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16], ids=lambda d: np.dtype(d).name)
def test_rrelu_kernel_vs_ref(rng, dt):
    x = rng.uniform(-3, 3, (5, 7)).astype(dt)
    u = rng.uniform(0, 1, (5, 7)).astype(dt)
    out, noise = np.zeros_like(x), np.zeros_like(x)
    A.rrelu_with_noise(as_device(out), as_device(noise), as_device(x), as_device(u), 0.125, 1 / 3)
    r_out, r_noise = A.rrelu_with_noise_ref(x, u, 0.125, 1 / 3)
    _close(noise, r_noise, dt, 2.0)
    _close(out, r_out, dt, 2.0)
    neg = x <= 0
    assert ((noise[neg] >= 0.125 - 1e-3) & (noise[neg] <= 1 / 3 + 1e-3)).all() and (noise[~neg] == 1).all()


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
def test_glu_kernels_vs_ref(rng, dt):
    x = rng.uniform(-4, 4, (6, 5)).astype(dt).T  # (5, 6), non-contiguous; halves along dim 1
    a, b = x[:, :3], x[:, 3:]
    out = np.zeros((5, 3), dt)
    A.glu(as_device(out), as_device(a), as_device(b))
    _close(out, A.glu_ref(a, b), dt, 2.0)
    np.testing.assert_allclose(A.glu_ref(a, b).astype(np.float64),
                               a.astype(np.float64) / (1 + np.exp(-b.astype(np.float64))), rtol=TOL[dt][0] * 4,
                               atol=TOL[dt][1] * 4)
    g = rng.standard_normal((5, 3)).astype(dt)
    grad_x = np.zeros((5, 6), dt)
    A.glu_backward(as_device(grad_x[:, :3]), as_device(grad_x[:, 3:]), as_device(g), as_device(a), as_device(b))
    ga, gb = A.glu_backward_ref(g, a, b)
    _close(grad_x[:, :3], ga, dt, 2.0)
    _close(grad_x[:, 3:], gb, dt, 2.0)
