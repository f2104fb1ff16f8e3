"""Logical and bitwise ops (and the shifts) on cpu and interpreted cuda against NumPy: promotion, operators,
out-of-range shifts, errors."""

import math

import numpy as np
import pytest

import tritensor as tt
from tests.ops.comparison_helpers import DEVICES


@pytest.mark.parametrize("device", DEVICES)
def test_logical_ops(device):
    a = tt.tensor([[0.0, 1.5, math.nan], [0.0, -2.0, 0.0]], device=device).t()
    b = tt.tensor([3, 0], dtype=tt.int64, device=device)
    na, nb = a.cpu().numpy(), b.cpu().numpy()
    for fn, ref in ((tt.logical_and, np.logical_and), (tt.logical_or, np.logical_or),
                    (tt.logical_xor, np.logical_xor)):
        r = fn(a, b)
        assert r.dtype is tt.bool
        np.testing.assert_array_equal(r.cpu().numpy(), ref(na, nb))
    np.testing.assert_array_equal(tt.logical_not(a).cpu().numpy(), np.logical_not(na))
    bt = tt.tensor([True, False], device=device)
    np.testing.assert_array_equal(bt.logical_not().cpu().numpy(), [False, True])
    y = tt.tensor([2.0, 0.0, 1.0], device=device)
    y.logical_and_(tt.tensor([1, 1, 0], device=device))
    assert y.dtype is tt.float32 and y.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.logical_and(a, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.uint8, tt.int8, tt.int64, tt.bool])
def test_bitwise_ops(rng, device, dtype):
    if dtype is tt.bool:
        a, b = rng.random((3, 4)) > 0.5, np.array([True, False, True])
    else:
        info = np.iinfo(dtype.np)
        a = rng.integers(max(info.min, -100), min(info.max, 100), (3, 4)).astype(dtype.np)
        b = np.array([5, 12, 0]).astype(dtype.np)
    ta, tb, a = tt.tensor(a, device=device).t(), tt.tensor(b, device=device), a.T
    for r, expected in ((ta & tb, a & b), (ta | tb, a | b), (ta ^ tb, a ^ b), (~ta, ~a),
                        (tt.bitwise_and(ta, True if dtype is tt.bool else 6), a & (True if dtype is tt.bool else 6)),
                        (tt.bitwise_xor(ta, tb), a ^ b), (tt.bitwise_not(ta), ~a)):
        assert r.dtype is dtype
        np.testing.assert_array_equal(r.cpu().numpy(), expected)
    if dtype is not tt.bool:
        np.testing.assert_array_equal((3 | ta).cpu().numpy(), a | np.array(3, dtype.np))
        np.testing.assert_array_equal((ta << 2).cpu().numpy(), (a.astype(np.int64) << 2).astype(dtype.np))
        np.testing.assert_array_equal((ta >> 1).cpu().numpy(), a >> 1)
        np.testing.assert_array_equal(tt.bitwise_right_shift(ta, tb).cpu().numpy(), a >> b)
        c = ta.clone()
        c &= tb
        c |= 1
        c ^= tb
        c <<= 1
        c >>= 1
        expected = ((((a & b) | 1) ^ b).astype(np.int64) << 1).astype(dtype.np) >> 1
        np.testing.assert_array_equal(c.cpu().numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_shifts_out_of_range_and_promotion(device):
    x = tt.tensor([1, -8, 5, 3], dtype=tt.int32, device=device)
    s = tt.tensor([31, 2, 32, -1], dtype=tt.int32, device=device)
    assert (x << s).tolist() == [-2 ** 31, -32, 0, 0]
    assert (x >> s).tolist() == [0, -2, 0, 0]  # out of range: the sign fill
    assert (tt.tensor([-8], device=device) >> 70).tolist() == [-1]
    assert (1 << tt.tensor([0, 3], dtype=tt.uint8, device=device)).tolist() == [1, 8]
    u = tt.tensor([0xF0], dtype=tt.uint8, device=device)
    i8 = tt.tensor([-1], dtype=tt.int8, device=device)
    r = u & i8
    assert r.dtype is tt.int16 and r.tolist() == [0xF0]
    assert (tt.tensor([True, False], device=device) | 2).dtype is tt.int64


@pytest.mark.parametrize("device", DEVICES)
def test_bitwise_errors(device):
    f = tt.tensor([1.0], device=device)
    b = tt.tensor([True], device=device)
    i = tt.tensor([1], device=device)
    with pytest.raises(RuntimeError, match=f"\"bitwise_and_{device}\" not implemented for 'Float'"):
        f & i
    with pytest.raises(RuntimeError, match=f"bitwise_not_{device}.*Float"):
        ~f
    with pytest.raises(RuntimeError, match="lshift.*Bool"):
        b << b
    with pytest.raises(RuntimeError, match="rshift.*Float"):
        i >> 1.5
