"""isnan/isinf/isfinite/isposinf/isneginf and nan_to_num on cpu and interpreted cuda against NumPy, and
nan_to_num's backward."""

import math

import ml_dtypes
import numpy as np
import pytest

import tritensor as tt
from tests.ops.comparison_helpers import DEVICES, _np


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
def test_predicates_and_nan_to_num(device, dtype):
    values = [math.nan, math.inf, -math.inf, 1.0, -0.0, 2.5]
    x = tt.tensor([values, values[::-1]], dtype=dtype, device=device).t()
    n = np.array([values, values[::-1]], dtype=np.float64).T
    for fn, ref in ((tt.isnan, np.isnan), (tt.isinf, np.isinf), (tt.isfinite, np.isfinite),
                    (tt.isposinf, np.isposinf), (tt.isneginf, np.isneginf)):
        r = fn(x)
        assert r.dtype is tt.bool
        np.testing.assert_array_equal(r.cpu().numpy(), ref(n))
    top = float(ml_dtypes.finfo(dtype.np).max)
    r = _np(tt.nan_to_num(x))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=0.0, posinf=top, neginf=-top))
    r = _np(x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=1.0, posinf=2.0, neginf=-3.0))
    r = _np(tt.nan_to_num(x, posinf=4.0))
    np.testing.assert_array_equal(r, np.nan_to_num(n, nan=0.0, posinf=4.0, neginf=-top))
    y = x.clone()
    y.nan_to_num_(nan=5.0, posinf=6.0, neginf=7.0)
    np.testing.assert_array_equal(_np(y), np.nan_to_num(n, nan=5.0, posinf=6.0, neginf=7.0))


@pytest.mark.parametrize("device", DEVICES)
def test_predicates_on_integers(device):
    i = tt.tensor([[1, -2], [3, 0]], dtype=tt.int32, device=device)
    for fn in (tt.isnan, tt.isinf, tt.isposinf, tt.isneginf):
        r = fn(i)
        assert r.dtype is tt.bool and r.tolist() == [[False, False], [False, False]]
    assert tt.isfinite(i).tolist() == [[True, True], [True, True]]
    c = tt.nan_to_num(i)
    assert c.dtype is tt.int32 and c.tolist() == [[1, -2], [3, 0]] and c.data_ptr() != i.data_ptr()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_nan_to_num_backward(device, create_graph):
    x = tt.tensor([math.nan, 1.0, math.inf, -2.0], device=device, requires_grad=True)
    g = tt.tensor([1.0, 2.0, math.inf, 4.0], device=device)
    with np.errstate(invalid="ignore"):
        tt.nan_to_num(x, posinf=9.0).backward(g, create_graph=create_graph)
    r = x.grad.tolist()
    assert r[0] == 0.0 and r[1] == 2.0 and math.isnan(r[2]) and r[3] == 4.0  # grad * isfinite(x)
