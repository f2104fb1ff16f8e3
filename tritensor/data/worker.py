"""What runs inside a DataLoader worker process (PyTorch's torch.utils.data._utils.worker): the loop that builds
batches for the indices the main process sends, `get_worker_info()`, per-worker seeding, and the wrapper that
carries an exception and its traceback text back to the main process.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from typing import Any

import numpy as np

from .. import random as tt_random
from . import shared_batches
from .fetch import IterableFetcher, MapFetcher

_POLL_S = 1.0  # how often an idle worker checks that the main process is still alive

_worker_info: WorkerInfo | None = None


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: `id`, `num_workers`, `seed` and `dataset` (the
    worker's own copy). Read-only once made, as PyTorch's."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key: str, val) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its WorkerInfo (id, num_workers, seed, dataset); None in the main
    process. An IterableDataset uses it to give each worker its own share of the stream."""
    return _worker_info


class KeyErrorMessage(str):
    """A KeyError's message shown as is (KeyError's str() would print the repr of a multi-line message)."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, with its traceback as text, re-raised in the main process."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where
        try:  # the class crosses the process boundary by name: one defined in a function cannot
            pickle.dumps(self.exc_type)
        except Exception:
            self.exc_msg = f"{self.exc_type.__qualname__} (not picklable, re-raised as RuntimeError): {self.exc_msg}"
            self.exc_type = RuntimeError

    def reraise(self):
        """Raise the exception again, its message naming where it happened and holding the original traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        # No local holds the new exception: its traceback holds this frame, and a cycle would keep the
        # loader's iterator (and its workers) alive until the next garbage collection.
        raise _instantiate(self.exc_type, msg)


def _instantiate(exc_type: type, msg: str) -> BaseException:
    try:
        return exc_type(msg)
    except Exception:  # an exception type whose constructor needs other arguments
        return RuntimeError(msg)


class ResumeIteration:
    """Main -> persistent worker: a new epoch begins (the worker re-creates its fetcher and acknowledges)."""


class IterableDatasetStopIteration:
    """Worker -> main: this worker's copy of the IterableDataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class Packed:
    """Worker -> main: a batch, its arrays in shared-memory segments (see shared_batches)."""

    __slots__ = ("segments", "payload")

    def __init__(self, segments: list, payload: bytes) -> None:
        self.segments = segments
        self.payload = payload

    def __reduce__(self):
        return (Packed, (self.segments, self.payload))

    def unpack(self, on_release=None):
        """The batch, rebuilt over the segments; on_release(name) once a segment's arrays are all freed."""
        return shared_batches.unpack(self.segments, self.payload, on_release)


