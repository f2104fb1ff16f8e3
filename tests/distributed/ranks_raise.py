"""Rank script (mpiexec -n 2): rank 1 raises an uncaught exception while rank 0 waits in a barrier with the default
10-minute timeout. init_process_group's excepthook must print rank 1's error and abort the whole job at once."""

from __future__ import annotations

import time

import tritensor as tt
import tritensor.distributed as dist

dist.init_process_group("mpi")
dist.barrier()
print(f"started rank={dist.get_rank()}", flush=True)
if dist.get_rank() == 1:
    time.sleep(0.5)
    raise ValueError("boom from rank 1")
dist.all_reduce(tt.ones(2))    # never completes: rank 1 is gone
print("rank 0 was not aborted", flush=True)
