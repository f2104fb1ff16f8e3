"""ops/composite_search.py on cpu and interpreted cuda against NumPy: bincount, histc, searchsorted (left/right,
side, sorter, out_int32, batched rows, scalars), bucketize, isin, unique and unique_consecutive (inverse, counts,
dim), and every error."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, **kw):
    return tt.tensor(np.asarray(a), device=device, **kw)


@pytest.mark.parametrize("device", DEVICES)
def test_bincount(device, rng):
    a = rng.integers(0, 6, 20)
    x = _t(a, device)
    got = tt.bincount(x)
    assert got.dtype is tt.int64
    np.testing.assert_array_equal(_np(got), np.bincount(a))
    np.testing.assert_array_equal(_np(x.bincount(minlength=9)), np.bincount(a, minlength=9))
    w = rng.standard_normal(20).astype(np.float32)
    got = tt.bincount(x, _t(w, device))
    assert got.dtype is tt.float32
    np.testing.assert_allclose(_np(got), np.bincount(a, w), rtol=1e-5, atol=1e-6)
    assert tt.bincount(x, _t(np.ones(20, np.int64), device)).dtype is tt.float64
    assert tuple(tt.bincount(_t(np.zeros(0, np.int64), device)).shape) == (0,)
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs."):
        tt.bincount(_t([1, -1], device))
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs."):
        tt.bincount(_t([1.0], device))
    with pytest.raises(RuntimeError, match="minlength should be >= 0"):
        tt.bincount(x, minlength=-1)
    with pytest.raises(RuntimeError, match="weights should be 1-d and have the same length as input"):
        tt.bincount(x, _t([1.0], device))


@pytest.mark.parametrize("device", DEVICES)
def test_bincount_weights_sum_in_order(device):
    # float32 weights are summed in float32 in input order (PyTorch's loop): 1e8 + 1 rounds back to 1e8, so bin 0 is
    # 0, where a float64 sum would give 1. Other weights are summed in float64 (bin 1: 1 + 1e-17 ... exactly).
    x = _t([0, 0, 0, 1, 3, 1], device)
    w32 = _t(np.array([1e8, 1.0, -1e8, 0.5, 2.0, 0.25], np.float32), device)
    got = tt.bincount(x, w32)
    assert got.dtype is tt.float32
    np.testing.assert_array_equal(_np(got), np.array([0.0, 0.75, 0.0, 2.0], np.float32))
    w64 = _t(np.array([1e8, 1.0, -1e8, 1.0, 2.0, 2.0 ** -40]), device)
    got = tt.bincount(x, w64, minlength=6)
    assert got.dtype is tt.float64
    np.testing.assert_array_equal(_np(got), [1.0, 1.0 + 2.0 ** -40, 0.0, 2.0, 0.0, 0.0])
    half = tt.bincount(x, _t(np.array([1, 2, 3, 4, 5, 6], np.float16), device))
    assert half.dtype is tt.float64
    np.testing.assert_array_equal(_np(half), [6.0, 10.0, 0.0, 5.0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dt", [np.uint8, np.int16, np.int32, np.int64])
def test_bincount_integer_dtypes_and_empty(device, dt, rng):
    a = rng.integers(0, 40, 1000).astype(dt)
    got = tt.bincount(_t(a, device), minlength=50)
    assert got.dtype is tt.int64
    np.testing.assert_array_equal(_np(got), np.bincount(a.astype(np.int64), minlength=50))
    view = _t(a, device)[::3]  # a strided input
    np.testing.assert_array_equal(_np(tt.bincount(view)), np.bincount(a[::3].astype(np.int64)))
    for wdt, want in ((np.float32, tt.float32), (np.float64, tt.float64), (np.int64, tt.float64)):
        empty = tt.bincount(_t(np.zeros(0, dt), device), _t(np.zeros(0, wdt), device), minlength=3)
        assert empty.dtype is want
        np.testing.assert_array_equal(_np(empty), [0.0, 0.0, 0.0])
    for w in (None, _t(np.ones(2, np.float32), device), _t(np.ones(2), device)):
        with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs."):
            tt.bincount(_t(np.array([3, -2]), device), w)


def test_bincount_weights_requiring_grad():
    w = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    got = tt.bincount(tt.tensor([2, 0, 2]), w)
    np.testing.assert_array_equal(_np(got), [2.0, 0.0, 4.0])
    got.backward(tt.tensor([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(w.grad.numpy(), [100.0, 1.0, 100.0])


@pytest.mark.parametrize("device", DEVICES)
def test_histc(device, rng):
    a = rng.uniform(-1, 3, 30).astype(np.float32)
    a[:3] = [0.0, 2.0, 5.0]  # the lower edge, the upper edge (last bin), outside (ignored)
    x = _t(a, device)
    got = tt.histc(x, bins=4, min=0, max=2)
    assert got.dtype is tt.float32
    np.testing.assert_array_equal(_np(got), np.histogram(a, 4, (0, 2))[0])
    np.testing.assert_array_equal(_np(x.histc(5)), np.histogram(a, 5, (a.min(), a.max()))[0])
    np.testing.assert_array_equal(_np(tt.histc(_t([2.0, 2.0], device), 2)), [0, 2])  # range [1, 3]
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tt.histc(_t([1], device))
    with pytest.raises(RuntimeError, match="torch.histc: max must be larger than min"):
        tt.histc(x, 4, min=2, max=1)
    with pytest.raises(RuntimeError, match=r"torch.histogram\(\): bins must be > 0, but got 0 for dimension 0"):
        tt.histc(x, 0)
    with pytest.raises(RuntimeError, match=r"torch.histc: range of \[0, inf\] is not finite"):
        tt.histc(x, 4, min=0, max=float("inf"))


@pytest.mark.parametrize("device", DEVICES)
def test_searchsorted_and_bucketize(device, rng):
    seq = np.array([1.0, 3.0, 3.0, 5.0, 7.0])
    v = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 3.5]])
    s, x = _t(seq, device), _t(v, device)
    got = tt.searchsorted(s, x)
    assert got.dtype is tt.int64
    np.testing.assert_array_equal(_np(got), np.searchsorted(seq, v))
    np.testing.assert_array_equal(_np(tt.searchsorted(s, x, right=True)), np.searchsorted(seq, v, "right"))
    np.testing.assert_array_equal(_np(tt.searchsorted(s, x, side="right")), np.searchsorted(seq, v, "right"))
    got = tt.searchsorted(s, x, out_int32=True)
    assert got.dtype is tt.int32
    assert tt.searchsorted(s, 3.0).item() == 1 and tt.searchsorted(s, 3.0).ndim == 0
    nan = _t([np.nan, 2.0], device)  # PyTorch's binary search puts NaN after every boundary
    np.testing.assert_array_equal(_np(tt.searchsorted(s, nan)), [5, 1])
    np.testing.assert_array_equal(_np(tt.searchsorted(s, nan, right=True)), [5, 1])
    perm = rng.permutation(5)
    sorter = np.argsort(seq[perm], kind="stable")
    got = tt.searchsorted(_t(seq[perm], device), x, sorter=_t(sorter, device))
    np.testing.assert_array_equal(_np(got), np.searchsorted(seq[perm], v, sorter=sorter))
    rows = np.sort(rng.standard_normal((2, 6)), 1)  # one sorted row per row of values
    got = tt.searchsorted(_t(rows, device), x)
    np.testing.assert_array_equal(_np(got), [np.searchsorted(rows[i], v[i]) for i in range(2)])
    np.testing.assert_array_equal(_np(tt.bucketize(x, s)), np.searchsorted(seq, v))
    np.testing.assert_array_equal(_np(tt.bucketize(x, s, right=True)), np.digitize(v, seq))
    assert tt.bucketize(x, s, out_int32=True).dtype is tt.int32


def test_searchsorted_errors():
    s = tt.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="side can only be 'left' or 'right' but got up"):
        tt.searchsorted(s, s, side="up")
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites, got side of left while "
                                           "right was True"):
        tt.searchsorted(s, s, side="left", right=True)
    with pytest.raises(RuntimeError, match=r"boundaries tensor should be 1 dimension or the first N-1 dimensions"):
        tt.searchsorted(tt.zeros(2, 3), tt.zeros(3, 1))
    with pytest.raises(RuntimeError, match="boundary and sorter must have the same size"):
        tt.searchsorted(s, s, sorter=tt.tensor([0]))
    with pytest.raises(RuntimeError, match="sorter must be a tensor of long dtype but got dtype Int"):
        tt.searchsorted(s, s, sorter=tt.tensor([0, 1], dtype=tt.int32))
    with pytest.raises(RuntimeError, match="sorter index out of range"):
        tt.searchsorted(s, s, sorter=tt.tensor([0, 2]))
    with pytest.raises(RuntimeError, match=r"input value can be a scalar only when boundaries tensor dimension is 1, "
                                           r"but we got boundaries tensor dim\(2\)"):
        tt.searchsorted(tt.zeros(2, 2), 1.0)
    with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
        tt.bucketize(s, tt.zeros(2, 2))


@pytest.mark.parametrize("device", DEVICES)
def test_isin(device, rng):
    a = rng.integers(0, 8, (3, 4))
    b = rng.integers(0, 8, 5)
    x = _t(a, device)
    np.testing.assert_array_equal(_np(tt.isin(x, _t(b, device))), np.isin(a, b))
    np.testing.assert_array_equal(_np(tt.isin(x, _t(b, device), invert=True)), np.isin(a, b, invert=True))
    np.testing.assert_array_equal(_np(tt.isin(x, 3)), a == 3)
    np.testing.assert_array_equal(_np(tt.isin(3, _t(b, device))), np.isin(3, b))
    np.testing.assert_array_equal(_np(tt.isin(x, _t(np.zeros(0, np.int64), device))), np.zeros((3, 4), bool))
    np.testing.assert_array_equal(_np(tt.isin(x.float(), _t(b, device), assume_unique=True)), np.isin(a, b))
    with pytest.raises(TypeError, match="elements or test_elements must be a Tensor"):
        tt.isin(1, 2)


@pytest.mark.parametrize("device", DEVICES)
def test_unique(device, rng):
    a = rng.integers(0, 5, (3, 4))
    x = _t(a, device)
    got = tt.unique(x)
    assert got.device == x.device
    np.testing.assert_array_equal(_np(got), np.unique(a))
    values, inverse, counts = x.unique(return_inverse=True, return_counts=True)
    ref = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(_np(values), ref[0])
    np.testing.assert_array_equal(_np(inverse), ref[1].reshape(a.shape))
    np.testing.assert_array_equal(_np(counts), ref[2])
    assert inverse.dtype is tt.int64 and counts.dtype is tt.int64
    rows = np.array([[1, 2], [0, 5], [1, 2], [0, 1]])
    values, inverse, counts = tt.unique(_t(rows, device), dim=0, return_inverse=True, return_counts=True)
    ref = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(_np(values), ref[0])
    np.testing.assert_array_equal(_np(inverse), ref[1].ravel())
    np.testing.assert_array_equal(_np(counts), ref[2])
    values, inverse = tt.unique(_t(rows.T.copy(), device), dim=1, return_inverse=True)
    np.testing.assert_array_equal(_np(values), ref[0].T)
    np.testing.assert_array_equal(_np(inverse), ref[1].ravel())


@pytest.mark.parametrize("device", DEVICES)
def test_unique_consecutive(device):
    a = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    values, inverse, counts = tt.unique_consecutive(_t(a, device), return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(_np(values), [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(_np(inverse), [0, 0, 1, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(_np(counts), [2, 2, 1, 2, 1])
    rows = np.array([[1, 2], [1, 2], [0, 1], [1, 2]])
    values, counts = _t(rows, device).unique_consecutive(return_counts=True, dim=0)
    np.testing.assert_array_equal(_np(values), [[1, 2], [0, 1], [1, 2]])
    np.testing.assert_array_equal(_np(counts), [2, 1, 1])
    assert tuple(tt.unique_consecutive(_t(np.zeros(0), device)).shape) == (0,)


def test_type_errors():
    with pytest.raises(TypeError, match=r"bincount\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        tt.bincount([1, 2])
    with pytest.raises(TypeError, match=r"unique\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tt.unique(3)