class ResultPipe:
    """Workers -> main process: one pipe, each message written whole under a lock, synchronously.

    multiprocessing.Queue hands a put to a feeder thread, which needs the GIL: in a worker busy with
    CPU-bound Python (the next batch) that thread waits whole GIL switch intervals, delaying each batch by
    ~10 ms. Messages are small (array data goes through shared memory), so a direct write returns at once.
    """

    def __init__(self, ctx) -> None:
        self.reader, self.writer = ctx.Pipe(duplex=False)
        self.lock = ctx.Lock()

    def put(self, obj) -> None:
        """Send `obj` (in a worker)."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.writer.send_bytes(data)

    def get(self, timeout: float):
        """The next message (in the main process, its only reader); queue.Empty after `timeout` seconds."""
        if not self.reader.poll(timeout):
            raise queue.Empty
        return pickle.loads(self.reader.recv_bytes())

    def close(self) -> None:
        """Close both ends (in the main process, once the workers are gone)."""
        self.reader.close()
        self.writer.close()


def generate_state(base_seed: int, worker_id: int) -> list[int]:
    """The four 32-bit words that seed NumPy's global RNG in worker `worker_id` (PyTorch's _generate_state: NumPy's
    SeedSequence hashing of [worker_id, low and high words of base_seed, 0]), so that NumPy's stream differs
    from `random`'s and from the other workers'."""
    mask32 = 0xFFFFFFFF
    mult_a, mult_b = 0x931E8875, 0x58F38DED
    mix_l, mix_r = 0xCA01F9DD, 0x4973F715
    xshift = 16
    hash_const_a = 0x43B0D7E5

    def hashmix(value: int) -> int:
        nonlocal hash_const_a
        value = (value ^ hash_const_a) & mask32
        hash_const_a = (hash_const_a * mult_a) & mask32
        value = (value * hash_const_a) & mask32
        return (value ^ (value >> xshift)) & mask32

    def mix(x: int, y: int) -> int:
        result = ((mix_l * x) - (mix_r * y)) & mask32
        return (result ^ (result >> xshift)) & mask32

    pool = [hashmix(v) for v in (worker_id, base_seed & mask32, base_seed >> 32, 0)]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    hash_const_b = 0x8B51F9DD
    state = []
    for value in pool:
        value = (value ^ hash_const_b) & mask32
        hash_const_b = (hash_const_b * mult_b) & mask32
        value = (value * hash_const_b) & mask32
        state.append((value ^ (value >> xshift)) & mask32)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    tt_random.manual_seed(seed)
    np.random.seed(generate_state(base_seed, worker_id))
    return seed


def worker_loop(spec: dict, dataset, index_queue, data_queue, done_event, base_seed: int, worker_id: int) -> None:
    """A worker's life: seed, run worker_init_fn, then build and send the batch for each (task id, index) it
    receives until told to stop (None), or until the main process is gone.

    spec: iterable (bool), auto_collation, collate_fn, default_collate, drop_last, worker_init_fn, num_workers,
    shm_prefix, prefetch_factor. A task is (task id, index, names of this worker's segments the main process
    has released since the last task).
    """
    global _worker_info
    parent = os.getppid()  # checked while idle: a worker never outlives the process that started it
    arena = None
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=spec["num_workers"], seed=seed, dataset=dataset)
        arena = shared_batches.WorkerArena(spec["shm_prefix"], worker_id, keep=spec["prefetch_factor"] + 2)
        where = f"in DataLoader worker process {worker_id}"
        init_exception = None
        fetcher = None
        try:
            if spec["worker_init_fn"] is not None:
                spec["worker_init_fn"](worker_id)
            fetcher = _fetcher(spec, dataset)
        except Exception:
            init_exception = ExceptionWrapper(where=where)
        iteration_end = False
        while os.getppid() == parent:
            try:
                r = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if isinstance(r, ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher = _fetcher(spec, dataset)
                continue
            if r is None:
                break
            idx, index, released = r
            arena.recycle(released)
            if done_event.is_set() or iteration_end:
                continue  # draining the queue after the epoch or the loader ended
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                data = _build(fetcher, index, arena, spec["iterable"], worker_id, where)
                iteration_end = isinstance(data, IterableDatasetStopIteration)
            data_queue.put((idx, data))
            del data, idx, index, r
    except KeyboardInterrupt:  # the main process handles Ctrl-C and stops the workers
        pass
    finally:
        if arena is not None:
            arena.close()


def _fetcher(spec: dict, dataset):
    if spec["iterable"]:
        return IterableFetcher(dataset, spec["auto_collation"], spec["collate_fn"], spec["drop_last"])
    return MapFetcher(dataset, spec["auto_collation"], spec["collate_fn"], spec["default_collate"])


def _build(fetcher, index, arena: shared_batches.WorkerArena, iterable: bool, worker_id: int, where: str):
    """The message for one task: a Packed batch, an ExceptionWrapper, or the end of an iterable stream."""
    shared_batches.install(arena)
    try:
        batch = fetcher.fetch(index)
        segments, payload = arena.pack(batch)
        del batch
        arena.release(sent=True)
        return Packed(segments, payload)
    except Exception as exc:
        arena.release(sent=False)
        if iterable and isinstance(exc, StopIteration):
            return IterableDatasetStopIteration(worker_id)
        return ExceptionWrapper(where=where)
    finally:
        shared_batches.install(None)
