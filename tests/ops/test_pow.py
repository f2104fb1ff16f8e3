"""pow on cpu and interpreted cuda: C's special values."""

import math

import numpy as np
import pytest

import tritensor as tt
from tests.ops.binary_helpers import DEVICES


@pytest.mark.parametrize("device", DEVICES)
def test_pow_special_values(device):
    ib = tt.tensor([1, -1, -1, 2, -2, 0, 3], device=device)
    ie = tt.tensor([-1, -1, -2, -2, -3, 0, 3], device=device)
    assert (ib ** ie).tolist() == [1, -1, 1, 0, 0, 1, 27]
    u = tt.tensor([2, 3, 255], dtype=tt.uint8, device=device)
    assert (u ** 2).tolist() == [4, 9, 1]  # wraps, as PyTorch
    a = [0.0, 0.0, -8.0, -2.0, -2.0, 1.0, math.inf, -math.inf, math.nan, 4.0]
    e = [0.0, -1.0, 1 / 3, 3.0, 2.0, math.nan, -1.0, 3.0, 0.0, 0.5]
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1, (-8) ** (1/3): in the oracle and the kernel
        expected = np.power(np.array(a), np.array(e)).astype(np.float32)
        got = (tt.tensor(a, device=device) ** tt.tensor(e, device=device)).cpu().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # (-inf) ** +-0.5 is left out: PyTorch computes it as sqrt / rsqrt (nan), C pow gives inf / 0.
    x = tt.tensor([-3.0, 0.0, 2.0, math.nan, -math.inf], device=device)
    n = x.cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for p in (2, 3, -1, -2, 0.5, -0.5, 0, 1.5):
            k = 4 if p in (0.5, -0.5) else 5
            np.testing.assert_allclose((x[:k] ** p).cpu().numpy(), np.power(n[:k], np.float32(p)), rtol=1e-6)
        np.testing.assert_allclose((2 ** x).cpu().numpy(), np.power(np.float32(2), n), rtol=1e-6)
