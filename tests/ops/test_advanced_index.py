"""Advanced indexing (x[idx], x[mask], x[idx] = v), index_put and index_fill on cpu and interpreted cuda
against NumPy, forward and backward."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _strided, _t


# ================================================================ index_fill / index_put
@pytest.mark.parametrize("device", DEVICES)
def test_index_fill_and_index_put_accumulate(rng, device):
    a, x = _strided(rng, (3, 4), tt.float32, device)
    expected = a.copy()
    expected[:, [0, 2]] = -1
    np.testing.assert_array_equal(_np(x.index_fill(1, _t([0, -2], device), -1)), expected)
    rows, cols = np.array([0, 0, 2, 0]), np.array([1, 1, 3, 1])
    vals = rng.standard_normal(4).astype(np.float32)
    expected = a.astype(np.float64).copy()
    np.add.at(expected, (rows, cols), vals)
    r = tt.index_put(x, (_t(rows, device), _t(cols, device)), _t(vals, device), accumulate=True)
    np.testing.assert_allclose(_np(r), expected, rtol=1e-6)
    y = x.clone()
    y.index_put_((_t([1, 2], device),), _t(np.float32(7), device))
    expected = a.copy()
    expected[[1, 2]] = 7
    np.testing.assert_array_equal(_np(y), expected)
    z = x.clone()
    z.index_fill_(0, _t([1], device), 0.5)
    assert _np(z)[1].tolist() == [0.5] * 4


def test_index_put_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    v = tt.tensor(rng.standard_normal((4,)), requires_grad=True)
    rows, cols = tt.tensor([0, 0, 2, 1]), tt.tensor([1, 1, 3, 1])
    assert tt.autograd.gradcheck(lambda x, v: tt.index_put(x, (rows, cols), v, accumulate=True), (x, v))
    distinct = (tt.tensor([0, 2, 2, 1]), tt.tensor([1, 0, 3, 1]))
    assert tt.autograd.gradcheck(lambda x, v: tt.index_put(x, distinct, v), (x, v))

# ================================================================ advanced indexing
def _keys(rng):
    """(x shape, key builder(np) -> key with NumPy arrays) pairs where NumPy and PyTorch agree."""
    i = np.array([[2, 0], [-1, 2]])
    j = np.array([1, 3])
    m = np.array([True, False, True, True, False])
    m2 = rng.random((4, 5)) < 0.5
    return [
        ((4, 5, 3), lambda: i),
        ((4, 5, 3), lambda: (i, j[:, None] + 0 * i[0])),  # broadcast index tensors
        ((4, 5, 3), lambda: (slice(None), j)),
        ((4, 5, 3), lambda: (i, slice(1, None), np.array([0, 2]))),  # separated: advanced dims go first
        ((4, 5, 3), lambda: (Ellipsis, np.array([2, 2, 0]))),
        ((4, 5, 3), lambda: (None, j, slice(None, None, 2), None)),
        ((3, 5, 4), lambda: (slice(None), m)),
        ((4, 5, 3), lambda: m2),
        ((4, 5, 3), lambda: (m2, np.array([0, 0, 2])[:1])),
        ((4, 5, 3), lambda: (1, j)),  # an int beside one index tensor: same as NumPy
        ((4, 5, 3), lambda: [0, 3, 3]),
    ]


def _tt_key(key, device):
    if isinstance(key, tuple):
        return tuple(_tt_key(k, device) for k in key)
    if isinstance(key, np.ndarray):
        return _t(key, device)
    return key


@pytest.mark.parametrize("device", DEVICES)
def test_getitem_advanced_matches_numpy_with_grad(rng, device):
    for shape, build in _keys(rng):
        a = rng.standard_normal(shape[::-1]).T  # non-contiguous
        x = tt.tensor(np.ascontiguousarray(a.T), device=device).permute(*reversed(range(len(shape))))
        x.requires_grad_(True)
        key = build()
        expected = a[key]
        r = x[_tt_key(key, device)]
        assert r.shape == expected.shape, (key, r.shape, expected.shape)
        np.testing.assert_array_equal(_np(r), expected)
        w = rng.standard_normal(expected.shape)
        (r * _t(w, device)).sum().backward()
        g = np.zeros(shape)
        np.add.at(g, key, w)
        np.testing.assert_allclose(_np(x.grad), g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_getitem_pytorch_rules(device):
    x = tt.arange(24, device=device).reshape(2, 3, 4)
    a = np.arange(24).reshape(2, 3, 4)
    # PyTorch applies ints as select first (NumPy would move the advanced dims to the front here).
    r = x[0, :, [0, 1]]
    assert r.shape == (3, 2) and _np(r).tolist() == a[0][:, [0, 1]].tolist()
    assert x[True].shape == (1, 2, 3, 4) and x[False].shape == (0, 2, 3, 4)
    assert x[tt.tensor(True)].shape == (1, 2, 3, 4)
    assert _np(x[[[0, 1], [1, 2]]]).tolist() == a[[0, 1], [1, 2]].tolist()  # a list of lists is a tuple
    assert _np(x[np.array([1]), 2]).tolist() == a[[1], 2].tolist()
    assert x[tt.tensor([], dtype=tt.int64)].shape == (0, 3, 4)
    assert _np(x[tt.tensor([1, 0], dtype=tt.int32)]).tolist() == a[[1, 0]].tolist()
    assert _np(x[tt.tensor([1, 0], device="cpu")]).tolist() == a[[1, 0]].tolist()  # cpu index, any device
    big = tt.arange(32.0, device=device).reshape(2, 2, 2, 2, 2).permute(4, 3, 2, 1, 0)
    b = np.arange(32.0).reshape(2, 2, 2, 2, 2).transpose(4, 3, 2, 1, 0)
    assert _np(big[big > 20]).tolist() == b[b > 20].tolist()  # a 5-d mask: one index into the flattened dims
    y = x[[1]]
    y[0, 0, 0] = 100  # advanced indexing copies
    assert x[1, 0, 0].item() == 12


def test_getitem_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    i = tt.tensor([[0, 3], [3, 3]])
    m = tt.tensor([True, False, True])
    assert tt.autograd.gradcheck(lambda x: x[i, :, tt.tensor([1, 0])], (x,))
    assert tt.autograd.gradcheck(lambda x: x[:, m], (x,))
    assert tt.autograd.gradgradcheck(lambda x: x[i] * x[i], (x,))


def _setitem_cases(rng):
    return [
        ((4, 5), lambda: np.array([0, 2, -1]), rng.standard_normal((5,))),  # broadcast value rows
        ((4, 5), lambda: (slice(1, None), np.array([4, 0])), rng.standard_normal((3, 2))),
        ((4, 5), lambda: rng.random((4, 5)) < 0.5, 2.5),
        ((4, 5), lambda: (np.array([1, 3]), np.array([0, 4])), rng.standard_normal((1, 2))),  # leading 1 dropped
        ((3, 4, 5), lambda: (Ellipsis, np.array([1, 3])), rng.standard_normal((4, 1))),
        ((4, 5), lambda: (slice(None, None, 2), 1), rng.standard_normal((2,))),  # basic key
        ((4, 5), lambda: (1, slice(None)), -3.0),
    ]


@pytest.mark.parametrize("device", DEVICES)
def test_setitem_matches_numpy_with_grad(rng, device):
    for shape, build, value in _setitem_cases(rng):
        a = rng.standard_normal(shape)
        key = build()
        expected = a.copy()
        expected[key] = value
        base = _t(a, device, True)
        x = base * 1.0  # a non-leaf: assignment rebases its history
        v = _t(value, device, True) if isinstance(value, np.ndarray) else value
        x[_tt_key(key, device)] = v
        np.testing.assert_array_equal(_np(x), expected)
        w = rng.standard_normal(shape)
        (x * _t(w, device)).sum().backward()
        overwritten = np.zeros(shape, bool)
        overwritten[key] = True
        np.testing.assert_allclose(_np(base.grad), np.where(overwritten, 0, w), rtol=1e-12)
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(_np(v.grad), _reduce_like(w[key], value.shape), rtol=1e-12)


def _reduce_like(g, shape):
    """The gradient of a value broadcast (with extra leading 1s allowed) to g's shape."""
    while g.ndim < len(shape):
        g = g[None]
    while g.ndim > len(shape):
        g = g.sum(0)
    for d, n in enumerate(shape):
        if n == 1 and g.shape[d] != 1:
            g = g.sum(d, keepdims=True)
    return g


