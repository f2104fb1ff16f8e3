"""What every `tritensor train` job shares: Ctrl-C handling (stop at a step boundary, then `Interrupted`), the
line that says which device computes, and `--profile` (a few steps under tt.profiler)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Interrupted", "StopRequest", "describe_device", "profiling", "PROFILE_SCHEDULE"]

# --profile: skip one optimizer step, warm up one, record three (one cycle).
PROFILE_SCHEDULE = {"wait": 1, "warmup": 1, "active": 3, "repeat": 1}
PROFILE_ROWS = 15


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run between two steps. `checkpoint` is the file that resumes it (None without --save)."""

    def __init__(self, epoch: int, step: int, steps_per_epoch: int, epochs: int, checkpoint: str | None) -> None:
        """`epoch` epochs and `step` more steps were done when the run stopped."""
        where = (f"after epoch {epoch}/{epochs}" if step == 0 else
                 f"at epoch {epoch + 1}/{epochs}, step {step}/{steps_per_epoch}")
        super().__init__(f"stopped {where}")
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


class StopRequest:
    """While active (main thread only), the first Ctrl-C only asks the loop to stop at the next step boundary,
    so the checkpoint it writes is consistent; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def describe_device(device) -> str:
    """How the run computes on `device`, for the job's first line."""
    import tritensor as tt

    if device.type == "cpu":
        return "cpu (NumPy reference ops)"
    if tt.cuda.uses_interpreter():
        return f"{device} (Triton kernels in Triton's interpreter: slow, for testing)"
    from .cuda import driver

    return f"{device} ({driver.name(device.index or 0)}, Triton kernels)"


@contextmanager
def profiling(directory: str | None, device_type: str, log: Callable[[str], None]) -> Iterator[object]:
    """--profile DIR: profile optimizer steps 3-5 of the run (PROFILE_SCHEDULE; every optimizer's step advances
    the schedule), write their Chrome trace into `directory` (TensorBoard's `<worker>.<time>.pt.trace.json`)
    and log the top ops (PROFILE_ROWS rows, by self time). Yields the profile (None without --profile)."""
    if directory is None:
        yield None
        return
    from . import profiler
    from .optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    activities = [profiler.ProfilerActivity.CPU]
    if device_type == "cuda":
        activities.append(profiler.ProfilerActivity.CUDA)
    write = profiler.tensorboard_trace_handler(directory)
    sort_by = "self_cuda_time_total" if device_type == "cuda" else "self_cpu_time_total"
    written = []

    def ready(prof) -> None:
        write(prof)
        written.append(True)
        steps = sum(1 for e in prof.events() if e.name.startswith("ProfilerStep#"))
        log(f"profile: {steps} step{'s' if steps != 1 else ''} recorded, Chrome trace in {directory} (open it in "
            "https://ui.perfetto.dev or TensorBoard)\n" + prof.key_averages().table(sort_by=sort_by,
                                                                                    row_limit=PROFILE_ROWS))

    prof = profiler.profile(activities=activities, schedule=profiler.schedule(**PROFILE_SCHEDULE),
                            on_trace_ready=ready)
    ranges = []

    def before_step(optimizer, args, kwargs) -> None:
        # PyTorch's optimizers mark their step the same way
        name = type(optimizer).__name__
        ranges.append(profiler.record_function(f"Optimizer.step#{name}.step").__enter__())

    def after_step(optimizer, args, kwargs) -> None:
        if ranges:
            ranges.pop().__exit__(None, None, None)
        prof.step()

    handles = [register_optimizer_step_pre_hook(before_step), register_optimizer_step_post_hook(after_step)]
    try:
        with prof:
            yield prof
    finally:
        for handle in handles:
            handle.remove()
        if not written:
            log("profile: the run ended before a recorded step (--profile records optimizer steps 3-5); "
                "nothing written")
