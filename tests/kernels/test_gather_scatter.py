"""gather/scatter/scatter_add/one_hot kernels in Triton's interpreter against their NumPy references;
the backward references against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import gather_scatter as G
from tritensor.kernels import index_core as C

from tests.conftest import as_device as dev
from tests.kernels.indexing_helpers import BF16, TOL, check_vjp, close, data, idx


# ------------------------------------------------------------------ gather / scatter along a dim
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
@pytest.mark.parametrize("dim", [0, -1, 1])
def test_gather_noncontiguous(rng, dt, dim):
    x = data(rng, (4, 6, 5), dt).transpose(0, 2, 1)  # (4, 5, 6), non-contiguous
    shape = (3, 4, 5)
    index = idx(rng, x.shape[dim], (shape[0], shape[1], 2 * shape[2]))[:, :, ::2]  # strided index
    out = np.zeros(shape, dt)
    G.gather(dev(out), dev(x), dev(index), dim)
    np.testing.assert_array_equal(out, G.gather_ref(x, index, dim))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_gather_backward_repeated_indices(rng, dt):
    x_shape, dim = (3, 4), -2
    index = idx(rng, 3, (7, 4))  # many repeats along dim 0
    grad = data(rng, index.shape, dt)
    grad_x = np.full(x_shape, 99, dt)  # overwritten
    G.gather_backward(dev(grad_x), dev(grad), dev(index), dim)
    (ref,) = G.gather_backward_ref(grad.astype(np.float64), x_shape, index, dim)
    close(grad_x, ref, dt, 4)


def test_gather_backward_bf16_through_acc(rng):
    assert C.accumulate_dtype(C.dtypes.bfloat16) is C.dtypes.float32
    index = idx(rng, 5, (9, 3))
    grad = data(rng, index.shape, BF16)
    grad_x = np.zeros((5, 3), BF16)
    with pytest.raises(TypeError):
        G.gather_backward(dev(grad_x), dev(grad), dev(index), 0)
    acc = np.full((5, 3), 7, np.float32)
    G.gather_backward(dev(grad_x), dev(grad), dev(index), 0, acc=dev(acc))
    (ref,) = G.gather_backward_ref(grad.astype(np.float64), (5, 3), index, 0)
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
    G.scatter(dev(out), dev(x), dev(index), dev(src), -1)
    np.testing.assert_array_equal(out, G.scatter_ref(x, index, src, -1))
    value = True if dt == np.bool_ else 3
    G.scatter(dev(out), dev(x), dev(index), value, 1)
    np.testing.assert_array_equal(out, G.scatter_ref(x, index, value, 1))


def test_scatter_in_place_fp64_scalar_exact(rng):
    x = np.zeros((4, 3))
    index = np.array([[2, 0, 1]], np.int64)
    G.scatter(dev(x), dev(x), dev(index), 0.1, 0)
    assert x[2, 0] == 0.1 and x[0, 1] == 0.1 and x[1, 2] == 0.1 and x.sum() == 0.30000000000000004


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.int64, np.int32])
def test_scatter_add_repeated(rng, dt):
    x = data(rng, (4, 5), dt).T  # (5, 4) non-contiguous
    index = idx(rng, 5, (8, 3))  # repeats along dim 0
    src = data(rng, (8, 3), dt)
    out = np.zeros((5, 4), dt)
    G.scatter_add(dev(out), dev(x), dev(index), dev(src), 0)
    close(out, G.scatter_add_ref(x.astype(np.float64) if dt in TOL else x, index, src, 0), dt, 8)


@pytest.mark.parametrize("dt,acc_dt", [(BF16, np.float32), (np.int8, np.int32), (np.float16, np.float32)])
def test_scatter_add_through_acc(rng, dt, acc_dt):
    x = data(rng, (3, 6), dt)
    index = idx(rng, 6, (3, 10))
    src = data(rng, (3, 10), dt)
    acc = np.zeros((3, 6), acc_dt)
    expected = G.scatter_add_ref(x.astype(acc_dt), index, src.astype(acc_dt), 1)
    G.scatter_add(dev(x), dev(x), dev(index), dev(src), 1, acc=dev(acc))  # in place
    if dt == np.int8:
        np.testing.assert_array_equal(x, expected.astype(np.int8))  # wraps like sequential int8 adds
    else:
        close(x, expected.astype(dt), dt)


def test_scatter_add_bool_is_logical_or(rng):
    x = np.zeros(5, np.bool_)
    index = np.array([1, 1, 3, 3, 3], np.int64)
    src = np.array([True, False, False, False, False])
    acc = np.zeros(5, np.int32)
    G.scatter_add(dev(x), dev(x), dev(index), dev(src), 0, acc=dev(acc))
    np.testing.assert_array_equal(x, [False, True, False, False, False])


@pytest.mark.parametrize("dt", [np.float32, BF16, np.int64])
def test_scatter_multiply_repeated(rng, dt):
    x = (data(rng, (4, 6), dt) if dt != np.int64 else rng.integers(-3, 4, (4, 6))).astype(dt)
    index = idx(rng, 4, (5, 6))
    src = (data(rng, (5, 6), dt) if dt != np.int64 else rng.integers(-3, 4, (5, 6))).astype(dt)
    out = np.zeros_like(x)
    G.scatter(dev(out), dev(x), dev(index), dev(src), 0, reduce="multiply")
    ref = G.scatter_ref(x.astype(np.float64) if dt in TOL else x, index, src, 0, reduce="multiply")
    close(out, ref, dt, 4)
    G.scatter(dev(out), dev(x), dev(index[:4, :2]), 2, -1, reduce="multiply")
    close(out, G.scatter_ref(x, index[:4, :2], 2, -1, reduce="multiply"), dt)
    with pytest.raises(ValueError):  # index larger than x off `dim` would write out of bounds
        G.scatter(dev(out), dev(x), dev(index[:, :2]), 2, -1, reduce="multiply")


def test_scatter_backward_and_scatter_add_backward(rng):
    grad = data(rng, (4, 5), np.float32)
    index = _unique_index(rng, 4, (3, 5), 0)
    gx, gs = np.zeros_like(grad), np.zeros((3, 5), np.float32)
    G.scatter_backward(dev(gx), dev(gs), dev(grad), dev(index), 0)
    rx, rs = G.scatter_backward_ref(grad, index, 0)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gs, rs)
    G.scatter_add_backward(dev(gx), dev(gs), dev(grad), dev(index), 0)
    rx, rs = G.scatter_add_backward_ref(grad, index, 0)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gs, rs)

def test_one_hot(rng):
    index = rng.integers(0, 6, (3, 7)).astype(np.int64)[:, ::2]
    out = np.full((3, 4, 6), 9, np.int64)
    G.one_hot(dev(out), dev(index), 6)
    np.testing.assert_array_equal(out, G.one_hot_ref(index, 6))
    with pytest.raises(ValueError):
        G.one_hot(dev(out), dev(index), 5)

# ------------------------------------------------------------------ backward references vs finite differences
INDEX = np.array([[0, 2, 2, 1], [2, 2, 0, 0]])  # repeats along dim 0
UNIQUE = np.array([[2, 0, 1, 1], [0, 1, 2, 0]])  # distinct along dim 0 per column

def test_gather_and_scatter_backward_refs_fd(rng):
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    g = rng.standard_normal(INDEX.shape)
    check_vjp(lambda a: G.gather_ref(a, INDEX, 0), [x], g,
              {0: G.gather_backward_ref(g, x.shape, INDEX, 0)[0]})
    g = rng.standard_normal(x.shape)
    gx, gs = G.scatter_backward_ref(g, UNIQUE, 0)
    check_vjp(lambda a, s: G.scatter_ref(a, UNIQUE, s, 0), [x, src], g, {0: gx, 1: gs})
    gx, gs = G.scatter_add_backward_ref(g, INDEX, 0)
    check_vjp(lambda a, s: G.scatter_add_ref(a, INDEX, s, 0), [x, src], g, {0: gx, 1: gs})
