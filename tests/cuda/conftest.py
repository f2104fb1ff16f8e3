"""tests/cuda: tt.cuda under Triton's interpreter, and on the real-GPU code path through tests/emulated's fake GPU
(the `gpu` fixture, shared from there)."""

import pytest

from tests.emulated.conftest import gpu  # noqa: F401 - the fixture, for the GPU-path tests here
from tritensor.cuda import devices


@pytest.fixture(autouse=True)
def _restore_current_device():
    """A test that fails while another device is current must not leave it current for the next."""
    previous = devices._tls.index
    yield
    devices._tls.index = previous
