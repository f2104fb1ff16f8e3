"""Intra-op parallelism for the cpu path's NumPy references, as PyTorch runs its CPU kernels on a thread pool.

NumPy's ufuncs and reductions release the GIL, so a row-wise reference on a large array splits its rows (a flat
elementwise one its elements) into one contiguous range per thread and runs each range on a persistent pool of
`get_num_threads()` threads: up to a few chunks per thread, taken by whichever thread is free, the calling thread
included (so a descheduled worker on a busy host delays nothing), none under MIN_CHUNK_ELEMENTS elements (each
NumPy call of a chunk hands the GIL over between the threads). No finer blocking: measured here, the references'
cost is exp/erf arithmetic and page faults, not cache misses, and cache-sized blocks only added NumPy's per-call
cost (log_softmax's exp and row sums in a reused 8-64-row scratch instead of its second x - max pass: ~10% slower).

Results are bit-identical whatever the thread count: a reference hands `for_rows` work whose rows are independent
(a row's reductions run inside one call, over the whole row), and no reduction across rows is ever split.
Below `MIN_PARALLEL_ELEMENTS` a call runs inline in one piece: the pool's fixed cost (a few tens of microseconds)
would dominate a small tensor, and small models are made of small tensors.

Default thread count: OMP_NUM_THREADS when set to a positive integer (as PyTorch reads it), else the number of CPUs
this process may run on (os.sched_getaffinity). This module knows NumPy arrays and callables only.
"""

from __future__ import annotations

import builtins
import contextvars
import numbers
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Measured on the 2-core host with bench/test_cpu_path_bench.py: a softmax / GELU / layer_norm reference of 2^16
# fp32 elements (256 KiB) gains from 2 threads, one of 2^15 does not (pool overhead ~30-60 us against ~100 us).
MIN_PARALLEL_ELEMENTS = 1 << 16
# The smallest chunk worth a split of its own (2 MiB of fp32). Every NumPy call of a chunk releases the GIL and
# takes it back, and with two threads each running chunks that is a wait on the other thread (a futex wake, a
# context switch) at almost every call: the cost grows with chunks x passes, not with the work. Measured on the
# 2-core host (minimum of 50 calls), layer_norm at 256x4096 fp32 (six passes) cost 2.2 ms CPU / 1.5 ms wall in 8
# chunks on 2 threads, 0.95 ms on one thread, 1.3 ms CPU / 0.82 ms wall in 2 chunks; log_softmax 2.50 ms on one
# thread, 1.91 ms wall in 8 chunks, 1.46 in 2.
MIN_CHUNK_ELEMENTS = 1 << 19
# for_elements splits at multiples of this many elements (256 bytes of fp64).
ALIGN = 32
# NumPy's ufunc buffer (np.getbufsize(): 8192 elements). On an (M, R) pass with a broadcast operand (a row's
# statistic (M, 1), a weight (R,)) and rows of at most half a buffer, NumPy copies several rows through its buffers
# to make longer inner loops; measured here that makes such a pass 1.5-2x slower (R = 1000, 4096: 0.25-0.37 ns
# per element against 0.13-0.17) than one inner loop per row. Rows under ROW_UNBUFFERED_MIN elements keep the
# buffer: there the longer loops pay (R = 256: 0.40 unbuffered against 0.28 ns).
_NUMPY_BUFSIZE = 8192
ROW_UNBUFFERED_MIN = 768


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env.split(",")[0])  # OpenMP's nested list form: the first level is the one used
        except ValueError:
            n = 0
        if n > 0:
            return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class _State:
    """The thread count and the pool (n - 1 workers: the caller runs one range itself), made on first use."""

    def __init__(self) -> None:
        self.threads = _default_threads()
        self.pool: ThreadPoolExecutor | None = None
        self.lock = threading.Lock()
        self.local = threading.local()  # .busy: this thread is running a range (nested calls run inline)

    def executor(self) -> ThreadPoolExecutor:
        pool = self.pool
        if pool is None:
            with self.lock:
                if self.pool is None:
                    self.pool = ThreadPoolExecutor(max_workers=self.threads - 1, thread_name_prefix="tritensor-cpu")
                pool = self.pool
        return pool

    def reset(self, threads: int | None = None) -> None:
        with self.lock:
            old, self.pool = self.pool, None
            if threads is not None:
                self.threads = threads
        if old is not None:
            old.shutdown(wait=False)

    def after_fork(self) -> None:
        """A forked child (a DataLoader worker) has none of the parent's pool threads: start from scratch."""
        self.pool, self.lock, self.local = None, threading.Lock(), threading.local()


