"""Creation composites (tril_indices/triu_indices, scalar_tensor, asarray, vander, the window functions) and the
predicates is_floating_point/is_nonzero on cpu and interpreted cuda against NumPy, and every error."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_tril_triu_indices(device):
    for row, col, offset in ((3, 3, 0), (4, 3, 1), (3, 5, -1), (2, 4, 9), (3, 2, -9), (0, 3, 0), (3, 0, 0)):
        r = tt.tril_indices(row, col, offset, device=device)
        assert r.dtype is tt.int64 and r.device.type == device and r.shape[0] == 2
        np.testing.assert_array_equal(_np(r), np.stack(np.tril_indices(row, offset, col)))
        u = tt.triu_indices(row, col, offset=offset, dtype=tt.int32, device=device)
        assert u.dtype is tt.int32
        np.testing.assert_array_equal(_np(u), np.stack(np.triu_indices(row, offset, col)))
    m = np.arange(12).reshape(3, 4)
    i = tt.tril_indices(3, 4)
    np.testing.assert_array_equal(_np(tt.tensor(m)[i[0], i[1]]), m[np.tril_indices(3, 0, 4)])


def test_tri_indices_errors():
    with pytest.raises(RuntimeError, match="row must be non-negative, got-1"):
        tt.tril_indices(-1, 3)
    with pytest.raises(RuntimeError, match="col must be non-negative, got-2"):
        tt.triu_indices(3, -2)
    with pytest.raises(RuntimeError, match="\"triu_indices\" not implemented for 'Float'"):
        tt.triu_indices(3, 3, dtype=tt.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_scalar_tensor(device):
    s = tt.scalar_tensor(3, device=device)
    assert s.shape == () and s.dtype is tt.float32 and s.item() == 3.0 and s.device.type == device
    s = tt.scalar_tensor(2.5, dtype=tt.float64, requires_grad=True)
    assert s.dtype is tt.float64 and s.requires_grad and s.item() == 2.5
    assert tt.scalar_tensor(True, dtype=tt.int64).item() == 1


def test_asarray_shares_or_copies():
    x = tt.arange(4.0)
    assert tt.asarray(x) is x
    assert tt.asarray(x, dtype=tt.float32, copy=False) is x
    c = tt.asarray(x, copy=True)
    c.add_(1)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
    d = tt.asarray(x, dtype=tt.float64)
    assert d.dtype is tt.float64 and d.tolist() == x.tolist()
    g = tt.asarray(x, device="cuda")
    assert g.device.type == "cuda" and g.tolist() == x.tolist()
    a = np.arange(3.0)
    t = tt.asarray(a)
    a[0] = 7  # shared memory
    assert t.dtype is tt.float64 and t.tolist() == [7.0, 1.0, 2.0]
    t = tt.asarray(a, copy=True)
    a[1] = 8
    assert t.tolist() == [7.0, 1.0, 2.0]
    assert tt.asarray(a, dtype=tt.float32).dtype is tt.float32
    r = tt.asarray([[1, 2], [3, 4]], requires_grad=False)
    assert r.dtype is tt.int64 and r.tolist() == [[1, 2], [3, 4]]
    f = tt.asarray([1.0, 2.0], dtype=tt.float64, requires_grad=True)
    assert f.requires_grad and f.is_leaf
    assert tt.asarray(2.5).shape == ()
    with pytest.raises(ValueError, match="can't alias tensor with dtype"):
        tt.asarray(x, dtype=tt.float64, copy=False)
    with pytest.raises(ValueError, match="can't alias tensor from device 'cpu' to 'cuda:0'"):
        tt.asarray(x, device="cuda", copy=False)
    with pytest.raises(ValueError, match="can't alias NumPy array"):
        tt.asarray(a, dtype=tt.float32, copy=False)


@pytest.mark.parametrize("device", DEVICES)
def test_vander(rng, device):
    v = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
    x = tt.tensor(v, device=device)
    for n in (None, 0, 1, 2, 5):
        for increasing in (False, True):
            r = tt.vander(x, n, increasing)
            np.testing.assert_allclose(_np(r), np.vander(v, n, increasing), rtol=1e-6)
            assert r.dtype is tt.float32
    i = tt.tensor([2, 3], dtype=tt.int32)
    r = tt.vander(i, N=3)
    assert r.dtype is tt.int64 and r.tolist() == [[4, 2, 1], [9, 3, 1]]
    assert tt.vander(tt.tensor([True, False]), 2).tolist() == [[1, 1], [0, 1]]
    w = tt.tensor(rng.uniform(0.5, 2.0, 3), requires_grad=True)
    assert tt.autograd.gradcheck(lambda t: tt.vander(t, 4), (w,))
    with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor."):
        tt.vander(tt.zeros(2, 2))
    with pytest.raises(RuntimeError, match="N must be non-negative."):
        tt.vander(x, -1)


def _symmetric(name, m, **kw):
    if name == "hann":
        return np.hanning(m)
    if name == "hamming":
        n = np.arange(m)
        return kw.get("alpha", 0.54) - kw.get("beta", 0.46) * np.cos(2 * np.pi * n / (m - 1)) if m > 1 else np.ones(m)
    if name == "blackman":
        return np.blackman(m)
    if name == "bartlett":
        return np.bartlett(m)
    return np.kaiser(m, kw.get("beta", 12.0))


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "bartlett", "kaiser"])
def test_windows(name):
    fn = getattr(tt, f"{name}_window")
    for n in (0, 1, 2, 5, 8):
        np.testing.assert_allclose(_np(fn(n, periodic=False, dtype=tt.float64)), _symmetric(name, n), atol=1e-12)
        want = _symmetric(name, n + 1)[:n] if n > 1 else np.ones(n)
        r = fn(n)
        assert r.dtype is tt.float32 and r.shape == (n,)
        np.testing.assert_allclose(_np(r), want, rtol=1e-6, atol=1e-6)
    g = fn(6, device="cuda", requires_grad=True)
    assert g.device.type == "cuda" and g.requires_grad
    np.testing.assert_allclose(_np(g), _symmetric(name, 7)[:6], rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match=f"{name}_window expects floating point dtypes, got: Long"):
        fn(3, dtype=tt.int64)
    with pytest.raises(RuntimeError, match=f"{name}_window requires non-negative window_length, got "
                                           "window_length=-1"):
        fn(-1)


def test_window_parameters():
    np.testing.assert_allclose(_np(tt.hamming_window(5, False, alpha=0.5, beta=0.5, dtype=tt.float64)),
                               np.hanning(5), atol=1e-12)
    np.testing.assert_allclose(_np(tt.kaiser_window(6, False, beta=5.0, dtype=tt.float64)), np.kaiser(6, 5.0),
                               atol=1e-12)
    np.testing.assert_allclose(_np(tt.kaiser_window(6, True, 3.0, dtype=tt.float64)), np.kaiser(7, 3.0)[:6],
                               atol=1e-12)


def test_predicates():
    assert tt.is_floating_point(tt.zeros(2)) and tt.is_floating_point(tt.zeros(2, dtype=tt.float16))
    assert not tt.is_floating_point(tt.zeros(2, dtype=tt.int64))
    with pytest.raises(TypeError, match="argument 'input' \\(position 1\\) must be Tensor, not list"):
        tt.is_floating_point([1.0])
    assert tt.is_nonzero(tt.tensor([1.5])) and tt.tensor([[True]]).is_nonzero()
    assert not tt.is_nonzero(tt.tensor(0)) and not tt.is_nonzero(tt.tensor([0.0], device="cuda"))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        tt.is_nonzero(tt.zeros(2))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        tt.is_nonzero(tt.zeros(0))
