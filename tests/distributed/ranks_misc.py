"""Rank script (mpiexec -n 2): point-to-point, groups, objects, argument errors, the DETAIL mismatch check and
re-initialisation. Run by tests/distributed/test_distributed.py."""

from __future__ import annotations

import os
import warnings
from datetime import timedelta

import numpy as np

import tritensor as tt
import tritensor.distributed as dist
from tests.distributed.rankutil import BF16, Checks, host, raises, rank, same, tensor, world
from tritensor.distributed import ReduceOp

checks = Checks()


@checks.add
def send_recv() -> None:
    peer = 1 - rank()
    for device in ("cpu", "cuda"):
        for dtype in ("float32", BF16, "int64"):
            data = host(0, (2, 3), dtype, seed=4)
            if rank() == 0:
                dist.send(tensor(data, device), dst=1)
            else:
                t = tensor(np.zeros_like(data), device)
                assert dist.recv(t, src=0) == 0
                same(t, data, f"send/recv {device} {dtype}")
    mine = tensor(host(rank(), (4,), "float32"))
    got = tt.zeros(4)
    works = [dist.isend(mine, dst=peer, tag=3), dist.irecv(got, src=peer, tag=3)]
    for w in works:
        w.wait()
    same(got, host(peer, (4,), "float32"), "isend/irecv")
    if rank() == 1:                             # two tags, received in the other order
        dist.send(tt.tensor([1.0]), dst=0, tag=1)
        dist.send(tt.tensor([2.0]), dst=0, tag=2)
    else:
        two, one = tt.zeros(1), tt.zeros(1)
        assert dist.recv(two, src=1, tag=2) == 1 and dist.recv(one, tag=1) == 1   # src None: any rank
        assert (one.item(), two.item()) == (1.0, 2.0)
    got = tt.zeros(3, dtype=tt.int32)
    ops = [dist.P2POp(dist.isend, tensor(host(rank(), (3,), "int32")), peer),
           dist.P2POp(dist.irecv, got, peer)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    same(got, host(peer, (3,), "int32"), "batch_isend_irecv")


@checks.add
def recv_size_mismatch() -> None:
    if rank() == 0:
        dist.send(tt.ones(3), dst=1)
        dist.send(tt.ones(5), dst=1)
    else:
        with raises(RuntimeError, "3 elements|12 bytes.*16 bytes"):
            dist.recv(tt.zeros(4), src=0)
        with raises(RuntimeError, "recv: MPI error.*different sizes"):
            dist.recv(tt.zeros(4), src=0)
    dist.barrier()


@checks.add
def groups() -> None:
    both = dist.new_group([1, 0])                # ranks are sorted: group rank == global rank
    assert dist.get_rank(both) == rank() and dist.get_world_size(both) == 2
    assert dist.get_process_group_ranks(both) == [0, 1]
    t = tt.ones(2) * (rank() + 1)
    dist.all_reduce(t, group=both)
    same(t, np.array([3.0, 3.0], np.float32), "all_reduce on new_group")
    only1 = dist.new_group([1], timeout=timedelta(seconds=5))
    t = tt.ones(2) * (rank() + 1)
    if rank() == 0:
        assert only1 == dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(only1) == -1 and dist.get_world_size(only1) == -1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert dist.all_reduce(t, group=only1) is None
        assert any("does not belong to the given group" in str(w.message) for w in caught), caught
        same(t, np.array([1.0, 1.0], np.float32), "non-member all_reduce leaves the tensor")
    else:
        assert dist.get_rank(only1) == 0 and dist.get_world_size(only1) == 1 and only1.timeout.total_seconds() == 5
        assert dist.get_global_rank(only1, 0) == 1 and dist.get_group_rank(only1, 1) == 0
        dist.all_reduce(t, group=only1)
        dist.broadcast(t, src=1, group=only1)
        same(t, np.array([2.0, 2.0], np.float32), "all_reduce on a group of one")
        with raises(ValueError, "not part of group"):
            dist.broadcast(t, src=0, group=only1)
    local = dist.new_group([0], use_local_synchronization=True)   # only the members synchronise
    if rank() == 0:
        assert dist.get_world_size(local) == 1
        dist.barrier(group=local)
    else:
        assert local == dist.GroupMember.NON_GROUP_MEMBER
    with raises(RuntimeError, "nccl4py|no GPUs"):
        dist.new_group([0, 1], backend="nccl")
    with raises(ValueError, "within the world_size"):
        dist.new_group([0, 2])
    dist.destroy_process_group(both)
    with raises(ValueError, "Invalid process group"):
        dist.all_reduce(t, group=both)
    dist.barrier()


@checks.add
def objects() -> None:
    objs = [{"rank": rank(), "list": [1, 2]}, "text", tt.tensor([1.5, 2.5]), None]
    dist.broadcast_object_list(objs, src=1)
    assert objs[0] == {"rank": 1, "list": [1, 2]} and objs[1] == "text" and objs[3] is None
    assert objs[2].tolist() == [1.5, 2.5]
    gathered = [None] * world()
    dist.all_gather_object(gathered, ("hello", rank(), "x" * (100 * rank())))
    assert gathered == [("hello", r, "x" * (100 * r)) for r in range(world())], gathered
    out = [None] * world() if rank() == 0 else None
    dist.gather_object({"from": rank()}, out, dst=0)
    if rank() == 0:
        assert out == [{"from": 0}, {"from": 1}], out
    got = [None]
    dist.scatter_object_list(got, [f"for {r}" * (r + 1) for r in range(world())] if rank() == 1 else None, src=1)
    assert got == [f"for {rank()}" * (rank() + 1)], got
    with raises(ValueError, "same length"):
        dist.broadcast_object_list([None] * (rank() + 1), src=0)
    with raises(ValueError, "one entry per rank"):
        dist.all_gather_object([None], 1)


@checks.add
def errors_before_any_communication() -> None:
    noncontig = tt.zeros(3, 4).t()
    for call in (lambda: dist.all_reduce(noncontig), lambda: dist.broadcast(noncontig, src=0),
                 lambda: dist.all_gather([tt.zeros(4, 3)] * 2, noncontig), lambda: dist.send(noncontig, 1 - rank())):
        with raises(ValueError, "^Tensors must be contiguous$"):
            call()
    with raises(TypeError, "Expected parameter `tensor` of type Tensor"):
        dist.all_reduce(np.zeros(3))
    with raises(ValueError, "one tensor per rank"):
        dist.all_gather([tt.zeros(3)], tt.zeros(3))
    with raises(TypeError, "dtype"):
        dist.all_gather([tt.zeros(3), tt.zeros(3, dtype=tt.int64)], tt.zeros(3))
    with raises(ValueError, "output tensor size must be equal to world_size times input tensor size"):
        dist.all_gather_into_tensor(tt.zeros(5), tt.zeros(3))
    with raises(ValueError, "input tensor must be the same size as output size times world size"):
        dist.reduce_scatter_tensor(tt.zeros(3), tt.zeros(5))
    with raises(ValueError, "gather_list`` must NOT be specified on non-destination" if rank() else
                "gather_list`` must be specified on destination"):
        dist.gather(tt.zeros(2), [tt.zeros(2)] * 2 if rank() else None, dst=0)
    with raises(ValueError, "scatter_list`` must be specified on source rank" if rank() == 1 else "NOT"):
        dist.scatter(tt.zeros(2), None if rank() == 1 else [tt.zeros(2)] * 2, src=1)
    with raises(ValueError, "Invalid destination rank"):
        dist.send(tt.zeros(1), dst=rank())
    with raises(ValueError, "Invalid source rank"):
        dist.recv(tt.zeros(1), src=rank())
    with raises(ValueError, "Invalid src 5"):
        dist.broadcast(tt.zeros(1), src=5)
    with raises(ValueError, "Must specify src or group_src"):
        dist.broadcast(tt.zeros(1))
    with raises(ValueError, "Cannot use ReduceOp.AVG with boolean inputs"):
        dist.all_reduce(tt.zeros(2, dtype=tt.bool), op=ReduceOp.AVG)
    with raises(ValueError, "Cannot use ReduceOp.BAND with float32"):
        dist.all_reduce(tt.zeros(2), op=ReduceOp.BAND)
    with raises(ValueError, "Invalid reduce op"):
        dist.all_reduce(tt.zeros(2), op="median")
    with raises(ValueError, "does not divide equally"):
        dist.all_to_all_single(tt.zeros(3), tt.zeros(3))
    with raises(ValueError, "must be non-negative and sum to"):
        dist.all_to_all_single(tt.zeros(4), tt.zeros(4), [2, 2], [1, 2])
    with raises(ValueError, "tag must be"):
        dist.send(tt.zeros(1), dst=1 - rank(), tag=-1)
    with raises(ValueError, "twice"):
        dist.init_process_group("mpi")
    dist.barrier()                               # nothing above communicated: the ranks are still in step


@checks.add
def debug_detail_detects_mismatches() -> None:
    dist.set_debug_level(dist.DebugLevel.DETAIL)
    try:
        assert dist.get_debug_level() == dist.DebugLevel.DETAIL
        t = tt.ones(2) * (rank() + 1)
        dist.all_reduce(t)                       # a matching collective still runs
        same(t, np.array([3.0, 3.0], np.float32), "DETAIL all_reduce")
        with raises(RuntimeError, "mismatch.*disagree on: numel"):
            dist.all_reduce(tt.ones(3 + rank()))
        with raises(RuntimeError, "mismatch.*disagree on: dtype"):
            dist.all_reduce(tt.ones(3, dtype=tt.float32 if rank() == 0 else tt.float64))
        with raises(RuntimeError, "mismatch.*disagree on: operation"):
            dist.all_reduce(tt.ones(3)) if rank() == 0 else dist.broadcast(tt.ones(3), src=0)
        with raises(RuntimeError, "mismatch.*disagree on: root"):
            dist.broadcast(tt.ones(3), src=rank())
        with raises(RuntimeError, "split sizes disagree"):
            dist.all_to_all_single(tt.zeros(3), tt.zeros(3), [1, 2], [1, 2])
    finally:
        dist.set_debug_level(dist.DebugLevel.OFF)


@checks.add
def destroy_and_init_again() -> None:
    r = rank()
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.group.WORLD is None
    with raises(ValueError, "Default process group has not been initialized"):
        dist.get_rank()
    os.environ.update(RANK=str(r), WORLD_SIZE="2")
    try:
        dist.init_process_group(init_method="env://", rank=r, world_size=2)
    finally:
        del os.environ["RANK"], os.environ["WORLD_SIZE"]
    t = tt.ones(1)
    dist.all_reduce(t)
    assert t.item() == 2.0 and dist.get_rank() == r


if __name__ == "__main__":
    checks.main()
