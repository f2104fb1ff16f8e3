"""Kernel launches per training step beside the autograd nodes the step records, per model: the baseline
that kernel fusion is measured against.

    python bench/launch_counts.py [--json PATH]

Without a GPU the steps run in Triton's interpreter (TRITON_INTERPRET=1 unless set otherwise): launch
counts do not depend on where kernels run. `tritensor selftest` reports the same counts.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

from tritensor.benchmark.job import step_launches  # noqa: E402
from tritensor.benchmark.models import MODELS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the counts (with launches per kernel) here")
    args = parser.parse_args()
    counts = {name: step_launches(name) for name in MODELS}
    print(f"{'model':8} {'launches':>9} {'first step':>11} {'graph nodes':>12} {'launches/node':>14}")
    for name, c in counts.items():
        print(f"{name:8} {c['kernel_launches']:>9} {c['first_step_launches']:>11} {c['graph_nodes']:>12} "
              f"{c['kernel_launches'] / c['graph_nodes']:>14.2f}")
        for kernel, n in c["by_kernel"].items():
            print(f"    {kernel:40} {n}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(counts, f, indent=1)


if __name__ == "__main__":
    main()
