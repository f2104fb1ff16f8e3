"""What a cuda device is, as torch.cuda reports it: `get_device_properties`, `get_device_name`,
`get_device_capability`, `is_bf16_supported` and `get_arch_list`.

Under Triton's interpreter the one device, cuda:0, is the host: its name is "Triton interpreter (host
memory)", its capability (0, 0), its memory the host's and its multiprocessors the host's cores.
"""

from __future__ import annotations

import os

from ..device import interpreting
from . import devices, driver, memory
from .devices import _index

INTERPRETER_NAME = "Triton interpreter (host memory)"
# The architectures CI compiles every kernel config for ahead of time; Triton compiles for the GPU present at
# run time, whose architecture get_arch_list adds.
CHECKED_ARCHS = ("sm_80", "sm_90")


class _CudaDeviceProperties:
    """The properties of a cuda device, as torch.cuda's `_CudaDeviceProperties` (`get_device_properties`)."""

    __slots__ = ("name", "major", "minor", "total_memory", "multi_processor_count", "is_integrated",
                 "is_multi_gpu_board", "max_threads_per_multi_processor", "warp_size", "L2_cache_size", "uuid")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1 << 20)}MB, "
                f"multi_processor_count={self.multi_processor_count}, uuid={self.uuid}, "
                f"L2_cache_size={self.L2_cache_size // (1 << 20)}MB)")


def _interpreter_properties() -> _CudaDeviceProperties:
    return _CudaDeviceProperties(
        name=INTERPRETER_NAME, major=0, minor=0, total_memory=memory._host_memory()[1],
        multi_processor_count=os.cpu_count() or 1, is_integrated=True,  # cuda memory is host memory
        is_multi_gpu_board=False, max_threads_per_multi_processor=1,  # programs run one at a time
        warp_size=32, L2_cache_size=0, uuid="00000000-0000-0000-0000-000000000000")


def _checked_index(device) -> int:
    """The device's index, checked as PyTorch checks it: RuntimeError without any device (saying how to get
    one), AssertionError("Invalid device id") for an index past `device_count()`."""
    if not devices.is_available():
        driver.require(0)  # raises
    index = _index(device)
    if not 0 <= index < devices.device_count():
        raise AssertionError("Invalid device id")
    driver.require(index)
    return index


def get_device_properties(device=None) -> _CudaDeviceProperties:
    """The properties of a cuda device (the current one by default): `name`, `major`, `minor`, `total_memory`
    (bytes), `multi_processor_count`, `is_integrated`, `is_multi_gpu_board`, `max_threads_per_multi_processor`,
    `warp_size`, `L2_cache_size`, `uuid`. Raises RuntimeError without a GPU (nor the interpreter), and
    AssertionError("Invalid device id") for an index past `device_count()`, as PyTorch."""
    index = _checked_index(device)
    if interpreting():
        return _interpreter_properties()
    return _CudaDeviceProperties(**driver.device_properties(index))


def get_device_name(device=None) -> str:
    """The GPU's name (e.g. 'NVIDIA H100 80GB HBM3'), or 'Triton interpreter (host memory)' under the
    interpreter."""
    index = _checked_index(device)
    return INTERPRETER_NAME if interpreting() else driver.name(index)


def get_device_capability(device=None) -> tuple[int, int]:
    """The GPU's compute capability (major, minor), e.g. (9, 0) on an H100; (0, 0) under the interpreter."""
    index = _checked_index(device)
    return (0, 0) if interpreting() else driver.capability(index)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the current device runs bfloat16 kernels: compute capability 8.0 or newer on a GPU (Triton's
    bfloat16 instructions need Ampere; tritensor emulates nothing, so `including_emulation` changes nothing
    there), always under the interpreter (kernels compute bfloat16 in float32), never without a device."""
    if interpreting():
        return True
    if not devices.is_available():
        return False
    return get_device_capability(devices.current_device()) >= (8, 0)


def get_arch_list() -> list[str]:
    """The GPU architectures tritensor's kernels are built for: those CI compiles ahead of time (sm_80, sm_90)
    and those of the GPUs present (Triton compiles for them at run time); [] without a device."""
    if not devices.is_available():
        return []
    archs = set(CHECKED_ARCHS)
    if not interpreting():
        for index in range(devices.device_count()):
            major, minor = driver.capability(index)
            archs.add(f"sm_{major}{minor}")
    return sorted(archs, key=lambda a: int(a[3:]))
