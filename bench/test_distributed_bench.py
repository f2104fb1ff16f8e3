"""tt.distributed on 2 ranks (mpiexec): all_reduce bus bandwidth for 1-64 MB against mpi4py's own Allreduce on
NumPy arrays, and a DistributedDataParallel step against one process's step on the global batch, both measured in
the same run by bench/distributed_ranks.py (the ratios are in the benchmark's extra_info and printed by the ranks).
Nothing asserts on time.

    python -m pytest bench/test_distributed_bench.py --benchmark-only -s
"""

import json
import subprocess
import sys
from pathlib import Path

from tritensor import launch

RANKS = Path(__file__).with_name("distributed_ranks.py")


def test_all_reduce_and_ddp_on_two_ranks(benchmark, tmp_path):
    out = tmp_path / "dist.json"
    cmd = launch.command(2, [str(RANKS), "--json", str(out)])

    def job():
        subprocess.run(cmd, check=True, timeout=600, stdout=sys.stdout)

    benchmark.pedantic(job, rounds=1, iterations=1)
    results = json.loads(out.read_text())
    assert [row["mb"] for row in results["all_reduce"]] == [1, 4, 16, 64]
    assert all(row["tritensor_gbps"] > 0 and row["mpi4py_gbps"] > 0 for row in results["all_reduce"])
    benchmark.extra_info.update({f"all_reduce_{row['mb']}MB_ratio": row["ratio"] for row in results["all_reduce"]})
    benchmark.extra_info["ddp_step_ratio"] = results["ddp"]["ratio"]
