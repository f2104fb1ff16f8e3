"""Rank script (mpiexec -n 2): the reducing and gathering collectives against NumPy, on cpu and cuda tensors.

Run by tests/distributed/test_distributed.py; every rank computes every rank's data itself (seeded by rank), so
the expected results are NumPy reductions of the same arrays.
"""

from __future__ import annotations

import numpy as np

import tritensor as tt
import tritensor.distributed as dist
from tests.distributed.rankutil import BF16, Checks, host, rank, same, tensor, world
from tritensor.distributed import ReduceOp

checks = Checks()
OPS = [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]


def expected(arrays: list[np.ndarray], op) -> np.ndarray:
    """The reduction of every rank's array, in the arithmetic tritensor promises for the dtype."""
    dtype = arrays[0].dtype
    if dtype == BF16:   # reduced in float32, rounded to bf16 once
        return expected([a.astype(np.float32) for a in arrays], op).astype(BF16)
    if dtype == np.bool_:
        fold = {ReduceOp.SUM: np.logical_or, ReduceOp.MAX: np.logical_or, ReduceOp.PRODUCT: np.logical_and,
                ReduceOp.MIN: np.logical_and}[op]
    else:
        fold = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply, ReduceOp.MIN: np.minimum,
                ReduceOp.MAX: np.maximum, ReduceOp.BAND: np.bitwise_and, ReduceOp.BOR: np.bitwise_or,
                ReduceOp.BXOR: np.bitwise_xor}[op]
    out = arrays[0].copy()
    for a in arrays[1:]:
        out = fold(out, a).astype(dtype)
    if op == ReduceOp.AVG:
        n = len(arrays)
        out = (out / dtype.type(n)).astype(dtype) if dtype.kind == "f" else \
            (np.sign(out) * (np.abs(out) // n)).astype(dtype)
    return out


@checks.add
def world_group() -> None:
    assert dist.is_initialized() and dist.get_world_size() == 2 and dist.get_rank() in (0, 1)
    assert dist.get_backend() == "mpi" and dist.get_backend(dist.group.WORLD) == dist.Backend.MPI
    assert dist.group.WORLD is dist.GroupMember.WORLD and dist.group.WORLD is not None
    assert dist.get_process_group_ranks(dist.group.WORLD) == [0, 1]
    assert dist.group.WORLD.rank() == rank() and dist.group.WORLD.size() == 2


@checks.add
def all_reduce_every_op_and_dtype() -> None:
    for dtype in ("float32", "float64", "float16", BF16, "int32", "int64", "int8", "int16", "uint8"):
        for i, op in enumerate(OPS):
            arrays = [host(r, (5,), dtype, seed=i) for r in range(world())]
            t = tensor(arrays[rank()])
            assert dist.all_reduce(t, op=op) is None
            same(t, expected(arrays, op), f"all_reduce {op.name} {dtype}")
    for op in (ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
        arrays = [host(r, (7,), bool) for r in range(world())]
        t = tensor(arrays[rank()])
        dist.all_reduce(t, op=op)
        same(t, expected(arrays, op), f"all_reduce {op.name} bool")
    for dtype in ("int32", "int64", "uint8"):
        for op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR):
            arrays = [host(r, (6,), dtype, seed=3) for r in range(world())]
            t = tensor(arrays[rank()])
            dist.all_reduce(t, op=op)
            same(t, expected(arrays, op), f"all_reduce {op.name} {dtype}")


@checks.add
def all_reduce_shapes_in_place() -> None:
    for shape in ((), (3, 4), (0,), (2, 1, 3)):
        arrays = [host(r, shape, "float32") for r in range(world())]
        t = tensor(arrays[rank()])
        dist.all_reduce(t)
        same(t, expected(arrays, ReduceOp.SUM), f"all_reduce shape {shape}")
    t = tt.ones(4) * (rank() + 1)
    view, ptr = t.numpy(), t.data_ptr()          # the tensor's own memory: all_reduce writes it in place
    dist.all_reduce(t)
    assert t.data_ptr() == ptr and view.tolist() == [3.0] * 4, view
    base = tt.zeros(3, 4)
    row = base[1]                                 # a contiguous view: the base sees the result
    row.add_(rank() + 1)
    dist.all_reduce(row, op=ReduceOp.MAX)
    assert base.numpy()[1].tolist() == [2.0] * 4 and base.numpy()[0].tolist() == [0.0] * 4
    p = tt.ones(3, requires_grad=True)            # a leaf that requires grad, as DDP's parameters
    dist.all_reduce(p)
    assert p.requires_grad and p.detach().numpy().tolist() == [2.0] * 3


@checks.add
def all_reduce_cuda() -> None:
    for dtype in ("float32", BF16, "float16", "int64"):
        for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX):
            arrays = [host(r, (2, 3), dtype, seed=5) for r in range(world())]
            t = tensor(arrays[rank()], "cuda")
            dist.all_reduce(t, op=op)
            assert t.device.type == "cuda"
            same(t, expected(arrays, op), f"cuda all_reduce {op.name} {dtype}")


@checks.add
def async_op_and_work() -> None:
    arrays = [host(r, (4,), "float32") for r in range(world())]
    t = tensor(arrays[rank()])
    work = dist.all_reduce(t, async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True and work.is_completed() and work.is_success() and work.exception() is None
    assert work.result()[0] is t
    same(t, expected(arrays, ReduceOp.SUM), "async all_reduce")
    c = tensor(arrays[rank()], "cuda")
    work = dist.all_reduce(c, op=ReduceOp.AVG, async_op=True)
    while not work.is_completed():
        pass
    same(c, expected(arrays, ReduceOp.AVG), "async cuda all_reduce (is_completed)")
    a, b = tensor(arrays[rank()]), tensor(arrays[rank()])
    works = [dist.all_reduce(a, op=ReduceOp.MAX, async_op=True), dist.broadcast(b, src=1, async_op=True),
             dist.barrier(async_op=True)]
    for w in reversed(works):                     # several in flight, completed in any order
        w.wait()
    same(a, expected(arrays, ReduceOp.MAX), "in flight all_reduce")
    same(b, arrays[1], "in flight broadcast")


@checks.add
def broadcast_cpu_cuda() -> None:
    for device in ("cpu", "cuda"):
        for dtype in ("float32", BF16, "int64", bool):
            for src in (0, 1):
                data = host(src, (3, 2), dtype, seed=7)
                t = tensor(data if rank() == src else np.zeros_like(data), device)
                dist.broadcast(t, src=src)
                same(t, data, f"broadcast {device} {dtype} src={src}")
    data = host(1, (5,), "float64")
    t = tensor(data if rank() == 1 else np.zeros_like(data))
    dist.broadcast(t, group_src=1)
    same(t, data, "broadcast group_src=1")


@checks.add
def reduce_to_dst() -> None:
    for dst in (0, 1):
        for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX):
            arrays = [host(r, (4,), "float32", seed=dst) for r in range(world())]
            t = tensor(arrays[rank()])
            dist.reduce(t, dst=dst, op=op)
            same(t, expected(arrays, op) if rank() == dst else arrays[rank()], f"reduce dst={dst} {op.name}")
    arrays = [host(r, (3,), BF16) for r in range(world())]
    t = tensor(arrays[rank()], "cuda")
    dist.reduce(t, dst=0)
    same(t, expected(arrays, ReduceOp.SUM) if rank() == 0 else arrays[rank()], "reduce cuda bf16")


@checks.add
def all_gather_list() -> None:
    for device in ("cpu", "cuda"):
        for dtype in ("float32", BF16, "int64", bool):
            arrays = [host(r, (2, 3), dtype, seed=9) for r in range(world())]
            outs = [tensor(np.zeros_like(arrays[0]), device) for _ in range(world())]
            dist.all_gather(outs, tensor(arrays[rank()], device))
            for r in range(world()):
                same(outs[r], arrays[r], f"all_gather {device} {dtype} [{r}]")


@checks.add
def all_gather_into_tensor_() -> None:
    for device in ("cpu", "cuda"):
        arrays = [host(r, (3,), "float32") for r in range(world())]
        out = tensor(np.zeros((world(), 3), np.float32), device)
        dist.all_gather_into_tensor(out, tensor(arrays[rank()], device))
        same(out, np.stack(arrays), f"all_gather_into_tensor {device}")
        flat = tensor(np.zeros(world() * 3, np.float32), device)
        mine = flat[rank() * 3:(rank() + 1) * 3]  # the input is this rank's slice of the output
        mine.copy_(tensor(arrays[rank()], device))
        dist.all_gather_into_tensor(flat, mine)
        same(flat, np.concatenate(arrays), f"all_gather_into_tensor in place {device}")


@checks.add
def reduce_scatter_both() -> None:
    for device in ("cpu", "cuda"):
        for dtype in ("float32", BF16, "int32"):
            for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX):
                arrays = [host(r, (world() * 3,), dtype, seed=11) for r in range(world())]
                full = expected(arrays, op)
                mine = full[rank() * 3:(rank() + 1) * 3]
                out = tensor(np.zeros(3, arrays[0].dtype), device)
                dist.reduce_scatter_tensor(out, tensor(arrays[rank()], device), op=op)
                same(out, mine, f"reduce_scatter_tensor {device} {dtype} {op.name}")
                out = tensor(np.zeros(3, arrays[0].dtype), device)
                chunks = [tensor(arrays[rank()][i * 3:(i + 1) * 3], device) for i in range(world())]
                dist.reduce_scatter(out, chunks, op=op)
                same(out, mine, f"reduce_scatter {device} {dtype} {op.name}")


