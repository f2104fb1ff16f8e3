"""Point-to-point messages, as torch.distributed's: send, recv, isend, irecv, P2POp, batch_isend_irecv
(MPI Isend/Irecv on the tensors' host memory; cuda tensors staged through host memory on every backend)."""

from __future__ import annotations

from collections.abc import Callable

from ..tensor import Tensor
from . import backend_mpi
from .backend_mpi import Staged
from .checks import check_tensor, group_of, launch
from .process_group import ProcessGroup
from .work import Work

__all__ = ["P2POp", "batch_isend_irecv", "irecv", "isend", "recv", "send"]


def _peer(pg: ProcessGroup, rank: int | None, group_rank: int | None, name: str) -> int:
    """The group rank of a message's peer (global `rank` or `group_rank`); never this rank itself."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both group_{name} and {name}")
    if group_rank is not None:
        if isinstance(group_rank, bool) or not isinstance(group_rank, int) or not 0 <= group_rank < pg.size():
            raise ValueError(f"Invalid group_{name} {group_rank!r}: the group has {pg.size()} ranks")
        peer = group_rank
    else:
        peer = pg._to_group_rank(rank, name)
    if peer == pg.rank():
        what = "destination" if name == "dst" else "source"
        raise ValueError(f"Invalid {what} rank: {what} rank should not be the same as the rank of the current "
                         "process.")
    return peer


def _tag(tag: int) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= 32767:
        raise ValueError(f"tag must be an int in [0, 32767] (MPI's guaranteed tag range), got {tag!r}")
    return tag


def _send(tensor: Tensor, dst: int | None, group, tag: int, group_dst: int | None, async_op: bool, op: str):
    pg = group_of(group, op)
    if pg is None:
        return None
    check_tensor(tensor)
    if dst is None and group_dst is None:
        raise ValueError("Must specify dst or group_dst")
    peer = _peer(pg, dst, group_dst, "dst")
    tag = _tag(tag)
    s = Staged(tensor)
    return launch(pg, op, lambda: [pg._comm.Isend(s.buf, dest=peer, tag=tag)],
                  lambda: s.done(write=False), async_op, [tensor])


def _recv(tensor: Tensor, src: int | None, group, tag: int, group_src: int | None, async_op: bool, op: str):
    pg = group_of(group, op)
    if pg is None:
        return -1 if not async_op else None
    check_tensor(tensor)
    MPI = backend_mpi.mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _peer(pg, src, group_src, "src")
    tag = _tag(tag)
    s = Staged(tensor, fetch=False)
    status = MPI.Status()

    def done() -> int:
        got = status.Get_count(MPI.BYTE)
        sender = pg._ranks[status.Get_source()]
        if got != s.buf.nbytes:
            raise RuntimeError(f"{op}: the message from rank {sender} has {got} bytes, but the tensor holds "
                               f"{s.buf.nbytes} bytes (numel {tensor.numel()}, dtype {tensor.dtype}): the sent and "
                               "received tensors must have the same size and dtype")
        s.done()
        return sender
    return launch(pg, op, lambda: [pg._comm.Irecv(s.buf, source=peer, tag=tag)], done, async_op, [tensor],
                  statuses=[status])


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send `tensor` to rank `dst` (a global rank; or `group_dst` within `group`); returns once it is sent."""
    _send(tensor, dst, group, tag, group_dst, False, "send")


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into `tensor` a message from rank `src` (None: from any rank); returns the sender's global rank.

    The message must have exactly the tensor's size (RuntimeError otherwise). Returns -1 on a rank outside
    `group`.
    """
    return _recv(tensor, src, group, tag, group_src, False, "recv")


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Start sending `tensor` to rank `dst`; returns a Work (do not modify the tensor before its `wait()`)."""
    return _send(tensor, dst, group, tag, group_dst, True, "isend")


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Start receiving into `tensor` from rank `src` (None: any); returns a Work (`work.source_rank()` after
    `wait()` is the sender's global rank)."""
    return _recv(tensor, src, group, tag, group_src, True, "irecv")


class P2POp:
    """One point-to-point operation for `batch_isend_irecv`: `op` is `isend` or `irecv`, `peer` a global rank
    (or `group_peer` a rank of `group`)."""

    def __init__(self, op: Callable, tensor: Tensor, peer: int | None = None, group: ProcessGroup | None = None,
                 tag: int = 0, group_peer: int | None = None) -> None:
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = op, tensor, peer, group, tag, \
            group_peer

    def __repr__(self) -> str:
        return f"P2POp(op={self.op.__name__}, peer={self.peer}, tag={self.tag}, shape={tuple(self.tensor.shape)})"


def batch_isend_irecv(p2p_op_list: list[P2POp]) -> list[Work]:
    """Start every P2POp of the list (all sends and receives in flight together); returns their Works."""
    if not isinstance(p2p_op_list, (list, tuple)) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]
