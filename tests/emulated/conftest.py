"""The `gpu` fixture: tritensor's real-GPU code path on a fake GPU, kernels run by Triton's interpreter.

tritensor is told it is not interpreting (every module's `interpreting` is replaced, wherever it was
imported by name), so `cuda` tensors live in `DeviceStorage` from tritensor.cuda.driver and every
cuda.core / cuda.bindings call goes to `FakeGpu`. Triton still runs the kernels in its interpreter
(the kernels were defined under TRITON_INTERPRET=1), which copies each argument's storage to the host
with `untyped_storage().cpu()` and back with `copy_`: DeviceStorage gets those two here, going through
the driver's real copy functions. A kernel handed host memory fails (the GPU could not read it).
Everything is restored afterwards, and device memory left allocated fails the test.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import sys
import threading

import numpy as np
import pytest
from tritensor.kernels import tuning
from tritensor.kernels.device_array import HostStorage

import tritensor as tt
from tritensor import device_errors, kernels
from tritensor.cuda import driver
from tritensor.ops import foreach as foreach_ops
from tritensor.ops import optim as optim_ops

from .fake_gpu import DEVICE_BASE, FakeGpu

# Kernels must all be defined under TRITON_INTERPRET=1 (they are InterpretedFunctions from then on).
for _module in pkgutil.iter_modules(kernels.__path__):
    importlib.import_module(f"{kernels.__name__}.{_module.name}")


_installed: list[FakeGpu] = []  # the fake GPU of the running test
_translated: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # staging address -> (table slots, device addresses)


def _translate_addresses(staging: np.ndarray) -> None:
    """Multi-tensor kernels read tensor addresses from a table in device memory: the interpreter can follow
    an address only into host memory, so each fake device address in a staged int64 table becomes the host
    address of the fake allocation's bytes (the kernel then reads and writes device memory itself). The
    originals are put back before the staging copy returns to the device."""
    if not _installed or staging.nbytes % 8:
        return
    gpu, words = _installed[-1], staging.view(np.int64)
    slots = np.flatnonzero((words >= DEVICE_BASE) & (words < gpu._next))
    if slots.size == 0:
        return
    originals = words[slots].copy()
    for slot, address in zip(slots, originals):
        mem, offset = gpu.resolve(int(address), 1)
        words[slot] = np.frombuffer(mem, np.uint8).ctypes.data + offset
    _translated[staging.ctypes.data] = (slots, originals)


def _staging_copy(self) -> HostStorage:
    """DeviceStorage.cpu() for the interpreter: the allocation's bytes in host memory."""
    staging = np.empty(self.nbytes, np.uint8)
    driver.copy_device_to_host(staging, self, 0)
    _translate_addresses(staging)
    return HostStorage(staging)


def _copy_back(self, other: HostStorage) -> None:
    """DeviceStorage.copy_(staging) for the interpreter: the kernel's writes back into device memory."""
    staging = other.array.view(np.uint8)[:self.nbytes]
    if staging.ctypes.data in _translated:
        slots, originals = _translated.pop(staging.ctypes.data)
        staging.view(np.int64)[slots] = originals
    driver.copy_host_to_device(self, 0, staging)


def _refuse_host_memory(self):
    raise AssertionError("a kernel was launched with host memory on the GPU path")


def _not_interpreting() -> bool:
    return False


@pytest.fixture
def gpu(monkeypatch):
    """A two-device FakeGpu installed behind tritensor.cuda.driver (see the module docstring)."""
    fake = FakeGpu(count=2)
    original = sys.modules["tritensor.device"].interpreting
    for module in list(sys.modules.values()):
        if getattr(module, "interpreting", None) is original:
            monkeypatch.setattr(module, "interpreting", _not_interpreting)
    monkeypatch.setattr(driver, "_core", fake.core)
    monkeypatch.setattr(driver, "_cu", fake.cu)
    monkeypatch.setattr(driver, "_triton_driver", fake.triton_driver)
    monkeypatch.setattr(driver, "_tls", threading.local())
    monkeypatch.setattr(driver, "_current_streams", {})
    monkeypatch.setattr(driver, "_hook_installed", False)
    monkeypatch.setattr(tt.cuda, "_current", {})
    monkeypatch.setattr(device_errors, "_by_device", {})
    monkeypatch.setattr(driver.DeviceStorage, "cpu", _staging_copy, raising=False)
    monkeypatch.setattr(driver.DeviceStorage, "copy_", _copy_back, raising=False)
    monkeypatch.setattr(HostStorage, "cpu", _refuse_host_memory)
    driver.device_count.cache_clear()
    tuning.forget()
    _installed.append(fake)
    try:
        yield fake
    finally:
        _installed.remove(fake)
        _translated.clear()
        # The multi-tensor tables (optimizer steps, foreach norms) are cached device memory by design.
        optim_ops._TABLES.clear()
        foreach_ops._CACHE.clear()
        device_errors._by_device.clear()  # the fixture's own dict: the error words are device memory
        gc.collect()
        driver.device_count.cache_clear()
        tuning.forget()
    leaked = sorted(fake.memory)
    assert not leaked, f"{len(leaked)} device allocation(s) never freed"