_state = _State()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_state.after_fork)


def get_num_threads() -> int:
    """The number of threads the cpu path uses for one op on a large tensor (torch.get_num_threads)."""
    return _state.threads


def set_num_threads(int: int) -> None:  # noqa: A002 - PyTorch's parameter name
    """Sets the number of threads used for intra-op parallelism on the cpu path (torch.set_num_threads).

    Ops on tensors of at least MIN_PARALLEL_ELEMENTS elements split their rows (or elements) over this many
    threads; results do not depend on it. Raises RuntimeError unless `int` is a positive integer."""
    n = int
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    if n != _state.threads:
        _state.reset(builtins.int(n))  # `int` is the parameter (PyTorch's name); builtins.int the type


class _Job:
    """One for_rows call's chunks, taken in order by whichever thread is free: the caller and the pool's workers.
    On a busy host a worker may start late or not at all before the caller has taken every chunk: then the caller
    never waits on it (the worker finds nothing left), so an oversubscribed machine costs about the one-thread
    time, not the time of the slowest thread."""

    def __init__(self, fn: Callable[[int, int], None], bounds: list[int]) -> None:
        self.fn, self.bounds = fn, bounds
        self.next = iter(range(len(bounds) - 1)).__next__  # next() on a range iterator is atomic under the GIL
        self.left = len(bounds) - 1
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        local = _state.local
        local.busy = True
        try:
            while True:
                try:
                    i = self.next()
                except StopIteration:
                    return
                if self.error is None:  # after a failure the rest are only counted off
                    try:
                        self.fn(self.bounds[i], self.bounds[i + 1])
                    except BaseException as e:  # re-raised by the caller
                        self.error = e
                with self.lock:
                    self.left -= 1
                    if self.left == 0:
                        # A worker's task still queued (the caller took every chunk first) keeps this job: it must
                        # not keep fn, whose closure holds the caller's arrays (a loaded host queues many such tasks,
                        # seen as several chunks' arrays alive at once in test_linear_cross_entropy's peak).
                        self.fn = None
                        self.done.set()
        finally:
            local.busy = False


