"""maximum/minimum on cpu and interpreted cuda: NaN propagation."""

import math

import numpy as np
import pytest

import tritensor as tt
from tests.ops.binary_helpers import DEVICES


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.float64])
def test_maximum_minimum_propagate_nan(device, dtype):
    a = tt.tensor([math.nan, 1.0, -math.inf, 2.0, math.nan], dtype=dtype, device=device)
    b = tt.tensor([1.0, math.nan, 0.0, 2.0, math.nan], dtype=dtype, device=device)
    mx, mn = tt.maximum(a, b).cpu().numpy(), tt.minimum(a, b).cpu().numpy()
    np.testing.assert_array_equal(np.isnan(mx), [True, True, False, False, True])
    np.testing.assert_array_equal(np.isnan(mn), [True, True, False, False, True])
    assert mx[2] == 0.0 and mx[3] == 2.0 and mn[2] == -math.inf
