"""ops/composite_stats.py on cpu and interpreted cuda against NumPy: aminmax, median/nanmedian (lower median,
NaN rules, indices), kthvalue, mode, quantile/nanquantile in every interpolation, cummax/cummin, cov, corrcoef;
float64 gradchecks and every error."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, **kw):
    return tt.tensor(np.asarray(a), device=device, **kw)


def _lower_median(a, axis):
    a = np.moveaxis(a, axis, -1)
    srt = np.sort(a, -1)
    n = a.shape[-1]
    return srt[..., (n - 1) // 2]


@pytest.mark.parametrize("device", DEVICES)
def test_aminmax(device, rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    x = _t(a, device)
    r = tt.aminmax(x)
    assert type(r).__name__ == "aminmax"
    np.testing.assert_array_equal([_np(r.min), _np(r.max)], [a.min(), a.max()])
    r = x.aminmax(dim=1, keepdim=True)
    np.testing.assert_array_equal(_np(r.min), a.min(1, keepdims=True))
    np.testing.assert_array_equal(_np(r.max), a.max(1, keepdims=True))
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        tt.aminmax(tt.zeros(0, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_median_lower_and_indices(device, rng):
    a = rng.integers(0, 5, (3, 6)).astype(np.float32)  # many ties
    x = _t(a, device)
    assert _np(tt.median(x)) == _lower_median(a.ravel(), 0)
    r = tt.median(x, 1)
    assert type(r).__name__ == "median"
    np.testing.assert_array_equal(_np(r.values), _lower_median(a, 1))
    np.testing.assert_array_equal(np.take_along_axis(a, _np(r.indices)[:, None], 1)[:, 0], _lower_median(a, 1))
    assert r.indices.dtype is tt.int64
    r = x.median(0, keepdim=True)
    np.testing.assert_array_equal(_np(r.values), _lower_median(a, 0)[None])
    assert tt.median(_t([1.0, 2.0, 3.0, 4.0], device)).item() == 2.0


@pytest.mark.parametrize("device", DEVICES)
def test_median_nanmedian_nan(device):
    a = np.array([[3.0, np.nan, 1.0, 2.0], [4.0, 1.0, 2.0, 0.0], [np.nan, np.nan, np.nan, np.nan]], np.float32)
    x = _t(a, device)
    r = tt.median(x, 1)
    np.testing.assert_array_equal(_np(r.values), [np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(_np(r.indices), [1, 1, 0])
    assert np.isnan(_np(tt.median(x)))
    r = tt.nanmedian(x, 1)
    np.testing.assert_array_equal(_np(r.values), [2.0, 1.0, np.nan])
    np.testing.assert_array_equal(_np(r.indices)[:2], [3, 1])
    assert _np(x.nanmedian()) == 2.0


def test_median_gradients(rng):
    x = tt.tensor(rng.permutation(12).reshape(3, 4).astype(np.float64), requires_grad=True)
    assert gradcheck(lambda t: tt.median(t, 1).values, (x,))
    assert gradcheck(lambda t: tt.nanmedian(t), (x,))
    y = tt.tensor([1.0, 2.0, 2.0, 5.0], requires_grad=True)
    tt.median(y).backward()  # PyTorch spreads it evenly over the elements equal to the median
    np.testing.assert_array_equal(_np(y.grad), [0.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_kthvalue(device, rng):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    x = _t(a, device)
    r = tt.kthvalue(x, 2, 1)
    np.testing.assert_array_equal(_np(r.values), np.sort(a, 1)[:, 1])
    np.testing.assert_array_equal(_np(r.indices), np.argsort(a, 1, kind="stable")[:, 1])
    r = x.kthvalue(3, 0, True)
    np.testing.assert_array_equal(_np(r.values), np.sort(a, 0)[2:3])
    with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range for dimension 1"):
        tt.kthvalue(x, 6, 1)
    with pytest.raises(IndexError, match="kthvalue\\(\\): Expected reduction dim 0 to have non-zero size"):
        tt.kthvalue(tt.zeros(0, device=device), 1)
    with pytest.raises(IndexError, match="median\\(\\): Expected reduction dim 1 to have non-zero size"):
        tt.nanmedian(tt.zeros(2, 0, device=device), 1)


def test_kthvalue_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: tt.kthvalue(t, 2, 0).values, (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_mode(device):
    a = np.array([[1, 2, 2, 3, 3, 1], [5, 5, 4, 4, 4, 0], [7, 8, 9, 7, 9, 8]])
    r = tt.mode(_t(a, device))
    assert type(r).__name__ == "mode"
    np.testing.assert_array_equal(_np(r.values), [1, 4, 7])  # the smallest of the most frequent
    np.testing.assert_array_equal(_np(r.indices), [5, 4, 3])  # its last occurrence
    r = _t(a, device).mode(0, keepdim=True)
    np.testing.assert_array_equal(_np(r.values), [[1, 2, 2, 3, 3, 0]])
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        tt.mode(tt.zeros(0, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_quantile_interpolations(device, rng):
    a = rng.standard_normal((3, 7))
    a[1, 2] = np.nan
    x = _t(a, device)
    qs = np.array([0.0, 0.25, 0.6, 1.0])
    # Every method on cpu; on cuda (the interpreter is slow) floor/ceil and round.
    methods = ("linear", "lower", "higher", "midpoint", "nearest") if device == "cpu" else ("linear", "nearest")
    for method in methods:
        got = tt.quantile(x, _t(qs, device), 1, interpolation=method)
        np.testing.assert_allclose(_np(got), np.quantile(a, qs, 1, method=method), rtol=1e-12)
        got = x.nanquantile(0.4, 1, keepdim=True, interpolation=method)
        np.testing.assert_allclose(_np(got), np.nanquantile(a, 0.4, 1, keepdims=True, method=method), rtol=1e-12)
    b = a[[0, 2]]
    if device == "cuda":
        return
    np.testing.assert_allclose(_np(tt.quantile(_t(b, device), 0.3)), np.quantile(b, 0.3), rtol=1e-12)
    np.testing.assert_allclose(_np(tt.quantile(_t(b, device), 0.5, 0, keepdim=True)),
                               np.quantile(b, 0.5, 0, keepdims=True), rtol=1e-12)
    allnan = _t(np.full((2, 3), np.nan), device)
    assert np.isnan(_np(tt.nanquantile(allnan, 0.5, 1))).all()


def test_quantile_gradcheck_and_errors(rng):
    x = tt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    q = tt.tensor([0.2, 0.7], dtype=tt.float64)
    assert gradcheck(lambda t: tt.quantile(t, q, 1), (x,))
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be in the range \[0, 1\] but got 1.5"):
        tt.quantile(x, 1.5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q values must be in the range \[0, 1\]"):
        tt.quantile(x, tt.tensor([0.5, -0.1], dtype=tt.float64))
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be a scalar or 1D tensor"):
        tt.quantile(x, tt.zeros(1, 1, dtype=tt.float64))
    with pytest.raises(RuntimeError, match=r"quantile\(\) q tensor must be same dtype as the input tensor"):
        tt.quantile(x, tt.tensor([0.5]))
    with pytest.raises(RuntimeError, match=r"quantile\(\) input tensor must be either float or double dtype"):
        tt.nanquantile(tt.tensor([1, 2]), 0.5)
    with pytest.raises(RuntimeError, match="interpolation must be one of linear, lower, higher, midpoint or "
                                           "nearest, but got cubic"):
        tt.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match=r"quantile\(\) input tensor must be non-empty"):
        tt.quantile(tt.zeros(0), 0.5)


def _running(a, is_max):
    values, indices = np.empty_like(a), np.empty(a.shape, np.int64)
    for r in range(a.shape[0]):
        best, idx = a[r, 0], 0
        for i, v in enumerate(a[r]):
            if np.isnan(v) or (not np.isnan(best) and (v >= best if is_max else v <= best)):
                best, idx = v, i
            values[r, i], indices[r, i] = best, idx
    return values, indices


@pytest.mark.parametrize("device", DEVICES)
def test_cummax_cummin(device, rng):
    a = rng.integers(0, 4, (3, 6)).astype(np.float32)
    a[2, 3] = np.nan
    x = _t(a, device)
    for fn, is_max in ((tt.cummax, True), (tt.cummin, False)):
        r = fn(x, 1)
        values, indices = _running(a, is_max)
        np.testing.assert_array_equal(_np(r.values), values)
        np.testing.assert_array_equal(_np(r.indices), indices)
    r = _t(a.T.copy(), device).cummax(0)
    np.testing.assert_array_equal(_np(r.indices), _running(a, True)[1].T)


def test_cummax_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert gradcheck(lambda t: tt.cummax(t, 1).values, (x,))
    assert gradcheck(lambda t: tt.cummin(t, 0).values, (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_cov_corrcoef(device, rng):
    a = rng.standard_normal((3, 6)).astype(np.float32)
    x = _t(a, device)
    np.testing.assert_allclose(_np(tt.cov(x)), np.cov(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(x.cov(correction=0)), np.cov(a, ddof=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(tt.cov(x[0])), np.cov(a[0]), rtol=1e-5)
    fw, aw = np.array([1, 2, 1, 3, 1, 1]), rng.uniform(0.5, 2, 6).astype(np.float32)
    got = tt.cov(x, fweights=_t(fw, device), aweights=_t(aw, device))
    np.testing.assert_allclose(_np(got), np.cov(a, fweights=fw, aweights=aw), rtol=1e-5, atol=1e-6)
    got = tt.cov(x, correction=2, fweights=_t(fw, device))
    np.testing.assert_allclose(_np(got), np.cov(a, ddof=2, fweights=fw), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(x.corrcoef()), np.corrcoef(a), rtol=1e-5, atol=1e-6)
    assert tt.cov(_t([[1, 2, 3]], device)).dtype is tt.float32


def test_cov_gradcheck_and_errors(rng):
    x = tt.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert gradcheck(tt.cov, (x,))
    assert gradcheck(tt.corrcoef, (x,))
    with pytest.raises(RuntimeError, match="expected input to have two or fewer dimensions but got an input "
                                           "with 3 dimensions"):
        tt.cov(tt.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match="expected fweights to have the same numel as there are observations "
                                           "in the input but got 2 != 5"):
        tt.cov(x, fweights=tt.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="expected fweights to have integral dtype but got fweights with "
                                           "Float dtype"):
        tt.cov(x, fweights=tt.ones(5))
    with pytest.raises(RuntimeError, match="expected aweights to have floating point dtype but got aweights "
                                           "with Long dtype"):
        tt.cov(x, aweights=tt.tensor([1, 1, 1, 1, 1]))
    with pytest.raises(RuntimeError, match=r"cov\(\): fweights cannot be negative"):
        tt.cov(x, fweights=tt.tensor([1, -1, 1, 1, 1]))
    with pytest.raises(RuntimeError, match="expected fweights to have one or fewer dimensions"):
        tt.cov(x, fweights=tt.ones(5, 1, dtype=tt.int64))


def test_long_rows_on_cuda_sort_on_the_host(rng):
    """Rows longer than the cuda sort kernel's register row are ordered on the host, gathered on the device."""
    a = rng.standard_normal(4100)
    x = tt.tensor(a, device="cuda")
    assert tt.median(x).item() == np.sort(a)[(a.size - 1) // 2]
    np.testing.assert_allclose(_np(tt.quantile(x, 0.3)), np.quantile(a, 0.3), rtol=1e-12)
    r = tt.kthvalue(x, 7)
    assert r.values.item() == np.sort(a)[6] and r.indices.item() == np.argsort(a)[6]
