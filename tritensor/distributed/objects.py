"""Collectives on picklable Python objects, as torch.distributed's: broadcast_object_list, all_gather_object,
gather_object, scatter_object_list.

Objects travel pickled (sizes first, then the bytes, as MPI collectives on the group's communicator, under the
group's timeout). Unpickling runs code the sender chose: these functions only ever exchange data among the ranks of
this job (the processes mpiexec started), never with anything outside it; still, call them only with objects your
own ranks produce.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from . import backend_mpi
from .checks import group_of, root_rank
from .process_group import ProcessGroup
from .work import Work

__all__ = ["all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list"]


def _wait(pg: ProcessGroup, op: str, request) -> None:
    Work(op, [request], pg.timeout, rank=pg.rank()).wait()


def _dumps(obj: Any) -> np.ndarray:
    return np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)


def _loads(buf: np.ndarray) -> Any:
    return pickle.loads(buf.tobytes())  # noqa: S301 (bytes from this job's own ranks; see the module docstring)


def _all_gather_bytes(pg: ProcessGroup, op: str, data: np.ndarray) -> tuple[np.ndarray, list[int], list[int]]:
    """Every rank's byte string, concatenated, with each one's size and offset."""
    sizes = np.empty(pg.size(), dtype=np.int64)
    _wait(pg, op, pg._comm.Iallgather(np.array([data.size], dtype=np.int64), sizes))
    counts = sizes.tolist()
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    recv = np.empty(int(sizes.sum()), dtype=np.uint8)
    _wait(pg, op, pg._comm.Iallgatherv(data, [recv, (counts, displs)]))
    return recv, counts, displs


def broadcast_object_list(object_list: list[Any], src: int | None = None, group: ProcessGroup | None = None,
                          device=None, group_src: int | None = None) -> None:
    """Replace the objects of `object_list` on every rank with those of rank `src` (default 0), in place.

    Every rank passes a list of the same length. `device` is accepted and ignored (the bytes travel through host
    memory on every backend).
    """
    pg = group_of(group, "broadcast_object_list")
    if pg is None:
        return
    root = root_rank(pg, 0 if src is None and group_src is None else src, group_src, "src")
    op = "broadcast_object_list"
    MPI = backend_mpi.mpi()
    is_root = pg.rank() == root
    parts = [_dumps(o) for o in object_list] if is_root else []
    sizes = np.array([p.size for p in parts] if is_root else [0] * len(object_list), dtype=np.int64)
    lengths = np.array([len(object_list), -len(object_list)], dtype=np.int64)
    _wait(pg, op, pg._comm.Iallreduce(MPI.IN_PLACE, lengths, op=MPI.MAX))
    if lengths[0] != -lengths[1]:   # every rank sees the same extremes, so all of them raise together
        raise ValueError(f"{op}: object_list has {len(object_list)} entries on rank {pg.rank()}, but the ranks' "
                         f"lists have between {-lengths[1]} and {lengths[0]}; every rank must pass a list of the "
                         "same length")
    _wait(pg, op, pg._comm.Ibcast(sizes, root=root))
    data = np.concatenate(parts) if parts else np.empty(int(sizes.sum()), dtype=np.uint8)
    if data.size:
        _wait(pg, op, pg._comm.Ibcast(data, root=root))
    if not is_root:
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for i in range(len(object_list)):
            object_list[i] = _loads(data[offsets[i]:offsets[i + 1]])


def all_gather_object(object_list: list[Any], obj: Any, group: ProcessGroup | None = None) -> None:
    """Gather every rank's `obj` into `object_list` (which must have one slot per rank), on every rank."""
    pg = group_of(group, "all_gather_object")
    if pg is None:
        return
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must be a list with one entry per rank ({pg.size()})")
    recv, counts, displs = _all_gather_bytes(pg, "all_gather_object", _dumps(obj))
    for i, (n, off) in enumerate(zip(counts, displs)):
        object_list[i] = _loads(recv[off:off + n])


def gather_object(obj: Any, object_gather_list: list[Any] | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """Gather every rank's `obj` into `object_gather_list` (one slot per rank) on rank `dst` (default 0)."""
    pg = group_of(group, "gather_object")
    if pg is None:
        return
    root = root_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst")
    is_root = pg.rank() == root
    if is_root and (not isinstance(object_gather_list, list) or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: object_gather_list must be a list with one entry per rank ({pg.size()}) "
                         "on the destination rank")
    if not is_root and object_gather_list is not None:
        raise ValueError("Argument ``object_gather_list`` must NOT be specified on non-destination ranks.")
    data = _dumps(obj)
    sizes = np.empty(pg.size(), dtype=np.int64) if is_root else None
    _wait(pg, "gather_object", pg._comm.Igather(np.array([data.size], dtype=np.int64), sizes, root=root))
    if is_root:
        counts = sizes.tolist()
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        recv = np.empty(int(sizes.sum()), dtype=np.uint8)
        _wait(pg, "gather_object", pg._comm.Igatherv(data, [recv, (counts, displs)], root=root))
        for i, (n, off) in enumerate(zip(counts, displs)):
            object_gather_list[i] = _loads(recv[off:off + n])
    else:
        _wait(pg, "gather_object", pg._comm.Igatherv(data, None, root=root))


def scatter_object_list(scatter_object_output_list: list[Any], scatter_object_input_list: list[Any] | None = None,
                        src: int | None = None, group: ProcessGroup | None = None,
                        group_src: int | None = None) -> None:
    """Send `scatter_object_input_list[i]` of rank `src` (default 0) to rank i, which finds it in
    `scatter_object_output_list[0]`."""
    pg = group_of(group, "scatter_object_list")
    if pg is None:
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    root = root_rank(pg, 0 if src is None and group_src is None else src, group_src, "src")
    is_root = pg.rank() == root
    if is_root and (not isinstance(scatter_object_input_list, list)
                    or len(scatter_object_input_list) != pg.size()):
        raise ValueError("scatter_object_list: scatter_object_input_list must hold one object per rank "
                         f"({pg.size()}) on the source rank")
    op = "scatter_object_list"
    size = np.empty(1, dtype=np.int64)
    if is_root:
        parts = [_dumps(o) for o in scatter_object_input_list]
        sizes = np.array([p.size for p in parts], dtype=np.int64)
        _wait(pg, op, pg._comm.Iscatter(sizes, size, root=root))
        counts = sizes.tolist()
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        recv = np.empty(int(size[0]), dtype=np.uint8)
        _wait(pg, op, pg._comm.Iscatterv([np.concatenate(parts), (counts, displs)], recv, root=root))
    else:
        _wait(pg, op, pg._comm.Iscatter(None, size, root=root))
        recv = np.empty(int(size[0]), dtype=np.uint8)
        _wait(pg, op, pg._comm.Iscatterv(None, recv, root=root))
    scatter_object_output_list[0] = _loads(recv)
