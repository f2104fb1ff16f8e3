"""addcmul / addcdiv kernels in Triton's interpreter against their NumPy references (forward and both
backward forms), and the backward references against central finite differences in float64."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import pointwise as P

from tests.conftest import as_device

# Masked-off lanes compute on placeholder values in the interpreter (x / 0): NumPy warns for values never stored.

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float64, np.float16, BF16]
# One rounding of an fp32 (fp64) value; bf16: the interpreter truncates on store, so one bf16 ulp.
TOL = {np.float32: (2e-6, 1e-6), np.float64: (1e-14, 1e-14), np.float16: (1e-3, 1e-3), BF16: (8e-3, 8e-3)}
SHAPE = (5, 7)


def operands(rng, dt, divisor=False):
    """input transposed (non-contiguous), tensor1 a broadcast row (stride 0), tensor2 a sliced view."""
    x = np.ascontiguousarray(rng.standard_normal(SHAPE[::-1]).astype(dt)).T
    row = rng.standard_normal((1, SHAPE[1])).astype(dt)
    t1 = np.broadcast_to(row, SHAPE)
    t2 = rng.standard_normal((SHAPE[0], 2 * SHAPE[1])).astype(dt)[:, ::2]
    if divisor:
        t2 = (np.sign(t2) * (np.abs(t2) + 0.5)).astype(dt)
    return x, t1, t2


def run(fn, dt, *inputs, **params):
    out = np.zeros(SHAPE[::-1], dt).T  # a transposed output
    fn(as_device(out), *(as_device(a) for a in inputs), **params)
    return out


def close(out, ref, dt):
    rtol, atol = TOL[dt]
    np.testing.assert_allclose(np.asarray(out, np.float64), np.asarray(ref, np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("value", [1, 0.37, -2])
def test_addcmul_float(rng, dt, value):
    x, t1, t2 = operands(rng, dt)
    close(run(P.addcmul, dt, x, t1, t2, value=value), P.addcmul_ref(x, t1, t2, value), dt)
    # the reference in float64 agrees too (16-bit results are one rounding of the fp32 value)
    wide = [a.astype(np.float64) for a in (x, t1, t2)]
    close(P.addcmul_ref(x, t1, t2, value), wide[0] + value * wide[1] * wide[2], dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("value", [1, 0.37, -2])
def test_addcdiv_float(rng, dt, value):
    x, t1, t2 = operands(rng, dt, divisor=True)
    close(run(P.addcdiv, dt, x, t1, t2, value=value), P.addcdiv_ref(x, t1, t2, value), dt)


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8, np.int8])
def test_addcmul_integers_wrap_and_truncate_value(rng, dt):
    info = np.iinfo(dt)
    x = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
    t1 = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
    t2 = np.broadcast_to(rng.integers(0, 7, (SHAPE[0], 1)).astype(dt), SHAPE)
    for value in (1, 3, 2.9, -1):  # a float value is truncated toward zero, as PyTorch's Scalar.to<int>
        out = run(P.addcmul, dt, x, t1, t2, value=value)
        v = np.asarray(int(value)).astype(dt)
        with np.errstate(over="ignore"):
            expected = (x + v * (t1 * t2)).astype(dt)  # wraps, as C++ does
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(P.addcmul_ref(x, t1, t2, value), expected)


def test_addcdiv_edge_values():
    x = np.array([1.0, 1.0, 0.0, np.nan, 2.0], np.float32)
    t1 = np.array([1.0, 0.0, 1.0, 1.0, 7.0], np.float32)
    t2 = np.array([0.0, 0.0, -0.0, 1.0, 3.0], np.float32)
    out = np.zeros(5, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        P.addcdiv(as_device(out), as_device(x), as_device(t1), as_device(t2), value=0.5)
    np.testing.assert_array_equal(out, P.addcdiv_ref(x, t1, t2, 0.5))
    assert out[4] == np.float32(2.0) + np.float32(0.5) * (np.float32(7.0) / np.float32(3.0))  # correctly rounded


def test_wrappers_refuse_unsupported_dtypes():
    b = np.ones(3, np.bool_)
    i = np.ones(3, np.int32)
    with pytest.raises(TypeError, match="bool"):
        P.addcmul(as_device(b.copy()), as_device(b), as_device(b), as_device(b))
    with pytest.raises(TypeError, match="floating-point"):
        P.addcdiv(as_device(i.copy()), as_device(i), as_device(i), as_device(i))


@pytest.mark.parametrize("family", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("need", [(True, True), (True, False), (False, True)])
def test_backward_kernels(rng, family, dt, need):
    fn, ref = getattr(P, f"{family}_backward"), getattr(P, f"{family}_backward_ref")
    _, t1, t2 = operands(rng, dt, divisor=family == "addcdiv")
    grad = rng.standard_normal(SHAPE).astype(dt)
    outs = [np.full(SHAPE, 99, dt) if n else None for n in need]
    fn(*(None if o is None else as_device(o) for o in outs), as_device(grad), as_device(t1), as_device(t2),
       value=-0.75)
    expected = ref(grad, t1, t2, -0.75)
    for o, e in zip(outs, expected):
        if o is not None:
            close(o, e, dt)


def _numeric_grads(f, arrays, grad, eps=1e-6):
    """Central differences of sum(grad * f(*arrays)) with respect to each array."""
    result = []
    for k in range(len(arrays)):
        g = np.zeros_like(arrays[k])
        for idx in np.ndindex(arrays[k].shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = np.sum(grad * (f(*plus) - f(*minus))) / (2 * eps)
        result.append(g)
    return result


@pytest.mark.parametrize("family", ["addcmul", "addcdiv"])
def test_backward_refs_match_finite_differences(rng, family):
    f, ref = getattr(P, f"{family}_ref"), getattr(P, f"{family}_backward_ref")
    x = rng.standard_normal((3, 4))
    t1 = rng.standard_normal((3, 4))
    t2 = rng.standard_normal((3, 4)) + np.where(rng.random((3, 4)) < 0.5, -2.0, 2.0)
    grad = rng.standard_normal((3, 4))
    value = 1.7
    gx, g1, g2 = _numeric_grads(lambda a, b, c: f(a, b, c, value), [x, t1, t2], grad)
    r1, r2 = ref(grad, t1, t2, value)
    np.testing.assert_allclose(gx, grad, rtol=1e-6, atol=1e-8)  # the input's gradient is grad itself
    np.testing.assert_allclose(r1, g1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r2, g2, rtol=1e-6, atol=1e-8)
