"""Indexing ops (gather, scatter, index_select/add/fill/put, masked ops, take, nonzero, one_hot) and advanced
indexing (x[idx], x[mask], x[idx] = v) on cpu and interpreted cuda against NumPy, forward and backward."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, requires_grad=False):
    return tt.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def _along(index, dim):
    """NumPy coordinates of torch.gather/scatter: `index` along dim, the position elsewhere."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def _strided(rng, shape, dtype, device):
    """A non-contiguous tensor (a transpose of its storage) and its values."""
    a = (rng.standard_normal(shape[::-1]) * 4).astype(dtype.np)
    return a.T, tt.tensor(a, device=device).permute(*reversed(range(len(shape))))


# ================================================================ gather / scatter
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64])
@pytest.mark.parametrize("dim", [0, -1])
def test_gather_matches_numpy(rng, device, dtype, dim):
    a, x = _strided(rng, (3, 4, 5), dtype, device)
    ishape = (5, 2, 5) if dim == 0 else (2, 4, 7)
    idx = rng.integers(0, a.shape[dim], ishape)  # repeated indices included
    r = tt.gather(x, dim, _t(idx, device))
    assert r.dtype is dtype and r.shape == ishape
    np.testing.assert_array_equal(_np(r), a[_along(idx, dim % 3)])
    np.testing.assert_array_equal(_np(x.gather(dim, _t(idx, device))), a[_along(idx, dim % 3)])


@pytest.mark.parametrize("device", DEVICES)
def test_gather_backward_accumulates_repeats(rng, device):
    a = rng.standard_normal((4, 3))
    idx = np.array([[0, 0, 3], [1, 0, 0], [3, 3, 3]])
    w = rng.standard_normal(idx.shape)
    x = _t(a, device, requires_grad=True)
    (x.gather(0, _t(idx, device)) * _t(w, device)).sum().backward()
    expected = np.zeros_like(a)
    np.add.at(expected, _along(idx, 0), w)
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_gather_gradcheck_and_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    idx = tt.tensor([[0, 2, 2], [1, 1, 0], [3, 0, 3]])
    assert tt.autograd.gradcheck(lambda x: tt.gather(x, -1, idx), (x,))
    assert tt.autograd.gradgradcheck(lambda x: tt.gather(x, 1, idx) * tt.gather(x, 1, idx), (x,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.int32])
def test_scatter_src_value_and_reduce(rng, device, dtype):
    a, x = _strided(rng, (4, 5), dtype, device)
    src_a = (rng.standard_normal((3, 5)) * 4).astype(dtype.np)  # larger than index: its window is read
    # scatter without reduce: distinct targets per column (duplicates have no defined winner)
    idx = np.stack([rng.permutation(4)[:2] for _ in range(4)], axis=1)
    src = _t(src_a, device)
    expected = a.copy()
    expected[_along(idx, 0)] = src_a[:2, :4]
    np.testing.assert_array_equal(_np(tt.scatter(x, 0, _t(idx, device), src)), expected)
    expected = a.copy()
    expected[_along(idx, 0)] = 3
    np.testing.assert_array_equal(_np(x.scatter(0, _t(idx, device), 3)), expected)
    # reduce: repeated indices combine
    ridx = rng.integers(0, 5, (3, 4))
    for reduce, ufunc in (("add", np.add), ("multiply", np.multiply)):
        expected = a.astype(np.float64).copy()
        ufunc.at(expected, _along(ridx, 1), src_a[:3, :4].astype(np.float64))
        r = x.scatter(-1, _t(ridx, device), src, reduce=reduce)
        np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64),
                                   rtol=2e-3 if dtype is tt.float16 else 1e-6)
    expected = a.astype(np.float64).copy()
    np.add.at(expected, _along(ridx, 1), src_a[:3, :4].astype(np.float64))
    r = tt.scatter_add(x, 1, _t(ridx, device), src)
    np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64),
                               rtol=2e-3 if dtype is tt.float16 else 1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_inplace_forms(device):
    x = tt.zeros(3, 4, device=device)
    idx = tt.tensor([[0, 1, 2, 0]], device=device)
    x.scatter_(0, idx, tt.ones(1, 4, device=device))
    x.scatter_add_(0, idx, tt.full((1, 4), 2.0, device=device))
    assert x.tolist() == [[3, 0, 0, 3], [0, 3, 0, 0], [0, 0, 3, 0]]


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_backward(rng, device):
    a, s = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    idx = np.array([[2, 0, 1, 1], [0, 2, 0, 2]])
    w = rng.standard_normal((3, 4))
    for reduce in (None, "add"):
        x, src = _t(a, device, True), _t(s, device, True)
        r = x.scatter(0, _t(idx, device), src) if reduce is None else x.scatter_add(0, _t(idx, device), src)
        (r * _t(w, device)).sum().backward()
        gx = w.copy()
        if reduce is None:
            gx[_along(idx, 0)] = 0
        gs = np.zeros_like(s)
        gs[:2, :4] = w[_along(idx, 0)]
        np.testing.assert_allclose(_np(x.grad), gx, rtol=1e-12)
        np.testing.assert_allclose(_np(src.grad), gs, rtol=1e-12)


