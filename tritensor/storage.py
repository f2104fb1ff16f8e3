"""Storage: the memory that a tensor and all its views share, with their shared version counter."""

from __future__ import annotations

import numpy as np

from .kernels.device_array import HostStorage


class Storage:
    """Host memory (a 1-D NumPy array; cpu and interpreted cuda) or a cuda.core allocation.

    `version` counts in-place writes; autograd compares it with the value saved at forward time.
    """

    __slots__ = ("host", "device_storage", "nbytes", "version", "_kernel_storage", "__weakref__")

    def __init__(self, host: np.ndarray | None = None, device_storage=None):
        self.host = host
        self.device_storage = device_storage
        self.nbytes = host.nbytes if host is not None else device_storage.nbytes
        self.version = 0
        self._kernel_storage = None

    def kernel_storage(self):
        """What a DeviceArray points into: the GPU allocation, or host memory for the interpreter."""
        ks = self._kernel_storage
        if ks is None:
            ks = self._kernel_storage = self.device_storage if self.host is None else HostStorage(self.host)
        return ks

    def data_ptr(self) -> int:
        return self.kernel_storage().data_ptr()

    @staticmethod
    def allocate_host(numel: int, np_dtype) -> Storage:
        return Storage(host=np.empty(numel, dtype=np_dtype))

    @staticmethod
    def allocate_device(nbytes: int, device_index: int) -> Storage:
        from .cuda.driver import DeviceStorage

        return Storage(device_storage=DeviceStorage(nbytes, device_index))
