"""Logical and bitwise kernels (logical_*, bitwise_*, the shifts) in Triton's interpreter against their NumPy
references, and PyTorch's out-of-range shifts."""

import numpy as np
import pytest
from tritensor.kernels import logical as L

from tests.kernels.comparison_helpers import INTS, SHAPE, launch, pair

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.int32, np.uint8, np.bool_])
def test_logical(rng, dt):
    a, b = pair(rng, dt)
    for name in ("logical_and", "logical_or", "logical_xor"):
        out = launch(getattr(L, name), np.bool_, SHAPE, a, b)
        np.testing.assert_array_equal(out, getattr(L, f"{name}_ref")(a, b), err_msg=name)
    np.testing.assert_array_equal(launch(L.logical_not, np.bool_, SHAPE, a), L.logical_not_ref(a))
    # NaN is true, -0.0 is false (also through a non-bool output, which gets 0/1).
    if dt in (np.float32, np.float16):
        x = np.array([np.nan, -0.0, 0.0, 2.0], dt)
        np.testing.assert_array_equal(launch(L.logical_not, np.float32, (4,), x), [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("dt", INTS + [np.int8, np.bool_])
def test_bitwise(rng, dt):
    if dt == np.bool_:
        a, b = rng.random(SHAPE) < 0.5, rng.random(SHAPE) < 0.5
        scalar = True
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
        b = rng.integers(info.min, info.max, SHAPE, dtype=dt, endpoint=True)
        scalar = 0x5A
    a = np.ascontiguousarray(a.T).T
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        out = launch(getattr(L, name), dt, SHAPE, a, b, strided_out=True)
        np.testing.assert_array_equal(out, getattr(L, f"{name}_ref")(a, b), err_msg=name)
        out = launch(getattr(L, name), dt, SHAPE, a, scalar)
        np.testing.assert_array_equal(out, getattr(L, f"{name}_ref")(a, scalar), err_msg=f"{name} scalar")
    np.testing.assert_array_equal(launch(L.bitwise_not, dt, SHAPE, a), L.bitwise_not_ref(a))


def test_bitwise_refuses_floats():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError):
        launch(L.bitwise_and, np.float32, (3,), x, x)
    with pytest.raises(TypeError):
        launch(L.bitwise_left_shift, np.bool_, (3,), x > 0, x > 0)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.int64])
def test_shifts(rng, dt):
    bits = np.dtype(dt).itemsize * 8
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, 24, dtype=dt, endpoint=True)
    a[:3] = [info.min, info.max, 1]
    s = rng.integers(0 if dt == np.uint8 else -3, bits + 3, 24)
    s[3:8] = [0, 1, bits - 1, bits, bits + 1]
    s = s.astype(dt)
    if dt != np.uint8:
        s[-3:] = [-1, -bits, bits + 5]
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        out = launch(getattr(L, name), dt, a.shape, a, s)
        np.testing.assert_array_equal(out, getattr(L, f"{name}_ref")(a, s), err_msg=name)
        for scalar in (3, bits - 1, bits):
            out = launch(getattr(L, name), dt, a.shape, a, scalar)
            np.testing.assert_array_equal(out, getattr(L, f"{name}_ref")(a, scalar), err_msg=str(scalar))
    # PyTorch's conventions, spelled out for int8: out-of-range left shifts give 0, right shifts the sign.
    if dt == np.int8:
        x = np.array([-5, 5, 3, -128], np.int8)
        sh = np.array([8, 9, -1, 1], np.int8)
        np.testing.assert_array_equal(launch(L.bitwise_left_shift, dt, (4,), x, sh), [0, 0, 0, 0])
        np.testing.assert_array_equal(launch(L.bitwise_right_shift, dt, (4,), x, sh), [-1, 0, 0, -64])
        wrapped = launch(L.bitwise_left_shift, dt, (1,), np.array([65], np.int8), 1)
        np.testing.assert_array_equal(wrapped, [-126])
