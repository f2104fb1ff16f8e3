"""clamp (clip, clamp_min, clamp_max) on cpu and interpreted cuda against NumPy: tensor and number bounds,
NaN, promotion, errors, backward and the in-place form under autograd."""

import math

import numpy as np
import pytest

import tritensor as tt
from tests.ops.comparison_helpers import DEVICES, _np


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64, tt.int32, tt.uint8])
def test_clamp_values(rng, device, dtype):
    x = rng.standard_normal((3, 4)) * 4
    x = (np.abs(x) if dtype is tt.uint8 else x).astype(dtype.np)
    tx, n = tt.tensor(x, device=device).t(), x.T.astype(np.float64)
    lo, hi = 1, 5
    np.testing.assert_array_equal(_np(tx.clamp(lo, hi)), np.clip(n, lo, hi))
    np.testing.assert_array_equal(_np(tt.clamp(tx, min=lo)), np.maximum(n, lo))
    np.testing.assert_array_equal(_np(tt.clip(tx, max=hi)), np.minimum(n, hi))
    np.testing.assert_array_equal(_np(tt.clamp_min(tx, lo)), np.maximum(n, lo))
    np.testing.assert_array_equal(_np(tt.clamp_max(tx, hi)), np.minimum(n, hi))
    np.testing.assert_array_equal(_np(tx.clamp(hi, lo)), np.full_like(n, lo))  # min > max gives max
    tlo = tt.tensor(np.array([0, 2, 3], dtype=dtype.np), device=device)
    thi = tt.tensor(np.array([[4], [6], [9], [5]], dtype=dtype.np), device=device)
    r = tt.clamp(tx, tlo, thi)
    assert r.dtype is dtype and r.shape == (4, 3)
    np.testing.assert_array_equal(_np(r), np.minimum(np.maximum(n, [0, 2, 3]), [[4], [6], [9], [5]]))
    np.testing.assert_array_equal(_np(tx.clamp(min=tlo)), np.maximum(n, [0, 2, 3]))
    y = tx.clone()
    y.clamp_(lo, hi)
    np.testing.assert_array_equal(_np(y), np.clip(n, lo, hi))
    y.clip_(max=2).clamp_min_(2).clamp_max_(1)
    assert (_np(y) == 1).all()


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_nan_promotion_and_errors(device):
    x = tt.tensor([math.nan, -3.0, 0.5, 7.0], device=device)
    r = x.clamp(-1.0, 1.0).cpu().numpy()
    assert math.isnan(r[0]) and r[1:].tolist() == [-1.0, 0.5, 1.0]
    assert all(math.isnan(v) for v in x.clamp(min=math.nan).tolist())
    bounds = tt.tensor([0.0, math.nan, 0.0, 0.0], device=device)
    r = tt.clamp(x, min=bounds).cpu().numpy()
    assert math.isnan(r[0]) and math.isnan(r[1]) and r[2:].tolist() == [0.5, 7.0]
    i = tt.tensor([1, 2, 3], device=device)
    f = i.clamp(min=1.5)
    assert f.dtype is tt.float32 and f.tolist() == [1.5, 2.0, 3.0]
    assert i.clamp(2, 2).dtype is tt.int64
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.clamp_(min=1.5)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        tt.clamp(x)
    with pytest.raises(TypeError, match="both Tensors"):
        tt.clamp(x, min=bounds, max=1.0)
    with pytest.raises(RuntimeError, match="Bool"):
        tt.clamp(tt.tensor([True], device=device), min=False)
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.clamp(x, min=tt.zeros(3, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_clamp_backward(device, create_graph):
    x = tt.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0], [0.5, 3.0, -3.0, 1.0, -1.0]], device=device, requires_grad=True)
    g = tt.tensor(np.arange(1.0, 11.0).reshape(2, 5), dtype=tt.float32, device=device)
    x.clamp(-1.0, 1.0).backward(g, create_graph=create_graph)
    # Bounds included: x == min or x == max passes the gradient.
    assert x.grad.tolist() == [[0.0, 2.0, 3.0, 4.0, 0.0], [6.0, 0.0, 0.0, 9.0, 10.0]]
    x.grad = None
    lo = tt.tensor([-1.0, -1.0, 0.5, 2.0, 0.0], device=device, requires_grad=True)
    hi = tt.tensor([[1.0], [0.0]], device=device, requires_grad=True)
    tt.clamp(x, lo, hi).backward(g, create_graph=create_graph)
    xn, ln, hn, gn = _np(x), _np(lo), _np(hi), _np(g)
    passes = (xn >= ln) & (xn <= hn)
    min_takes = (xn < ln) & (ln < hn)
    max_takes = (xn > hn) | (hn < ln)
    np.testing.assert_array_equal(_np(x.grad), np.where(passes, gn, 0))
    np.testing.assert_array_equal(_np(lo.grad), np.where(min_takes, gn, 0).sum(0))
    np.testing.assert_array_equal(_np(hi.grad), np.where(max_takes, gn, 0).sum(1, keepdims=True))
    x.grad = None
    tt.clamp(x, max=hi).sum().backward()
    assert _np(x.grad).tolist() == (xn <= hn).astype(float).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_in_place_autograd(device):
    x = tt.tensor([-2.0, 0.5, 3.0], device=device, requires_grad=True)
    y = x * 2
    y.clamp_(-1.0, 2.0)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 0.0]
