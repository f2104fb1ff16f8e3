"""Extrema kernels (max/min, amax/amin, argmax/argmin) in Triton's interpreter: NaN and ties, first occurrences
across chunks, and amax's gradient split among ties."""


import numpy as np
import pytest
from tritensor.kernels import extrema as EX

from tests.kernels.reduction_helpers import BF16, backward, f64, run

# The interpreter evaluates IEEE edge cases (log(0), 0/0, all-NaN max) in NumPy, which warns.


@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("dt", [np.float32, np.float16, BF16])
def test_max_min_nan_and_ties(dt, contiguous):
    nan, inf = np.nan, np.inf
    rows = [
        [1, 3, 3, 2, 3, 0],  # ties: first occurrence
        [1, nan, 5, nan, 2, 9],  # NaN is the max and the min, first NaN's index
        [nan, 1, 2, 3, 4, 5],  # NaN first (the lanes' starting value)
        [-inf, -inf, -inf, -inf, -inf, -inf],
        [nan, nan, nan, nan, nan, nan],
        [-1, -5, -5, 0, -0.0, 0],
    ]
    x = np.array(rows, np.float64).astype(dt)
    x2 = x if contiguous else np.asfortranarray(x)  # strided rows use the other config
    for fn, ref in ((EX.max, EX.max_ref), (EX.min, EX.min_ref)):
        v, i = run(fn, x2, dt, np.int64)
        rv, ri = ref(x, 1, False)
        np.testing.assert_array_equal(f64(v), f64(rv))  # NaN == NaN here
        assert i.tolist() == ri.tolist()
    assert run(EX.argmax, x2, np.int64).tolist() == EX.argmax_ref(x, 1, False).tolist()
    assert run(EX.argmin, x2, np.int64).tolist() == EX.argmin_ref(x, 1, False).tolist()
    np.testing.assert_array_equal(f64(run(EX.amax, x2, dt)), f64(EX.amax_ref(x, (1,), False)))


def test_argmax_ties_across_chunks():
    x = np.zeros((2, 2600), np.float32)
    x[0, [1500, 100, 2599]] = 7.0  # the first occurrence sits in an earlier chunk than the others
    x[1, [2599, 1024]] = np.nan
    v, i = run(EX.max, x, np.float32, np.int64)
    assert i.tolist() == [100, 1024] and v[0] == 7 and np.isnan(v[1])
    xt = np.ascontiguousarray(x.T).T  # the same rows, strided
    assert run(EX.argmax, xt, np.int64).tolist() == [100, 1024]


def test_amax_backward_splits_ties_and_nan():
    x = np.array([[1.0, 4.0, 4.0, 4.0, 0.0], [np.nan, 1.0, np.nan, 2.0, 3.0]], np.float32)
    g = np.array([3.0, 2.0], np.float32)
    y = run(EX.amax, x, np.float32)
    gx = backward(EX.amax_backward, x, g, x, y)
    np.testing.assert_allclose(gx, [[0, 1, 1, 1, 0], [1, 0, 1, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(gx, EX.amax_backward_ref(g, x, y, (1,), False)[0])