def test_scatter_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    idx = tt.tensor([[2, 0, 1, 1], [0, 2, 0, 2]])
    assert tt.autograd.gradcheck(lambda x, s: tt.scatter(x, 0, idx, s), (x, src))
    rep = tt.tensor([[2, 2, 1, 1], [2, 2, 2, 2]])
    assert tt.autograd.gradcheck(lambda x, s: tt.scatter_add(x, 0, rep, s), (x, src))
    assert tt.autograd.gradcheck(lambda x: x.scatter(1, idx, 0.5), (x,))


# ================================================================ index_select / index_add / index_fill / index_put
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64])
def test_index_select_and_index_add(rng, device, dtype):
    a, x = _strided(rng, (4, 3, 5), dtype, device)
    idx = np.array([3, 0, 3, -0, 1])
    for dim in (0, -1, 1):
        i = idx % a.shape[dim]
        r = tt.index_select(x, dim, _t(i, device))
        np.testing.assert_array_equal(_np(r).astype(np.float64), np.take(a, i, axis=dim).astype(np.float64))
    i = np.array([1, 4, 1])
    src_a = (rng.standard_normal((4, 3, 3)) * 4).astype(dtype.np)
    expected = a.astype(np.float64).copy()
    np.add.at(np.moveaxis(expected, -1, 0), i, 2 * np.moveaxis(src_a.astype(np.float64), -1, 0))
    r = x.index_add(-1, _t(i, device), _t(src_a, device), alpha=2)
    tol = 1.6e-2 if dtype is tt.bfloat16 else 1e-6
    np.testing.assert_allclose(_np(r).astype(np.float64), expected.astype(dtype.np).astype(np.float64), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_index_select_add_backward(rng, device):
    a, s = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    i = np.array([2, 2])
    x, src = _t(a, device, True), _t(s, device, True)
    w = rng.standard_normal((4, 3))
    (x.index_add(1, _t(i, device), src, alpha=3) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), w, rtol=1e-12)
    np.testing.assert_allclose(_np(src.grad), 3 * w[:, i], rtol=1e-12)
    x = _t(a, device, True)
    w2 = rng.standard_normal((4, 2))
    (x.index_select(1, _t(i, device)) * _t(w2, device)).sum().backward()
    expected = np.zeros_like(a)
    expected[:, 2] = w2.sum(1)
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_index_select_add_fill_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    s = tt.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    v = tt.tensor(1.5, dtype=tt.float64, requires_grad=True)
    i = tt.tensor([3, 0, 3])
    assert tt.autograd.gradcheck(lambda x: tt.index_select(x, -1, i), (x,))
    assert tt.autograd.gradcheck(lambda x, s: tt.index_add(x, 1, i, s, alpha=-2), (x, s))
    assert tt.autograd.gradcheck(lambda x, v: tt.index_fill(x, 1, tt.tensor([1, 3]), v), (x, v))


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


