"""What the kernel tests of the comparison families (comparison, logical, where, clamp, nonfinite) share:
sample values with NaN/inf/ties, broadcast and transposed layouts, launching a wrapper into a fresh output."""

import ml_dtypes
import numpy as np

from tests.conftest import as_device

BF16 = ml_dtypes.bfloat16
FLOATS = [np.float32, np.float64, np.float16, BF16]
INTS = [np.int32, np.int64, np.uint8]
SHAPE = (5, 7)


def to_device(x):
    return as_device(x) if isinstance(x, np.ndarray) else x


def launch(fn, out_dtype, shape, *inputs, strided_out=False, **params) -> np.ndarray:
    out = np.zeros(shape[::-1], out_dtype).T if strided_out else np.zeros(shape, out_dtype)
    fn(as_device(out), *[to_device(x) for x in inputs], **{k: to_device(v) for k, v in params.items()})
    return out


def values(rng, dt, shape=SHAPE, special=True) -> np.ndarray:
    """Sample values of dt: floats with NaN/inf/ties sprinkled in, small integers, or bools."""
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dt, np.integer):
        return rng.integers(0 if dt == np.uint8 else -9, 10, shape).astype(dt)
    x = np.round(rng.standard_normal(shape) * 4) / 4  # quarter steps: exact ties in every dtype
    if special:
        x.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return x.astype(dt)


def pair(rng, dt):
    """a as a transposed view; b broadcast from a row with stride 0 (ties with a's row 0)."""
    a = values(rng, dt)
    b = np.broadcast_to(a[:1] if dt != np.bool_ else values(rng, dt, (1, SHAPE[1])), SHAPE)
    a = np.ascontiguousarray(a.T).T
    return a, b


def assert_equal(out, ref):
    np.testing.assert_array_equal(np.asarray(out).astype(np.float64), np.asarray(ref).astype(np.float64))
