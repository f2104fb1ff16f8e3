"""Memory statistics and management, as torch.cuda's: `memory_allocated`, `memory_reserved`, their peaks,
`memory_stats`, `memory_summary`, `empty_cache`, `mem_get_info`, and `OutOfMemoryError`.

Every cuda Storage (the memory a tensor and its views share) is counted here when it is allocated and
uncounted when it is freed (`tritensor.storage` calls `device_stats(index).add` / `.remove`). Sizes are
counted as PyTorch's caching allocator counts them: the request rounded up to a multiple of 512 bytes
("allocated_bytes"). Zero-byte tensors are not counted.

Reserved memory: under Triton's interpreter cuda memory is host memory that nothing caches, so reserved
equals allocated. On a GPU, allocations come from the device's stream-ordered memory pool (cuda.core), and
"reserved" is what the pool holds from the driver (its `reserved_mem_current`), which `empty_cache` trims.
"""

from __future__ import annotations

import collections
import gc
import os
import warnings

from ..device import interpreting
from . import devices, driver
from .devices import _index

BLOCK_SIZE = 512  # PyTorch's kMinBlockSize: every allocation is counted rounded up to a multiple of it


class OutOfMemoryError(RuntimeError):
    """Raised when a cuda allocation fails for lack of memory, as torch.cuda.OutOfMemoryError (a RuntimeError).

    tritensor first collects garbage, returns the pool's unused memory to the driver and retries once
    (`memory_stats()["num_alloc_retries"]`); a second failure raises this (`"num_ooms"`).
    """


class DeviceStats:
    """The counters of one device. `add`/`remove` run once per cuda Storage, so they are a few integer updates;
    freed totals are derived (allocated so far minus current), and the `*_base` fields hold what
    `reset_accumulated_memory_stats` subtracts.

    No lock: the updates rely on the GIL and are not atomic, so threads allocating cuda tensors at the same
    moment could, very rarely, lose an update (a lock would cost as much again as the accounting itself).
    """

    __slots__ = ("cur", "peak", "total", "count", "count_peak", "count_total", "total_base", "freed_base",
                 "count_total_base", "count_freed_base", "retries", "ooms")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def add(self, nbytes: int) -> None:
        """Count an allocation of `nbytes` (> 0) bytes, rounded up to a multiple of 512."""
        size = (nbytes + 511) & -512  # rounded up to BLOCK_SIZE (literals: this runs once per allocation)
        cur = self.cur = self.cur + size
        self.total += size
        if cur > self.peak:
            self.peak = cur
        count = self.count = self.count + 1
        self.count_total += 1
        if count > self.count_peak:
            self.count_peak = count

    def remove(self, nbytes: int) -> None:
        """Uncount a freed allocation of `nbytes` bytes."""
        self.cur -= (nbytes + 511) & -512
        self.count -= 1

    def reset_peaks(self) -> None:
        """Peaks restart from the current values."""
        self.peak, self.count_peak = self.cur, self.count

    def reset_accumulated(self) -> None:
        """Allocated/freed totals, retries and OOMs restart from zero."""
        self.total_base, self.freed_base = self.total, self.total - self.cur
        self.count_total_base, self.count_freed_base = self.count_total, self.count_total - self.count
        self.retries = self.ooms = 0


_stats: dict[int, DeviceStats] = {}


def device_stats(index: int) -> DeviceStats:
    """The counters of cuda:index (created on first use; that also marks cuda as initialised)."""
    st = _stats.get(index)
    if st is None:
        st = _stats[index] = DeviceStats()
        devices._mark_initialized()
    return st


# ------------------------------------------------------------------ allocation failures
def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or driver.is_out_of_memory(exc)


def allocate_after_failure(exc: BaseException, index: int, nbytes: int, allocate):
    """An allocation of `nbytes` on cuda:index raised `exc`: unless it was for lack of memory, re-raise it;
    else collect garbage, empty the cache and call `allocate()` once more, raising OutOfMemoryError (with
    PyTorch's message) if that fails too."""
    if not _is_oom(exc):
        raise exc
    st = device_stats(index)
    st.retries += 1
    gc.collect()  # tensors held only by reference cycles free their memory
    empty_cache()
    try:
        return allocate()
    except Exception as again:
        if not _is_oom(again):
            raise
        st.ooms += 1
        raise OutOfMemoryError(_oom_message(index, nbytes)) from again


