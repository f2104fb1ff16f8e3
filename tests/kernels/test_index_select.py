"""index_select/index_add/take kernels in Triton's interpreter against their NumPy references;
the backward references against central finite differences in float64."""

import numpy as np
import pytest
from tritensor.kernels import index_select as S

from tests.conftest import as_device as dev
from tests.kernels.indexing_helpers import BF16, TOL, check_vjp, close, data, idx


# ------------------------------------------------------------------ index_select / index_add
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_index_select(rng, dt):
    x = data(rng, (5, 4, 3), dt)[:, ::2]  # (5, 2, 3) strided
    index = idx(rng, 5, 14)[::2]  # strided 1-d index with repeats
    out = np.zeros((7, 2, 3), dt)
    S.index_select(dev(out), dev(x), dev(index), -3)
    np.testing.assert_array_equal(out, S.index_select_ref(x, index, -3))
    out0 = np.zeros((5, 1, 3), dt)
    S.index_select(dev(out0), dev(x), dev(np.array(1, np.int64)), 1)  # 0-d index keeps the dim
    np.testing.assert_array_equal(out0, S.index_select_ref(x, np.array(1), 1))


@pytest.mark.parametrize("dt", [np.float32, np.float16, np.float64])
def test_index_select_backward(rng, dt):
    index = np.array([2, 0, 2, 2, 1], np.int64)
    grad = data(rng, (3, 5), dt)
    grad_x = np.full((3, 4), 5, dt)
    S.index_select_backward(dev(grad_x), dev(grad), dev(index), 1)
    (ref,) = S.index_select_backward_ref(grad.astype(np.float64), (3, 4), index, 1)
    close(grad_x, ref, dt, 4)


@pytest.mark.parametrize("dt,alpha", [(np.float32, 1), (np.float64, 0.1), (np.int64, 3), (np.float16, -2.0)])
def test_index_add_alpha_repeated(rng, dt, alpha):
    x = data(rng, (3, 6), dt).T  # (6, 3) non-contiguous
    index = np.array([4, 1, 4, 0, 4], np.int64)
    source = data(rng, (5, 3), dt)
    out = np.zeros((6, 3), dt)
    S.index_add(dev(out), dev(x), dev(index), dev(source), 0, alpha=alpha)
    xr, sr = (x.astype(np.float64), source.astype(np.float64)) if dt in TOL else (x, source)
    close(out, S.index_add_ref(xr, index, sr, 0, alpha), dt, 4)
    gx, gs = np.zeros((6, 3), dt), np.zeros((5, 3), dt)
    grad = data(rng, (6, 3), dt)
    S.index_add_backward(dev(gx), dev(gs), dev(grad), dev(index), 0, alpha=alpha)
    rx, rs = S.index_add_backward_ref(grad, index, 0, alpha)
    np.testing.assert_array_equal(gx, rx)
    close(gs, rs, dt)


def test_index_add_bf16_through_acc(rng):
    x = data(rng, (4, 5), BF16)
    index = np.array([1, 1, 3], np.int64)
    source = data(rng, (4, 3), BF16)
    out = np.zeros_like(x)
    S.index_add(dev(out), dev(x), dev(index), dev(source), -1, alpha=2, acc=dev(np.zeros((4, 5), np.float32)))
    ref = S.index_add_ref(x.astype(np.float32), index, source.astype(np.float32), -1, 2)
    close(out, ref.astype(BF16), BF16)

# ------------------------------------------------------------------ take
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16, np.int64, np.bool_])
def test_take_negative_indices(rng, dt):
    x = data(rng, (3, 5), dt)
    index = rng.integers(-9, 9, (2, 4)).astype(np.int64).T
    out = np.zeros((4, 2), dt)
    S.take(dev(out), dev(x), dev(index))
    np.testing.assert_array_equal(out, S.take_ref(x, index))
    xs = data(rng, 20, dt)[::3]  # strided 1-d input collapses to one dim
    out2 = np.zeros((4, 2), dt)
    S.take(dev(out2), dev(xs), dev(index % 7))
    np.testing.assert_array_equal(out2, S.take_ref(xs, index % 7))
    with pytest.raises(ValueError):
        S.take(dev(out), dev(data(rng, (3, 5), dt)[:, 1:4]), dev(index))


@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_take_backward(rng, dt):
    index = np.array([[0, -1, 5], [5, 2, -6]], np.int64)
    grad = data(rng, (2, 3), dt)
    grad_x = np.zeros((2, 3), dt)
    S.take_backward(dev(grad_x), dev(grad), dev(index))
    (ref,) = S.take_backward_ref(grad.astype(np.float64), (2, 3), index)
    close(grad_x, ref, dt, 2)

# ------------------------------------------------------------------ backward references vs finite differences
def test_index_select_add_backward_refs_fd(rng):
    x, source, sel = rng.standard_normal((3, 4)), rng.standard_normal((3, 3)), np.array([3, 0, 3])
    g = rng.standard_normal((3, 3))
    check_vjp(lambda a: S.index_select_ref(a, sel, 1), [x], g,
              {0: S.index_select_backward_ref(g, x.shape, sel, 1)[0]})
    g = rng.standard_normal(x.shape)
    gx, gs = S.index_add_backward_ref(g, sel, 1, 0.5)
    check_vjp(lambda a, s: S.index_add_ref(a, sel, s, 1, 0.5), [x, source], g, {0: gx, 1: gs})
