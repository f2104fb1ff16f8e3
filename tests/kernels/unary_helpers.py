"""What the kernel tests of the unary families (unary, exponential, trigonometric, special) share: each op's
input domain, tolerances, strided launches, and the per-op checks every family runs."""

import ml_dtypes
import numpy as np

from tests.conftest import as_device

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


def finite_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def check_forward_backward(op, rng, name: str, dt) -> None:
    """op's forward (strided in and out) and backward (broadcast grad) kernels against its references."""
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


def check_backward_ref(op, rng, name: str) -> None:
    """op's backward reference against central finite differences of its forward reference (float64)."""
    x = sample(name, (64,), rng)
    if name in PIECEWISE or name in ("abs", "sign"):  # stay clear of the kinks and jumps
        x = np.floor(x) + rng.uniform(0.1, 0.4, x.shape) * rng.choice([-1, 1], x.shape) + 0.5
    grad = rng.standard_normal(x.shape)
    saved = x if op.saves == "input" else op.forward_ref(x)
    (gx,) = op.backward_ref(grad, saved)
    np.testing.assert_allclose(gx, grad * finite_difference(op.forward_ref, x), rtol=1e-6, atol=1e-7)
