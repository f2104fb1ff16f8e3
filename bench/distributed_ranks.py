"""The distributed benchmarks' rank program (run it through mpiexec; bench/test_distributed_bench.py does):

    tritensor run --nproc-per-node 2 bench/distributed_ranks.py --json out.json

1. all_reduce (SUM, float32, cpu tensors) of 1-64 MB through tt.distributed against mpi4py's own in-place
   Allreduce on NumPy arrays of the same size, alternating, in the same run. Bus bandwidth as nccl-tests defines
   it: 2 (n - 1) / n * bytes / time.
2. A DistributedDataParallel training step (784-256-10 MLP, SGD, global batch 256 split over the ranks) against
   the same step of one process on the whole batch (rank 0 alone, the others wait at a barrier).

Rank 0 prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

import tritensor as tt
import tritensor.distributed as dist
from tritensor import nn
from tritensor.nn import functional as F

SIZES_MB = (1, 4, 16, 64)


def _best(fn, reps: int) -> float:
    """The fastest of `reps` timed calls (seconds), all ranks starting together."""
    best = float("inf")
    for _ in range(reps):
        MPI.COMM_WORLD.Barrier()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return MPI.COMM_WORLD.allreduce(best, op=MPI.MAX)


def all_reduce_rows(reps: int) -> list[dict]:
    world = dist.get_world_size()
    rows = []
    for mb in SIZES_MB:
        n = mb * (1 << 20) // 4
        tensor = tt.ones(n)
        array = np.ones(n, np.float32)
        ours = _best(lambda t=tensor: dist.all_reduce(t), reps)
        theirs = _best(lambda a=array: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, a), reps)
        bus = 2 * (world - 1) / world * n * 4
        rows.append({"mb": mb, "tritensor_gbps": bus / ours / 1e9, "mpi4py_gbps": bus / theirs / 1e9,
                     "ratio": theirs / ours})
    return rows


def _mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def ddp_rows(reps: int, batch: int = 256) -> dict:
    world, rank = dist.get_world_size(), dist.get_rank()
    gen = np.random.default_rng(0)
    x, y = tt.tensor(gen.standard_normal((batch, 784)).astype(np.float32)), tt.tensor(gen.integers(0, 10, batch))
    shard = batch // world
    model = nn.parallel.DistributedDataParallel(_mlp())
    opt = tt.optim.SGD(model.parameters(), lr=0.01)
    xs, ys = x[rank * shard:(rank + 1) * shard], y[rank * shard:(rank + 1) * shard]

    def ddp_step():
        opt.zero_grad()
        F.cross_entropy(model(xs), ys).backward()
        opt.step()

    ddp = _best(ddp_step, reps)
    single = float("nan")
    if rank == 0:
        alone = _mlp()
        opt1 = tt.optim.SGD(alone.parameters(), lr=0.01)

        def single_step():
            opt1.zero_grad()
            F.cross_entropy(alone(x), y).backward()
            opt1.step()

        single_step()
        single = min(_time_once(single_step) for _ in range(reps))
    MPI.COMM_WORLD.Barrier()
    return {"world": world, "global_batch": batch, "ddp_step_ms": ddp * 1e3, "single_step_ms": single * 1e3,
            "ratio": ddp / single if rank == 0 else None}


def _time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    dist.init_process_group("mpi")
    results = {"all_reduce": all_reduce_rows(args.reps), "ddp": ddp_rows(args.reps)}
    if dist.get_rank() == 0:
        for row in results["all_reduce"]:
            print(f"all_reduce {row['mb']:>3} MB: tritensor {row['tritensor_gbps']:.2f} GB/s, mpi4py "
                  f"{row['mpi4py_gbps']:.2f} GB/s, ratio {row['ratio']:.2f}")
        d = results["ddp"]
        print(f"DDP step on {d['world']} ranks {d['ddp_step_ms']:.2f} ms vs one process {d['single_step_ms']:.2f} ms "
              f"(global batch {d['global_batch']}): ratio {d['ratio']:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