def _chunks(rows: int, row_size: int, threads: int) -> int:
    """How many chunks: a few per thread (what lets a free thread take over from a descheduled one), none under
    MIN_CHUNK_ELEMENTS elements (see there: each chunk costs a GIL hand-over per NumPy call of each pass)."""
    return max(2, min(rows, 4 * threads, rows * row_size // MIN_CHUNK_ELEMENTS))


def runs_inline(rows: int, row_size: int, min_elements: int = MIN_PARALLEL_ELEMENTS) -> bool:
    """Whether for_rows(fn, rows, row_size, min_elements) would be one call fn(0, rows) on the calling thread: a
    reference may then run its whole array directly (the same calls on the same rows, without a closure)."""
    return (_state.threads <= 1 or rows <= 1 or rows * row_size < min_elements
            or getattr(_state.local, "busy", False))


def for_rows(fn: Callable[[int, int], None], rows: int, row_size: int,
             min_elements: int = MIN_PARALLEL_ELEMENTS) -> None:
    """fn(start, stop) over [0, rows) in contiguous chunks run by the caller and the pool's threads.

    fn must treat its rows independently of all others (a row's reductions inside one call) and write only
    their results, so that any split gives the same bits. Small work (rows * row_size < min_elements: pass a
    larger one for a cheap memory-bound op), one thread, or a call made from inside a chunk is one inline call
    fn(0, rows) (see runs_inline)."""
    threads = _state.threads
    if runs_inline(rows, row_size, min_elements):
        if rows:
            fn(0, rows)
        return
    parts = _chunks(rows, row_size, threads)
    job = _Job(fn, [i * rows // parts for i in range(parts + 1)])
    pool = _state.executor()
    for _ in range(min(threads, parts) - 1):
        # Each worker runs in a copy of the caller's context: NumPy's errstate (a context variable) holds there too.
        pool.submit(contextvars.copy_context().run, job.work)
    job.work()
    job.done.wait()  # only on chunks a worker has taken and not finished
    if job.error is not None:
        raise job.error


def for_elements(fn: Callable[[int, int], None], size: int, min_elements: int = MIN_PARALLEL_ELEMENTS) -> None:
    """fn(start, stop) over the flat range [0, size), as for_rows with rows of one element (each range's
    length a multiple of ALIGN elements but the last, so SIMD loops see the same alignment split or not)."""
    threads = _state.threads
    if threads <= 1 or size < min_elements or getattr(_state.local, "busy", False):
        if size:
            fn(0, size)
        return
    units = -(-size // ALIGN)
    for_rows(lambda lo, hi: fn(lo * ALIGN, min(hi * ALIGN, size)), units, ALIGN, min_elements)


def unbuffer_rows(row_size: int) -> None:
    """Inside a `with np.errstate(...)` block (whose exit restores it): NumPy's ufunc buffer no longer than a row of
    `row_size` contiguous elements, so that a row-wise pass over (M, row_size) arrays with a broadcast operand runs
    one inner loop per row instead of copying rows through the buffer. Results are the same bits either way (the
    same loops on the same elements); only rows of ROW_UNBUFFERED_MIN up to half a buffer are affected."""
    if ROW_UNBUFFERED_MIN <= row_size <= _NUMPY_BUFSIZE // 2:
        np.setbufsize(row_size // 16 * 16)  # NumPy takes multiples of 16 only


_ONES: dict = {}  # dtype: a vector of ones (grown on demand), row_sums' other operand
_ONES_KEPT = 1 << 20  # longer rows take a vector of their own, not kept (no memory held for one huge call)


def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """n ones of `dtype`, a slice of the kept vector."""
    ones = _ONES.get(dtype)
    if ones is None or len(ones) < n:
        ones = np.ones(max(n, 1024), dtype)
        if n <= _ONES_KEPT:
            _ONES[dtype] = ones  # (a race only makes one twice)
    return ones[:n]


def row_sums(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The sums of a's rows (along its last axis) of float32/float64 `a`, as one BLAS dot per row with a vector of
    ones: measured here 1.9x (256 x 4096 fp32) to 3x (4096 x 64) faster than np.add.reduce, NumPy's pairwise sum,
    whose per-element work is a few times a dot's. Rounded as a dot rounds (within float error of the pairwise
    sum, as PyTorch's vectorised sums are), and row by row: a row's sum does not depend on which rows are summed
    with it, so a reference that splits its rows over threads keeps its bits. `out`: the (rows,) result array."""
    return np.vecdot(a, _ones(a.shape[-1], a.dtype), out=out)


def col_sums(a: np.ndarray) -> np.ndarray:
    """The sums of a 2-D float32/float64 `a`'s columns (over its rows) as one BLAS matrix-vector product with a
    vector of ones: measured here 1.5x (256 x 4096 fp32) np.add.reduce's speed along axis 0. Rows are added in
    BLAS's fixed order for the array's shape (a sequential accumulation, as einsum's column sums and PyTorch's
    cpu weight gradients accumulate), so a column reduction must see the whole array: never split it over
    threads."""
    return np.matmul(_ones(a.shape[0], a.dtype), a)


def split_map(fn: Callable, inputs: list, dtype, min_elements: int = MIN_PARALLEL_ELEMENTS):
    """out[lo:hi] = fn(*(a[lo:hi] for a in inputs)) over the flat elements, ranges split over the threads: the
    result (inputs' shape, `dtype`), or None when that would not pay (one thread, small or strided or
    differently shaped inputs), the caller then runs fn on the whole arrays itself. fn must be elementwise; it
    runs with NumPy's floating-point errors ignored."""
    first = inputs[0]
    if (_state.threads <= 1 or first.size < min_elements or getattr(_state.local, "busy", False)
            or any(a.shape != first.shape or not a.flags.c_contiguous for a in inputs)):
        return None
    out = np.empty(first.shape, dtype)
    flat_out, flats = out.reshape(-1), [a.reshape(-1) for a in inputs]

    def part(lo: int, hi: int) -> None:
        with np.errstate(all="ignore"):  # as the references run: inf and NaN are values, not errors
            flat_out[lo:hi] = fn(*(a[lo:hi] for a in flats))

    for_elements(part, first.size, min_elements)
    return out
