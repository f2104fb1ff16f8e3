"""How a worker process hands a batch to the main process: array data through POSIX shared memory, only the
batch's structure (lists, dicts, strings, numbers) pickled.

A worker pickles the batch with a pickler whose `persistent_id` takes every cpu Tensor and NumPy array out of
the stream: their bytes go into a shared-memory segment, the stream keeps (segment, offset, shape, dtype).
Large tensors that `default_collate` stacks while a worker builds a batch are stacked straight into a segment
of their own (`collate.set_stack_allocator`), so they are never copied again. The main process maps the
segments and rebuilds the tensors zero-copy over the mapping.

Segments are recycled: writing into a fresh segment costs a page fault per 4 KiB page (tmpfs allocates them one
by one, several times slower than a heap copy), so when the last tensor over a segment is freed in the main
process its name goes back to the worker that made it (with that worker's next task), and the worker writes
its next batch into the same, already allocated pages. A worker keeps a few free segments per size and unlinks
the rest; every segment still named when the workers stop is unlinked (by the worker as it exits, and by the
loader under its name prefix: a batch in flight when a loop breaks, a worker killed mid-batch). Mappings the
main process holds stay valid after the name is gone.

The segments are the POSIX shared memory of `multiprocessing.shared_memory` (`shm_open` + `mmap`, through the
same `_posixshmem` primitive), without SharedMemory's resource tracker: ownership moves between the processes,
and the loader itself guarantees the clean-up.
"""

from __future__ import annotations

import _posixshmem
import io
import math
import mmap
import os
import pickle
import secrets
import weakref

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from . import collate

_ALIGN = 64  # each array starts on a cache line (and any SIMD alignment NumPy may want)
_OWN_SEGMENT_BYTES = 1 << 16  # stacked tensors at least this large get a segment of their own
_SHM_DIR = "/dev/shm"


def new_prefix() -> str:
    """A name prefix unique to one loader iterator (pid + random token), under which all its segments live."""
    return f"tt{os.getpid()}_{secrets.token_hex(4)}_"


def _create(name: str, size: int) -> mmap.mmap:
    fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    except BaseException:
        _unlink(name)
        raise
    finally:
        os.close(fd)


def _attach(name: str, size: int) -> mmap.mmap:
    fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def _unlink(name: str) -> None:
    try:
        _posixshmem.shm_unlink("/" + name)
    except FileNotFoundError:
        pass


def unlink_all(prefix: str) -> None:
    """Remove every segment whose name starts with `prefix` (those that never reached the main process)."""
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:  # no /dev/shm (not Linux): segments in flight are removed by name as they arrive
        return
    for name in names:
        if name.startswith(prefix):
            _unlink(name)


def _view(mm: mmap.mmap, offset: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    count = math.prod(shape)
    if count == 0:
        return np.empty(shape, dtype)
    return np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)


class WorkerArena:
    """A worker's segments: free ones to reuse, those lent to the main process, and those holding the batch being
    built (stacked into by `default_collate`, or filled by `pack` with the remaining arrays)."""

    def __init__(self, prefix: str, worker_id: int, keep: int = 4) -> None:
        self.prefix = f"{prefix}{worker_id}_"
        self.keep = keep  # free segments kept per size
        self.counter = 0
        self.free: dict[int, list[tuple[str, mmap.mmap]]] = {}
        self.lent: dict[str, tuple[int, mmap.mmap]] = {}
        self.batch: list[tuple[int, int, str, mmap.mmap]] = []  # (address, size, name, mapping)
        self.used: set[int] = set()  # indices into `batch` that the packed batch refers to

    def _take(self, size: int) -> tuple[int, str, mmap.mmap]:
        """A segment of `size` bytes for the current batch (a free one if any); returns its index in `batch`."""
        free = self.free.get(size)
        if free:
            name, mm = free.pop()
        else:
            name = f"{self.prefix}{self.counter}"
            self.counter += 1
            mm = _create(name, size)
        address = np.frombuffer(mm, np.uint8).ctypes.data
        self.batch.append((address, size, name, mm))
        return len(self.batch) - 1, name, mm

    def allocate(self, shape: tuple, np_dtype) -> np.ndarray | None:
        """An array in a segment of its own for a stacked batch tensor (None for small ones: `pack` copies them)."""
        count = math.prod(shape)
        if count * np.dtype(np_dtype).itemsize < _OWN_SEGMENT_BYTES:
            return None
        _, _, mm = self._take(count * np.dtype(np_dtype).itemsize)
        return np.frombuffer(mm, dtype=np_dtype, count=count).reshape(shape)

    def _segment_of(self, arr: np.ndarray) -> tuple[int, int] | None:
        """(index in `batch`, offset) when `arr` is C-contiguous inside one of this batch's segments."""
        if not self.batch or not arr.flags.c_contiguous or arr.size == 0:
            return None
        address = arr.ctypes.data
        for i, (start, size, _, _) in enumerate(self.batch):
            if start <= address and address + arr.nbytes <= start + size:
                return i, address - start
        return None

    def pack(self, batch) -> tuple[list[tuple[str, int]], bytes]:
        """(names and sizes of the segments it uses, pickled structure) for the main process's `unpack`."""
        buf = io.BytesIO()
        pickler = _Packer(buf, self)
        pickler.dump(batch)
        used = sorted({ref[0] for ref in pickler.placed})
        if pickler.copy_bytes:
            index, _, mm = self._take(pickler.copy_bytes)
            for arr, offset in pickler.copies:
                np.copyto(_view(mm, offset, arr.shape, arr.dtype), arr)
            used.append(index)
        self.used = set(used)
        # The stream was written before the copy segment existed: its arrays say -1, mapped here to its place.
        remap = {old: new for new, old in enumerate(used)}
        if pickler.copy_bytes:
            remap[-1] = remap[used[-1]]
        segments = [(self.batch[i][2], self.batch[i][1]) for i in used]
        return segments, pickle.dumps((remap, buf.getvalue()), protocol=pickle.HIGHEST_PROTOCOL)

    def release(self, sent: bool) -> None:
        """The batch is packed (sent=True: the segments it uses are lent to the main process) or failed; the
        other segments it took are free again."""
        for i, (_, size, name, mm) in enumerate(self.batch):
            if sent and i in self.used:
                self.lent[name] = (size, mm)
            else:
                self._give_back(name, size, mm)
        self.batch = []
        self.used = set()

    def _give_back(self, name: str, size: int, mm: mmap.mmap) -> None:
        free = self.free.setdefault(size, [])
        if len(free) < self.keep:
            free.append((name, mm))
            return
        _unlink(name)
        _close(mm)

    def recycle(self, names: list[str]) -> None:
        """Segments whose batch the main process has freed: free again here."""
        for name in names:
            lent = self.lent.pop(name, None)
            if lent is not None:
                self._give_back(name, *lent)

    def close(self) -> None:
        """Unlink every segment this worker still names (the main process's mappings stay valid)."""
        for name, (_, mm) in list(self.lent.items()):
            _unlink(name)
            _close(mm)
        for free in self.free.values():
            for name, mm in free:
                _unlink(name)
                _close(mm)
        for _, _, name, mm in self.batch:
            _unlink(name)
            _close(mm)
        self.lent, self.free, self.batch = {}, {}, []


