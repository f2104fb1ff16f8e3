"""Indexing kernels in Triton's interpreter against their NumPy references; the backward references
against central finite differences in float64."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import indexing as I

from tests.conftest import as_device as dev

BF16 = ml_dtypes.bfloat16
TOL = {np.float32: 1e-6, np.float16: 2e-3, BF16: 1.6e-2, np.float64: 1e-12}


def data(rng, shape, dt):
    """Random values of dtype dt (small integers for int dtypes, coin flips for bool)."""
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(np.dtype(dt), np.integer):
        return rng.integers(-50, 50, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def close(actual, expected, dt, scale=1.0):
    if dt in TOL:
        t = TOL[dt] * scale
        np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                                   rtol=t, atol=t)
    else:
        np.testing.assert_array_equal(actual, expected)


def idx(rng, high, shape):
    return rng.integers(0, high, shape).astype(np.int64)


def fd_vjp(f, args, which, grad, eps=1e-6):
    """d/d args[which] of sum(f(*args) * grad), by central differences (float64)."""
    x = args[which]
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        vals = []
        for sign in (1, -1):
            xp = x.copy()
            xp[i] += sign * eps
            a = list(args)
            a[which] = xp
            vals.append(np.sum(f(*a) * grad))
        out[i] = (vals[0] - vals[1]) / (2 * eps)
    return out


# ------------------------------------------------------------------ gather / scatter along a dim
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
@pytest.mark.parametrize("dim", [0, -1, 1])
def test_gather_noncontiguous(rng, dt, dim):
    x = data(rng, (4, 6, 5), dt).transpose(0, 2, 1)  # (4, 5, 6), non-contiguous
    shape = (3, 4, 5)
    index = idx(rng, x.shape[dim], (shape[0], shape[1], 2 * shape[2]))[:, :, ::2]  # strided index
    out = np.zeros(shape, dt)
    I.gather(dev(out), dev(x), dev(index), dim)
    np.testing.assert_array_equal(out, I.gather_ref(x, index, dim))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_gather_backward_repeated_indices(rng, dt):
    x_shape, dim = (3, 4), -2
    index = idx(rng, 3, (7, 4))  # many repeats along dim 0
    grad = data(rng, index.shape, dt)
    grad_x = np.full(x_shape, 99, dt)  # overwritten
    I.gather_backward(dev(grad_x), dev(grad), dev(index), dim)
    (ref,) = I.gather_backward_ref(grad.astype(np.float64), x_shape, index, dim)
    close(grad_x, ref, dt, 4)


def test_gather_backward_bf16_through_acc(rng):
    assert I.accumulate_dtype(I.dtypes.bfloat16) is I.dtypes.float32
    index = idx(rng, 5, (9, 3))
    grad = data(rng, index.shape, BF16)
    grad_x = np.zeros((5, 3), BF16)
    with pytest.raises(TypeError):
        I.gather_backward(dev(grad_x), dev(grad), dev(index), 0)
    acc = np.full((5, 3), 7, np.float32)
    I.gather_backward(dev(grad_x), dev(grad), dev(index), 0, acc=dev(acc))
    (ref,) = I.gather_backward_ref(grad.astype(np.float64), (5, 3), index, 0)
    close(grad_x, ref.astype(BF16), BF16)


def _unique_index(rng, n_target, shape, dim):
    """An index whose values are distinct along `dim` (scatter without reduce is then deterministic)."""
    lines = np.moveaxis(np.zeros(shape, np.int64), dim, -1)
    for pos in np.ndindex(lines.shape[:-1]):
        lines[pos] = rng.permutation(n_target)[: lines.shape[-1]]
    return np.ascontiguousarray(np.moveaxis(lines, -1, dim))


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_scatter_src_and_scalar(rng, dt):
    x = data(rng, (5, 7), dt)
    index = _unique_index(rng, 7, (3, 4), -1)
    src = data(rng, (6, 9), dt)[::2, ::2]  # larger than index and strided: its index-shaped window is used
    out = np.zeros_like(x)
    I.scatter(dev(out), dev(x), dev(index), dev(src), -1)
    np.testing.assert_array_equal(out, I.scatter_ref(x, index, src, -1))
    value = True if dt == np.bool_ else 3
    I.scatter(dev(out), dev(x), dev(index), value, 1)
    np.testing.assert_array_equal(out, I.scatter_ref(x, index, value, 1))


def test_scatter_in_place_fp64_scalar_exact(rng):
    x = np.zeros((4, 3))
    index = np.array([[2, 0, 1]], np.int64)
    I.scatter(dev(x), dev(x), dev(index), 0.1, 0)
    assert x[2, 0] == 0.1 and x[0, 1] == 0.1 and x[1, 2] == 0.1 and x.sum() == 0.30000000000000004


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.int64, np.int32])
def test_scatter_add_repeated(rng, dt):
    x = data(rng, (4, 5), dt).T  # (5, 4) non-contiguous
    index = idx(rng, 5, (8, 3))  # repeats along dim 0
    src = data(rng, (8, 3), dt)
    out = np.zeros((5, 4), dt)
    I.scatter_add(dev(out), dev(x), dev(index), dev(src), 0)
    close(out, I.scatter_add_ref(x.astype(np.float64) if dt in TOL else x, index, src, 0), dt, 8)


@pytest.mark.parametrize("dt,acc_dt", [(BF16, np.float32), (np.int8, np.int32), (np.float16, np.float32)])
def test_scatter_add_through_acc(rng, dt, acc_dt):
    x = data(rng, (3, 6), dt)
    index = idx(rng, 6, (3, 10))
    src = data(rng, (3, 10), dt)
    acc = np.zeros((3, 6), acc_dt)
    expected = I.scatter_add_ref(x.astype(acc_dt), index, src.astype(acc_dt), 1)
    I.scatter_add(dev(x), dev(x), dev(index), dev(src), 1, acc=dev(acc))  # in place
    if dt == np.int8:
        np.testing.assert_array_equal(x, expected.astype(np.int8))  # wraps like sequential int8 adds
    else:
        close(x, expected.astype(dt), dt)


def test_scatter_add_bool_is_logical_or(rng):
    x = np.zeros(5, np.bool_)
    index = np.array([1, 1, 3, 3, 3], np.int64)
    src = np.array([True, False, False, False, False])
    acc = np.zeros(5, np.int32)
    I.scatter_add(dev(x), dev(x), dev(index), dev(src), 0, acc=dev(acc))
    np.testing.assert_array_equal(x, [False, True, False, False, False])


@pytest.mark.parametrize("dt", [np.float32, BF16, np.int64])
def test_scatter_multiply_repeated(rng, dt):
    x = (data(rng, (4, 6), dt) if dt != np.int64 else rng.integers(-3, 4, (4, 6))).astype(dt)
    index = idx(rng, 4, (5, 6))
    src = (data(rng, (5, 6), dt) if dt != np.int64 else rng.integers(-3, 4, (5, 6))).astype(dt)
    out = np.zeros_like(x)
    I.scatter(dev(out), dev(x), dev(index), dev(src), 0, reduce="multiply")
    ref = I.scatter_ref(x.astype(np.float64) if dt in TOL else x, index, src, 0, reduce="multiply")
    close(out, ref, dt, 4)
    I.scatter(dev(out), dev(x), dev(index[:4, :2]), 2, -1, reduce="multiply")
    close(out, I.scatter_ref(x, index[:4, :2], 2, -1, reduce="multiply"), dt)
    with pytest.raises(ValueError):  # index larger than x off `dim` would write out of bounds
        I.scatter(dev(out), dev(x), dev(index[:, :2]), 2, -1, reduce="multiply")


def test_scatter_backward_and_scatter_add_backward(rng):
    grad = data(rng, (4, 5), np.float32)
    index = _unique_index(rng, 4, (3, 5), 0)
    gx, gs = np.zeros_like(grad), np.zeros((3, 5), np.float32)
    I.scatter_backward(dev(gx), dev(gs), dev(grad), dev(index), 0)
    rx, rs = I.scatter_backward_ref(grad, index, 0)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gs, rs)
    I.scatter_add_backward(dev(gx), dev(gs), dev(grad), dev(index), 0)
    rx, rs = I.scatter_add_backward_ref(grad, index, 0)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gs, rs)


def test_out_of_range_indices_are_masked(rng):
    x = data(rng, (3, 4), np.float32)
    index = np.array([[0, 5, -1, 2]], np.int64)  # 5 and -1 are out of range for gather on dim 0
    out = np.full((1, 4), 9, np.float32)
    I.gather(dev(out), dev(x), dev(index), 0)
    np.testing.assert_array_equal(out, [[x[0, 0], 0, 0, x[2, 3]]])
    target = np.zeros((3, 4), np.float32)
    I.scatter_add(dev(target), dev(target), dev(index), dev(np.ones((1, 4), np.float32)), 0)
    assert target.sum() == 2 and target[0, 0] == 1 and target[2, 3] == 1
    flat = np.zeros(6, np.float32)
    I.take(dev(out), dev(x), dev(np.array([[12, -13, -12, 11]], np.int64)))
    np.testing.assert_array_equal(out, [[0, 0, x[0, 0], x[2, 3]]])
    I.take_backward(dev(flat), dev(np.ones(3, np.float32)), dev(np.array([6, -7, -6], np.int64)))
    np.testing.assert_array_equal(flat, [1, 0, 0, 0, 0, 0])


# ------------------------------------------------------------------ index_select / index_add
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_index_select(rng, dt):
    x = data(rng, (5, 4, 3), dt)[:, ::2]  # (5, 2, 3) strided
    index = idx(rng, 5, 14)[::2]  # strided 1-d index with repeats
    out = np.zeros((7, 2, 3), dt)
    I.index_select(dev(out), dev(x), dev(index), -3)
    np.testing.assert_array_equal(out, I.index_select_ref(x, index, -3))
    out0 = np.zeros((5, 1, 3), dt)
    I.index_select(dev(out0), dev(x), dev(np.array(1, np.int64)), 1)  # 0-d index keeps the dim
    np.testing.assert_array_equal(out0, I.index_select_ref(x, np.array(1), 1))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_index_select_backward(rng, dt):
    index = np.array([2, 0, 2, 2, 1], np.int64)
    grad = data(rng, (3, 5), dt)
    grad_x = np.full((3, 4), 5, dt)
    I.index_select_backward(dev(grad_x), dev(grad), dev(index), 1)
    (ref,) = I.index_select_backward_ref(grad.astype(np.float64), (3, 4), index, 1)
    close(grad_x, ref, dt, 4)


@pytest.mark.parametrize("dt,alpha", [(np.float32, 1), (np.float64, 0.1), (np.int64, 3), (np.float16, -2.0)])
def test_index_add_alpha_repeated(rng, dt, alpha):
    x = data(rng, (3, 6), dt).T  # (6, 3) non-contiguous
    index = np.array([4, 1, 4, 0, 4], np.int64)
    source = data(rng, (5, 3), dt)
    out = np.zeros((6, 3), dt)
    I.index_add(dev(out), dev(x), dev(index), dev(source), 0, alpha=alpha)
    xr, sr = (x.astype(np.float64), source.astype(np.float64)) if dt in TOL else (x, source)
    close(out, I.index_add_ref(xr, index, sr, 0, alpha), dt, 4)
    gx, gs = np.zeros((6, 3), dt), np.zeros((5, 3), dt)
    grad = data(rng, (6, 3), dt)
    I.index_add_backward(dev(gx), dev(gs), dev(grad), dev(index), 0, alpha=alpha)
    rx, rs = I.index_add_backward_ref(grad, index, 0, alpha)
    np.testing.assert_array_equal(gx, rx)
    close(gs, rs, dt)


def test_index_add_bf16_through_acc(rng):
    x = data(rng, (4, 5), BF16)
    index = np.array([1, 1, 3], np.int64)
    source = data(rng, (4, 3), BF16)
    out = np.zeros_like(x)
    I.index_add(dev(out), dev(x), dev(index), dev(source), -1, alpha=2, acc=dev(np.zeros((4, 5), np.float32)))
    ref = I.index_add_ref(x.astype(np.float32), index, source.astype(np.float32), -1, 2)
    close(out, ref.astype(BF16), BF16)


# ------------------------------------------------------------------ masked_fill
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_masked_fill_broadcast_mask(rng, dt):
    x = data(rng, (5, 4), dt).T  # (4, 5)
    mask = rng.random(5) < 0.5
    out = np.zeros((4, 5), dt)
    value = False if dt == np.bool_ else -7
    I.masked_fill(dev(out), dev(x), dev(np.broadcast_to(mask, (4, 5))), value)
    np.testing.assert_array_equal(out, I.masked_fill_ref(x, mask, value))
    v = np.array(True if dt == np.bool_ else 2, dt)  # a 0-d value tensor
    I.masked_fill(dev(out), dev(x), dev(mask), dev(v))
    np.testing.assert_array_equal(out, I.masked_fill_ref(x, mask, v))


def test_masked_fill_fp64_value_exact_and_nan(rng):
    x = np.zeros((3, 3))
    mask = np.eye(3, dtype=bool)
    I.masked_fill(dev(x), dev(x), dev(mask), 0.1)
    np.testing.assert_array_equal(x, np.where(mask, 0.1, 0.0))
    y = np.zeros(3, np.float32)
    I.masked_fill(dev(y), dev(y), dev(np.array([True, False, True])), float("nan"))
    assert np.isnan(y[0]) and y[1] == 0 and np.isnan(y[2])


@pytest.mark.parametrize("dt", [np.float32, BF16])
def test_masked_fill_backward(rng, dt):
    grad = data(rng, (3, 7), dt)
    mask = rng.random((3, 7)) < 0.4
    gx, gv = np.zeros_like(grad), np.zeros_like(grad)
    I.masked_fill_backward(dev(gx), dev(gv), dev(grad), dev(mask))
    rx, rv = I.masked_fill_backward_ref(grad, mask)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gv, rv)


# ------------------------------------------------------------------ take
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_take_negative_indices(rng, dt):
    x = data(rng, (3, 5), dt)
    index = rng.integers(-9, 9, (2, 4)).astype(np.int64).T
    out = np.zeros((4, 2), dt)
    I.take(dev(out), dev(x), dev(index))
    np.testing.assert_array_equal(out, I.take_ref(x, index))
    xs = data(rng, 20, dt)[::3]  # strided 1-d input collapses to one dim
    out2 = np.zeros((4, 2), dt)
    I.take(dev(out2), dev(xs), dev(index % 7))
    np.testing.assert_array_equal(out2, I.take_ref(xs, index % 7))
    with pytest.raises(ValueError):
        I.take(dev(out), dev(data(rng, (3, 5), dt)[:, 1:4]), dev(index))


@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_take_backward(rng, dt):
    index = np.array([[0, -1, 5], [5, 2, -6]], np.int64)
    grad = data(rng, (2, 3), dt)
    grad_x = np.zeros((2, 3), dt)
    I.take_backward(dev(grad_x), dev(grad), dev(index))
    (ref,) = I.take_backward_ref(grad.astype(np.float64), (2, 3), index)
    close(grad_x, ref, dt, 2)


# ------------------------------------------------------------------ advanced indexing
CASES = [
    # (x shape, {dim: index shape}) ; adjacent dims stay in place, separated ones go first
    ((5, 6, 4), {0: (3,)}),
    ((5, 6, 4), {1: (2, 3), 2: (3,)}),
    ((5, 6, 4), {0: (4, 1), 2: (3,)}),
    ((3, 4, 5, 2), {0: (2,), 1: (2,), 3: (1,)}),
    ((3, 4, 5, 2), {1: ()}),
]


def _indices(rng, x_shape, spec):
    out = [None] * len(x_shape)
    for d, shape in spec.items():
        out[d] = rng.integers(-x_shape[d], x_shape[d], shape).astype(np.int64)
    while out and out[-1] is None:
        out.pop()
    return out


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_index_gather_nd(rng, case, dt):
    x_shape, spec = CASES[case]
    x = np.swapaxes(data(rng, x_shape[:-2] + x_shape[-1:] + x_shape[-2:-1], dt), -1, -2)  # non-contiguous
    indices = _indices(rng, x_shape, spec)
    shape = I.index_result_shape(x_shape, [None if t is None else t.shape for t in indices])
    out = np.zeros(shape, dt)
    I.index(dev(out), dev(x), [None if t is None else dev(t) for t in indices])
    np.testing.assert_array_equal(out, I.index_ref(x, indices))


@pytest.mark.parametrize("case", range(len(CASES)))
def test_index_backward_accumulates(rng, case):
    x_shape, spec = CASES[case]
    indices = _indices(rng, x_shape, spec)
    shape = I.index_result_shape(x_shape, [None if t is None else t.shape for t in indices])
    grad = data(rng, shape, np.float32)
    grad_x = np.full(x_shape, 3, np.float32)
    I.index_backward(dev(grad_x), dev(grad), [None if t is None else dev(t) for t in indices])
    (ref,) = I.index_backward_ref(grad.astype(np.float64), x_shape, indices)
    close(grad_x, ref, np.float32, 8)


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_index_put_unique_and_scalar(rng, dt):
    x = data(rng, (4, 5, 3), dt)
    i0 = np.array([0, 3, -1, 1], np.int64)  # -1 == 3 would repeat with i1 equal; keep pairs distinct
    i1 = np.array([[1], [4]], np.int64)  # broadcasts to (2, 4)
    values = data(rng, (4, 3), dt)  # broadcasts to the (2, 4, 3) result
    out = np.zeros_like(x)
    I.index_put(dev(out), dev(x), [dev(i0), dev(i1)], dev(values))
    keep = [0, 1, 3]  # drop the duplicate target (3 and -1) from the comparison of values
    ref = I.index_put_ref(x, [i0[keep], i1], values[keep])
    np.testing.assert_array_equal(np.delete(out, [3], axis=0), np.delete(ref, [3], axis=0))
    assert any((out[3, j] == values[k]).all() for j in (1, 4) for k in (1, 2))
    value = True if dt == np.bool_ else 5
    I.index_put(dev(out), dev(x), [None, dev(i1[:, 0])], value)  # x[:, i1] = 5
    np.testing.assert_array_equal(out, I.index_put_ref(x, [None, i1[:, 0]], value))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64, np.int64, np.int32])
def test_index_put_accumulate_repeated(rng, dt):
    x = data(rng, (5, 4), dt).T  # (4, 5) non-contiguous, modified in place
    i0 = np.array([1, 1, 2, 1, -3], np.int64)
    i1 = np.array([0, 0, 4, 0, 0], np.int64)
    values = data(rng, 5, dt)
    expected = I.index_put_ref(x.astype(np.float64) if dt in TOL else x, [i0, i1], values, accumulate=True)
    I.index_put(dev(x), dev(x), [dev(i0), dev(i1)], dev(values), accumulate=True)
    close(x, expected, dt, 4)


def test_index_put_accumulate_bf16_needs_acc(rng):
    x = data(rng, (6,), BF16)
    i0 = np.array([2, 2, 5, 2], np.int64)
    values = data(rng, 4, BF16)
    with pytest.raises(TypeError):
        I.index_put(dev(x), dev(x), [dev(i0)], dev(values), accumulate=True)
    expected = I.index_put_ref(x.astype(np.float32), [i0], values.astype(np.float32), accumulate=True)
    I.index_put(dev(x), dev(x), [dev(i0)], dev(values), accumulate=True, acc=dev(np.zeros(6, np.float32)))
    close(x, expected.astype(BF16), BF16)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_backward(rng, accumulate):
    grad = data(rng, (4, 5), np.float32)
    indices = [np.array([3, 0, 3], np.int64), np.array([1, 2, 1], np.int64)]
    gx, gv = np.zeros_like(grad), np.zeros(3, np.float32)
    I.index_put_backward(dev(gx), dev(gv), dev(grad), [dev(t) for t in indices], accumulate)
    rx, rv = I.index_put_backward_ref(grad, indices, accumulate)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gv, rv)


def test_index_result_shape_rules():
    assert I.index_result_shape((5, 6, 7), [None, (2, 3)]) == (5, 2, 3, 7)
    assert I.index_result_shape((5, 6, 7), [(2,), None, (2,)]) == (2, 6)
    assert I.index_result_shape((5, 6, 7), [None, (4, 1), (3,)]) == (5, 4, 3)
    assert I.index_result_shape((5, 6), [()]) == (6,)


def test_one_hot(rng):
    index = rng.integers(0, 6, (3, 7)).astype(np.int64)[:, ::2]
    out = np.full((3, 4, 6), 9, np.int64)
    I.one_hot(dev(out), dev(index), 6)
    np.testing.assert_array_equal(out, I.one_hot_ref(index, 6))
    with pytest.raises(ValueError):
        I.one_hot(dev(out), dev(index), 5)


# ------------------------------------------------------------------ boolean masks (two steps)
def _scan(mask):
    offsets = np.zeros(I.compact_scratch_numel(mask.size), np.int64)
    I.mask_scan(dev(offsets), dev(mask))
    return offsets


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_masked_select_multi_block(rng, dt):
    x = data(rng, (2300, 3), dt).T  # (3, 2300): non-contiguous, 7 blocks of 1024
    mask = rng.random(2300) < 0.3
    bmask = np.broadcast_to(mask, x.shape)
    offsets = _scan(bmask)
    n = int(offsets[-1])
    assert n == 3 * mask.sum()
    out = np.zeros(n, dt)
    I.masked_select(dev(out), dev(x), dev(bmask), dev(offsets))
    np.testing.assert_array_equal(out, I.masked_select_ref(x, bmask))


def test_masked_select_backward_and_masked_scatter(rng):
    mask = rng.random((40, 30)) < 0.5
    offsets = _scan(mask)
    n = int(offsets[-1])
    grad = data(rng, n, np.float32)
    grad_x = np.full(mask.shape, 4, np.float32)
    I.masked_select_backward(dev(grad_x), dev(grad), dev(mask), dev(offsets))
    np.testing.assert_array_equal(grad_x, I.masked_select_backward_ref(grad, mask)[0])
    x = data(rng, (40, 30), np.float32)
    source = data(rng, (n + 5,), np.float32)
    out = np.zeros_like(x)
    I.masked_scatter(dev(out), dev(x), dev(mask), dev(source), dev(offsets))
    np.testing.assert_array_equal(out, I.masked_scatter_ref(x, mask, source))


@pytest.mark.parametrize("dt", [np.bool_, np.float32, np.int64])
def test_nonzero(rng, dt):
    x = (rng.random((6, 50, 7)) < 0.2).astype(dt).transpose(2, 0, 1)  # (7, 6, 50), non-contiguous
    offsets = _scan(x)
    out = np.full((int(offsets[-1]), 3), -1, np.int64)
    I.nonzero(dev(out), dev(x), dev(offsets))
    np.testing.assert_array_equal(out, I.nonzero_ref(x))
    empty = np.zeros((3, 4), dt)
    offsets = _scan(empty)
    assert offsets[-1] == 0


def test_block_scan_carries_across_chunks(rng):
    counts = rng.integers(0, 1025, 300).astype(np.int64)
    offsets = np.concatenate([[0], counts])
    I.block_scan_kernel[(1,)](dev(offsets), 300, BLOCK=64)
    np.testing.assert_array_equal(offsets, np.concatenate([[0], np.cumsum(counts)]))


# ------------------------------------------------------------------ backward references vs finite differences
def check_vjp(f, args, grad, analytic):
    """Each float64 argument's analytic gradient against central differences of sum(f(*args) * grad)."""
    for which, expected in analytic.items():
        np.testing.assert_allclose(expected, fd_vjp(f, args, which, grad), atol=1e-7)


