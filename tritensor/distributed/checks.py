"""What every collective shares: its group, argument checks with PyTorch's errors, roots, and starting the MPI
requests as a `Work` (waited on at once unless `async_op=True`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from . import backend_mpi
from .process_group import Backend, ProcessGroup, resolve, warn_not_in_group
from .work import Work

__all__ = ["check_list", "check_tensor", "group_of", "launch", "root_rank", "use_nccl", "write"]


def group_of(group, op: str) -> ProcessGroup | None:
    """The group a collective runs on; None (after PyTorch's warning) on a rank that is not a member."""
    pg = resolve(group)
    if pg is None:
        warn_not_in_group(op)
    return pg


def check_tensor(t, name: str = "tensor") -> Tensor:
    """A dense contiguous Tensor argument, or PyTorch's TypeError / ValueError."""
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type Tensor but got "
                        f"{type(t).__name__} instead.")
    if t.is_sparse:
        raise ValueError("Tensors must be dense")
    if not t.is_contiguous():
        raise ValueError("Tensors must be contiguous")
    return t


def check_list(tensors, name: str, like: Tensor, size: int, op: str) -> list[Tensor]:
    """A list of `size` contiguous tensors with `like`'s numel and dtype, or a clear error."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[Tensor] but got "
                        f"{type(tensors).__name__} instead.")
    if len(tensors) != size:
        raise ValueError(f"{op}: {name} must hold one tensor per rank of the group ({size}), got {len(tensors)}")
    for i, t in enumerate(tensors):
        check_tensor(t, f"{name}[{i}]")
        if t.dtype != like.dtype:
            raise TypeError(f"{op}: {name}[{i}] has dtype {t.dtype}, but the tensor has dtype {like.dtype}; "
                            "every tensor of a collective must have the same dtype")
        if t.numel() != like.numel():
            raise ValueError(f"{op}: {name}[{i}] has {t.numel()} elements, but the tensor has {like.numel()}; "
                             "every tensor of the list must have the same size as the tensor")
    return list(tensors)


def check_dtype(a: Tensor, b: Tensor, op: str) -> None:
    """TypeError unless the output and input tensors share a dtype."""
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: output tensor must have the same type as input tensor ({a.dtype} vs {b.dtype})")


def use_nccl(pg: ProcessGroup, *tensors: Tensor) -> bool:
    """True if the NCCL engine runs this call; ValueError for a cpu tensor on an "nccl" group."""
    if pg._backend != Backend.NCCL:
        return False
    for t in tensors:
        if t.device.type != "cuda":
            raise ValueError("Tensors must be CUDA and dense: the 'nccl' backend communicates cuda tensors only "
                             "(use a group with backend='mpi' for cpu tensors)")
    return pg._nccl is not None


def root_rank(pg: ProcessGroup, rank: int | None, group_rank: int | None, name: str) -> int:
    """The group rank of a collective's root, from the global `rank` (src/dst) or `group_rank` (group_src/...)."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both group_{name} and {name}")
    if rank is None and group_rank is None:
        raise ValueError(f"Must specify {name} or group_{name}")
    if group_rank is not None:
        if isinstance(group_rank, bool) or not isinstance(group_rank, int) or not 0 <= group_rank < pg.size():
            raise ValueError(f"Invalid group_{name} {group_rank!r}: the group has {pg.size()} ranks")
        return group_rank
    return pg._to_group_rank(rank, name)


def launch(pg: ProcessGroup, op: str, start: Callable[[], list], on_complete: Callable[[], object] | None,
           async_op: bool, result: list | None = None, statuses: list | None = None):
    """Start the MPI requests `start()` returns; the Work if async_op, else wait for it (returns its value)."""
    MPI = backend_mpi.mpi()
    try:
        requests = start()
    except MPI.Exception as e:
        raise backend_mpi.translate(op, e) from None
    work = Work(op, requests, pg.timeout, on_complete, result, statuses, rank=pg.rank())
    if async_op:
        return work
    work.wait()
    return work.value


def write(t: Tensor, flat: np.ndarray) -> None:
    """Copy a flat host array of t's elements (in t's NumPy dtype) into the contiguous tensor t."""
    d = t.detach()
    if d.device.type == "cpu":
        d.numpy().reshape(-1)[...] = flat
    else:
        d.copy_(from_numpy(np.ascontiguousarray(flat).reshape(tuple(d.shape))))


def wire_dtype(t: Tensor) -> np.dtype:
    """The NumPy dtype a tensor's elements travel as when only moved (bf16 as uint16, bool as uint8)."""
    np_dtype = np.dtype(t.dtype.np)
    if np_dtype.name == "bfloat16":
        return np.dtype(np.uint16)
    if np_dtype == np.bool_:
        return np.dtype(np.uint8)
    return np_dtype


def separate(buf: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`buf`, or a copy of it if it overlaps `other` (MPI forbids aliased send and receive buffers)."""
    return buf.copy() if np.may_share_memory(buf, other) else buf
