"""Run without mpiexec: an MPI singleton is a world of one. RANK/WORLD_SIZE or rank=/world_size= that disagree
with MPI raise ValueError before any communication, and init then still works."""

from __future__ import annotations

import os

import tritensor as tt
import tritensor.distributed as dist
from tests.distributed.rankutil import say


def expect_value_error(match: str, **kwargs) -> None:
    try:
        dist.init_process_group("mpi", **kwargs)
    except ValueError as e:
        assert match in str(e), e
        assert not dist.is_initialized()
        return
    raise AssertionError(f"no ValueError for {kwargs} / RANK={os.environ.get('RANK')}")


os.environ.update(RANK="1", WORLD_SIZE="2")
expect_value_error("The environment (RANK) gives rank 1, but MPI (mpiexec) says this process has rank 0",
                   init_method="env://")
os.environ.update(RANK="0")
expect_value_error("world_size 2", init_method="env://")
del os.environ["RANK"], os.environ["WORLD_SIZE"]
expect_value_error("init_process_group(rank=...) gives rank 3", rank=3)
dist.init_process_group()                         # backend None: mpi
assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.get_backend() == "mpi"
t = tt.tensor([1.0, 2.0])
dist.all_reduce(t, op=dist.ReduceOp.AVG)
dist.broadcast(t, src=0)
outs = [tt.zeros(2)]
dist.all_gather(outs, t)
objs = [None]
dist.all_gather_object(objs, {"a": 1})
assert t.tolist() == [1.0, 2.0] and outs[0].tolist() == [1.0, 2.0] and objs == [{"a": 1}]
g = dist.new_group([0])
dist.barrier(group=g)
dist.destroy_process_group()
say("PASS single_process rank=0")
