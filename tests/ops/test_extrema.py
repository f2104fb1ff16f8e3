"""Extrema on cpu and interpreted cuda: max/min with a tensor (maximum/minimum) and the gradient at ties."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.reduction_helpers import DEVICES, _np


@pytest.mark.parametrize("device", DEVICES)
def test_binary_max_min(device):
    a = tt.tensor([1.0, 5.0, -2.0], device=device)
    b = tt.tensor([3.0, 4.0, -1.0], device=device)
    assert tt.max(a, b).tolist() == [3.0, 5.0, -1.0] and a.min(b).tolist() == [1.0, 4.0, -2.0]


def test_max_gradient_ties():
    for device in DEVICES:
        x = tt.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], device=device, requires_grad=True)
        x.amax(1).sum().backward()
        np.testing.assert_allclose(_np(x.grad), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
        x.grad = None
        x.max(1).values.sum().backward()  # with dim: all to the first index, as PyTorch
        assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]
        x.grad = None
        x.max().backward()  # no dim: split among the ties
        assert x.grad.tolist() == [[0, 0.5, 0.5], [0, 0, 0]]
