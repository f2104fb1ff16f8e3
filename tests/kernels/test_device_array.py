"""kernels/device_array.py: the host memory standing in for device memory and the views launch wrappers take."""

import numpy as np
import pytest
from tritensor.kernels.device_array import DeviceArray, HostStorage, contiguous_layout, device_array, host_array

from tritensor import dtypes


def _numpy_address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("make", [
    lambda: np.empty(8, np.float32),  # a fresh allocation (every cuda tensor under the interpreter)
    lambda: np.arange(10.0)[3:],  # an offset view
    lambda: np.empty(5, np.bool_),
    lambda: np.empty((2, 3), np.int64),
    lambda: np.empty(0, np.float32),  # no bytes: no buffer to export (NumPy's answer)
    lambda: np.arange(10.0)[::2],  # not contiguous
    lambda: _read_only(np.ones(4)),  # not writable
    lambda: np.broadcast_to(np.ones(1), (4,)),  # read-only and overlapping
], ids=["fresh", "offset", "bool", "2d", "empty", "strided", "read-only", "broadcast"])
def test_host_storage_address_is_numpys(make):
    a = make()
    assert HostStorage(a).data_ptr() == _numpy_address(a)


def test_host_storage_holds_no_buffer_export():
    # The address is read through a buffer export that ends at once: the array can still be resized.
    a = np.empty(8, np.float32)
    HostStorage(a)
    a.resize(16, refcheck=False)


def test_device_array_keeps_tuples_and_converts_other_sequences():
    storage = HostStorage(np.empty(12, np.float32))
    shape, strides = (3, 4), (4, 1)
    view = DeviceArray(storage, 0, shape, strides, dtypes.float32)
    assert view.shape is shape and view.strides is strides
    listed = DeviceArray(storage, 2, [3, 4], [4, 1], dtypes.float32)
    assert type(listed.shape) is tuple and type(listed.strides) is tuple
    assert listed.shape == shape and listed.strides == strides
    assert listed.data_ptr() == storage.data_ptr() + 2 * 4


def test_device_array_function_makes_what_the_class_makes():
    storage = HostStorage(np.empty(12, np.float32))
    shape, strides = (3, 3), (4, 1)
    made = device_array(storage, 1, shape, strides, dtypes.float32)
    assert type(made) is DeviceArray and made.shape is shape and made.strides is strides
    assert made.storage is storage and made.offset == 1 and made.dtype is dtypes.float32
    assert made.data_ptr() == storage.data_ptr() + 4 and made.is_contiguous() is False
    assert repr(made) == repr(DeviceArray(storage, 1, shape, strides, dtypes.float32))


def test_contiguous_layout_and_host_array():
    assert contiguous_layout((2, 3, 4)) == ((12, 4, 1), 24)
    assert contiguous_layout((2, 0, 4)) == ((4, 4, 1), 0)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    view = host_array(base[:, 1:], dtypes.float32)
    assert view.shape == (3, 3) and view.strides == (4, 1) and view.data_ptr() == _numpy_address(base[:, 1:])