def _format_size(n: int) -> str:
    """PyTorch's format_size: '512 bytes', '1.50 KiB', '20.00 GiB'."""
    if n <= 1024:
        return f"{n} bytes"
    for unit, scale in (("KiB", 1 << 10), ("MiB", 1 << 20)):
        if n <= scale << 10:
            return f"{n / scale:.2f} {unit}"
    return f"{n / (1 << 30):.2f} GiB"


def _oom_message(index: int, nbytes: int) -> str:
    free, total = mem_get_info(index)
    allocated, reserved = memory_allocated(index), memory_reserved(index)
    where = f"Device {index} (host memory under Triton's interpreter)" if interpreting() else f"GPU {index}"
    return (f"CUDA out of memory. Tried to allocate {_format_size(nbytes)}. {where} has a total capacity "
            f"of {_format_size(total)} of which {_format_size(free)} is free. Of the allocated memory "
            f"{_format_size(allocated)} is allocated by tritensor, and {_format_size(max(reserved - allocated, 0))} "
            "is reserved by tritensor but unallocated.")


# ------------------------------------------------------------------ the public statistics
def _checked(device) -> int:
    """The device's index; once cuda is initialised, one past `device_count()` raises as in PyTorch."""
    index = _index(device)
    if devices.is_initialized() and not 0 <= index < devices.device_count():
        raise RuntimeError(f"Invalid device argument {index}: did you call init?")
    return index


def memory_allocated(device=None) -> int:
    """Bytes currently held by cuda tensors on the device (each allocation rounded up to 512 bytes, as
    PyTorch's caching allocator counts)."""
    st = _stats.get(_checked(device))
    return 0 if st is None else st.cur


def max_memory_allocated(device=None) -> int:
    """The peak of `memory_allocated` since the program started or `reset_peak_memory_stats` was called."""
    st = _stats.get(_checked(device))
    return 0 if st is None else st.peak


