"""The NumPy references of sort / argsort / topk (packed (key, index) sorts, partitions, stable argsorts)
against a plain Python oracle: PyTorch's stable order (NaN largest, -0.0 == 0.0, ties by ascending index in
both directions) for every dtype, axis and k, with ties, NaN of either sign, infinities and integer extremes."""

import math

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import sort as S

BF16 = ml_dtypes.bfloat16
DTYPES = [np.float32, np.float16, BF16, np.float64, np.int8, np.int16, np.uint8, np.int32, np.int64, np.bool_]


def _values(dt, shape, rng):
    if dt == np.bool_:
        return rng.integers(0, 2, shape).astype(dt)
    if np.dtype(dt).kind in "iu":
        info = np.iinfo(dt)
        x = rng.integers(-3 if info.min < 0 else 0, 4, shape).astype(dt)  # many ties
        x.flat[::5] = info.min
        x.flat[2::7] = info.max
        return x
    pool = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, -2.0])
    return rng.choice(pool, size=shape).astype(dt)


def _oracle(row, descending):
    """Indices of one row in PyTorch's stable order, by Python's stable sorted() on (key, index)."""
    def key(i):
        v = float(row[i])
        nan = math.isnan(v)
        v = 0.0 if nan else v + 0.0
        return (-nan, -v, i) if descending else (nan, v, i)
    return sorted(range(len(row)), key=key)


def _expected(x, k, axis, descending):
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    idx = np.array([_oracle(r, descending)[:k] for r in rows], np.int64).reshape(moved.shape[:-1] + (k,))
    return np.moveaxis(idx, -1, axis)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(6, 23), (3, 4, 5), (0, 4), (4, 0), (9,)])
def test_sort_argsort_topk_refs_follow_the_stable_order(rng, dt, shape):
    x = _values(dt, shape, rng)
    for axis in range(-x.ndim, x.ndim):
        n = x.shape[axis]
        for descending in (False, True):
            want = _expected(x, n, axis, descending)
            v, i = S.sort_ref(x, axis, descending)
            assert i.dtype == np.int64 and i.flags.c_contiguous and v.flags.c_contiguous
            np.testing.assert_array_equal(i, want)
            assert v.dtype == x.dtype and v.tobytes() == np.take_along_axis(x, want, axis).tobytes()  # exact bits
            np.testing.assert_array_equal(S.argsort_ref(x, axis, descending), want)
            for k in sorted({0, min(1, n), min(2, n), n // 2, n}):
                v, i = S.topk_ref(x, k, axis, descending)
                want_k = _expected(x, k, axis, descending)
                np.testing.assert_array_equal(i, want_k)
                assert v.tobytes() == np.take_along_axis(x, want_k, axis).tobytes()


def test_nan_payloads_and_signs_share_one_largest_key():
    x = np.array([np.nan, 1.0, -np.nan, np.inf, 0.0, -0.0, -np.inf], np.float32)
    x[0] = np.frombuffer(np.uint32(0x7FC00001).tobytes(), np.float32)[0]  # a NaN with a payload
    assert S.argsort_ref(x).tolist() == [6, 4, 5, 1, 3, 0, 2]
    assert S.argsort_ref(x, descending=True).tolist() == [0, 2, 3, 1, 4, 5, 6]
    assert S.topk_ref(x, 3)[1].tolist() == [0, 2, 3]
    assert S.topk_ref(x, 3, largest=False)[1].tolist() == [6, 4, 5]


def test_topk_keeps_every_tie_of_the_kth_value_in_index_order():
    x = np.array([[2, 1, 2, 2, 0, 2, 1]], np.int32)
    assert S.topk_ref(x, 2)[1].tolist() == [[0, 2]]
    assert S.topk_ref(x, 5, largest=False)[1].tolist() == [[4, 1, 6, 0, 2]]
    f = np.array([[-0.0, 0.0, -0.0, 1.0]], np.float16)
    v, i = S.topk_ref(f, 3)
    assert i.tolist() == [[3, 0, 1]] and np.signbit(v).tolist() == [[False, True, False]]
