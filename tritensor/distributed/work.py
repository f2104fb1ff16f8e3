"""`Work`: the handle of a collective in flight, as torch.distributed's (what `async_op=True` returns).

A collective starts as MPI nonblocking calls (Iallreduce, Ibcast, ...). Completing it polls the requests with
MPI_Testall against a deadline instead of blocking in MPI_Wait, so a rank whose peers never join raises
RuntimeError naming the operation and the timeout instead of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from . import backend_mpi

__all__ = ["Work"]

# Works that timed out and are still in flight: MPI may still write their buffers when a late peer joins, so they
# (and the arrays their requests hold) must outlive a caller that dropped them.
_TIMED_OUT: list[Work] = []
_SPINS = 2000   # Testall calls before polling starts to sleep (a short collective completes within them)


def _test(requests: list, statuses: list | None) -> bool:
    """True if every request has completed. One request is tested alone (MPI_Test), so that an error it ends
    with (a truncated message) is raised as itself rather than as MPI_ERR_IN_STATUS."""
    if len(requests) == 1:
        return requests[0].Test(statuses[0] if statuses else None)
    MPI = backend_mpi.mpi()
    return MPI.Request.Testall(requests, statuses) if statuses is not None else MPI.Request.Testall(requests)


def _poll(requests: list, statuses: list | None, deadline: float) -> bool:
    """Test the requests until all are complete (True) or the deadline passes (False)."""
    spins = 0
    while True:
        if _test(requests, statuses):
            return True
        spins += 1
        if spins < _SPINS:
            if spins & 63 == 0 and time.monotonic() > deadline:
                return False
            continue
        if time.monotonic() > deadline:
            return False
        time.sleep(min(1e-3, 1e-5 * (spins - _SPINS + 1)))   # back off: a late peer must not cost a core


class Work:
    """A collective or point-to-point operation in flight; `wait()` completes it.

    Returned by every collective called with `async_op=True` and by `isend`/`irecv`. The tensors it writes hold
    their results only after `wait()` returns (or `is_completed()` says True); cuda tensors on the mpi backend are
    copied back from their host staging buffers at that point.
    """

    def __init__(self, op: str, requests: list | None = None, timeout: timedelta | None = None,
                 on_complete: Callable[[], object] | None = None, result: list | None = None,
                 statuses: list | None = None, rank: int = -1) -> None:
        self._op = op
        self._requests = list(requests or [])
        self._timeout = timeout if timeout is not None else timedelta(minutes=10)
        self._on_complete = on_complete
        self._result = result if result is not None else []
        self._statuses = statuses
        self._rank = rank
        self._done = not self._requests and on_complete is None
        self._exception: BaseException | None = None
        self.value = None          # what on_complete returned (recv: the sender's rank)

    def __repr__(self) -> str:
        return f"<Work {self._op} completed={self._done}>"

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self in _TIMED_OUT:
            _TIMED_OUT.remove(self)
        try:
            if self._on_complete is not None:
                self.value = self._on_complete()
        except BaseException as e:
            self._exception = e
            raise

    def is_completed(self) -> bool:
        """True if the operation has finished (tests the MPI requests once; never blocks)."""
        if self._done:
            return True
        try:
            done = _test(self._requests, self._statuses)
        except backend_mpi.mpi().Exception as e:
            self._done, self._exception = True, backend_mpi.translate(self._op, e)
            raise self._exception from None
        if done:
            self._finish()
        return done

    def is_success(self) -> bool:
        """True if the operation completed without an error."""
        return self.is_completed() and self._exception is None

    def exception(self) -> BaseException | None:
        """The error the operation ended with, or None."""
        return self._exception

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until the operation completes and its output tensors hold the result; returns True.

        Raises RuntimeError if it does not complete within `timeout` (default: the process group's timeout);
        the operation stays in flight, so a later `wait()` may still complete it.
        """
        if self._done:
            if self._exception is not None:
                raise self._exception
            return True
        limit = self._timeout if timeout is None else timeout
        if not isinstance(limit, timedelta):
            raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(limit)}")
        try:
            done = _poll(self._requests, self._statuses, time.monotonic() + limit.total_seconds())
        except backend_mpi.mpi().Exception as e:
            self._done, self._exception = True, backend_mpi.translate(self._op, e)
            raise self._exception from None
        if not done:
            if self not in _TIMED_OUT:
                _TIMED_OUT.append(self)
            raise RuntimeError(f"[rank {self._rank}] {self._op} timed out after {limit} (timeout="
                               f"{limit.total_seconds():g} s): not every rank of the process group has joined "
                               "it; a rank may have failed, skipped the call or called a different collective")
        self._finish()
        return True

    def synchronize(self) -> None:
        """Same as `wait()` (tritensor's mpi backend has no device stream to synchronise with)."""
        self.wait()

    def result(self) -> list:
        """The output tensors of the operation (after `wait()`)."""
        return list(self._result)

    def source_rank(self) -> int:
        """For an `irecv` from any source: the rank the message came from (after `wait()`)."""
        return -1 if self.value is None else self.value
