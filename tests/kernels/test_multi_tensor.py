"""kernels/multi_tensor.py in the interpreter against NumPy: the multi-tensor norm (partials + fixed-order
combine) over many tensors of odd sizes, empty ones included, for every norm kind; the fused clip
coefficient; the in-place scale and clamp; the chunk table."""

import math

import numpy as np
import pytest
from tritensor.kernels import multi_tensor as K

from tests.conftest import as_device

SIZES = [0, 1, 7, 4095, 4096, 4097, 0, 33, 12289, 5]
ORDERS = [1.0, 2.0, 3.5, math.inf, -math.inf, 0.0]


def _group(arrays: list[np.ndarray], chunk_len: int = K.MIN_CHUNK):
    """A Group over host arrays (the table as the ops layer builds it)."""
    devs = [as_device(a) for a in arrays]
    sizes = [a.size for a in arrays]
    ctensor, cstart = K.build_table(sizes, chunk_len)
    table = [np.array([d.data_ptr() for d in devs], np.int64), np.array(sizes, np.int64), ctensor, cstart]
    keep = [as_device(t) for t in table]
    aligned = all(d.data_ptr() % 16 == 0 for d in devs)
    group = K.Group(*keep, devs[0], sum(sizes), aligned, chunk_len)
    counts = np.array([-(-n // chunk_len) for n in sizes])
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return group, bounds, (devs, table)


def _arrays(rng, dtype, sizes=SIZES):
    return [(rng.standard_normal(n) * 3).astype(dtype) for n in sizes]


def test_build_table_chunks_every_tensor():
    ctensor, cstart = K.build_table([0, 5, 9, 0, 4], 4)
    np.testing.assert_array_equal(ctensor, [1, 1, 2, 2, 2, 4])
    np.testing.assert_array_equal(cstart, [0, 4, 0, 4, 8, 0])
    assert K.chunk_length(10) == K.MIN_CHUNK and K.chunk_length(1 << 40) == K.MAX_CHUNK


@pytest.mark.parametrize("p", ORDERS)
def test_foreach_norm_matches_numpy(rng, p):
    arrays = _arrays(rng, np.float32)
    group, bounds, _keep = _group(arrays)
    partials = np.zeros(max(group.chunks, 1), np.float32)
    K.multi_tensor_norm(as_device(partials), group, p)
    out = np.full(len(arrays), -1.0, np.float32)
    K.norm_combine(as_device(out), as_device(partials), as_device(bounds), p)
    for got, a in zip(out, arrays):
        if a.size == 0 and p < 0:
            assert got == np.inf  # the identity of min (the ops layer raises PyTorch's error first)
            continue
        np.testing.assert_allclose(got, K.vector_norm_ref(a, p), rtol=2e-6)


@pytest.mark.parametrize("p", ORDERS)
def test_total_norm_and_clip_coefficient(rng, p):
    arrays = _arrays(rng, np.float32)
    group, _, _keep = _group(arrays)
    partials = np.zeros(group.chunks, np.float32)
    K.multi_tensor_norm(as_device(partials), group, p)
    out, coef = np.zeros(1, np.float32), np.zeros(1, np.float32)
    K.norm_combine(as_device(out), as_device(partials), as_device(np.array([0, group.chunks], np.int64)), p,
                   as_device(coef), max_norm=2.0)
    want = K.total_norm_ref(arrays, p)
    np.testing.assert_allclose(out[0], want, rtol=2e-6)
    np.testing.assert_allclose(coef[0], K.clip_coef_ref(out[0], 2.0), rtol=1e-6)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float16, 2e-3)])
def test_norm_dtypes(rng, dtype, rtol):
    arrays = _arrays(rng, dtype, [3, 4100, 0, 17])
    group, bounds, _keep = _group(arrays)
    acc = np.float64 if dtype == np.float64 else np.float32
    partials = np.zeros(group.chunks, acc)
    K.multi_tensor_norm(as_device(partials), group, 2.0)
    out = np.zeros(len(arrays), dtype)
    K.norm_combine(as_device(out), as_device(partials), as_device(bounds), 2.0)
    for got, a in zip(out, arrays):
        np.testing.assert_allclose(got, K.vector_norm_ref(a, 2.0), rtol=rtol)


def test_nan_and_inf_propagate(rng):
    arrays = _arrays(rng, np.float32, [10, 4200])
    arrays[1][4150] = np.nan
    arrays[0][3] = np.inf
    group, bounds, _keep = _group(arrays)
    for p, want0 in ((2.0, np.inf), (math.inf, np.inf), (1.0, np.inf)):
        partials = np.zeros(group.chunks, np.float32)
        K.multi_tensor_norm(as_device(partials), group, p)
        out = np.zeros(2, np.float32)
        K.norm_combine(as_device(out), as_device(partials), as_device(bounds), p)
        assert out[0] == want0 and np.isnan(out[1])


def test_small_chunks_split_tensors_in_fixed_order(rng):
    arrays = _arrays(rng, np.float32, [9000, 1, 20000])
    group, _, _keep = _group(arrays, chunk_len=K.MIN_CHUNK)
    assert group.chunks == 3 + 1 + 5
    partials = np.zeros(group.chunks, np.float32)
    K.multi_tensor_norm(as_device(partials), group, 2.0)
    first = partials.copy()
    K.multi_tensor_norm(as_device(partials), group, 2.0)
    np.testing.assert_array_equal(partials, first)  # deterministic
    flat = np.concatenate(arrays).astype(np.float64)
    np.testing.assert_allclose(partials.sum(), (flat ** 2).sum(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_scale_in_place(rng, dtype):
    arrays = _arrays(rng, dtype, [5, 0, 4099, 70])
    before = [a.copy() for a in arrays]
    group, _, _keep = _group(arrays)
    K.multi_tensor_scale(group, as_device(np.array([0.25], np.float32)))
    for a, b in zip(arrays, before):
        np.testing.assert_allclose(a, (b.astype(np.float64) * 0.25).astype(dtype), rtol=1e-3 if dtype == np.float16
                                   else 1e-7)


def test_clamp_in_place_keeps_nan(rng):
    arrays = _arrays(rng, np.float32, [4101, 3])
    arrays[1][1] = np.nan
    before = [a.copy() for a in arrays]
    group, _, _keep = _group(arrays)
    K.multi_tensor_clamp(group, -0.5, 0.75)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, np.where(np.isnan(b), b, np.clip(b, -0.5, 0.75)))
