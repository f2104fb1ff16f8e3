"""where on cpu and interpreted cuda against NumPy: tensors and numbers, promotion, broadcasting, backward."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.comparison_helpers import DEVICES, _np


@pytest.mark.parametrize("device", DEVICES)
def test_where(rng, device):
    cond_np = rng.random((3, 4)) > 0.5
    cond = tt.tensor(cond_np, device=device).t()  # non-contiguous (4, 3)
    a = tt.tensor(np.arange(3.0), dtype=tt.float32, device=device)
    b = tt.tensor(rng.standard_normal((4, 1)), dtype=tt.float32, device=device)
    c, na, nb = cond_np.T, _np(a), _np(b)
    r = tt.where(cond, a, b)
    assert r.dtype is tt.float32 and r.shape == (4, 3)
    np.testing.assert_array_equal(_np(r), np.where(c, na, nb))
    np.testing.assert_array_equal(_np(tt.where(cond, a, -1.5)), np.where(c, na, -1.5))
    np.testing.assert_array_equal(_np(tt.where(cond, 2, b)), np.where(c, 2.0, nb))
    both = tt.where(cond, 1.0, 0.0)
    assert both.dtype is tt.float32 and both.device == cond.device
    np.testing.assert_array_equal(_np(both), c.astype(np.float64))
    ints = tt.where(cond, 7, tt.tensor([1, 2, 3], dtype=tt.int32, device=device))
    assert ints.dtype is tt.int32 and ints.cpu().numpy().tolist() == np.where(c, 7, [1, 2, 3]).tolist()
    mixed = tt.where(cond, tt.tensor([1, 2, 3], device=device), 0.5)
    assert mixed.dtype is tt.float32
    half = tt.where(cond, a.half(), b)
    assert half.dtype is tt.float32
    np.testing.assert_array_equal(_np(a.where(cond, b)), np.where(c, na, nb))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor.*Float"):
        tt.where(a, a, b)
    with pytest.raises(RuntimeError, match="must match the size"):
        tt.where(cond, a, tt.ones(2, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_where_backward(rng, device, create_graph):
    cond_np = np.array([[True, False, True], [False, False, True]])
    cond = tt.tensor(cond_np, device=device)
    a = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = tt.tensor([[4.0], [5.0]], device=device, requires_grad=True)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    tt.where(cond, a, b).backward(tt.tensor(g, device=device), create_graph=create_graph)
    np.testing.assert_allclose(_np(a.grad), np.where(cond_np, g, 0).sum(0), rtol=1e-6)
    np.testing.assert_allclose(_np(b.grad), np.where(cond_np, 0, g).sum(1, keepdims=True), rtol=1e-6)
    x = tt.tensor([1.0, 2.0], device=device, requires_grad=True)
    tt.where(cond[0, :2], x, 0.0).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]
    y = tt.tensor([1.0, 2.0], dtype=tt.float16, device=device, requires_grad=True)
    z = tt.tensor([3.0, 4.0], dtype=tt.float32, device=device, requires_grad=True)
    tt.where(cond[0, 1:], y, z).sum().backward()  # promoted to float32: y's gradient comes back float16
    assert y.grad.dtype is tt.float16 and y.grad.tolist() == [0.0, 1.0] and z.grad.tolist() == [1.0, 0.0]
