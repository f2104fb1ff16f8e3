"""`ReduceOp`: the element-wise reductions of the reducing collectives, as torch.distributed.ReduceOp."""

from __future__ import annotations

import enum

__all__ = ["ReduceOp"]


class RedOpType(enum.IntEnum):
    """The reduction kinds, numbered as PyTorch's c10d ReduceOp::RedOpType."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """The reduction a reducing collective applies element-wise across ranks.

    `ReduceOp.SUM`, `AVG` (the sum divided by the group's size; integer tensors truncate toward zero as NCCL's
    ncclAvg does), `PRODUCT`, `MIN`, `MAX`, and the bitwise `BAND`, `BOR`, `BXOR` (integer and bool tensors only).
    For bool tensors SUM is a logical or and PRODUCT a logical and, as PyTorch's NCCL backend maps them.

    >>> dist.all_reduce(t, op=dist.ReduceOp.MAX)
    """

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


def as_red_op(op) -> RedOpType:
    """`op` (a ReduceOp member, its int value or its name) as a RedOpType; ValueError for anything else."""
    if isinstance(op, RedOpType):
        return op
    if isinstance(op, str) and op.upper() in RedOpType.__members__:
        return RedOpType[op.upper()]
    if isinstance(op, int) and not isinstance(op, bool):
        try:
            return RedOpType(op)
        except ValueError:
            pass
    raise ValueError(f"Invalid reduce op: {op!r}; expected a member of dist.ReduceOp "
                     "(SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR)")
