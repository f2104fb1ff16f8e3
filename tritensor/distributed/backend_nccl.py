"""The NCCL engine (nccl4py) of "nccl" groups: cuda tensors on a GPU. Thin by design, and only a GPU runs it.

Each "nccl" group holds one `nccl.core.Communicator`; rank 0 of the group makes its unique id and broadcasts it
over the group's MPI communicator (MPI is the bootstrap, no TCP store). all_reduce, broadcast, reduce,
all_gather_into_tensor and reduce_scatter_tensor are NCCL calls enqueued on tritensor's current cuda stream (so
they are ordered with the kernels around them; their Work is complete at once, as the stream orders everything
after it). The other collectives of an "nccl" group stage the cuda tensors through host memory over MPI.
Tensors reach nccl4py through the CUDA Array Interface. NCCL has no bool or int16: bool travels as uint8 (SUM as
MAX, PRODUCT as MIN); bfloat16 and int16 reductions go through a float32 / int32 copy on the device, and moved-only
bfloat16 / int16 data travels as 16-bit patterns. The group's timeout is not enforced on NCCL calls.

Nothing here runs without a GPU and nccl4py; the module is imported only when a "nccl" group is made.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .. import cuda
from ..device import interpreting
from ..dtypes import float32, int32
from ..tensor import Tensor
from . import backend_mpi
from .reduce_op import RedOpType
from .work import Work

__all__ = ["all_gather_into_tensor", "all_reduce", "attach", "broadcast", "check_available", "detach", "reduce",
           "reduce_scatter_tensor"]

_UNIQUE_ID_BYTES = 128
# dtype name -> (CUDA Array Interface typestr, the dtype a reduction runs in when NCCL has none)
_TYPESTR = {"float16": "<f2", "float32": "<f4", "float64": "<f8", "int8": "|i1", "uint8": "|u1", "int32": "<i4",
            "int64": "<i8", "bool": "|u1", "bfloat16": "<u2", "int16": "<u2"}
_STAGE = {"bfloat16": float32, "int16": int32}


def check_available(device_id=None) -> None:
    """RuntimeError before any communication unless nccl4py, mpi4py and a real GPU are present."""
    if importlib.util.find_spec("nccl") is None:
        raise RuntimeError("The 'nccl' backend needs nccl4py: pip install nccl4py (and tritensor[distributed] for "
                           "mpi4py, which bootstraps it)")
    if interpreting() or not cuda.is_available():   # Triton's interpreter: "cuda" tensors live in host memory
        raise RuntimeError("ProcessGroupNCCL is only supported with GPUs, no GPUs found!")
    backend_mpi.mpi()


def attach(pg, device_id=None) -> None:
    """Create the group's NCCL communicator: the unique id from group rank 0, broadcast over MPI."""
    import nccl.core as nccl
    if device_id is not None:
        cuda.set_device(device_id)
    uid = np.zeros(_UNIQUE_ID_BYTES, dtype=np.uint8)
    if pg.rank() == 0:
        raw = nccl.get_unique_id().as_bytes
        uid[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    Work("init_process_group (nccl unique id)", [pg._comm.Ibcast(uid, root=0)], pg.timeout, rank=pg.rank()).wait()
    pg._nccl = nccl.Communicator.init(nranks=pg.size(), rank=pg.rank(),
                                      unique_id=nccl.UniqueId.from_bytes(uid.tobytes()))


def detach(pg) -> None:
    """Destroy the group's NCCL communicator."""
    comm, pg._nccl = pg._nccl, None
    if comm is not None:
        comm.destroy()


class _CAI:
    """A contiguous cuda tensor's memory as a flat CUDA Array Interface buffer of the given typestr."""

    def __init__(self, t: Tensor, typestr: str) -> None:
        itemsize = int(typestr[2:])
        self.__cuda_array_interface__ = {"shape": (t.numel() * t.element_size() // itemsize,), "typestr": typestr,
                                         "data": (t.data_ptr(), False), "version": 3, "strides": None,
                                         "stream": None}


def _stream() -> int:
    return cuda.current_stream().cuda_stream


def _nccl_op(red: RedOpType, dtype_name: str):
    import nccl.core as nccl
    if dtype_name == "bool":
        if red == RedOpType.AVG:
            raise ValueError("Cannot use ReduceOp.AVG with boolean inputs")
        red = {RedOpType.SUM: RedOpType.MAX, RedOpType.PRODUCT: RedOpType.MIN}.get(red, red)
    ops = {RedOpType.SUM: nccl.SUM, RedOpType.AVG: nccl.AVG, RedOpType.PRODUCT: nccl.PROD, RedOpType.MIN: nccl.MIN,
           RedOpType.MAX: nccl.MAX}
    if red not in ops:
        raise ValueError(f"ReduceOp.{red.name} is not supported by the 'nccl' backend")
    return ops[red]


def _reduced(t: Tensor, run) -> None:
    """Run the reduction `run(buffer_tensor)` on t, through a wider copy where NCCL lacks t's dtype."""
    stage = _STAGE.get(t.dtype.name)
    if stage is None:
        run(t)
        return
    wide = t.detach().to(stage)
    run(wide)
    t.detach().copy_(wide)


def _done(op: str, pg, async_op: bool, tensors: list):
    work = Work(op, [], pg.timeout, None, tensors, rank=pg.rank())
    return work if async_op else None


def all_reduce(pg, tensor: Tensor, red: RedOpType, async_op: bool):
    """ncclAllReduce in place on the current stream."""
    nop = _nccl_op(red, tensor.dtype.name)

    def run(t: Tensor) -> None:
        b = _CAI(t, _TYPESTR[t.dtype.name])
        pg._nccl.allreduce(b, b, nop, stream=_stream())
    _reduced(tensor, run)
    return _done("all_reduce", pg, async_op, [tensor])


def reduce(pg, tensor: Tensor, red: RedOpType, root: int, async_op: bool):
    """ncclReduce in place into group rank `root`'s tensor."""
    nop = _nccl_op(red, tensor.dtype.name)

    def run(t: Tensor) -> None:
        b = _CAI(t, _TYPESTR[t.dtype.name])
        pg._nccl.reduce(b, b, nop, root=root, stream=_stream())
    _reduced(tensor, run)
    return _done("reduce", pg, async_op, [tensor])


def broadcast(pg, tensor: Tensor, root: int, async_op: bool):
    """ncclBroadcast in place from group rank `root`."""
    b = _CAI(tensor, _TYPESTR[tensor.dtype.name])
    pg._nccl.broadcast(b, b, root, stream=_stream())
    return _done("broadcast", pg, async_op, [tensor])


def all_gather_into_tensor(pg, output: Tensor, input: Tensor, async_op: bool):
    """ncclAllGather of input into output."""
    ts = _TYPESTR[input.dtype.name]
    pg._nccl.allgather(_CAI(input, ts), _CAI(output, ts), stream=_stream())
    return _done("all_gather_into_tensor", pg, async_op, [output])


def reduce_scatter_tensor(pg, output: Tensor, input: Tensor, red: RedOpType, async_op: bool):
    """ncclReduceScatter of input into output."""
    nop = _nccl_op(red, input.dtype.name)
    stage = _STAGE.get(input.dtype.name)
    src = input.detach() if stage is None else input.detach().to(stage)
    dst = output.detach() if stage is None else output.detach().to(stage)
    ts = _TYPESTR[src.dtype.name]
    pg._nccl.reduce_scatter(_CAI(src, ts), _CAI(dst, ts), nop, stream=_stream())
    if stage is not None:
        output.detach().copy_(dst)
    return _done("reduce_scatter_tensor", pg, async_op, [output])
