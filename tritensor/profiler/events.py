"""What a profile recorded: `FunctionEvent` (one op call, range, backward node or kernel launch), `EventList`
(the events of a trace, or their averages), `FunctionEventAvg` (the events of one key summed), as
torch.autograd.profiler_util.

Times are microseconds. An event's CPU time is the host time from its start to its end; its self CPU time
leaves out its CPU children (the op calls, ranges and backward nodes that ran inside it). A kernel event's
time is device time: it counts as the self device time of the event that launched it and towards the device
time of every event around that one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kinds import CPU_OP, KERNEL

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList", "Interval"]


@dataclass
class Interval:
    """A time range in microseconds, as torch's `time_range`."""

    start: float
    end: float

    def elapsed_us(self) -> float:
        """end - start."""
        return self.end - self.start


class _CudaNames:
    """torch's older cuda_* names of the device_* totals, which both event kinds answer to."""

    @property
    def cuda_time_total(self) -> float:
        """device_time_total (torch's older name)."""
        return self.device_time_total

    @property
    def self_cuda_time_total(self) -> float:
        """self_device_time_total (torch's older name)."""
        return self.self_device_time_total

    @property
    def cuda_memory_usage(self) -> int:
        """device_memory_usage (torch's older name)."""
        return self.device_memory_usage

    @property
    def self_cuda_memory_usage(self) -> int:
        """self_device_memory_usage (torch's older name)."""
        return self.self_device_memory_usage


@dataclass(eq=False)
class FunctionEvent(_CudaNames):
    """One recorded range: an op call ("tt.add", "F.linear"), a `record_function` range, an autograd node
    ("autograd::engine::evaluate_function: MmBackward0") or a kernel launch (cat "kernel", device time).

    input_shapes/input_dtypes: one entry per argument (a shape list for a tensor, a list of them for a tensor
    list, [] / "" otherwise) with record_shapes; cpu/device memory usage with profile_memory; stack: the
    calling frames outside tritensor with with_stack; kernels/bytes/flops: the launches made directly
    inside it and what their cost models say they move and compute.
    """

    id: int
    name: str
    cat: str
    thread: int
    time_range: Interval
    device_type: str = "cpu"  # "cuda" for a kernel
    device_index: int = 0
    input_shapes: list = field(default_factory=list)
    input_dtypes: list = field(default_factory=list)
    stack: list = field(default_factory=list)
    cpu_memory_usage: int = 0
    self_cpu_memory_usage: int = 0
    device_memory_usage: int = 0
    self_device_memory_usage: int = 0
    kernels: int = 0
    bytes: float = 0.0
    flops: float = 0.0
    args: dict = field(default_factory=dict)
    cpu_parent: FunctionEvent | None = field(default=None, repr=False)
    cpu_children: list = field(default_factory=list, repr=False)
    device_time_total: float = 0.0
    self_device_time_total: float = 0.0
    count: int = 1

    @property
    def key(self) -> str:
        """What key_averages groups by: the name."""
        return self.name

    @property
    def cpu_time_total(self) -> float:
        """Host microseconds from start to end (0 for a kernel: its time is device time)."""
        return 0.0 if self.cat == KERNEL else self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self) -> float:
        """cpu_time_total less the CPU children's."""
        if self.cat == KERNEL:
            return 0.0
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)


_SUMMED = ("cpu_time_total", "self_cpu_time_total", "device_time_total", "self_device_time_total",
           "cpu_memory_usage", "self_cpu_memory_usage", "device_memory_usage", "self_device_memory_usage",
           "kernels", "bytes", "flops", "count")


@dataclass(eq=False)
class FunctionEventAvg(_CudaNames):
    """The events of one key (name, and input shapes with group_by_input_shape) summed: `count` calls,
    total and self times (microseconds), memory, kernel launches, bytes and FLOPs; `cpu_time`/`device_time`
    are the averages per call."""

    key: str
    input_shapes: list = field(default_factory=list)
    stack: list = field(default_factory=list)
    cat: str = CPU_OP
    device_type: str = "cpu"
    count: int = 0
    cpu_time_total: float = 0.0
    self_cpu_time_total: float = 0.0
    device_time_total: float = 0.0
    self_device_time_total: float = 0.0
    cpu_memory_usage: int = 0
    self_cpu_memory_usage: int = 0
    device_memory_usage: int = 0
    self_device_memory_usage: int = 0
    kernels: int = 0
    bytes: float = 0.0
    flops: float = 0.0

    def add(self, other) -> FunctionEventAvg:
        """Sum another event (or average) of the same key into this one; returns self."""
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def cpu_time(self) -> float:
        """Average host microseconds per call."""
        return self.cpu_time_total / max(self.count, 1)

    @property
    def device_time(self) -> float:
        """Average device microseconds per call."""
        return self.device_time_total / max(self.count, 1)

    cuda_time = device_time


class EventList(list):
    """A list of FunctionEvents (or of FunctionEventAvgs, from `key_averages`), with the table and the
    Chrome trace of torch's EventList. `columns` says which optional columns `table` shows (the profile's
    options: "cuda", "memory", "shapes", "flops")."""

    def __init__(self, events=(), columns: frozenset = frozenset()) -> None:
        super().__init__(events)
        self.columns = frozenset(columns)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        """The events summed per name (per name and input shapes with group_by_input_shape; per name and the
        first `group_by_stack_n` stack frames with that), in order of first appearance."""
        groups: dict[tuple, FunctionEventAvg] = {}
        for ev in self:
            key = (ev.key, str(ev.input_shapes) if group_by_input_shape else None,
                   tuple(ev.stack[:group_by_stack_n]) if group_by_stack_n > 0 else None)
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg(
                    ev.key, list(ev.input_shapes) if group_by_input_shape else [],
                    list(ev.stack[:group_by_stack_n]) if group_by_stack_n > 0 else [], ev.cat, ev.device_type)
            avg.add(ev)
        return EventList(groups.values(), self.columns)

    def total_average(self) -> FunctionEventAvg:
        """Every event summed into one ("Total")."""
        total = FunctionEventAvg("Total")
        for ev in self:
            total.add(ev)
        return total

    @property
    def self_cpu_time_total(self) -> float:
        """The self CPU time of every event: the host time the recorded ranges took, once."""
        return sum(ev.self_cpu_time_total for ev in self)

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False) -> str:
        """The events as torch's text table (see tritensor.profiler.table), sorted by `sort_by` (an attribute:
        "cpu_time_total", "self_cpu_time_total", "cuda_time_total", "count", ...; descending), at most
        `row_limit` rows (-1: all)."""
        from .table import build_table

        return build_table(self, sort_by=sort_by, row_limit=row_limit, max_name_column_width=max_name_column_width,
                           max_shapes_column_width=max_shapes_column_width, header=header,
                           top_level_events_only=top_level_events_only)

    def __str__(self) -> str:
        return self.table()

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome/Perfetto trace (JSON; gzip when `path` ends in .gz)."""
        from .trace import export_chrome_trace

        export_chrome_trace(self, path)
