"""spawn / start_processes: run `fn(i, *args)` in `nprocs` fresh processes, as torch.multiprocessing.spawn.

Each child writes the formatted traceback of an exception it raises to its own error file; the parent waits
on the children's sentinels, and on the first child that exits non-zero it stops the others (SIGTERM, then
SIGKILL after a grace period) and raises ProcessRaisedException carrying that traceback, or
ProcessExitedException when the child died without one (a signal, `sys.exit(n)`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException",
           "SpawnContext", "spawn", "start_processes"]

_KILL_AFTER_S = 30.0  # how long stopped siblings get to exit on SIGTERM before SIGKILL (PyTorch's default)


class ProcessException(Exception):
    """A child of spawn/start_processes failed: `error_index` is its rank, `pid` its process id."""

    __slots__ = ["error_index", "error_pid"]

    def __init__(self, msg: str, error_index: int, pid: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A child raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A child exited with a non-zero code (or was killed by `signal_name`) without raising."""

    __slots__ = ["exit_code"]

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code, self.signal_name)


def _child(fn: Callable, index: int, args: tuple, error_file: str) -> None:
    """A child's entry point: run fn(index, *args); on an exception leave its traceback for the parent."""
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass  # the parent stopped us (SIGINT): not an error of this rank
    except Exception:  # noqa: BLE001 - any failure of user code goes to the parent
        with open(error_file, "wb") as fh:
            pickle.dump(traceback.format_exc(), fh)
        sys.exit(1)


class ProcessContext:
    """The processes started by spawn(..., join=False): `processes`, `pids()` and `join(timeout)`."""

    def __init__(self, processes: list, error_files: list[str]) -> None:
        self.processes = processes
        self.error_files = error_files
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self) -> list[int]:
        """The process ids of the children, by rank."""
        return [int(p.pid) for p in self.processes]

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait up to `timeout` seconds for children to exit. True once all exited cleanly, False while some
        still run; on the first failure, stop the others (after `grace_period` seconds if given) and raise
        ProcessRaisedException / ProcessExitedException."""
        if not self.sentinels:
            return True
        failed = None
        for sentinel in multiprocessing.connection.wait(list(self.sentinels), timeout=timeout):
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._stop_all(grace_period)
        self._raise_for(failed)
        return False  # unreachable: _raise_for always raises

    def _stop_all(self, grace_period: float | None) -> None:
        if grace_period is not None:
            for p in self.processes:
                p.join(grace_period)
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(_KILL_AFTER_S if grace_period is None else grace_period)
        for p in self.processes:
            if p.is_alive():
                p.kill()
            p.join()

    def _raise_for(self, index: int) -> None:
        proc = self.processes[index]
        path = self.error_files[index]
        if not os.access(path, os.R_OK):
            code = proc.exitcode
            if code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"<Unknown signal {-code}>"
                raise ProcessExitedException(f"process {index} terminated with signal {name}", index, proc.pid,
                                             code, name)
            raise ProcessExitedException(f"process {index} terminated with exit code {code}", index, proc.pid,
                                         code)
        with open(path, "rb") as fh:
            trace = pickle.load(fh)
        os.unlink(path)
        raise ProcessRaisedException(f"\n\n-- Process {index} terminated with the following error:\n{trace}",
                                     index, proc.pid)


class SpawnContext(ProcessContext):
    """The context spawn() returns with join=False (PyTorch keeps this name as an alias of ProcessContext)."""


def start_processes(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn") -> ProcessContext | None:
    """Start `nprocs` processes running fn(i, *args) with the given start method; join them unless join=False
    (then return their ProcessContext). `fn` must be picklable (a module-level function) for spawn."""
    ctx = multiprocessing.get_context(start_method)
    processes, error_files = [], []
    for i in range(nprocs):
        # A fresh path per child: the file exists only if the child raised (it is written on failure only).
        fd, path = tempfile.mkstemp(prefix="tritensor-errorfile-", suffix=".pickle")
        os.close(fd)
        os.unlink(path)
        proc = ctx.Process(target=_child, args=(fn, i, args, path), daemon=daemon)
        proc.start()
        processes.append(proc)
        error_files.append(path)
    context = ProcessContext(processes, error_files)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn") -> ProcessContext | None:
    """Spawn `nprocs` processes running fn(i, *args), i the process index (torch.multiprocessing.spawn).

    With join=True (the default) wait for all of them and raise ProcessRaisedException (the child's traceback)
    or ProcessExitedException if one fails, after stopping the others; with join=False return a ProcessContext.
    Only start_method="spawn" is meant here (another warns, as PyTorch, and spawn is used): use
    start_processes for fork or forkserver.
    """
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\nTo use a different "
                      "start_method use:\n\t\t tritensor.multiprocessing.start_processes(...)", FutureWarning,
                      stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
