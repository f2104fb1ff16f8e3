"""tt.cuda: devices, streams and events, memory statistics and random seeds, as torch.cuda.

With a GPU, `cuda` tensors live in device memory (cuda.core) and kernels are launched by Triton.
Without one but with TRITON_INTERPRET=1, `cuda` tensors live in host memory and the same Triton
kernels are run by Triton's interpreter (one device, cuda:0). With neither, creating a `cuda` tensor raises.

The API is split by area: `devices` (current device, availability), `streams`, `events`, `memory`
(statistics, `empty_cache`, `mem_get_info`) and `properties`; `driver` is the only module that talks to a GPU.
"""

from __future__ import annotations

from .. import random as _random
from . import driver as driver  # tt.cuda.driver: the one module that talks to a GPU
from .devices import (
    current_device,
    device,
    device_count,
    device_of,
    init,
    is_available,
    is_initialized,
    set_device,
    uses_interpreter,
)
from .events import Event
from .memory import (
    OutOfMemoryError,
    empty_cache,
    max_memory_allocated,
    max_memory_cached,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_cached,
    memory_reserved,
    memory_stats,
    memory_stats_as_nested_dict,
    memory_summary,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_max_memory_cached,
    reset_peak_memory_stats,
)
from .properties import get_arch_list, get_device_capability, get_device_name, get_device_properties, is_bf16_supported
from .streams import Stream, StreamContext, current_stream, default_stream, set_stream, stream, synchronize
from .streams import _current as _current  # noqa: F401 - tests/emulated's fixture replaces it

__all__ = [
    "Event", "OutOfMemoryError", "Stream", "StreamContext", "current_device", "current_stream", "default_stream",
    "device", "device_count", "device_of", "empty_cache", "get_arch_list", "get_device_capability",
    "get_device_name", "get_device_properties", "init", "initial_seed", "is_available", "is_bf16_supported",
    "is_initialized", "manual_seed", "manual_seed_all", "max_memory_allocated", "max_memory_cached",
    "max_memory_reserved", "mem_get_info", "memory_allocated", "memory_cached", "memory_reserved", "memory_stats",
    "memory_stats_as_nested_dict", "memory_summary", "reset_accumulated_memory_stats", "reset_max_memory_allocated",
    "reset_max_memory_cached", "reset_peak_memory_stats", "seed", "seed_all", "set_device", "set_stream", "stream",
    "synchronize", "uses_interpreter",
]


# Random numbers for cuda tensors are drawn on the host by the default generator and copied, so that a seed
# gives the same values on cpu and cuda: seeding "the cuda generator" seeds that one generator.
def manual_seed(seed: int) -> None:
    """Seed the generator cuda random tensors are drawn from (tritensor's default generator)."""
    _random.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the generator of every cuda device (they all draw from tritensor's default generator)."""
    _random.manual_seed(seed)


def seed() -> None:
    """Seed the cuda generator with a non-deterministic random number."""
    _random.seed()


def seed_all() -> None:
    """Seed every cuda device's generator with a non-deterministic random number."""
    _random.seed()


def initial_seed() -> int:
    """The seed the cuda generator was last seeded with."""
    return _random.initial_seed()