@checks.add
def gather_and_scatter() -> None:
    for dst in (0, 1):
        arrays = [host(r, (2, 2), "float32", seed=dst) for r in range(world())]
        outs = [tt.zeros(2, 2) for _ in range(world())] if rank() == dst else None
        dist.gather(tensor(arrays[rank()]), outs, dst=dst)
        if rank() == dst:
            for r in range(world()):
                same(outs[r], arrays[r], f"gather dst={dst} [{r}]")
    arrays = [host(r, (3,), "int64") for r in range(world())]
    outs = [tt.zeros(3, dtype=tt.int64) for _ in range(world())] if rank() == 0 else None
    dist.gather(tensor(arrays[rank()], "cuda"), outs)      # dst defaults to 0
    if rank() == 0:
        same(outs[1], arrays[1], "gather default dst")
    for src in (0, 1):
        parts = [host(10 + i, (4,), BF16) for i in range(world())]
        out = tensor(np.zeros(4, BF16), "cuda")
        dist.scatter(out, [tensor(p) for p in parts] if rank() == src else None, src=src)
        same(out, parts[rank()], f"scatter src={src}")


@checks.add
def all_to_all_single_and_lists() -> None:
    arrays = [host(r, (world() * 2, 3), "float32") for r in range(world())]
    out = tt.zeros(world() * 2, 3)
    dist.all_to_all_single(out, tensor(arrays[rank()]))
    same(out, np.concatenate([a[rank() * 2:(rank() + 1) * 2] for a in arrays]), "all_to_all_single equal")
    send = {0: [1, 2], 1: [3, 1]}              # rows rank r sends to rank 0 and to rank 1
    arrays = [host(r, (sum(send[r]), 2), "int64") for r in range(world())]
    recv_rows = [send[r][rank()] for r in range(world())]
    out = tensor(np.zeros((sum(recv_rows), 2), np.int64), "cuda")
    dist.all_to_all_single(out, tensor(arrays[rank()], "cuda"), output_split_sizes=recv_rows,
                           input_split_sizes=send[rank()])
    pieces = [arrays[r][sum(send[r][:rank()]):sum(send[r][:rank() + 1])] for r in range(world())]
    same(out, np.concatenate(pieces), "all_to_all_single uneven")
    ins = [tensor(host(rank(), (j + 1 + rank(),), "float64", seed=j)) for j in range(world())]
    outs = [tt.zeros(rank() + 1 + r, dtype=tt.float64) for r in range(world())]
    dist.all_to_all(outs, ins)
    for r in range(world()):
        same(outs[r], host(r, (rank() + 1 + r,), "float64", seed=rank()), f"all_to_all from {r}")


if __name__ == "__main__":
    checks.main()
