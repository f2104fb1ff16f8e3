"""The `tritensor` command: `train` (an MLP or CNN on Digits or Fashion-MNIST, an LSTM or GPT on Shakespeare),
`generate` (sample text from a trained language model), `demo` (fit a line with autograd), `autotune` (kernel tuning
and AOT checks), `selftest` (the GPU path end to end), `run` (start a script on N ranks through mpiexec)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time


def _demo(args: argparse.Namespace) -> int:
    """Fit y = 3x + 2 by gradient descent with tritensor's autograd: the foundation end to end."""
    import tritensor as tt

    from .cuda import driver

    device = args.device or ("cuda" if driver.device_count() > 0 else "cpu")
    tt.manual_seed(0)
    x = tt.rand(256, device=device)
    y = x * 3.0 + 2.0 + tt.randn(256, device=device) * 0.01
    w = tt.zeros(1, device=device, requires_grad=True)
    b = tt.zeros(1, device=device, requires_grad=True)
    start = time.perf_counter()
    for step in range(args.steps):
        err = x * w + b - y
        loss = (err * err).sum() * (1.0 / x.numel())
        w.grad = b.grad = None
        loss.backward()
        with tt.no_grad():
            w -= w.grad * args.lr
            b -= b.grad * args.lr
        if step % max(1, args.steps // 5) == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.6f}")
    elapsed = time.perf_counter() - start
    print(f"device {w.device}: w = {w.item():.4f} (true 3), b = {b.item():.4f} (true 2), "
          f"{args.steps} steps in {elapsed:.2f} s")
    return 0 if abs(w.item() - 3) < 0.1 and abs(b.item() - 2) < 0.1 else 1


def _version() -> str:
    """The installed distribution's version (package metadata), else the source tree's __version__."""
    from importlib import metadata

    try:
        return metadata.version("tritensor")
    except metadata.PackageNotFoundError:
        from . import __version__

        return __version__


def _autotune(argv: list[str]) -> int:
    """`tritensor autotune ...`: the benchmark job, the AOT checks and the tuning cache."""
    from .benchmark import main

    return main(argv)


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the message names the value; argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    """The `tritensor` console script: parse argv (default: sys.argv[1:]) and run the command; returns the exit
    status (0 success, 2 bad arguments, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "autotune":
        return _autotune(argv[1:])
    parser = argparse.ArgumentParser(prog="tritensor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tritensor {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit a line with tritensor's autograd (seconds on a CPU)")
    demo.add_argument("--device", choices=["cpu", "cuda"], default=None,
                      help="default: cuda when a GPU is present, else cpu (cuda with TRITON_INTERPRET=1 "
                           "runs the Triton kernels in the interpreter: slow, for testing)")
    demo.add_argument("--steps", type=_positive_int, default=300)
    demo.add_argument("--lr", type=_positive_float, default=0.5)
    sub.add_parser("autotune", help="benchmark and tune kernels, check configs ahead of time (see --help)")
    from . import selftest

    selftest_parser = sub.add_parser("selftest", help="check the GPU path end to end (minutes; quick in the "
                                                      "interpreter)", description=selftest.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    selftest.add_arguments(selftest_parser)
    from . import train

    train_parser = sub.add_parser("train", help="train an MLP on digits (default, seconds on a CPU), a CNN on "
                                                "fashion-mnist or a character GPT/LSTM on shakespeare",
                                  description=train.__doc__)
    train.add_arguments(train_parser)
    from . import generate

    generate_parser = sub.add_parser("generate", help="sample text from a `tritensor train --dataset shakespeare` "
                                                      "checkpoint", description=generate.__doc__)
    generate.add_arguments(generate_parser, _positive_int, _positive_float)
    from . import launch

    run_parser = sub.add_parser("run", help="run a script on N processes through mpiexec (torchrun's role; needs "
                                            "the distributed extra)", description=launch.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    launch.add_arguments(run_parser)
    args = parser.parse_args(argv)
    if args.command == "run":
        return launch.main(args)
    if args.command == "generate":
        return generate.main(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "train":
        if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
            # --nproc N: this process starts the N ranks (each runs this same command) and waits for them
            return launch.main(argparse.Namespace(nproc_per_node=args.nproc, master_port=29500, module=True,
                                                  target="tritensor", args=argv))
        return train.main(args)
    if args.command == "selftest":
        return selftest.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
