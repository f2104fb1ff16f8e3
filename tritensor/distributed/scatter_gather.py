"""gather, scatter, all_to_all_single and all_to_all, as torch.distributed's (MPI Igather, Iscatter, Ialltoall,
Ialltoallv on the tensors' host memory; cuda tensors staged through host memory on every backend)."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import backend_mpi
from .backend_mpi import Staged
from .checks import check_list, check_tensor, group_of, launch, root_rank, separate, wire_dtype, write
from .debug import DebugLevel, check_consistent, get_debug_level
from .process_group import ProcessGroup
from .work import Work

__all__ = ["all_to_all", "all_to_all_single", "gather", "scatter"]


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Gather every rank's `tensor` into `gather_list` (one tensor per rank) on rank `dst` (default 0).

    `gather_list` must be given on the destination rank only.
    """
    pg = group_of(group, "gather")
    if pg is None:
        return None
    check_tensor(tensor)
    root = root_rank(pg, 0 if dst is None and group_dst is None else dst, group_dst, "dst")
    is_root = pg.rank() == root
    if is_root:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        outs = check_list(gather_list, "gather_list", tensor, pg.size(), "gather")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    else:
        outs = []
    check_consistent(pg, "gather", tensor.numel(), tensor.dtype, root)
    s = Staged(tensor)
    n = tensor.numel()
    recv = np.empty(n * pg.size(), dtype=wire_dtype(tensor)) if is_root else None
    np_dtype = np.dtype(tensor.dtype.np)

    def done() -> None:
        for i, out in enumerate(outs):
            write(out, recv[i * n:(i + 1) * n].view(np_dtype))
    return launch(pg, "gather", lambda: [pg._comm.Igather(s.buf, recv, root=root)], done, async_op, outs)


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Send `scatter_list[i]` of rank `src` (default 0) to rank i's `tensor`.

    `scatter_list` must be given on the source rank only.
    """
    pg = group_of(group, "scatter")
    if pg is None:
        return None
    check_tensor(tensor)
    root = root_rank(pg, 0 if src is None and group_src is None else src, group_src, "src")
    is_root = pg.rank() == root
    if is_root:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        ins = check_list(scatter_list, "scatter_list", tensor, pg.size(), "scatter")
        send = np.concatenate([Staged(t).buf for t in ins])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    else:
        send = None
    check_consistent(pg, "scatter", tensor.numel(), tensor.dtype, root)
    so = Staged(tensor, fetch=False)
    return launch(pg, "scatter", lambda: [pg._comm.Iscatter(send, so.buf, root=root)], so.done, async_op,
                  [tensor])


def _splits(splits, t: Tensor, size: int, name: str) -> list[int]:
    """Row counts along dim 0 per rank: the given split sizes (checked) or an equal split."""
    rows = t.shape[0] if t.dim() else 1
    if splits is None or len(splits) == 0:
        if rows % size:
            raise ValueError(f"all_to_all_single: {name}'s dim 0 ({rows}) does not divide equally across group size "
                             f"{size}; pass {name}_split_sizes")
        return [rows // size] * size
    splits = [int(x) for x in splits]
    if len(splits) != size:
        raise ValueError(f"all_to_all_single: {name}_split_sizes must have one entry per rank ({size}), got "
                         f"{len(splits)}")
    if any(x < 0 for x in splits) or sum(splits) != rows:
        raise ValueError(f"all_to_all_single: {name}_split_sizes {splits} must be non-negative and sum to {name}'s "
                         f"dim 0 ({rows})")
    return splits


def _check_splits(pg: ProcessGroup, send_rows: list[int], recv_rows: list[int]) -> None:
    """DEBUG DETAIL: every rank's input split for rank j must equal rank j's output split for it."""
    MPI = backend_mpi.mpi()
    sent = np.array(send_rows, dtype=np.int64)
    told = np.empty_like(sent)
    Work("all_to_all_single (debug check)", [pg._comm.Ialltoall(sent, told)], pg.timeout, rank=pg.rank()).wait()
    expect = np.array(recv_rows, dtype=np.int64)
    bad = np.nonzero(told != expect)[0]
    mismatch = np.array([len(bad)], dtype=np.int64)
    Work("all_to_all_single (debug check)", [pg._comm.Iallreduce(MPI.IN_PLACE, mismatch, op=MPI.SUM)], pg.timeout,
         rank=pg.rank()).wait()
    if mismatch[0]:
        raise RuntimeError("Detected mismatch between collectives on ranks: all_to_all_single's split sizes "
                           "disagree (rank i's input_split_sizes[j] must equal rank j's output_split_sizes[i]); "
                           f"on rank {pg.rank()}: expected rows {expect.tolist()}, peers send {told.tolist()}")


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes: list[int] | None = None,
                      input_split_sizes: list[int] | None = None, group: ProcessGroup | None = None,
                      async_op: bool = False) -> Work | None:
    """Split `input` along dim 0 and send chunk i to rank i; rank i's chunks arrive in `output`, concatenated in
    rank order. Without split sizes dim 0 is split equally; with them, `input_split_sizes[j]` rows go to rank j and
    `output_split_sizes[j]` rows come from rank j (they must agree with the peers')."""
    pg = group_of(group, "all_to_all_single")
    if pg is None:
        return None
    check_tensor(output, "output")
    check_tensor(input, "input")
    if output.dtype != input.dtype:
        raise TypeError(f"all_to_all_single: output tensor must have the same type as input tensor "
                        f"({output.dtype} vs {input.dtype})")
    size = pg.size()
    send_rows = _splits(input_split_sizes, input, size, "input")
    recv_rows = _splits(output_split_sizes, output, size, "output")
    row_in = input.numel() // max(1, input.shape[0] if input.dim() else 1)
    row_out = output.numel() // max(1, output.shape[0] if output.dim() else 1)
    if input.numel() and output.numel() and row_in != row_out:
        raise ValueError(f"all_to_all_single: input rows have {row_in} elements but output rows {row_out}")
    row = row_in or row_out
    uneven = input_split_sizes or output_split_sizes
    check_consistent(pg, "all_to_all_single", -1 if uneven else input.numel(), input.dtype)
    if uneven and get_debug_level() >= DebugLevel.DETAIL:
        _check_splits(pg, send_rows, recv_rows)
    si, so = Staged(input), Staged(output, fetch=False)
    send = separate(si.buf, so.buf)
    scounts = [r * row for r in send_rows]
    rcounts = [r * row for r in recv_rows]
    sdispls = np.concatenate([[0], np.cumsum(scounts)[:-1]]).astype(int).tolist()
    rdispls = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(int).tolist()
    return launch(pg, "all_to_all_single",
                  lambda: [pg._comm.Ialltoallv([send, (scounts, sdispls)], [so.buf, (rcounts, rdispls)])],
                  so.done, async_op, [output])


def all_to_all(output_tensor_list: list[Tensor], input_tensor_list: list[Tensor],
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Send `input_tensor_list[i]` to rank i and receive rank i's tensor for this rank into
    `output_tensor_list[i]` (the tensors may differ in size; all share one dtype)."""
    pg = group_of(group, "all_to_all")
    if pg is None:
        return None
    size = pg.size()
    for name, lst in (("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list)):
        if not isinstance(lst, (list, tuple)) or len(lst) != size:
            raise ValueError(f"all_to_all: {name} must hold one tensor per rank of the group ({size})")
        for i, t in enumerate(lst):
            check_tensor(t, f"{name}[{i}]")
            if t.dtype != input_tensor_list[0].dtype:
                raise TypeError("all_to_all: every tensor must have the same dtype")
    check_consistent(pg, "all_to_all", -1, input_tensor_list[0].dtype)
    send = np.concatenate([Staged(t).buf for t in input_tensor_list])
    scounts = [t.numel() for t in input_tensor_list]
    rcounts = [t.numel() for t in output_tensor_list]
    recv = np.empty(sum(rcounts), dtype=wire_dtype(input_tensor_list[0]))
    sdispls = np.concatenate([[0], np.cumsum(scounts)[:-1]]).astype(int).tolist()
    rdispls = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(int).tolist()
    np_dtype = np.dtype(input_tensor_list[0].dtype.np)

    def done() -> None:
        for out, off, n in zip(output_tensor_list, rdispls, rcounts):
            write(out, recv[off:off + n].view(np_dtype))
    return launch(pg, "all_to_all",
                  lambda: [pg._comm.Ialltoallv([send, (scounts, sdispls)], [recv, (rcounts, rdispls)])],
                  done, async_op, list(output_tensor_list))
