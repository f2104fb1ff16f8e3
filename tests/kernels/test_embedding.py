"""kernels/embedding.py and kernels/embedding_bag.py in Triton's interpreter against their NumPy references."""

import numpy as np
import pytest
from tritensor.kernels import embedding as K
from tritensor.kernels import embedding_bag as KB
from tritensor.kernels.device_array import host_array

from tests.conftest import as_device

DTYPES = [np.float32, np.float16, np.float64]


def _bf16(a: np.ndarray):
    """a rounded to bfloat16, as (its uint16 bits, a device array over them, the same values in fp32)."""
    from tritensor import dtypes

    bits = ((a.astype(np.float32).view(np.uint32) + 0x8000) >> 16).astype(np.uint16)
    return bits, host_array(bits, dtypes.bfloat16), (bits.astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("D", [1, 7, 33])
def test_forward_gathers_rows(rng, dtype, D):
    w = rng.standard_normal((11, D)).astype(dtype)
    idx = np.array([3, 0, 10, 3, 3, 7, 1], np.int64)
    out = np.zeros((len(idx), D), dtype)
    K.embedding(as_device(out), as_device(w), as_device(idx))
    np.testing.assert_array_equal(out, K.embedding_ref(w, idx))


def test_forward_bf16_and_row_stride(rng):
    full = rng.standard_normal((6, 20)).astype(np.float32)
    _, dev, exact = _bf16(full)
    view = dev.view_as((6, 9), (20, 1))  # a column slice: row stride 20
    idx = np.array([5, 0, 5], np.int64)
    bits, out, _ = _bf16(np.zeros((3, 9), np.float32))
    K.embedding(out, view, as_device(idx))
    got = (bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(got, exact[:, :9][idx])


def test_forward_reports_out_of_range(rng):
    w = rng.standard_normal((4, 5)).astype(np.float32)
    for bad in (4, -1):
        err = np.zeros(2, np.int64)
        out = np.ones((3, 5), np.float32)
        K.embedding(as_device(out), as_device(w), as_device(np.array([0, bad, 3], np.int64)), err=as_device(err),
                    err_code=7)
        assert list(err) == [7, bad]
        np.testing.assert_array_equal(out[1], 0)  # nothing read outside the weight
        np.testing.assert_array_equal(out[[0, 2]], w[[0, 3]])


@pytest.mark.parametrize("padding_idx", [-1, 2])
def test_atomic_backward_sums_duplicates(rng, padding_idx):
    idx = np.array([2, 0, 2, 5, 2, 0, 1], np.int64)
    g = rng.standard_normal((len(idx), 13)).astype(np.float32)
    gw = np.zeros((6, 13), np.float32)
    K.embedding_backward(as_device(gw), as_device(g), as_device(idx), padding_idx)
    np.testing.assert_allclose(gw, K.embedding_backward_ref(g, idx, 6, padding_idx), rtol=1e-6, atol=1e-6)
    if padding_idx >= 0:
        np.testing.assert_array_equal(gw[padding_idx], 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [False, True])
def test_sorted_backward_is_the_reference_bit_for_bit(rng, dtype, scale):
    idx = np.array([4, 1, 4, 4, 0, 1, 6, 4, 2], np.int64)
    g = rng.standard_normal((len(idx), 19)).astype(dtype)
    order = np.argsort(idx, kind="stable")
    expected = K.embedding_backward_ref(g, idx, 8, 2, scale)
    for _ in range(2):  # the same bits every run
        gw = np.zeros((8, 19), dtype)
        K.embedding_backward_sorted(as_device(gw), as_device(g), as_device(np.ascontiguousarray(idx[order])),
                                    as_device(order.astype(np.int64)), 2, scale)
        np.testing.assert_array_equal(gw, expected)
    assert not gw[2].any() and not gw[[3, 5, 7]].any()
    if scale:
        np.testing.assert_allclose(gw[4].astype(np.float64), g[idx == 4].astype(np.float64).sum(0) / 4,
                                   rtol=2e-3 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_renorm(rng, norm_type):
    w = (rng.standard_normal((6, 10)) * 3).astype(np.float32)
    w[3] *= 0.01  # below max_norm: untouched
    idx = np.array([1, 3, 1, 5, 9], np.int64)  # 9 is out of range: skipped (the lookup reports it)
    expected = K.embedding_renorm_ref(w, idx[:-1], 1.5, norm_type)
    got = w.copy()
    K.embedding_renorm(as_device(got), as_device(np.sort(idx)), 1.5, norm_type)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[[0, 2, 3, 4]], w[[0, 2, 3, 4]])
    np.testing.assert_allclose(np.linalg.norm(got[1], ord=norm_type), 1.5, rtol=1e-5)


def _bags(rng, dtype, mode, psw=False, padding_idx=-1):
    w = rng.standard_normal((9, 21)).astype(dtype)
    idx = np.array([1, 4, 4, 8, 0, 3, 3, 2, 7, 5, 1], np.int64)
    bounds = np.array([0, 3, 3, 7, 11], np.int64)  # bag 1 is empty
    p = rng.standard_normal(len(idx)).astype(dtype) if psw else None
    return w, idx, bounds, p, padding_idx


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [-1, 3])
def test_bag_forward_and_backward(rng, mode, dtype, padding_idx):
    w, idx, bounds, p, pad = _bags(rng, dtype, mode, mode == "sum", padding_idx)
    B, D = len(bounds) - 1, w.shape[1]
    ref_out, ref_pos, ref_o2b, ref_size = KB.embedding_bag_ref(w, idx, bounds, mode, p, pad)
    out = np.full((B, D), 9, dtype)
    pos = np.zeros((B, D), np.int64)
    o2b, size = np.zeros(len(idx), np.int64), np.zeros(B, np.int64)
    KB.embedding_bag(as_device(out), as_device(pos) if mode == "max" else None, as_device(o2b), as_device(size),
                     as_device(w), as_device(idx), as_device(bounds), mode, None if p is None else as_device(p), pad)
    np.testing.assert_allclose(out, ref_out, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[1], 0)  # the empty bag
    np.testing.assert_array_equal(o2b, ref_o2b)
    np.testing.assert_array_equal(size, ref_size)
    if mode == "max":
        np.testing.assert_array_equal(pos, ref_pos)
    g = rng.standard_normal((B, D)).astype(dtype)
    rg = np.zeros((len(idx), D), dtype)
    KB.embedding_bag_backward(as_device(rg), as_device(g), as_device(pos) if mode == "max" else None,
                              as_device(size), as_device(idx), as_device(bounds), mode,
                              None if p is None else as_device(p), pad)
    np.testing.assert_allclose(rg, KB.embedding_bag_backward_ref(g, idx, bounds, mode, ref_pos, ref_size, p, pad),
                               rtol=1e-6, atol=1e-6)


def test_bag_max_ties_take_the_first_and_errors_are_reported():
    w = np.array([[1.0, 5.0], [1.0, 2.0], [0.0, 5.0]], np.float32)
    idx = np.array([0, 1, 2, 3], np.int64)
    out, pos = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.int64)
    err = np.zeros(2, np.int64)
    KB.embedding_bag(as_device(out), as_device(pos), as_device(np.zeros(4, np.int64)), as_device(np.zeros(1, np.int64)),
                     as_device(w), as_device(idx), as_device(np.array([0, 4], np.int64)), "max",
                     err=as_device(err), err_code=3)
    assert list(err) == [3, 3]
    np.testing.assert_array_equal(pos, [[0, 0]])
    np.testing.assert_array_equal(out, [[1.0, 5.0]])
