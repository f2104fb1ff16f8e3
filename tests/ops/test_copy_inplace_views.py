"""In-place writes through views update the base's history (PyTorch's CopySlices), on cpu and cuda."""

import numpy as np
import pytest

import tritensor as tt


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_inplace_op_on_view_of_non_leaf(device):
    a = tt.ones(3, requires_grad=True)
    x = (a * 2).to(device)
    x[0:2].mul_(3)
    x.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 6.0, 2.0])


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_setitem_on_view_and_value_gradient(device):
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = tt.tensor([5.0], requires_grad=True)
    x = (a * 1).to(device)
    y = x[1:]
    y[0:1] = v.to(device) * 2  # writes x[1] through the view y
    (x * x).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 0.0, 6.0])
    np.testing.assert_allclose(v.grad.numpy(), [2 * 2 * 10.0])


def test_fill_and_zero_on_non_leaf_keep_it_in_the_graph_with_zero_gradient():
    a = tt.ones(3, requires_grad=True)
    x = a * 2
    x[1:].zero_()
    assert x.requires_grad and x.grad_fn is not None
    (x * 5).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [10.0, 0.0, 0.0])


def test_inplace_mul_on_non_leaf_needs_no_original_value():
    a = tt.ones(3, requires_grad=True)
    x = a * 2
    x.mul_(3)  # the saved operand of a * 2 is the constant, so this is allowed, as in PyTorch
    x.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 6.0, 6.0])


def test_view_after_write_is_a_view_of_the_updated_base():
    a = tt.ones(4, requires_grad=True)
    x = a * 1
    y = x[2:]
    y.add_(tt.tensor([1.0, 2.0]))
    (y * y).sum().backward()  # y = [2, 3] -> d/da = [0, 0, 4, 6]
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 0.0, 4.0, 6.0])
