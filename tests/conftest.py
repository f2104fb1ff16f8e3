"""Test-wide setup: Triton kernels run in Triton's interpreter in this same pytest run.

TRITON_INTERPRET must be set before triton is imported (`triton.jit` reads it when a kernel is
defined), so it is set here, before anything imports tritensor. With no GPU present, device
"cuda" then means host memory driven by the interpreted kernels.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from tritensor.kernels.device_array import host_array  # noqa: E402

INTERPRETED = os.environ["TRITON_INTERPRET"] == "1"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def as_device(a: np.ndarray):
    """A host NumPy array as the DeviceArray a launch wrapper takes (interpreter memory)."""
    from tritensor import dtypes

    return host_array(a, dtypes.from_numpy_dtype(a.dtype))