def _close(mm: mmap.mmap) -> None:
    try:
        mm.close()
    except BufferError:  # an array of this process still views it: unmapped when that array is freed
        pass


class _Packer(pickle.Pickler):
    """Pickles a batch's structure; tensors and arrays become references into shared memory."""

    def __init__(self, file, arena: WorkerArena) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.arena = arena
        self.copies: list[tuple[np.ndarray, int]] = []
        self.copy_bytes = 0
        self.placed: list[tuple[int, int]] = []

    def persistent_id(self, obj):
        if type(obj) is np.ndarray:
            if obj.dtype.hasobject or obj.dtype.fields is not None:
                return None  # object or structured arrays pickle as usual
            arr, kind, grad = obj, "ndarray", False
        elif isinstance(obj, Tensor) and obj.device.type == "cpu":
            arr, kind, grad = obj.detach().numpy(), "tensor", obj.requires_grad
        else:
            return None
        where = self.arena._segment_of(arr)
        if where is not None:
            self.placed.append(where)
            return (kind, where[0], where[1], arr.shape, arr.dtype, grad)
        offset = -(-self.copy_bytes // _ALIGN) * _ALIGN
        self.copies.append((arr, offset))
        self.copy_bytes = offset + arr.nbytes
        return (kind, -1, offset, arr.shape, arr.dtype, grad)


class _Mapping:
    """One segment mapped in the main process; every array of the batch in it is a view of this object, so it
    lives exactly as long as they do (and a weakref.finalize on it sees the batch released)."""

    def __init__(self, mm: mmap.mmap, size: int) -> None:
        self.raw = np.frombuffer(mm, np.uint8)
        self.__array_interface__ = {"data": (self.raw.ctypes.data, False), "shape": (size,), "typestr": "|u1",
                                    "version": 3}


class _Unpacker(pickle.Unpickler):
    def __init__(self, file, maps: list, remap: dict) -> None:
        super().__init__(file)
        self.maps = maps
        self.remap = remap

    def persistent_load(self, pid):
        kind, segment, offset, shape, dtype, grad = pid
        count = math.prod(shape)
        if count == 0:  # empty arrays take no bytes, and may have no segment to point into
            arr = np.empty(shape, dtype)
        else:
            flat = np.asarray(self.maps[self.remap[segment]])[offset:offset + count * dtype.itemsize]
            arr = flat.view(dtype).reshape(shape)
        if kind == "ndarray":
            return arr
        t = from_numpy(arr)
        if grad:
            t.requires_grad_()
        return t


def unpack(segments: list[tuple[str, int]], payload: bytes, on_release=None):
    """The batch a worker packed, its tensors NumPy-backed views of the segments. on_release(name) is called
    when the last array over a segment is freed (the worker may then reuse it)."""
    maps = []
    for name, size in segments:
        mapping = _Mapping(_attach(name, size), size)
        if on_release is not None:
            weakref.finalize(mapping, on_release, name)
        maps.append(mapping)
    remap, stream = pickle.loads(payload)
    return _Unpacker(io.BytesIO(stream), maps, remap).load()


def install(arena: WorkerArena | None) -> None:
    """Make `default_collate` stack large tensors into the arena's segments (None: back to plain stacking)."""
    collate.set_stack_allocator(None if arena is None else arena.allocate)
