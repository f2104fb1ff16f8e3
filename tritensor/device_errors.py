"""Out-of-range indices found by a kernel on cuda, raised at the next synchronisation point.

A Triton kernel cannot raise. An index-taking op on cuda therefore registers the error it would raise on
the cpu (`expect`), passes the device's error word and the code it got to its kernel, and the kernel stores
that code and one offending index into the word for any lane that is out of range
(`kernels/index_errors.report_out_of_range`). Nothing is read back per launch: `raise_if_flagged` runs at
every synchronisation point (a copy to the host, `.item()`, `tt.cuda.synchronize()`) and raises the
registered error with the offending index. Under Triton's interpreter the word is host memory and the op
calls `after_launch`, which checks at once, so the error surfaces before the op returns, as on the cpu.
"""

from __future__ import annotations

import numpy as np

from . import dtypes as D
from .cuda import driver
from .device import device, interpreting
from .kernels.device_array import DeviceArray
from .storage import Storage

# Codes of registered messages, per device; bounded because messages carry shapes (a training loop that
# never synchronises would otherwise grow it). A code is never 0: 0 means "no error".
_MAX_MESSAGES = 4096


class _DeviceErrors:
    __slots__ = ("word", "array", "codes", "messages", "next_code", "pending")

    def __init__(self, device):
        self.word = Storage.allocate(2, np.int64, device)
        self.word.fill_zero()
        self.array = DeviceArray(self.word.kernel_storage(), 0, (2,), (1,), D.int64)
        self.codes: dict[tuple, int] = {}
        self.messages: dict[int, tuple] = {}
        # Codes only ever grow: after `codes` is cleared a message gets a new code, so a code still in flight
        # can never be given to another message.
        self.next_code = 1
        self.pending = False


_by_device: dict = {}


def _errors(device) -> _DeviceErrors:
    errors = _by_device.get(device)
    if errors is None:
        errors = _by_device[device] = _DeviceErrors(device)
    return errors


def error_word(device) -> DeviceArray:
    """The device's int64[2] error word (code, offending index) that index-taking kernels write into."""
    return _errors(device).array


def expect(device, exc_type: type[Exception], message: str) -> int:
    """Register the error a kernel launched next on `device` may flag and return the code to pass it.

    `message` may contain `{index}`, replaced by the offending index when the error is raised.
    """
    errors = _errors(device)
    key = (exc_type, message)
    code = errors.codes.get(key)
    if code is None:
        if len(errors.codes) >= _MAX_MESSAGES:
            errors.codes.clear()  # codes in flight keep their messages until the next check
        code = errors.next_code
        errors.next_code += 1
        errors.codes[key] = code
        errors.messages[code] = key
    errors.pending = True
    return code


def raise_if_flagged(device) -> None:
    """Raise the error an index-taking kernel flagged on `device` since the last check (a synchronisation)."""
    errors = _by_device.get(device)
    if errors is None or not errors.pending:
        return
    code, index = (int(v) for v in errors.word.to_host(np.int64, 2))
    errors.pending = False
    if code == 0:
        if len(errors.messages) > 2 * _MAX_MESSAGES:
            errors.messages = {c: errors.messages[c] for c in errors.codes.values()}
        return
    errors.word.fill_zero()
    exc_type, message = errors.messages[code]
    raise exc_type(message.format(index=index))


def after_launch(device) -> None:
    """Call after an index-taking launch: under the interpreter the error is raised now, on a GPU at the
    next synchronisation point (no host round trip per launch)."""
    if interpreting():
        raise_if_flagged(device)


# tt.cuda.synchronize() is a synchronisation point too.
driver.on_synchronize(lambda index: raise_if_flagged(device("cuda", index)))
