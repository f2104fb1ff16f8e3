"""The reducing and gathering collectives, as torch.distributed's: all_reduce, broadcast, reduce, all_gather,
all_gather_into_tensor, reduce_scatter, reduce_scatter_tensor, barrier.

On the mpi backend each is one MPI nonblocking collective on the group's communicator (Iallreduce, Ibcast,
Ireduce, Iallgather, Ireduce_scatter_block, Ibarrier) over the tensors' host memory: a contiguous cpu tensor is
used in place, a cuda tensor is copied to the host and back. On an "nccl" group, cuda tensors go through NCCL.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import backend_mpi
from .backend_mpi import Staged, divide_, mpi_op
from .checks import (
    check_dtype,
    check_list,
    check_tensor,
    group_of,
    launch,
    root_rank,
    separate,
    use_nccl,
    wire_dtype,
    write,
)
from .debug import check_consistent
from .process_group import ProcessGroup
from .reduce_op import RedOpType, ReduceOp, as_red_op
from .work import Work

__all__ = ["all_gather", "all_gather_into_tensor", "all_reduce", "barrier", "broadcast", "reduce", "reduce_scatter",
           "reduce_scatter_tensor"]


def _nccl():
    from . import backend_nccl
    return backend_nccl


def _reduction(pg: ProcessGroup, red: RedOpType, out: Staged, write: bool = True):
    """The completion of a reduction into `out`: AVG's division, then the copy back into the tensor."""
    def done() -> None:
        if red == RedOpType.AVG and write:
            divide_(out.buf, pg.size())
        out.done(write)
    return done


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Reduce `tensor` across all ranks of the group, in place: every rank ends with the result.

    `op`: a `ReduceOp` (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR). float16 reduces natively in MPI; bfloat16
    through a float32 staging buffer (rounded once at the end). Returns a Work if `async_op`, else None.

    >>> t = tt.ones(3) * (dist.get_rank() + 1); dist.all_reduce(t)   # 2 ranks: t == [3., 3., 3.]
    """
    pg = group_of(group, "all_reduce")
    if pg is None:
        return None
    check_tensor(tensor)
    red = as_red_op(op)
    if use_nccl(pg, tensor):
        return _nccl().all_reduce(pg, tensor, red, async_op)
    mop = mpi_op(red, tensor.dtype.name)
    check_consistent(pg, "all_reduce", tensor.numel(), tensor.dtype)
    s = Staged(tensor, reducing=True)
    MPI = backend_mpi.mpi()
    return launch(pg, "all_reduce", lambda: [pg._comm.Iallreduce(MPI.IN_PLACE, s.buf, op=mop)],
                  _reduction(pg, red, s), async_op, [tensor])


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy `tensor` from rank `src` (a global rank; or `group_src`, a rank of the group) to every other rank.

    >>> dist.broadcast(t, src=0)
    """
    pg = group_of(group, "broadcast")
    if pg is None:
        return None
    check_tensor(tensor)
    root = root_rank(pg, src, group_src, "src")
    if use_nccl(pg, tensor):
        return _nccl().broadcast(pg, tensor, root, async_op)
    check_consistent(pg, "broadcast", tensor.numel(), tensor.dtype, root)
    is_root = pg.rank() == root
    s = Staged(tensor, fetch=is_root)
    return launch(pg, "broadcast", lambda: [pg._comm.Ibcast(s.buf, root=root)],
                  lambda: s.done(write=not is_root), async_op, [tensor])


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group: ProcessGroup | None = None,
           async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Reduce `tensor` across the group into rank `dst`'s tensor (the other ranks' tensors are left unchanged)."""
    pg = group_of(group, "reduce")
    if pg is None:
        return None
    check_tensor(tensor)
    red = as_red_op(op)
    root = root_rank(pg, dst, group_dst, "dst")
    if use_nccl(pg, tensor):
        return _nccl().reduce(pg, tensor, red, root, async_op)
    mop = mpi_op(red, tensor.dtype.name)
    check_consistent(pg, "reduce", tensor.numel(), tensor.dtype, root)
    is_root = pg.rank() == root
    s = Staged(tensor, reducing=True)
    MPI = backend_mpi.mpi()

    def start() -> list:
        if is_root:
            return [pg._comm.Ireduce(MPI.IN_PLACE, s.buf, op=mop, root=root)]
        return [pg._comm.Ireduce(s.buf, None, op=mop, root=root)]
    return launch(pg, "reduce", start, _reduction(pg, red, s, write=is_root), async_op, [tensor])


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Gather every rank's `tensor` into `tensor_list` (one tensor per rank, in group-rank order), on all ranks.

    >>> out = [tt.empty(3) for _ in range(dist.get_world_size())]; dist.all_gather(out, t)
    """
    pg = group_of(group, "all_gather")
    if pg is None:
        return None
    check_tensor(tensor)
    outs = check_list(tensor_list, "tensor_list", tensor, pg.size(), "all_gather")
    check_consistent(pg, "all_gather", tensor.numel(), tensor.dtype)
    s = Staged(tensor)
    n = tensor.numel()
    recv = np.empty(n * pg.size(), dtype=wire_dtype(tensor))
    np_dtype = np.dtype(tensor.dtype.np)

    def done() -> None:
        for i, out in enumerate(outs):
            write(out, recv[i * n:(i + 1) * n].view(np_dtype))
    return launch(pg, "all_gather", lambda: [pg._comm.Iallgather(s.buf, recv)], done, async_op, outs)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Gather every rank's `input_tensor` into `output_tensor`, concatenated in group-rank order along the flat
    memory (its first dimension), on all ranks. `output_tensor.numel()` must be world_size times the input's.
    """
    pg = group_of(group, "all_gather_into_tensor")
    if pg is None:
        return None
    check_tensor(output_tensor, "output_tensor")
    check_tensor(input_tensor, "input_tensor")
    check_dtype(output_tensor, input_tensor, "all_gather_into_tensor")
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError("output tensor size must be equal to world_size times input tensor size "
                         f"({output_tensor.numel()} != {pg.size()} * {input_tensor.numel()})")
    if use_nccl(pg, output_tensor, input_tensor):
        return _nccl().all_gather_into_tensor(pg, output_tensor, input_tensor, async_op)
    check_consistent(pg, "all_gather_into_tensor", input_tensor.numel(), input_tensor.dtype)
    so = Staged(output_tensor, fetch=False)
    si = Staged(input_tensor)
    send = separate(si.buf, so.buf)
    return launch(pg, "all_gather_into_tensor", lambda: [pg._comm.Iallgather(send, so.buf)], so.done, async_op,
                  [output_tensor])


def reduce_scatter(output: Tensor, input_list: list[Tensor], op=ReduceOp.SUM, group: ProcessGroup | None = None,
                   async_op: bool = False) -> Work | None:
    """Reduce `input_list` (one tensor per rank) across the group and leave on rank i the reduction of everyone's
    `input_list[i]`, in `output`."""
    pg = group_of(group, "reduce_scatter")
    if pg is None:
        return None
    check_tensor(output, "output")
    ins = check_list(input_list, "input_list", output, pg.size(), "reduce_scatter")
    red = as_red_op(op)
    mop = mpi_op(red, output.dtype.name)
    check_consistent(pg, "reduce_scatter", output.numel(), output.dtype)
    send = np.concatenate([Staged(t, reducing=True).buf for t in ins]) if ins else np.empty(0)
    so = Staged(output, reducing=True, fetch=False)
    return launch(pg, "reduce_scatter", lambda: [pg._comm.Ireduce_scatter_block(send, so.buf, op=mop)],
                  _reduction(pg, red, so), async_op, [output])


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce `input` across the group and leave on rank i the i-th of its world_size equal chunks (along the flat
    memory, i.e. its first dimension) in `output`. `input.numel()` must be world_size times `output.numel()`."""
    pg = group_of(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    check_tensor(output, "output")
    check_tensor(input, "input")
    check_dtype(output, input, "reduce_scatter_tensor")
    if input.numel() != pg.size() * output.numel():
        raise ValueError("input tensor must be the same size as output size times world size "
                         f"({input.numel()} != {pg.size()} * {output.numel()})")
    red = as_red_op(op)
    if use_nccl(pg, output, input):
        return _nccl().reduce_scatter_tensor(pg, output, input, red, async_op)
    mop = mpi_op(red, output.dtype.name)
    check_consistent(pg, "reduce_scatter_tensor", output.numel(), output.dtype)
    si = Staged(input, reducing=True)
    so = Staged(output, reducing=True, fetch=False)
    send = separate(si.buf, so.buf)
    return launch(pg, "reduce_scatter_tensor", lambda: [pg._comm.Ireduce_scatter_block(send, so.buf, op=mop)],
                  _reduction(pg, red, so), async_op, [output])


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None) -> Work | None:
    """Wait until every rank of the group has entered the barrier (MPI_Ibarrier; subject to the timeout)."""
    pg = group_of(group, "barrier")
    if pg is None:
        return None
    check_consistent(pg, "barrier", 0, "none")
    return launch(pg, "barrier", lambda: [pg._comm.Ibarrier()], None, async_op)
