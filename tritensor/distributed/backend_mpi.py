"""The MPI engine (mpi4py over MPICH): loading it, communicators, tensors as MPI buffers, reduction ops, errors.

Tensors reach MPI as NumPy arrays: a contiguous cpu tensor's own memory (no copy), a cuda tensor's host copy
(copied back when the operation completes). MPI has no bfloat16 type: a bf16 reduction goes through a float32
staging buffer (the sum is rounded to bf16 once, at the end); bf16 data that is only moved travels as its 16-bit
patterns, and bool as bytes.
"""

from __future__ import annotations

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from .reduce_op import RedOpType

__all__ = ["Staged", "free_comm", "mpi", "mpi_op", "sub_comm", "translate"]

_MPI = None
INSTALL_HINT = "pip install tritensor[distributed]"


def mpi():
    """The mpi4py MPI module (importing it starts MPI); RuntimeError with the install hint if it is missing."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError("tritensor.distributed needs mpi4py and an MPI library (MPICH): "
                               f"{INSTALL_HINT}") from e
        _MPI = MPI
    return _MPI


def free_comm(comm) -> None:
    """Free a communicator (a no-op once MPI has been finalized)."""
    MPI = mpi()
    if not MPI.Is_finalized() and comm != MPI.COMM_NULL:
        comm.Free()


def sub_comm(comm, ranks: list[int], collective_over_all: bool):
    """The sub-communicator of `comm` holding `ranks` (in that order), or None on a rank outside it.

    `collective_over_all`: every rank of `comm` calls (MPI_Comm_create); else only the members do
    (MPI_Comm_create_group).
    """
    MPI = mpi()
    grp = comm.Get_group()
    sub = grp.Incl(ranks)
    try:
        new = comm.Create(sub) if collective_over_all else comm.Create_group(sub)
    finally:
        sub.Free()
        grp.Free()
    return None if new == MPI.COMM_NULL else new


def translate(op: str, e: BaseException) -> RuntimeError:
    """An MPI error as the RuntimeError a collective raises, naming the operation."""
    MPI = mpi()
    text = e.Get_error_string() if isinstance(e, MPI.Exception) else str(e)
    hint = ""
    if isinstance(e, MPI.Exception) and e.Get_error_class() == MPI.ERR_TRUNCATE:
        hint = " (the ranks passed tensors of different sizes: every rank must pass the same numel and dtype)"
    return RuntimeError(f"{op}: MPI error: {text.strip()}{hint}")


_BITWISE = (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR)


def mpi_op(op: RedOpType, dtype_name: str):
    """The MPI.Op reducing `op` on tensors of `dtype_name` (AVG reduces as SUM; the caller divides)."""
    MPI = mpi()
    floating = dtype_name in ("float16", "bfloat16", "float32", "float64")
    if dtype_name == "bool":
        if op == RedOpType.AVG:
            raise ValueError("Cannot use ReduceOp.AVG with boolean inputs")
        op = {RedOpType.SUM: RedOpType.MAX, RedOpType.PRODUCT: RedOpType.MIN}.get(op, op)
    elif floating and op in _BITWISE:
        raise ValueError(f"Cannot use ReduceOp.{op.name} with {dtype_name} tensors: bitwise reductions take "
                         "integer or bool tensors")
    return {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD, RedOpType.MIN: MPI.MIN,
            RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND, RedOpType.BOR: MPI.BOR,
            RedOpType.BXOR: MPI.BXOR}[op]


def divide_(buf: np.ndarray, n: int) -> None:
    """buf /= n in place: true division for floats, truncation toward zero for integers (as ncclAvg)."""
    if buf.dtype.kind == "f":
        buf /= buf.dtype.type(n)
    elif buf.dtype.kind == "i":
        buf[...] = np.sign(buf) * (np.abs(buf) // n)
    else:
        np.floor_divide(buf, n, out=buf)


class Staged:
    """A contiguous tensor's elements as a flat host NumPy array `buf` that MPI reads or writes.

    cpu: `buf` is the tensor's own memory (a float32 copy for a bf16 reduction). cuda: a host copy (`fetch=False`:
    uninitialised, for outputs only). `done()` writes the results back into the tensor.
    """

    __slots__ = ("array", "buf", "host", "tensor")

    def __init__(self, t: Tensor, reducing: bool = False, fetch: bool = True) -> None:
        d = t.detach()
        self.tensor = d
        if d.device.type == "cpu":
            self.host = None
            arr = d.numpy()
        elif fetch:
            self.host = d.cpu()
            arr = self.host.numpy()
        else:
            arr = np.empty(tuple(d.shape), dtype=d.dtype.np)
            self.host = from_numpy(arr)
        self.array = arr.reshape(-1)
        self.buf = self.array
        name = arr.dtype.name
        if name == "bfloat16":
            self.buf = self.array.astype(np.float32) if reducing else self.array.view(np.uint16)
        elif name == "bool":
            self.buf = self.array.view(np.uint8)

    def done(self, write: bool = True) -> None:
        """Copy the result into the tensor: from the bf16 staging buffer, and from host memory to a cuda tensor."""
        if not write:
            return
        if self.buf.dtype != self.array.dtype and self.buf.dtype == np.float32:   # a bf16 reduction's staging
            self.array[...] = self.buf.astype(self.array.dtype)
        if self.host is not None:
            self.tensor.copy_(self.host)

