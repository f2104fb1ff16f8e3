"""Which steps a profile records, as torch.profiler: `ProfilerAction`, `schedule`, and the on_trace_ready
handler that writes TensorBoard's trace files.

A schedule maps the step number (0, 1, ... as `prof.step()` advances it) to an action: NONE (not profiling),
WARMUP (profiler on, results dropped), RECORD, or RECORD_AND_SAVE (the last step of a cycle: when it ends the
trace is handed to on_trace_ready).
"""

from __future__ import annotations

import enum
import os
import socket
import time
import warnings
from collections.abc import Callable

__all__ = ["ProfilerAction", "schedule", "tensorboard_trace_handler"]


class ProfilerAction(enum.Enum):
    """What the profiler does during a step."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """A schedule, as torch.profiler.schedule: skip the first `skip_first` steps, then cycle through `wait`
    idle steps, `warmup` warm-up steps and `active` recorded steps (the last one RECORD_AND_SAVE); `repeat`
    cycles (0: while the job runs). skip_first_wait: start the first cycle at its warm-up."""
    if not (wait >= 0 and warmup >= 0 and active > 0 and repeat >= 0 and skip_first >= 0):
        raise AssertionError("Invalid profiler schedule arguments")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)
    cycle = wait + warmup + active

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"step must be >= 0, got {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        position = step % cycle
        if position < wait:
            return ProfilerAction.NONE
        if position < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if position < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def default_schedule(step: int) -> ProfilerAction:
    """Without a schedule every step is recorded, and the trace is ready when the profile stops."""
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False) -> Callable[[object], None]:
    """An on_trace_ready handler writing each trace to `dir_name` as `<worker_name>.<time ns>.pt.trace.json`
    (".gz" with use_gzip), the files TensorBoard's profiler plugin reads; worker_name defaults to
    "<hostname>_<pid>"."""

    def handler_fn(prof) -> None:
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except OSError as exc:
                raise RuntimeError("Can't create directory: " + dir_name) from exc
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{worker_name}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, file_name))

    return handler_fn
