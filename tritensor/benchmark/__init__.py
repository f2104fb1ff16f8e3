"""`tritensor autotune`: the benchmark job, and the doorway to the AOT checks and the tuning cache.

    tritensor autotune --kernel softmax --shapes 4096x4096 --dtype fp16 [--json t.json] [--plot r.png]
    tritensor autotune --kernel all
    tritensor autotune --model mlp [--dry-run]

A `--kernel` runs its module's representative op (benchmark/workloads.py) on each shape and tunes
every kernel launch it makes; `--model` runs one training step and tunes exactly its launches. The
table gives per tuned (kernel, key): the best config, its time, GB/s and TFLOP/s by the kernel's
cost model, the % of the device's roof that limits it (memory or compute) and the speedup over
the heuristic config. Winners go to the on-disk cache the library's launches read.
`--compile-only`, `--list`, `--clear`, `--export` and `--import` are `tritensor.autotune.cli`'s.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from ..autotune import cli as autotune_cli
from .job import LAUNCH_HEADER, TUNED_HEADER, Measured, launch_rows, measure, to_json, tuned_rows
from .models import build_step, check_model
from .workloads import DTYPES, WORKLOADS, label, parse_shapes

EXIT_OK, EXIT_USAGE = 0, 2

NO_DEVICE = ("error: the benchmark job times kernels on a CUDA GPU, and none is available here. Run it on a "
             "machine with an NVIDIA GPU, or list what it would launch without timing: TRITON_INTERPRET=1 "
             "tritensor autotune {what} --dry-run")


class UsageError(Exception):
    """Bad arguments: reported as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `tritensor autotune` with `argv` (default sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = autotune_cli.build_parser()
    args = parser.parse_args(argv)
    if not autotune_cli.wants_benchmark(args) or args.compile_only:
        return autotune_cli.main(argv)
    try:
        plan = _plan(args)
        plt = _check_outputs(args)
        _check_device(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _run(args, plan, plt)


def _plan(args) -> list[tuple[str, tuple[int, ...] | None, str]]:
    """(kernel or "model:<name>", shape, dtype) for every workload the arguments ask for."""
    if args.kernel and args.model:
        raise UsageError("give --kernel or --model, not both")
    if args.model:
        if args.shapes:
            raise UsageError("--shapes applies to --kernel; a model step has its own shapes")
        try:
            check_model(args.model)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return [(f"model:{args.model}", None, args.dtype or "fp32")]
    if not args.kernel:
        raise UsageError("the benchmark job needs --kernel NAME|all or --model NAME")
    names = list(WORKLOADS) if args.kernel == "all" else [args.kernel]
    if names[0] not in WORKLOADS:
        raise UsageError(f"unknown kernel {args.kernel!r}; choose from: all, {', '.join(WORKLOADS)}")
    if args.dtype is not None and args.dtype not in DTYPES:
        raise UsageError(f"unknown dtype {args.dtype!r}; choose from: {', '.join(DTYPES)}")
    if args.shapes and len(names) > 1:
        raise UsageError("--shapes needs one --kernel (each kernel takes its own shapes)")
    plan = []
    for name in names:
        workload = WORKLOADS[name]
        dtype = args.dtype or workload.dtypes[0 if name == "matmul" else min(2, len(workload.dtypes) - 1)]
        if dtype not in workload.dtypes:
            if len(names) > 1:
                continue
            raise UsageError(f"kernel {name!r} has no dtype {dtype!r}; choose from: {', '.join(workload.dtypes)}")
        try:
            shapes = parse_shapes(args.shapes, workload.dims) if args.shapes else list(workload.default_shapes)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        plan += [(name, shape, dtype) for shape in shapes]
    return plan


def _check_outputs(args):
    """pyplot when --plot is given (UsageError without matplotlib); output folders must exist."""
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"{option} {path}: its folder does not exist")
    if not args.plot:
        return None
    from .plot import pyplot

    plt = pyplot()
    if plt is None:
        raise UsageError("--plot needs matplotlib: pip install 'tritensor[plot]' (or pip install matplotlib)")
    return plt


def _check_device(args) -> None:
    from ..autotune.timer import gpu_available
    from ..device import interpreting

    what = f"--model {args.model}" if args.model else f"--kernel {args.kernel}"
    if interpreting():
        if not args.dry_run:
            raise UsageError("timings need a GPU and TRITON_INTERPRET=1 is set (the interpreter's timings "
                             f"mean nothing); list the launches instead: tritensor autotune {what} --dry-run")
        return
    if not gpu_available():
        raise UsageError(NO_DEVICE.format(what=what)[len("error: "):])


def _run(args, plan: list, plt) -> int:
    tuner = peak = None
    if not args.dry_run:
        from ..autotune.cache import TuningCache
        from ..autotune.roofline import device_peak
        from ..autotune.timer import CudaEventTimer
        from ..autotune.tuner import Tuner

        tuner = Tuner(timer=CudaEventTimer(), cache=TuningCache(), mode=args.mode, progress=True, in_place=True,
                      refresh=True)
        peak = device_peak(0)
    measured: list[Measured] = []
    for name, shape, dtype in plan:
        if name.startswith("model:"):
            step = build_step(name.split(":", 1)[1], "cuda")
            # A model step runs for real even in a dry run: its launches read what earlier ones wrote.
            measured.append(measure(f"{name[6:]} step", dtype, step.run, tuner, dry_run=False,
                                    graph_nodes=lambda step=step: step.run.nodes))
            continue
        dry = args.dry_run
        run = WORKLOADS[name].build(shape, dtype, "cuda")  # operands are made outside the recording
        measured.append(measure(f"{name} {label(shape, dtype)}", dtype, run, tuner, dry_run=dry))
    _report(args, measured, peak, tuner, plt)
    return EXIT_OK


def _report(args, measured: list[Measured], peak, tuner, plt) -> None:
    fmt = autotune_cli.format_table
    if args.dry_run:
        print(fmt(LAUNCH_HEADER, launch_rows(measured)))
    else:
        print(f"{peak.name} (sm_{peak.capability[0]}{peak.capability[1]}, {peak.sm_count} SMs): "
              f"{peak.bandwidth / 1e9:.0f} GB/s, {peak.flops['tc16'] / 1e12:.0f} TFLOP/s fp16 tensor cores, "
              f"{peak.flops['fp32'] / 1e12:.1f} TFLOP/s fp32")
        print(fmt(TUNED_HEADER, tuned_rows(measured, peak)))
        print(f"winners stored in {tuner.cache.path}")
    for m in measured:
        nodes = "" if m.graph_nodes is None else f", {m.graph_nodes} autograd nodes recorded"
        print(f"{m.label}: {m.launch_count} kernel launches of {len(m.launches)} (kernel, key) pairs{nodes}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(measured, peak), f, indent=1, default=str)
        print(f"every launch and trial written to {args.json}")
    if plt is not None:
        from . import plot

        if args.dry_run:
            roof = _dry_run_peak()
            plot.plot_launches(plt, measured, roof, args.plot)
            print(f"launches placed under the roof of {roof.name} (nothing timed) in {args.plot}")
        else:
            plot.plot(plt, measured, peak, args.plot)
            print(f"roofline written to {args.plot}")


def _dry_run_peak():
    """This GPU's roof, or an H100's by its data sheet where no GPU runs the dry run."""
    from ..autotune.roofline import REFERENCE_PEAK, device_peak
    from ..autotune.timer import gpu_available
    from ..device import interpreting

    return device_peak(0) if not interpreting() and gpu_available() else REFERENCE_PEAK
