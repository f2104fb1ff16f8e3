"""The main process's side of multi-process loading (PyTorch's _MultiProcessingDataLoaderIter).

The main process iterates the sampler and sends (task id, indices) to the workers round-robin, keeping
`prefetch_factor * num_workers` tasks in flight; each worker builds the batch and returns it through one shared
result queue, array data in shared memory (shared_batches). Batches are handed out in task order (in_order=True)
or as they arrive (in_order=False).

Nothing may hang: the result queue is polled with a short timeout and, between polls, every worker is checked
with `is_alive()`, so a worker killed by a signal (the OOM killer's SIGKILL) or exiting early raises a
RuntimeError naming it within a second. Workers and shared-memory segments are cleaned up when the epoch ends,
when the iterator is dropped (a loop that breaks early, an error) or garbage-collected, and at interpreter exit.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import queue
import signal
import weakref

from . import shared_batches
from .worker import (
    ExceptionWrapper,
    IterableDatasetStopIteration,
    Packed,
    ResultPipe,
    ResumeIteration,
    worker_loop,
)

_POLL_S = 0.25  # between checks that the workers are alive while waiting for a batch
_JOIN_S = 1.0  # how long a stopping worker may take to finish its task before it is terminated


def _death_message(worker_id: int, process) -> str:
    code = process.exitcode
    head = f"DataLoader worker {worker_id} (pid {process.pid})"
    if code is None or code >= 0:
        return f"{head} exited unexpectedly with exit code {code}."
    message = f"{head} is killed by signal: {signal.strsignal(-code) or -code}."
    if -code == signal.SIGKILL:
        message += (" It may have run out of memory (the kernel's OOM killer sends SIGKILL): fewer workers, a "
                    "smaller batch_size or prefetch_factor use less.")
    return message


def _segment_released(released: list[list[str]], prefix_len: int, name: str) -> None:
    """weakref.finalize callback (any thread, any time): queue the segment for its worker (named in it)."""
    released[int(name[prefix_len:].split("_", 1)[0])].append(name)


class _Pool:
    """The workers, their queues and the segment prefix: everything shutting down needs, and nothing that
    refers back to the iterator (so a weakref.finalize on the iterator can own it)."""

    def __init__(self, ctx, num_workers: int) -> None:
        self.prefix = shared_batches.new_prefix()
        self.data_queue = ResultPipe(ctx)
        self.done_event = ctx.Event()
        self.index_queues: list = []
        self.workers: list = []
        self.status: list[bool] = [False] * num_workers  # a worker is active: it may get tasks
        # Per worker: names of its segments whose batch was freed here, sent back with its next task.
        self.released: list[list[str]] = [[] for _ in range(num_workers)]
        self.on_release = functools.partial(_segment_released, self.released, len(self.prefix))
        self.shutdown = False

    def start(self, ctx, spec: dict, dataset, base_seed: int) -> None:
        """Start the workers (each with its own index queue)."""
        for worker_id in range(len(self.status)):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # a worker that dies must not block this process's exit
            w = ctx.Process(target=worker_loop, daemon=True,
                            args=(spec, dataset, index_queue, self.data_queue, self.done_event, base_seed, worker_id))
            w.start()
            self.index_queues.append(index_queue)
            self.workers.append(w)
            self.status[worker_id] = True

    def stop_worker(self, worker_id: int) -> None:
        """Tell a worker to exit (it finishes the task at hand) and give it no more tasks."""
        if self.status[worker_id]:
            self.index_queues[worker_id].put(None)
            self.status[worker_id] = False

    def close(self) -> None:
        """Stop and join every worker, terminate stragglers, remove every segment still named (idempotent)."""
        if self.shutdown:
            return
        self.shutdown = True
        try:
            self.done_event.set()
            for worker_id in range(len(self.workers)):
                self.stop_worker(worker_id)
            for w in self.workers:
                w.join(timeout=_JOIN_S)
        finally:
            for w in self.workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=_JOIN_S)
            for q in self.index_queues:
                q.cancel_join_thread()
                q.close()
            self.data_queue.close()
            shared_batches.unlink_all(self.prefix)


class MultiProcessingIter:
    """Iterator over a DataLoader's batches built by worker processes."""

    def __init__(self, loader, base_seed: int) -> None:
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        # PyTorch asserts this here too (prefetch_factor=0 passes the constructor's check, but no task would be sent).
        assert self._prefetch_factor > 0, "prefetch_factor must be positive to load with workers"
        self._in_order = loader.in_order
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._index_sampler = loader._index_sampler
        self._pin = loader._pin_fn()
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._pool = _Pool(ctx, self._num_workers)
        spec = dict(iterable=loader._iterable, auto_collation=loader._auto_collation, collate_fn=loader.collate_fn,
                    default_collate=loader._default_collate, drop_last=loader.drop_last,
                    prefetch_factor=self._prefetch_factor,
                    worker_init_fn=loader.worker_init_fn, num_workers=self._num_workers, shm_prefix=self._pool.prefix)
        self._finalizer = weakref.finalize(self, _Pool.close, self._pool)
        self._pool.start(ctx, spec, loader.dataset, base_seed)
        self._reset(first_iter=True)

    def __iter__(self) -> MultiProcessingIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _reset(self, first_iter: bool = False) -> None:
        """Start an epoch: a new pass of the sampler; persistent workers are told and acknowledge."""
        pool = self._pool
        self._sampler_iter = iter(self._index_sampler)
        self._send_idx = 0  # the next task id to send
        self._rcvd_idx = 0  # the next task id to hand out (in order)
        self._task_info: dict[int, tuple] = {}  # task id -> (worker id,) or (worker id, batch) once arrived
        self._tasks_outstanding = 0
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            pool.status = [True] * self._num_workers
            for q in pool.index_queues:
                q.put(ResumeIteration())
            pending = self._num_workers
            while pending > 0:  # results of the previous, unfinished epoch are dropped (and their memory freed)
                idx, _ = self._get_data()
                if isinstance(idx, ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        status = self._pool.status
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if status[worker_id] and (self._in_order
                                      or self._workers_num_tasks[worker_id] < max_tasks // sum(status)):
                break
        else:
            return  # no active worker (all exhausted their iterable dataset)
        released = self._pool.released[worker_id]
        names = released[:]
        del released[:len(names)]  # a finalizer may append meanwhile: those go with the next task
        self._pool.index_queues[worker_id].put((self._send_idx, index, names))
        self._workers_num_tasks[worker_id] += 1
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _try_get_data(self, timeout: float):
        """(True, (task id, data)) or (False, None) after `timeout` s; raises if a worker died."""
        try:
            idx, data = self._pool.data_queue.get(timeout=timeout)
        except queue.Empty:
            dead = [(i, w) for i, w in enumerate(self._pool.workers) if self._pool.status[i] and not w.is_alive()]
            if dead:
                message = " ".join(_death_message(i, w) for i, w in dead)
                self._shutdown()
                raise RuntimeError(message) from None
            return False, None
        if isinstance(data, Packed):
            data = data.unpack(self._pool.on_release)
        return True, (idx, data)

    def _get_data(self):
        """The next (task id, data) from any worker; RuntimeError after `timeout` seconds without one."""
        waited = 0.0
        while True:
            step = _POLL_S if self._timeout <= 0 else min(_POLL_S, self._timeout - waited)
            ok, item = self._try_get_data(step)
            if ok:
                return item
            waited += step
            if 0 < self._timeout <= waited:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def __next__(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None:
                    if len(info) == 2 or self._pool.status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]  # its worker's stream ended: the task never comes
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:  # arrived earlier, out of order
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process(data)
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, IterableDatasetStopIteration):
                if self._persistent:
                    self._pool.status[data.worker_id] = False
                else:
                    self._pool.stop_worker(data.worker_id)
                self._try_put_index()
                continue
            if idx not in self._task_info:
                continue  # a stale result (can only come from a previous epoch)
            self._workers_num_tasks[self._task_info[idx][0]] -= 1
            if idx != self._rcvd_idx:
                if not self._in_order:
                    del self._task_info[idx]
                    return self._process(data)
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process(data)

    def _process(self, data):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data if self._pin is None else self._pin(data)

    def _shutdown(self) -> None:
        self._finalizer()

    @property
    def workers(self) -> list:
        """The worker processes (multiprocessing.Process objects)."""
        return self._pool.workers


def check_worker_number_rationality(num_workers: int) -> str | None:
    """PyTorch's warning text when more workers are asked for than the CPUs this process may use, else None."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count()
    if cpus is None or num_workers <= cpus:
        return None
    return (f"This DataLoader will create {num_workers} worker processes in total. Our suggested max number of "
            f"worker in current system is {cpus}, which is smaller than what this DataLoader is going to create. "
            "Please be aware that excessive worker creation might get DataLoader running slow or even freeze, "
            "lower the worker number to avoid potential slowness/freeze if necessary.")
