"""Rank script (mpiexec -n 2): collectives that a peer joins late time out with RuntimeError naming the operation
and the timeout; an async Work that timed out can still be waited on and completes once the peer joins."""

from __future__ import annotations

import time
from datetime import timedelta

import tritensor as tt
import tritensor.distributed as dist
from tests.distributed.rankutil import say

LATE = 2.0   # seconds a rank arrives after its peer; the group's timeout is 0.5 s

dist.init_process_group("mpi", timeout=timedelta(seconds=0.5))
patient = dist.new_group([0, 1], timeout=timedelta(seconds=60))
rank = dist.get_rank()

# 1. async all_reduce: wait() times out, a second wait() with a longer timeout completes it.
t = tt.ones(3) * (rank + 1)
if rank == 0:
    work = dist.all_reduce(t, async_op=True)
    start = time.monotonic()
    try:
        work.wait()
        say("FAIL async_timeout rank=0: no timeout")
    except RuntimeError as e:
        took = time.monotonic() - start
        ok = "all_reduce timed out after 0:00:00.500000" in str(e) and 0.4 < took < LATE
        say(f"{'PASS' if ok else 'FAIL'} async_timeout rank=0: {e} ({took:.2f} s)")
    assert not work.is_completed()
    work.wait(timeout=timedelta(seconds=60))
    say(f"{'PASS' if t.tolist() == [3.0] * 3 else 'FAIL'} late_completion rank=0: {t.tolist()}")
else:
    time.sleep(LATE)
    dist.all_reduce(t)
    say(f"{'PASS' if t.tolist() == [3.0] * 3 else 'FAIL'} late_completion rank=1: {t.tolist()}")
dist.barrier(group=patient)

# 2. a blocking broadcast to a root that comes late.
if rank == 1:
    try:
        dist.broadcast(tt.zeros(2), src=0)
        say("FAIL sync_timeout rank=1: no timeout")
    except RuntimeError as e:
        ok = "broadcast timed out after 0:00:00.500000" in str(e) and "[rank 1]" in str(e)
        say(f"{'PASS' if ok else 'FAIL'} sync_timeout rank=1: {e}")
else:
    time.sleep(LATE)
    dist.broadcast(tt.ones(2), src=0)   # completes the abandoned receive on rank 1
dist.barrier(group=patient)
dist.destroy_process_group()
say(f"done rank={rank}")
