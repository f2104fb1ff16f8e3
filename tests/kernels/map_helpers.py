"""What the kernel tests of the map-kernel families (binary, pow, maximum, atan2, lerp) share: layouts,
launching a wrapper into a fresh output, tolerances, and the backward checks every family runs."""

import ml_dtypes
import numpy as np

from tests.conftest import as_device

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


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def check_backward(ops: dict, rng, name: str, dt) -> None:
    """The fused backward of ops[name] against its reference: both gradients, strided, then one at a time."""
    g, a, b = grad_inputs(rng, name, dt)
    entry = ops[name]
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


def check_backward_refs(ops: dict, rng, name: str) -> None:
    """ops[name]'s backward reference against central finite differences of its forward reference (float64)."""
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
        grads = ops["lerp"].backward_ref(g, a, b, w)
        fd = [central_difference(lambda t: ops["lerp"].forward_ref(t, b, w), a),
              central_difference(lambda t: ops["lerp"].forward_ref(a, t, w), b),
              central_difference(lambda t: ops["lerp"].forward_ref(a, b, t), w)]
    elif name == "pow_scalar":
        x = rng.uniform(0.3, 3.0, shape)
        grads = ops["pow_scalar"].backward_ref(g, x, 2.7)
        fd = [central_difference(lambda t: ops["pow_scalar"].forward_ref(t, 2.7), x)]
    elif name == "rpow":
        grads = ops["rpow"].backward_ref(g, a, 1.9)
        fd = [central_difference(lambda t: ops["rpow"].forward_ref(t, 1.9), a)]
    else:
        params = {"alpha": -1.5} if name == "sub" else {}
        ref = ops[name].forward_ref
        grads = ops[name].backward_ref(g, a, b, **params)
        fd = [central_difference(lambda t: ref(t, b, **params), a),
              central_difference(lambda t: ref(a, t, **params), b)]
    for got, slope in zip(grads, fd):
        np.testing.assert_allclose(got, g * slope, rtol=1e-6, atol=1e-7)