# ================================================================ masked ops
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int32, tt.bool])
def test_masked_fill_select_scatter(rng, device, dtype):
    a, x = _strided(rng, (3, 5), dtype, device)
    m = rng.random((5,)) < 0.5  # broadcast over rows
    mask = _t(m, device)
    mb = np.broadcast_to(m, a.shape)
    expected = np.where(mb, np.asarray(1).astype(dtype.np), a)
    np.testing.assert_array_equal(_np(tt.masked_fill(x, mask, 1)).astype(np.float64), expected.astype(np.float64))
    np.testing.assert_array_equal(_np(x.masked_fill(mask, _t(np.asarray(1, dtype.np), device))).astype(np.float64),
                                  expected.astype(np.float64))
    sel = tt.masked_select(x, mask)
    assert sel.shape == (int(mb.sum()),)
    np.testing.assert_array_equal(_np(sel).astype(np.float64), a[mb].astype(np.float64))
    source = (rng.standard_normal(20) * 4).astype(dtype.np)
    expected = a.copy()
    expected[mb] = source[: int(mb.sum())]
    r = x.masked_scatter(mask, _t(source, device))
    np.testing.assert_array_equal(_np(r).astype(np.float64), expected.astype(np.float64))
    y = x.clone()
    y.masked_fill_(mask, 0)
    np.testing.assert_array_equal(_np(y).astype(np.float64), np.where(mb, 0, a).astype(np.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_masked_backward(rng, device):
    a = rng.standard_normal((3, 4))
    m = rng.random((3, 1)) < 0.5
    m[0] = True
    w = rng.standard_normal((3, 4))
    x, v = _t(a, device, True), _t(np.float64(2.0), device, True)
    (x.masked_fill(_t(m, device), v) * _t(w, device)).sum().backward()
    mb = np.broadcast_to(m, a.shape)
    np.testing.assert_allclose(_np(x.grad), np.where(mb, 0, w), rtol=1e-12)
    np.testing.assert_allclose(_np(v.grad), w[mb].sum(), rtol=1e-12)
    x = _t(a, device, True)
    sel = x.masked_select(_t(m, device))
    (sel * _t(np.arange(sel.numel(), dtype=np.float64), device)).sum().backward()
    expected = np.zeros_like(a)
    expected[mb] = np.arange(mb.sum())
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_masked_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    v = tt.tensor(0.5, dtype=tt.float64, requires_grad=True)
    s = tt.tensor(rng.standard_normal((7,)), requires_grad=True)
    mask = tt.tensor([[True, False, True, False], [False, False, True, True], [True, False, False, False]])
    assert tt.autograd.gradcheck(lambda x, v: tt.masked_fill(x, mask, v), (x, v))
    assert tt.autograd.gradcheck(lambda x: tt.masked_select(x, mask[0]), (x,))
    assert tt.autograd.gradcheck(lambda x, s: tt.masked_scatter(x, mask, s), (x, s))
    assert tt.autograd.gradgradcheck(lambda x: tt.masked_fill(x, mask, 0.5) * x, (x,))


# ================================================================ take / nonzero / one_hot
@pytest.mark.parametrize("device", DEVICES)
def test_take_nonzero_one_hot(rng, device):
    a, x = _strided(rng, (3, 4), tt.float32, device)
    idx = np.array([[0, -1], [11, 5], [5, 5]])
    np.testing.assert_array_equal(_np(tt.take(x, _t(idx, device))), a.reshape(-1)[idx])
    xg = _t(a.astype(np.float64), device, True)
    xg.take(_t(idx, device)).sum().backward()
    expected = np.zeros(12)
    np.add.at(expected, idx.reshape(-1) % 12, 1)
    np.testing.assert_array_equal(_np(xg.grad), expected.reshape(3, 4))
    m = (rng.random((2, 3, 4)) < 0.4).astype(np.int32)
    t = _t(m, device).permute(2, 0, 1)
    np.testing.assert_array_equal(_np(tt.nonzero(t)), np.argwhere(m.transpose(2, 0, 1)))
    np.testing.assert_array_equal(_np(t.argwhere()), np.argwhere(m.transpose(2, 0, 1)))
    cols = t.nonzero(as_tuple=True)
    for c, e in zip(cols, np.nonzero(m.transpose(2, 0, 1))):
        np.testing.assert_array_equal(_np(c), e)
    assert tt.nonzero(tt.zeros(3, device=device)).shape == (0, 1)
    assert tt.nonzero(tt.tensor(2.0, device=device)).shape == (1, 0)
    assert [_np(c).tolist() for c in tt.tensor(5, device=device).nonzero(as_tuple=True)] == [[0]]
    labels = np.array([[2, 0], [1, 4]])
    oh = tt.one_hot(_t(labels, device))
    assert oh.dtype is tt.int64 and oh.shape == (2, 2, 5)
    np.testing.assert_array_equal(_np(oh), np.eye(5, dtype=np.int64)[labels])
    np.testing.assert_array_equal(_np(tt.one_hot(_t(labels, device), 6)), np.eye(6, dtype=np.int64)[labels])


def test_take_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    idx = tt.tensor([[0, -1, 5], [5, 11, 5]])
    assert tt.autograd.gradcheck(lambda x: tt.take(x.t(), idx), (x,))


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


# ================================================================ errors
@pytest.mark.parametrize("device", DEVICES)
def test_index_errors(device):
    x = tt.zeros(5, 3, device=device)
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"):
        x[tt.tensor([1, 7], device=device)]
    with pytest.raises(IndexError, match="index -6 is out of bounds for dimension 0 with size 5"):
        x[[-6]] = 1.0
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.gather(1, tt.tensor([[0, 3]], device=device))
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 5"):
        x.index_select(0, tt.tensor([5], device=device))
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 15"):
        x.take(tt.tensor([15], device=device))
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[tt.tensor([1.0], device=device)]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[[0], [0], [0]]
    with pytest.raises(IndexError, match="shape of the mask \\[4\\] at index 0 does not match"):
        x[tt.ones(4, dtype=tt.bool, device=device)]
    with pytest.raises(IndexError, match="shape mismatch: indexing tensors could not be broadcast"):
        x[tt.tensor([0, 1], device=device), tt.tensor([0, 1, 2], device=device)]
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape \\[4\\] cannot be broadcast"):
        x[[0, 1]] = tt.zeros(4, device=device)
    with pytest.raises(RuntimeError, match="gather\\(\\): Expected dtype int64 for index"):
        x.gather(0, tt.tensor([[0]], dtype=tt.int32, device=device))
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        x.gather(0, tt.tensor([0], device=device))
    with pytest.raises(RuntimeError, match="Size does not match at dimension 1"):
        x.gather(0, tt.zeros(1, 4, dtype=tt.int64, device=device))
    with pytest.raises(RuntimeError, match="scatter\\(\\): Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, tt.zeros(1, 3, dtype=tt.int64, device=device), tt.zeros(1, 3, dtype=tt.float64, device=device))
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        x.masked_fill(tt.ones(3, device=device), 0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(tt.ones(3, dtype=tt.bool, device=device), tt.zeros(1, device=device))
    with pytest.raises(RuntimeError, match="Number of indices \\(2\\) should be equal to source.size"):
        x.index_add(0, tt.tensor([0, 1], device=device), tt.ones(3, 3, device=device))
    with pytest.raises(RuntimeError, match="index_select\\(\\): Expected dtype int32 or int64"):
        x.index_select(0, tt.tensor([0.0], device=device))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        tt.one_hot(tt.tensor([3], device=device), 3)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        tt.one_hot(tt.tensor([1], dtype=tt.int32, device=device))
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        x.index_put((tt.tensor([0], device=device),), tt.zeros(3, dtype=tt.float64, device=device))
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x.gather(0, tt.zeros(1, 3, dtype=tt.int64, device=other))


def test_cuda_indexing_runs_triton_kernels_not_numpy(monkeypatch):
    """Under the interpreter, cuda indexing ops must go through the Triton kernels: every NumPy reference of
    kernels/indexing.py is disabled here."""
    from tritensor.kernels import indexing as KI

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    for name in dir(KI):
        if name.endswith("_ref"):
            monkeypatch.setattr(KI, name, forbidden)
    x = tt.arange(12.0, device="cuda").reshape(3, 4).requires_grad_()
    i = tt.tensor([2, 0, 2], device="cuda")
    m = tt.tensor([True, False, True], device="cuda")
    y = x[i].sum() + x[m, 1:].sum() + x.gather(1, i[None]).sum() + x.index_select(1, i).sum() + x.take(i).sum()
    y = y + x.masked_fill(m[:, None], 0.0).sum() + x.masked_select(m[:, None]).sum()
    y = y + x.scatter_add(0, i[None], x).sum()
    y.backward()
    z = x.detach().clone()
    z[i, 1] = 5.0
    assert y.item() > 0 and x.grad.shape == (3, 4) and z[2, 1].item() == 5.0
    assert tt.nonzero(m).tolist() == [[0], [2]] and tt.one_hot(i).tolist()[1] == [1, 0, 0]
