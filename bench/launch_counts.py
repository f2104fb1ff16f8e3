"""Kernel launches per training step beside the autograd nodes the step records, per model: the baseline
that kernel fusion is measured against.

    python bench/launch_counts.py [--json PATH] [--optimizers] [--grad-scaler]

--optimizers instead counts the launches of one steady optimizer step over the MLP's parameters, per
optimizer: the fused elementwise steps launch once per parameter group and dtype. --grad-scaler counts one
GradScaler iteration of an fp16 autocast step (scale, unscale_ + inf check, the Adam step, update).

Without a GPU the steps run in Triton's interpreter (TRITON_INTERPRET=1 unless set otherwise): launch
counts do not depend on where kernels run. `tritensor selftest` reports the same counts.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

from tritensor.kernels import tuning  # noqa: E402

import tritensor as tt  # noqa: E402
from tritensor.benchmark.job import step_launches  # noqa: E402
from tritensor.benchmark.models import MODELS  # noqa: E402

OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
              "Adafactor", "LBFGS"]


def optimizer_launches(name: str) -> dict[str, int]:
    """Kernel launches of one steady step of tt.optim.<name> over a 784-256-10 MLP's parameters on cuda."""
    model = tt.nn.Sequential(tt.nn.Linear(784, 256), tt.nn.ReLU(), tt.nn.Linear(256, 10)).to("cuda")
    x = tt.randn(4, 784, device="cuda")
    opt = getattr(tt.optim, name)(model.parameters())

    def closure():
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        return loss

    closure()
    opt.step(closure)  # the first step creates the state
    closure()
    seen: dict[str, int] = {}

    def observe(record):
        seen[record.tunable.name] = seen.get(record.tunable.name, 0) + 1

    tuning.add_observer(observe)
    try:
        opt.step(closure) if name == "LBFGS" else opt.step()
    finally:
        tuning.remove_observer(observe)
    return seen


def _counting(fn) -> dict[str, int]:
    seen: dict[str, int] = {}

    def observe(record):
        seen[record.tunable.name] = seen.get(record.tunable.name, 0) + 1

    tuning.add_observer(observe)
    try:
        fn()
    finally:
        tuning.remove_observer(observe)
    return seen


def grad_scaler_launches() -> dict[str, dict[str, int]]:
    """Kernel launches of each part of one steady GradScaler iteration over the MLP on cuda (fp16 autocast, Adam)."""
    model = tt.nn.Sequential(tt.nn.Linear(784, 256), tt.nn.ReLU(), tt.nn.Linear(256, 10)).to("cuda")
    x = tt.randn(4, 784, device="cuda")
    opt = tt.optim.Adam(model.parameters())
    scaler = tt.amp.GradScaler("cuda")
    parts: dict[str, dict[str, int]] = {}
    for step in range(2):  # the first step creates the optimizer state and the scale
        opt.zero_grad()
        with tt.autocast("cuda"):
            loss = model(x).float().square().mean()
        scaler.scale(loss).backward()
        for name, fn in (("unscale_", lambda: scaler.unscale_(opt)), ("step", lambda: scaler.step(opt)),
                         ("update", scaler.update)):
            counts = _counting(fn)
            if step:
                parts[name] = counts
    return parts


def print_grad_scaler_launches() -> None:
    parts = grad_scaler_launches()
    print(f"{'GradScaler':10} {'launches':>9}  by kernel")
    for name, counts in parts.items():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{name:10} {sum(counts.values()):>9}  {detail}")


def print_optimizer_launches() -> None:
    print(f"{'optimizer':10} {'launches':>9}  by kernel")
    for name in OPTIMIZERS:
        counts = optimizer_launches(name)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{name:10} {sum(counts.values()):>9}  {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the counts (with launches per kernel) here")
    parser.add_argument("--optimizers", action="store_true", help="count each optimizer's step instead")
    parser.add_argument("--grad-scaler", action="store_true", help="count one GradScaler iteration instead")
    args = parser.parse_args()
    if args.grad_scaler:
        print_grad_scaler_launches()
        return
    if args.optimizers:
        print_optimizer_launches()
        return
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