@pytest.mark.parametrize("device", DEVICES)
def test_setitem_casts_and_counts_versions(device):
    x = tt.zeros(5, dtype=tt.int32, device=device)
    x[tt.tensor([1, 3], device=device)] = tt.tensor([1.9, -2.2], device=device)
    assert x.tolist() == [0, 1, 0, -2, 0]
    x[x > 0] = 7
    assert x.tolist() == [0, 7, 0, -2, 0]
    x[[0, 4]] = [5, 6]
    assert x.tolist() == [5, 7, 0, -2, 6]
    h = tt.zeros(4, dtype=tt.bfloat16, device=device)
    h[tt.tensor([0, 2], device=device)] = 1.5
    assert h.float().tolist() == [1.5, 0, 1.5, 0]
    a = tt.ones(3, requires_grad=True)
    b = a * 2
    c = b * b  # saves b
    b[[0]] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a[[0]] = 1.0
    with tt.no_grad():
        a[[0]] = 5.0
    assert a.tolist() == [5.0, 1.0, 1.0]


def test_setitem_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    v = tt.tensor(rng.standard_normal((2, 1)), requires_grad=True)
    i = tt.tensor([3, 0])
    mask = tt.tensor([True, False, True, True])

    def assign(x, v):
        y = x * 1.0
        y[i, 1:] = v
        y[mask, 0] = v[0, 0]
        return y

    assert tt.autograd.gradcheck(assign, (x, v))


@pytest.mark.parametrize("device", DEVICES)
def test_a_range_indexes_like_a_list(device):
    # mnist_forward_forward: x[range(n), y] = x.max()
    x = tt.zeros(3, 4, device=device)
    y = tt.tensor([2, 0, 3], device=device)
    x[range(x.shape[0]), y] = 5.0
    np.testing.assert_array_equal(x.cpu().numpy(), [[0, 0, 5, 0], [5, 0, 0, 0], [0, 0, 0, 5]])
    np.testing.assert_array_equal(x[range(1, 3)].cpu().numpy(), x.cpu().numpy()[1:3])
    np.testing.assert_array_equal(x[range(3), range(3)].cpu().numpy(), [0, 0, 0])
