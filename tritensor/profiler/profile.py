"""`profile`, `record_function` and `ProfilerActivity`, as torch.profiler.

A profile moves through its schedule's actions as `step()` is called, with torch's transitions: entering
WARMUP enables the profiler (a second profile can't start then: "Profiler is already enabled on this
thread"), entering RECORD starts a trace (the recorder's hooks go in), and leaving RECORD_AND_SAVE (or
stopping while recording) stops it and calls on_trace_ready. With a schedule every step is a range
"ProfilerStep#<n>" in the trace.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import warnings
from collections.abc import Callable, Iterable

from . import record
from .events import EventList
from .schedule import ProfilerAction, default_schedule

__all__ = ["ProfilerActivity", "profile", "record_function", "supported_activities"]


class ProfilerActivity(enum.Enum):
    """What a profile records: CPU (op calls, record_function ranges, backward nodes) and CUDA (kernel
    launches: their device time, count, bytes and FLOPs)."""

    CPU = 0
    CUDA = 2


def supported_activities() -> set[ProfilerActivity]:
    """The activities this process can record: CPU, and CUDA when a cuda device (or Triton's interpreter) is
    there."""
    from .. import cuda

    return {ProfilerActivity.CPU, ProfilerActivity.CUDA} if cuda.is_available() else {ProfilerActivity.CPU}


_owner = None  # the profile that has the profiler enabled (from its first warm-up or record to its trace's end)


class profile:
    """Profile a block of work (torch.profiler.profile): a context manager, or `start()` ... `stop()`.

    activities: ProfilerActivity values to record (default: `supported_activities()`); schedule: step ->
    ProfilerAction (`tt.profiler.schedule(...)`), stepped by `step()`; without one everything from start to
    stop is one trace. on_trace_ready: called with the profile when a trace is complete (e.g.
    `tensorboard_trace_handler(dir)`). record_shapes: each op's input shapes and dtypes; profile_memory:
    memory each op allocates; with_stack: the calling frames of each event; with_flops: the FLOPs of each
    op's kernels (cost models of the launches: CUDA activity). with_modules is accepted and not recorded;
    acc_events keeps the events of every trace instead of the last one's.

    Results: `events()`, `key_averages()` (with `.table(...)`), `export_chrome_trace(path)`.
    """

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable[[profile], None] | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, acc_events: bool = False, use_cuda: bool | None = None) -> None:
        activities = set(supported_activities() if activities is None else activities)
        if use_cuda is not None:
            warnings.warn("The attribute `use_cuda` will be deprecated soon, please use "
                          "``activities=[ProfilerActivity.CUDA]`` instead.", FutureWarning, stacklevel=2)
            if use_cuda:
                activities.add(ProfilerActivity.CUDA)
        for activity in activities:
            if not isinstance(activity, ProfilerActivity):
                raise TypeError(f"activities must be ProfilerActivity values, got {activity!r}")
        if not activities:
            raise ValueError("No valid profiler activities found")
        self.activities = activities
        self._options = record.Options(ProfilerActivity.CPU in activities, ProfilerActivity.CUDA in activities,
                                       bool(record_shapes), bool(profile_memory), bool(with_stack),
                                       bool(with_flops))
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else default_schedule
        self.on_trace_ready = on_trace_ready
        self.with_modules, self.acc_events = with_modules, acc_events
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._recorder: record.Recorder | None = None
        self._events: list = []
        self._step_range = None

    # ------------------------------------------------------------------ the context manager
    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.stop()

    def start(self) -> None:
        """Begin profiling at the schedule's current step."""
        self._transit(ProfilerAction.NONE, self.current_action)
        self._open_step()

    def stop(self) -> None:
        """End profiling; a trace in progress is stopped and handed to on_trace_ready."""
        self._close_step()
        self._transit(self.current_action, None)

    def step(self) -> None:
        """Signal the end of one step (one training iteration): the schedule's next action takes over."""
        self._close_step()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(previous, self.current_action)
        self._open_step()

    def _open_step(self) -> None:
        if self.record_steps:
            self._step_range = record.range_begin(f"ProfilerStep#{self.step_num}")

    def _close_step(self) -> None:
        if self._step_range is not None:
            record.range_end(self._step_range)
            self._step_range = None

    # ------------------------------------------------------------------ actions
    def _transit(self, previous: ProfilerAction, current: ProfilerAction | None) -> None:
        A = ProfilerAction
        recording = (A.RECORD, A.RECORD_AND_SAVE)
        if previous is current and current is not A.RECORD_AND_SAVE:
            return
        if previous is A.NONE:
            if current is not None:
                self.prepare_trace()
            if current in recording:
                self.start_trace()
        elif previous is A.WARMUP:
            if current is A.NONE:
                warnings.warn("Incorrect schedule: WARMUP followed by NONE", stacklevel=3)
            if current in recording or current is None or current is A.NONE:
                self.start_trace()
            if current is None or current is A.NONE:
                self.stop_trace()
        elif previous is A.RECORD and current in (A.NONE, A.WARMUP, None):
            if current is not None:
                warnings.warn(f"Incorrect schedule: RECORD followed by {current.name}", stacklevel=3)
            self.stop_trace()
            if current is None:
                self._trace_ready()
        elif previous is A.RECORD_AND_SAVE:
            self.stop_trace()
            self._trace_ready()
            if current is not None and current is not A.NONE:
                self.prepare_trace()
            if current in recording:
                self.start_trace()

    def prepare_trace(self) -> None:
        """Enable the profiler (the WARMUP steps): a second profile can't be enabled until this one's trace
        ends."""
        global _owner
        if _owner is not None and _owner is not self:
            raise RuntimeError("Profiler is already enabled on this thread")
        _owner = self

    def start_trace(self) -> None:
        """Start recording events (the hooks go in)."""
        self.prepare_trace()
        if record.current is not None:  # a profile left recording by an error elsewhere
            raise RuntimeError("Profiler is already enabled on this thread")
        self._recorder = record.Recorder(self._options)
        self._recorder.install()

    def stop_trace(self) -> None:
        """Stop recording; the trace's events replace the last one's (are added to them with acc_events)."""
        global _owner
        recorder, self._recorder = self._recorder, None
        if _owner is self:
            _owner = None
        if recorder is None:
            return
        recorder.uninstall()
        events = recorder.finish()
        self._events = self._events + events if self.acc_events else events

    def _trace_ready(self) -> None:
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ------------------------------------------------------------------ results
    def _columns(self) -> frozenset:
        options = self._options
        names = {"cuda": options.cuda, "memory": options.profile_memory, "shapes": options.record_shapes,
                 "flops": options.with_flops}
        return frozenset(name for name, on in names.items() if on)

    def events(self) -> EventList:
        """The events of the last trace (every trace's with acc_events), in order of their start."""
        return EventList(self._events, self._columns())

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> EventList:
        """The events summed per name (and input shapes / first stack frames when asked): FunctionEventAvgs
        with .key, .count, .cpu_time_total, .self_cpu_time_total, .cuda_time_total, .input_shapes, ..., and
        `.table(sort_by=..., row_limit=...)`."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path: str) -> None:
        """Write the last trace as a Chrome/Perfetto trace JSON file (gzip when `path` ends in .gz)."""
        self.events().export_chrome_trace(path)


class record_function(contextlib.ContextDecorator):
    """A named range in the profile (torch.profiler.record_function): `with record_function("forward"):` or
    `@record_function("loss")` on a function. The ops inside nest under it; outside a recording profile it
    records nothing. `args`: a string kept with the event."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name, self.args = name, args
        self._tokens: list = []  # a decorated function may be re-entered (recursion)

    def __enter__(self) -> record_function:
        self._tokens.append(record.range_begin(self.name, self.args))
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        if self._tokens:
            record.range_end(self._tokens.pop())
        return False

    def __call__(self, fn):
        """Decorate `fn`: each call runs inside a fresh range of this name."""
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapped
