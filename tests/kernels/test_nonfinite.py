"""isnan/isinf/isfinite and nan_to_num kernels in Triton's interpreter against their NumPy references (forward
and backward), for every dtype."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import nonfinite as N

from tests.conftest import as_device
from tests.kernels.comparison_helpers import FLOATS, assert_equal, launch, values

# Masked-off lanes compute on zeros in the interpreter: NumPy warns for values never stored.


@pytest.mark.parametrize("dt", FLOATS + [np.int32, np.uint8, np.bool_])
def test_isnan_isinf_isfinite(rng, dt):
    x = values(rng, dt).T
    for name in ("isnan", "isinf", "isfinite"):
        out = launch(getattr(N, name), np.bool_, x.shape, x)
        np.testing.assert_array_equal(out, getattr(N, f"{name}_ref")(x), err_msg=name)
    if dt in FLOATS:
        e = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0], dt)
        np.testing.assert_array_equal(launch(N.isnan, np.bool_, (5,), e), [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(launch(N.isinf, np.bool_, (5,), e), [0, 1, 1, 0, 0])
        np.testing.assert_array_equal(launch(N.isfinite, np.bool_, (5,), e), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("dt", FLOATS)
def test_nan_to_num(rng, dt):
    x = values(rng, dt).T
    e = np.array([np.nan, np.inf, -np.inf, 1.5], dt)
    info = ml_dtypes.finfo(dt)
    assert_equal(launch(N.nan_to_num, dt, (4,), e), [0.0, float(info.max), float(info.min), 1.5])
    for params in [{}, {"nan": 2.0}, {"posinf": 10.0}, {"nan": 1.0, "posinf": 9.0, "neginf": -7.0},
                   {"neginf": -3.0}, {"nan": -1.0, "posinf": 4.0, "neginf": -4.0}]:
        out = launch(N.nan_to_num, dt, x.shape, x, strided_out=True, **params)
        assert_equal(out, N.nan_to_num_ref(x, **params))
    g = rng.standard_normal(x.shape).astype(dt)
    gx = np.zeros(x.shape, dt)
    N.nan_to_num_backward(as_device(gx), as_device(g), as_device(x))
    assert_equal(gx, N.nan_to_num_backward_ref(g, x)[0])


def test_nan_to_num_integers_copy():
    x = np.arange(-3, 4, dtype=np.int32)
    assert_equal(launch(N.nan_to_num, np.int32, x.shape, x, nan=5.0), x)