INDEX = np.array([[0, 2, 2, 1], [2, 2, 0, 0]])  # repeats along dim 0
UNIQUE = np.array([[2, 0, 1, 1], [0, 1, 2, 0]])  # distinct along dim 0 per column


def test_gather_and_scatter_backward_refs_fd(rng):
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    g = rng.standard_normal(INDEX.shape)
    check_vjp(lambda a: I.gather_ref(a, INDEX, 0), [x], g,
              {0: I.gather_backward_ref(g, x.shape, INDEX, 0)[0]})
    g = rng.standard_normal(x.shape)
    gx, gs = I.scatter_backward_ref(g, UNIQUE, 0)
    check_vjp(lambda a, s: I.scatter_ref(a, UNIQUE, s, 0), [x, src], g, {0: gx, 1: gs})
    gx, gs = I.scatter_add_backward_ref(g, INDEX, 0)
    check_vjp(lambda a, s: I.scatter_add_ref(a, INDEX, s, 0), [x, src], g, {0: gx, 1: gs})


def test_index_select_add_backward_refs_fd(rng):
    x, source, sel = rng.standard_normal((3, 4)), rng.standard_normal((3, 3)), np.array([3, 0, 3])
    g = rng.standard_normal((3, 3))
    check_vjp(lambda a: I.index_select_ref(a, sel, 1), [x], g,
              {0: I.index_select_backward_ref(g, x.shape, sel, 1)[0]})
    g = rng.standard_normal(x.shape)
    gx, gs = I.index_add_backward_ref(g, sel, 1, 0.5)
    check_vjp(lambda a, s: I.index_add_ref(a, sel, s, 1, 0.5), [x, source], g, {0: gx, 1: gs})