def _reserved(index: int) -> tuple[int, int]:
    """(current, peak) reserved bytes: the memory pool's on a GPU, the allocated bytes under the interpreter."""
    st = _stats.get(index)
    if not interpreting() and driver.device_count() > index >= 0:
        pool = driver.pool_usage(index)
        if pool is not None:
            return pool
    return (0, 0) if st is None else (st.cur, st.peak)


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds for the device: the memory pool's reservation on a GPU (at least
    `memory_allocated`), equal to `memory_allocated` under the interpreter (nothing is cached there)."""
    return _reserved(_checked(device))[0]


def max_memory_reserved(device=None) -> int:
    """The peak of `memory_reserved` since the program started or `reset_peak_memory_stats` was called."""
    return _reserved(_checked(device))[1]


def memory_cached(device=None) -> int:
    """Deprecated alias of `memory_reserved`."""
    warnings.warn("torch.cuda.memory_cached has been renamed to torch.cuda.memory_reserved", FutureWarning,
                  stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    """Deprecated alias of `max_memory_reserved`."""
    warnings.warn("torch.cuda.max_memory_cached has been renamed to torch.cuda.max_memory_reserved", FutureWarning,
                  stacklevel=2)
    return max_memory_reserved(device)


def reset_peak_memory_stats(device=None) -> None:
    """Restart every peak statistic ("*.peak", `max_memory_allocated`, `max_memory_reserved`) from the
    current values."""
    index = _checked(device)
    device_stats(index).reset_peaks()
    if not interpreting() and driver.device_count() > index >= 0:
        driver.reset_pool_peak(index)


def reset_max_memory_allocated(device=None) -> None:
    """Reset the peak of `memory_allocated` (as PyTorch now does, this resets every peak statistic)."""
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls torch.cuda.reset_peak_memory_stats, which "
                  "resets /all/ peak memory stats.", FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None) -> None:
    """Reset the peak of `memory_reserved` (as PyTorch now does, this resets every peak statistic)."""
    warnings.warn("torch.cuda.reset_max_memory_cached now calls torch.cuda.reset_peak_memory_stats, which "
                  "resets /all/ peak memory stats.", FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device=None) -> None:
    """Restart the accumulated statistics ("*.allocated", "*.freed", "num_alloc_retries", "num_ooms")."""
    device_stats(_checked(device)).reset_accumulated()


def memory_stats(device=None) -> collections.OrderedDict:
    """The device's allocator statistics as an OrderedDict sorted by key, with PyTorch's key names:
    "allocated_bytes.all.{current,peak,allocated,freed}", the same for "active_bytes", "reserved_bytes",
    "allocation" and "active" (counts), plus "num_alloc_retries" and "num_ooms". Empty until cuda is
    initialised (`is_initialized()`)."""
    if not devices.is_initialized():
        return collections.OrderedDict()
    index = _checked(device)
    st = _stats.get(index) or DeviceStats()
    rows = {
        "allocated_bytes": (st.cur, st.peak, st.total - st.total_base, st.total - st.cur - st.freed_base),
        "allocation": (st.count, st.count_peak, st.count_total - st.count_total_base,
                       st.count_total - st.count - st.count_freed_base),
    }
    rows["active_bytes"], rows["active"] = rows["allocated_bytes"], rows["allocation"]  # nothing is inactive
    reserved, reserved_peak = _reserved(index)
    if (reserved, reserved_peak) == (st.cur, st.peak):
        rows["reserved_bytes"] = rows["allocated_bytes"]
    else:  # the pool reports no totals of what it reserved and released: its peak stands for them
        rows["reserved_bytes"] = (reserved, reserved_peak, reserved_peak, reserved_peak - reserved)
    result = [("num_alloc_retries", st.retries), ("num_ooms", st.ooms)]
    for key, values in rows.items():
        result += [(f"{key}.all.{kind}", v) for kind, v in zip(("current", "peak", "allocated", "freed"), values)]
    return collections.OrderedDict(sorted(result))


def memory_stats_as_nested_dict(device=None) -> dict:
    """`memory_stats` as nested dicts ({"allocated_bytes": {"all": {"current": ...}}, ...})."""
    nested: dict = {}
    for key, value in memory_stats(device).items():
        node = nested
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _fmt_bytes(n: int) -> str:
    for unit in ("B  ", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 768 * 1024 or unit == "TiB":
            return f"{n:6d} {unit}"
        n //= 1024
    return f"{n:6d} PiB"  # unreachable


def _fmt_count(n: int) -> str:
    for unit in (" ", "K", "M"):
        if abs(n) < 750 * 1000 or unit == "M":
            return f"{n:7d} {unit} "
        n //= 1000
    return f"{n:7d} M "  # unreachable


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A printable table of `memory_stats` (current, peak, total allocated and freed of each statistic), laid
    out as PyTorch's. `abbreviated` is accepted for compatibility (there are no per-pool rows to leave out)."""
    index = _checked(device)
    stats = memory_stats(index)
    get = stats.get
    line = "|" + "-" * 75 + "|"
    rule = "|" + "=" * 75 + "|"
    lines = [rule, "|{:^75}|".format(f"tritensor CUDA memory summary, device ID {index}"), line,
             "|  {:<33}|  {:<37}|".format(f"CUDA OOMs: {get('num_ooms', 0)}",
                                          f"cudaMalloc retries: {get('num_alloc_retries', 0)}"),
             rule, "|        Metric         | Cur Usage  | Peak Usage | Tot Alloc  | Tot Freed  |", line]
    for key, label, fmt in (("allocated_bytes", "Allocated memory", _fmt_bytes),
                            ("active_bytes", "Active memory", _fmt_bytes),
                            ("reserved_bytes", "GPU reserved memory", _fmt_bytes),
                            ("allocation", "Allocations", _fmt_count),
                            ("active", "Active allocs", _fmt_count)):
        values = [get(f"{key}.all.{kind}", 0) for kind in ("current", "peak", "allocated", "freed")]
        lines.append(f"| {label:<22}|" + "|".join(f" {fmt(v)} " for v in values) + "|")
        lines.append(line)
    lines[-1] = rule
    return "\n".join(lines) + "\n"


def empty_cache() -> None:
    """Return the memory pools' unused memory to the driver (a no-op under the interpreter: nothing is
    cached there). Memory held by live tensors is never released."""
    if interpreting():
        return
    for index in sorted(_stats):
        if driver.device_count() > index >= 0:
            driver.empty_cache(index)


def _host_memory() -> tuple[int, int]:
    """(available, total) bytes of host memory: /proc/meminfo's MemAvailable where there is one, else sysconf."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = os.sysconf("SC_PHYS_PAGES") * page
    try:
        with open("/proc/meminfo") as f:
            for row in f:
                if row.startswith("MemAvailable:"):
                    return min(int(row.split()[1]) * 1024, total), total
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * page, total


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of the device's memory, from cuMemGetInfo; under the interpreter, the host's
    available and total memory (cuda memory is host memory there)."""
    index = _index(device)
    driver.require(index)
    if interpreting():
        return _host_memory()
    return driver.mem_get_info(index)
