"""`tritensor selftest`: prove the GPU path end to end in a few minutes, and say what could not run.

    tritensor selftest [--device cuda] [--quick] [--report selftest.json]

Checks, in order: Triton's C launcher can be built; device memory allocates, round-trips and
frees through cuda.core; a non-blocking copy from pinned host memory arrives intact; streams and
events order and time work; every op family's representative op matches the cpu path (the NumPy
references) on small and large shapes; a training step of each model matches the cpu path; the
event timer times a kernel; a short tuning run prints its roofline table; and the kernel launches
of one training step are counted. Under TRITON_INTERPRET=1 (no GPU) the quick variant runs on tiny
shapes and the parts only a real GPU can run are listed as skipped, each with why. One JSON report
holds every result; the exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

import tritensor as tt

from .benchmark import job
from .benchmark.models import MODELS, build_step
from .benchmark.workloads import WORKLOADS
from .device import interpreting

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
ON_INTERPRETER = "needs a real GPU: Triton's interpreter runs kernels on host memory"
# Relative tolerance per dtype against the cpu path (reductions re-associate; fp16/bf16 round at 2^-11 / 2^-8).
RTOL = {"fp32": 2e-4, "fp16": 2e-2, "bf16": 8e-2, "fp64": 1e-9}


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str  # "ok", "failed" or "skipped"
    detail: str = ""
    seconds: float = 0.0


class Skip(Exception):
    """A check that cannot run here; its message says why."""


def _launcher() -> str:
    if interpreting():
        raise Skip("the interpreter needs no compiled launcher")
    from .cuda import driver

    check = driver.check_launcher()
    if not check.ok:
        raise AssertionError(check.message)
    return check.message


def _memory(quick: bool) -> str:
    n = 1 << (18 if quick else 24)  # 1 MiB or 64 MiB of fp32
    host = np.arange(n, dtype=np.float32)
    x = tt.from_numpy(host).to("cuda")
    np.testing.assert_array_equal(x.cpu().numpy(), host)
    del x  # freed on its allocation stream
    tt.cuda.synchronize()
    y = tt.zeros(n, device="cuda")  # may reuse the freed block: it must hold zeros now
    assert float(y.abs().sum().item()) == 0.0, "a new allocation did not hold what was written to it"
    where = "host memory standing in for the device" if interpreting() else "cuda.core device memory"
    return f"{n * 4 >> 20} MiB allocated, round-tripped, freed and reallocated ({where})"


def _pinned_copy(quick: bool) -> str:
    n = 1 << (18 if quick else 24)
    host = np.arange(n, dtype=np.float32)
    src = tt.from_numpy(host).pin_memory()
    assert src.is_pinned() != interpreting(), "pin_memory() did not give page-locked memory"
    out = src.to("cuda", non_blocking=True)
    del src  # the pending copy must keep its source alive
    tt.cuda.synchronize()
    np.testing.assert_array_equal(out.cpu().numpy(), host)
    if interpreting():
        return "pin_memory() is a plain copy and non_blocking copies are synchronous in the interpreter"
    return f"{n * 4 >> 20} MiB copied asynchronously from page-locked memory, source dropped at once"


def _streams() -> str:
    if interpreting():
        raise Skip(ON_INTERPRETER)
    side = tt.cuda.Stream()
    x = tt.ones(1 << 20, device="cuda")
    with tt.cuda.stream(side):
        side.wait_stream(tt.cuda.current_stream())
        y = x * 2
    tt.cuda.current_stream().wait_stream(side)
    assert float(y.sum().item()) == 2.0 * (1 << 20), "work on a side stream was not ordered"
    return "side stream ordered by wait_stream both ways"


def _timer() -> str:
    if interpreting():
        raise Skip(ON_INTERPRETER)
    from .autotune.timer import CudaEventTimer

    x = tt.ones(1 << 24, device="cuda")
    ms = CudaEventTimer().measure(lambda config: x + x, {})
    assert ms > 0, f"the event timer measured {ms} ms"
    return f"16M-element fp32 add: {ms:.4f} ms ({3 * 4 * (1 << 24) / ms / 1e6:.0f} GB/s)"


def _compare(name: str, shape: tuple, dtype: str) -> str:
    workload = WORKLOADS[name]
    results = []
    for device in ("cpu", "cuda"):
        tt.manual_seed(0)
        out = workload.build(shape, dtype, device)()
        results.append(out[0] if isinstance(out, tuple) else out)
    cpu, gpu = (np.asarray(r.float().cpu().numpy(), dtype=np.float64) for r in results)
    if name == "dropout":  # different random masks per device: check what dropout may produce
        kept = gpu != 0
        assert 0.8 < kept.mean() <= 1.0, f"dropout kept {kept.mean():.3f} of the elements"
        return f"{kept.mean():.3f} kept"
    np.testing.assert_allclose(gpu, cpu, rtol=RTOL[dtype], atol=RTOL[dtype], err_msg=f"{name} {shape} {dtype}")
    return "matches the cpu path"


def _op_checks(quick: bool) -> list[tuple[str, Callable[[], str]]]:
    checks = []
    for name, workload in WORKLOADS.items():
        dtype = "fp32" if "fp32" in workload.dtypes else workload.dtypes[0]
        small = {1: (100,), 2: (7, 33), 3: (17, 9, 24)}[workload.dims]
        shapes = [small] if quick else [small, workload.default_shapes[0]]
        for shape in shapes:
            label = "x".join(map(str, shape))
            checks.append((f"op {name} {label} {dtype}", lambda n=name, s=shape, d=dtype: _compare(n, s, d)))
    return checks


def _model_step(name: str) -> str:
    losses = []
    for device in ("cpu", "cuda"):
        step = build_step(name, device)
        losses.append([step.run() for _ in range(3)])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4, err_msg=f"{name} losses cuda vs cpu")
    return "3 steps: losses " + ", ".join(f"{v:.5f}" for v in losses[1]) + " (cuda) match the cpu path"


def _amp_losses(amp: bool) -> list[float]:
    from .nn import functional as F

    tt.manual_seed(0)
    model = tt.nn.Sequential(tt.nn.Linear(64, 128), tt.nn.ReLU(), tt.nn.Linear(128, 10)).to("cuda")
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    scaler = tt.amp.GradScaler("cuda", enabled=amp)
    x, y = tt.randn(32, 64, device="cuda"), tt.randint(0, 10, (32,), device="cuda")
    losses = []
    for _ in range(3):
        opt.zero_grad()
        with tt.autocast("cuda", enabled=amp):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return losses


def _amp_step() -> str:
    mixed, full = _amp_losses(True), _amp_losses(False)
    np.testing.assert_allclose(mixed, full, rtol=2e-2, err_msg="fp16 autocast losses vs float32")
    return "3 fp16 autocast + GradScaler steps: losses " + ", ".join(f"{v:.4f}" for v in mixed) + " track float32"


def _nccl() -> str:
    if interpreting():
        raise Skip(ON_INTERPRETER)
    from . import distributed as dist

    if not dist.is_nccl_available():
        raise Skip('nccl4py and mpi4py are not installed: pip install "tritensor[nccl]"')
    dist.init_process_group("nccl", device_id=0)
    try:
        x = tt.arange(1 << 20, device="cuda", dtype=tt.float32)
        dist.all_reduce(x)  # a world of one: the NCCL path end to end, the values unchanged
        dist.broadcast(x, src=0)
        tt.cuda.synchronize()
        expected = np.arange(1 << 20, dtype=np.float32)
        np.testing.assert_array_equal(x.cpu().numpy(), expected, err_msg="nccl all_reduce/broadcast")
    finally:
        dist.destroy_process_group()
    return "nccl all_reduce and broadcast of 4 MiB on a world of one (nccl4py, id over MPI)"


def _launch_counts(report: dict) -> str:
    parts = []
    for name in MODELS:
        counts = report.setdefault("launches_per_step", {})[name] = job.step_launches(name)
        parts.append(f"{name}: {counts['kernel_launches']} kernel launches ({counts['first_step_launches']} on the "
                     f"first step), {counts['graph_nodes']} autograd nodes")
    return "; ".join(parts)


def _tuning_run(report: dict) -> str:
    if interpreting():
        raise Skip(ON_INTERPRETER + " (timings would mean nothing)")
    from .autotune.cache import TuningCache
    from .autotune.cli import format_table
    from .autotune.roofline import device_peak
    from .autotune.timer import CudaEventTimer
    from .autotune.tuner import Tuner

    tuner = Tuner(timer=CudaEventTimer(), cache=TuningCache(), mode="1", in_place=True, refresh=True)
    peak = device_peak(0)
    measured = []
    for name, shape in (("elementwise", (4096, 4096)), ("softmax", (4096, 4096)), ("matmul", (2048, 2048, 2048))):
        dtype = "fp16" if name == "matmul" else "fp32"
        run = WORKLOADS[name].build(shape, dtype, "cuda")
        measured.append(job.measure(f"{name} {'x'.join(map(str, shape))} {dtype}", dtype, run, tuner, False))
    rows = job.tuned_rows(measured, peak)
    report["tuning"] = job.to_json(measured, peak)
    table = format_table(job.TUNED_HEADER, rows)
    print(table)
    return f"{len(rows)} kernels tuned on {peak.name}"


def run_checks(quick: bool, report: dict, out=print) -> list[Check]:
    """Run every check (quick: small shapes only), printing one line each; returns them."""
    plan: list[tuple[str, Callable[[], str]]] = [
        ("triton launcher", _launcher), ("device memory", lambda: _memory(quick)),
        ("pinned non-blocking copy", lambda: _pinned_copy(quick)), ("streams and events", _streams)]
    plan += _op_checks(quick)
    plan += [(f"training step {name}", lambda n=name: _model_step(n)) for name in MODELS]
    plan += [("mixed-precision step", _amp_step), ("nccl collectives", _nccl)]
    plan += [("event timer", _timer), ("tuning run", lambda: _tuning_run(report)),
             ("launches per training step", lambda: _launch_counts(report))]
    checks = []
    for name, fn in plan:
        start = time.perf_counter()
        try:
            check = Check(name, "ok", fn())
        except Skip as why:
            check = Check(name, "skipped", str(why))
        except Exception as exc:  # every failure is reported; the others still run
            check = Check(name, "failed", f"{type(exc).__name__}: {exc}".strip())
            report.setdefault("tracebacks", {})[name] = traceback.format_exc()
        check.seconds = round(time.perf_counter() - start, 3)
        out(f"{check.status.upper():8} {check.name:38} {check.detail}")
        checks.append(check)
        if name == "triton launcher" and check.status == "failed":
            out("stopping: kernels cannot launch without Triton's C launcher")
            break
    return checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["cuda"], default="cuda", help="the device to test (cuda)")
    parser.add_argument("--quick", action="store_true", help="small shapes only (always so under TRITON_INTERPRET=1)")
    parser.add_argument("--report", default="tritensor-selftest.json", metavar="PATH",
                        help="where to write the JSON report (default: tritensor-selftest.json)")


def main(args: argparse.Namespace) -> int:
    """Run the self test for parsed `args`; returns the exit status."""
    if not interpreting() and not tt.cuda.is_available():
        print("error: tritensor selftest tests the GPU path and no CUDA GPU is available. Run it on a machine "
              "with an NVIDIA GPU, or set TRITON_INTERPRET=1 to run its quick variant in Triton's interpreter",
              file=sys.stderr)
        return EXIT_USAGE
    quick = args.quick or interpreting()
    where = "Triton's interpreter (TRITON_INTERPRET=1)" if interpreting() else tt.cuda.get_device_name()
    print(f"tritensor selftest on {where}{', quick' if quick else ''}")
    report: dict = {"device": where, "quick": quick, "interpreter": interpreting()}
    start = time.perf_counter()
    checks = run_checks(quick, report)
    report["checks"] = [asdict(c) for c in checks]
    report["seconds"] = round(time.perf_counter() - start, 1)
    counts = {s: sum(c.status == s for c in checks) for s in ("ok", "failed", "skipped")}
    report["summary"] = counts
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped in {report['seconds']} s; "
          f"report written to {args.report}")
    return EXIT_FAIL if counts["failed"] else EXIT_OK
