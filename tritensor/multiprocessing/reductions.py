"""How tensors cross process boundaries through multiprocessing (Queue, Pipe, Process arguments), as
torch.multiprocessing.reductions.

Registered with multiprocessing's ForkingPickler only (plain `pickle` and `tt.save` still copy the values): a
cpu tensor sent to another process has its storage moved into shared memory first, in place, and the receiver
maps the same pages, so writes on either side are seen by the other, as in PyTorch. Two sharing strategies, as
PyTorch's on Linux:

- "file_descriptor" (the default): the memory is a memfd; its descriptor travels through multiprocessing's
  own descriptor passing (`multiprocessing.reduction.DupFd`), so nothing is named and nothing can leak.
- "file_system": a named file in /dev/shm (a POSIX shared memory segment), unlinked when the sender's storage
  is freed; the sender must keep the tensor alive until the receiver has it.

Either way the sender must still be running when the receiver unpickles (PyTorch's rule too): a descriptor is
handed over by the sending process, a name is unlinked when it exits.

Moving a storage into shared memory gives it new memory: the tensor being sent (and every tensor that reached
the storage through the storage API or has not been read yet) sees it, but another view of it that was already
read on the host keeps the old private copy (tritensor caches each tensor's NumPy view). Send a tensor, or call
`share_memory_()`, before taking views of it. cuda tensors are sent by value (a
copy in the receiver): tritensor has no CUDA IPC handles yet.
"""

from __future__ import annotations

import mmap
import os
import secrets
import threading
import weakref
from multiprocessing import reduction

import numpy as np

from ..creation import empty
from ..device import CPU
from ..storage import Storage
from ..tensor import Tensor, strided
from ..untyped_storage import UntypedStorage, _replace_memory

__all__ = ["get_all_sharing_strategies", "get_sharing_strategy", "init_reductions", "reduce_tensor",
           "set_sharing_strategy"]

_ALL_STRATEGIES = frozenset({"file_descriptor", "file_system"})
_strategy = "file_descriptor"

# The _TENSOR_CLASS mark nn.Parameter leaves in a tensor's __dict__ (tritensor/nn/parameter.py): carried over so
# that a parameter arrives as a parameter, without this package importing nn (a sibling layer).
_CLASS_KEY = "_tensor_class"


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how cpu tensors are shared with other processes: "file_descriptor" or "file_system"."""
    global _strategy
    if new_strategy not in _ALL_STRATEGIES:
        raise AssertionError(f"unknown sharing strategy {new_strategy!r}; expected one of "
                             f"{sorted(_ALL_STRATEGIES)}")
    _strategy = new_strategy


def get_sharing_strategy() -> str:
    """The current strategy for sharing cpu tensors between processes."""
    return _strategy


def get_all_sharing_strategies() -> set[str]:
    """The sharing strategies this system supports."""
    return set(_ALL_STRATEGIES)


class _Segment:
    """The shared memory behind one Storage: a memfd (`fd`) or a file in /dev/shm (`name`), and its mapping."""

    __slots__ = ("fd", "name", "mapping", "__weakref__")

    def __init__(self, mapping: mmap.mmap, fd: int | None = None, name: str | None = None) -> None:
        self.mapping, self.fd, self.name = mapping, fd, name


# Storage -> its _Segment, so a storage sent twice (or sent on by a receiver) reuses its shared memory.
_segments: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Queues pickle in a feeder thread: two puts of one tensor must not move its storage twice.
_lock = threading.Lock()


def _new_segment(nbytes: int) -> _Segment:
    size = max(nbytes, 1)  # mmap refuses 0 bytes
    if _strategy == "file_descriptor":
        fd = os.memfd_create("tritensor-storage", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        return _Segment(mmap.mmap(fd, size), fd=fd)
    name = f"/dev/shm/tritensor_{os.getpid()}_{secrets.token_hex(8)}"
    fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
        return _Segment(mmap.mmap(fd, size), name=name)  # the mapping outlives the descriptor
    finally:
        os.close(fd)


def _share(st: Storage) -> _Segment:
    """The shared memory of a cpu Storage, moving its bytes there (in place) the first time."""
    with _lock:
        segment = _segments.get(st)
        if segment is None:
            segment = _move_to_shared(st)
    return segment


def _move_to_shared(st: Storage) -> _Segment:
    segment = _new_segment(st.nbytes)
    shared = np.frombuffer(segment.mapping, np.uint8, count=st.nbytes)
    shared[...] = st.host.reshape(-1).view(np.uint8)
    _replace_memory(st, host=shared)
    _segments[st] = segment
    if segment.fd is not None:
        weakref.finalize(st, os.close, segment.fd)
    else:
        # The creator owns the name: it goes when the storage does (receivers that mapped it keep their pages).
        weakref.finalize(st, _unlink, segment.name)
    return segment


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _geometry(t: Tensor) -> tuple:
    return (t.dtype, tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.requires_grad,
            t.__dict__.get(_CLASS_KEY))


def reduce_tensor(t: Tensor):
    """ForkingPickler's reduction of a Tensor: cpu tensors by shared memory, others by value."""
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                           "does not support crossing process boundaries.  If you just want to transfer the data, "
                           "call detach() on the tensor before serializing (e.g., putting it on the queue).")
    if t.device.type != "cpu" or t.layout is not strided:
        return t.__reduce_ex__(2)
    untyped = t.untyped_storage()  # registers t on its storage, so t sees the shared memory
    st = untyped._storage
    segment = _share(st)
    if segment.fd is not None:
        handle = ("fd", reduction.DupFd(segment.fd))
    else:
        handle = ("name", segment.name)
    return (_rebuild_shared, (handle, st.nbytes, *_geometry(t)))


def _open(handle, nbytes: int) -> tuple[Storage, _Segment]:
    kind, value = handle
    size = max(nbytes, 1)
    if kind == "fd":
        fd = value.detach()
        segment = _Segment(mmap.mmap(fd, size), fd=fd)
    else:
        fd = os.open(value, os.O_RDWR)
        try:
            segment = _Segment(mmap.mmap(fd, size), name=value)
        finally:
            os.close(fd)
    st = Storage(host=np.frombuffer(segment.mapping, np.uint8, count=nbytes))
    _segments[st] = segment
    if segment.fd is not None:
        weakref.finalize(st, os.close, segment.fd)
    return st, segment


def _rebuild_shared(handle, nbytes: int, dtype, shape: tuple, stride: tuple, offset: int, requires_grad: bool,
                    mark) -> Tensor:
    """A tensor over the sender's shared memory (the receiving side of reduce_tensor)."""
    st, _ = _open(handle, nbytes)
    t = empty(0, dtype=dtype, device=CPU).set_(UntypedStorage._wrap(st, CPU), offset, shape, stride)
    if requires_grad:
        t.requires_grad_(True)
    if mark is not None:
        t.__dict__[_CLASS_KEY] = mark
    return t


def init_reductions() -> None:
    """Register the tensor reduction with multiprocessing's pickler (done once, on import)."""
    reduction.ForkingPickler.register(Tensor, reduce_tensor)
