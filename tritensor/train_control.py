"""What every `tritensor train` job shares: Ctrl-C handling (stop at a step boundary, then `Interrupted`) and the
line that says which device computes."""

from __future__ import annotations

import signal
import threading

__all__ = ["Interrupted", "StopRequest", "describe_device"]


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