def test_masked_fill_take_masked_select_backward_refs_fd(rng):
    x, value = rng.standard_normal((3, 4)), np.array(0.7)
    mask = rng.random(x.shape) < 0.5
    g = rng.standard_normal(x.shape)
    gx, gv = I.masked_fill_backward_ref(g, mask)
    check_vjp(lambda a, v: I.masked_fill_ref(a, mask, v), [x, value], g, {0: gx, 1: gv.sum()})
    tidx = np.array([[0, -1], [11, 5]])
    g = rng.standard_normal(tidx.shape)
    check_vjp(lambda a: I.take_ref(a, tidx), [x], g, {0: I.take_backward_ref(g, x.shape, tidx)[0]})
    g = rng.standard_normal(int(mask.sum()))
    check_vjp(lambda a: I.masked_select_ref(a, mask), [x], g, {0: I.masked_select_backward_ref(g, mask)[0]})


def test_index_and_index_put_backward_refs_fd(rng):
    x = rng.standard_normal((3, 4))
    indices = [np.array([[1, 1], [2, 0]]), None]
    g = rng.standard_normal((2, 2, 4))
    check_vjp(lambda a: I.index_ref(a, indices), [x], g, {0: I.index_backward_ref(g, x.shape, indices)[0]})
    g = rng.standard_normal(x.shape)
    unique = [np.array([2, 0, 1]), np.array([1, 3, 1])]
    gx, gv = I.index_put_backward_ref(g, unique, accumulate=False)
    check_vjp(lambda a, v: I.index_put_ref(a, unique, v), [x, rng.standard_normal(3)], g, {0: gx, 1: gv})
    repeated = [np.array([2, 0, 2]), np.array([1, 3, 1])]
    gx, gv = I.index_put_backward_ref(g, repeated, accumulate=True)
    check_vjp(lambda a, v: I.index_put_ref(a, repeated, v, True), [x, rng.standard_normal(3)], g,
              {0: gx, 1: gv})
