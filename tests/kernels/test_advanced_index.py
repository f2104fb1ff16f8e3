"""Advanced indexing kernels (x[i0, i1], index_put) in Triton's interpreter against their NumPy references;
the backward references against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import advanced_index as A

from tests.conftest import as_device as dev
from tests.kernels.indexing_helpers import BF16, TOL, check_vjp, close, data

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
    shape = A.index_result_shape(x_shape, [None if t is None else t.shape for t in indices])
    out = np.zeros(shape, dt)
    A.index(dev(out), dev(x), [None if t is None else dev(t) for t in indices])
    np.testing.assert_array_equal(out, A.index_ref(x, indices))


@pytest.mark.parametrize("case", range(len(CASES)))
def test_index_backward_accumulates(rng, case):
    x_shape, spec = CASES[case]
    indices = _indices(rng, x_shape, spec)
    shape = A.index_result_shape(x_shape, [None if t is None else t.shape for t in indices])
    grad = data(rng, shape, np.float32)
    grad_x = np.full(x_shape, 3, np.float32)
    A.index_backward(dev(grad_x), dev(grad), [None if t is None else dev(t) for t in indices])
    (ref,) = A.index_backward_ref(grad.astype(np.float64), x_shape, indices)
    close(grad_x, ref, np.float32, 8)


@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_index_put_unique_and_scalar(rng, dt):
    x = data(rng, (4, 5, 3), dt)
    i0 = np.array([0, 3, -1, 1], np.int64)  # -1 == 3 would repeat with i1 equal; keep pairs distinct
    i1 = np.array([[1], [4]], np.int64)  # broadcasts to (2, 4)
    values = data(rng, (4, 3), dt)  # broadcasts to the (2, 4, 3) result
    out = np.zeros_like(x)
    A.index_put(dev(out), dev(x), [dev(i0), dev(i1)], dev(values))
    keep = [0, 1, 3]  # drop the duplicate target (3 and -1) from the comparison of values
    ref = A.index_put_ref(x, [i0[keep], i1], values[keep])
    np.testing.assert_array_equal(np.delete(out, [3], axis=0), np.delete(ref, [3], axis=0))
    assert any((out[3, j] == values[k]).all() for j in (1, 4) for k in (1, 2))
    value = True if dt == np.bool_ else 5
    A.index_put(dev(out), dev(x), [None, dev(i1[:, 0])], value)  # x[:, i1] = 5
    np.testing.assert_array_equal(out, A.index_put_ref(x, [None, i1[:, 0]], value))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64, np.int64, np.int32])
def test_index_put_accumulate_repeated(rng, dt):
    x = data(rng, (5, 4), dt).T  # (4, 5) non-contiguous, modified in place
    i0 = np.array([1, 1, 2, 1, -3], np.int64)
    i1 = np.array([0, 0, 4, 0, 0], np.int64)
    values = data(rng, 5, dt)
    expected = A.index_put_ref(x.astype(np.float64) if dt in TOL else x, [i0, i1], values, accumulate=True)
    A.index_put(dev(x), dev(x), [dev(i0), dev(i1)], dev(values), accumulate=True)
    close(x, expected, dt, 4)


def test_index_put_accumulate_bf16_needs_acc(rng):
    x = data(rng, (6,), BF16)
    i0 = np.array([2, 2, 5, 2], np.int64)
    values = data(rng, 4, BF16)
    with pytest.raises(TypeError):
        A.index_put(dev(x), dev(x), [dev(i0)], dev(values), accumulate=True)
    expected = A.index_put_ref(x.astype(np.float32), [i0], values.astype(np.float32), accumulate=True)
    A.index_put(dev(x), dev(x), [dev(i0)], dev(values), accumulate=True, acc=dev(np.zeros(6, np.float32)))
    close(x, expected.astype(BF16), BF16)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_backward(rng, accumulate):
    grad = data(rng, (4, 5), np.float32)
    indices = [np.array([3, 0, 3], np.int64), np.array([1, 2, 1], np.int64)]
    gx, gv = np.zeros_like(grad), np.zeros(3, np.float32)
    A.index_put_backward(dev(gx), dev(gv), dev(grad), [dev(t) for t in indices], accumulate)
    rx, rv = A.index_put_backward_ref(grad, indices, accumulate)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gv, rv)


def test_index_result_shape_rules():
    assert A.index_result_shape((5, 6, 7), [None, (2, 3)]) == (5, 2, 3, 7)
    assert A.index_result_shape((5, 6, 7), [(2,), None, (2,)]) == (2, 6)
    assert A.index_result_shape((5, 6, 7), [None, (4, 1), (3,)]) == (5, 4, 3)
    assert A.index_result_shape((5, 6), [()]) == (6,)

# ------------------------------------------------------------------ backward references vs finite differences
def test_index_and_index_put_backward_refs_fd(rng):
    x = rng.standard_normal((3, 4))
    indices = [np.array([[1, 1], [2, 0]]), None]
    g = rng.standard_normal((2, 2, 4))
    check_vjp(lambda a: A.index_ref(a, indices), [x], g, {0: A.index_backward_ref(g, x.shape, indices)[0]})
    g = rng.standard_normal(x.shape)
    unique = [np.array([2, 0, 1]), np.array([1, 3, 1])]
    gx, gv = A.index_put_backward_ref(g, unique, accumulate=False)
    check_vjp(lambda a, v: A.index_put_ref(a, unique, v), [x, rng.standard_normal(3)], g, {0: gx, 1: gv})
    repeated = [np.array([2, 0, 2]), np.array([1, 3, 1])]
    gx, gv = A.index_put_backward_ref(g, repeated, accumulate=True)
    check_vjp(lambda a, v: A.index_put_ref(a, repeated, v, True), [x, rng.standard_normal(3)], g,
              {0: gx, 1: gv})
