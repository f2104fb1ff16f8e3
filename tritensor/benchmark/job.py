"""Running workloads under the tuner and reporting them against the device's roofline."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..autotune.roofline import Peak, RooflinePoint
from ..autotune.space import config_id, key_string
from ..autotune.tuner import Tuner, TuneResult, reset_default_tuner
from ..kernels import tuning
from .models import build_step


@dataclass
class Launch:
    """The launches of one (kernel, key) during a run, as a dry run lists them."""

    kernel: str
    key: tuple
    config: dict
    bytes: float
    flops: float
    count: int = 1


@dataclass
class Measured:
    """What one workload (or model step) did: its launches and, when timed, its tunings."""

    label: str
    dtype: str
    launches: list[Launch] = field(default_factory=list)
    results: list[TuneResult] = field(default_factory=list)
    graph_nodes: int | None = None  # autograd nodes one model step records

    @property
    def launch_count(self) -> int:
        return sum(launch.count for launch in self.launches)


@contextlib.contextmanager
def recording(dry_run: bool) -> Iterator[list[Launch]]:
    """Collect every launch (merged per kernel and key) while the block runs; launches are skipped
    when `dry_run`."""
    merged: dict[tuple, Launch] = {}

    def observe(record: tuning.LaunchRecord) -> None:
        ident = (record.tunable.name, record.key)
        seen = merged.get(ident)
        if seen is not None:
            seen.count += 1
            return
        cost = record.tunable.cost(**record.sizes)
        merged[ident] = Launch(record.tunable.name, record.key, dict(record.config), cost.bytes, cost.flops)

    launches: list[Launch] = []
    tuning.add_observer(observe)
    was_dry = tuning.set_dry_run(dry_run)
    try:
        yield launches
    finally:
        tuning.set_dry_run(was_dry)
        tuning.remove_observer(observe)
        launches.extend(merged.values())


def measure(label: str, dtype: str, run: Callable[[], object], tuner: Tuner | None, dry_run: bool,
            graph_nodes: Callable[[], int] | None = None) -> Measured:
    """Run `run` once: listing its launches (dry_run), or with `tuner` choosing (and timing) every new key."""
    out = Measured(label, dtype)
    before = len(tuner.results) if tuner is not None else 0
    if tuner is not None:
        reset_default_tuner(tuner)
    try:
        with recording(dry_run) as launches:
            run()
    finally:
        if tuner is not None:
            reset_default_tuner(None)
    out.launches = launches
    if tuner is not None:
        out.results = tuner.results[before:]
    if graph_nodes is not None:
        out.graph_nodes = graph_nodes()
    return out


def uses_tensor_cores(kernel: str, dtype: str) -> bool:
    """Whether the roof of `kernel` on `dtype` operands is the tensor cores' (matmul on 16-bit or tf32)."""
    return kernel.startswith("matmul.") and dtype != "fp32"


def point(result: TuneResult, dtype: str) -> RooflinePoint | None:
    """The best trial of a tuning on the roofline (None without a cost model or a timing)."""
    if result.cost is None or result.best_ms is None:
        return None
    return RooflinePoint(result.best_ms, result.cost[0], result.cost[1], dtype,
                         tensor_cores=uses_tensor_cores(result.spec_name, dtype))


def attainable(launch: Launch, dtype: str, peak: Peak) -> RooflinePoint:
    """A launch placed on `peak`'s roof: the time its cost model needs at best (nothing is timed)."""
    tensor_cores = uses_tensor_cores(launch.kernel, dtype)
    seconds = max(launch.bytes / peak.bandwidth, launch.flops / peak.flops_for(dtype, tensor_cores))
    return RooflinePoint(seconds * 1e3, launch.bytes, launch.flops, dtype, tensor_cores)


def speedup(result: TuneResult) -> float | None:
    """Heuristic time / best time (None when the heuristic did not run)."""
    trial = result.trial_of(result.heuristic) if result.heuristic is not None else None
    if trial is None or trial.time_ms is None or not result.best_ms:
        return None
    return trial.time_ms / result.best_ms


def tuned_rows(measured: list[Measured], peak: Peak) -> list[tuple]:
    """One row per tuning: kernel, workload, key, best config, time, GB/s, TFLOP/s, % of peak, bound, speedup."""
    rows = []
    for m in measured:
        for r in m.results:
            p = point(r, m.dtype)
            gain = speedup(r)
            rows.append((r.spec_name, m.label, key_string(r.key), config_id(r.best), f"{r.best_ms:.4f}",
                         "-" if p is None else f"{p.gbps:.4g}", "-" if p is None else f"{p.tflops:.4g}",
                         "-" if p is None else f"{p.percent_of_peak(peak):.3g}",
                         "-" if p is None else p.bound(peak), "-" if gain is None else f"{gain:.2f}x"))
    return rows


TUNED_HEADER = ("kernel", "workload", "key", "best config", "ms", "GB/s", "TFLOP/s", "% peak", "bound",
                "vs heuristic")


def launch_rows(measured: list[Measured]) -> list[tuple]:
    """One row per (kernel, key) launched: the dry run's listing."""
    rows = []
    for m in measured:
        for launch in m.launches:
            intensity = launch.flops / launch.bytes if launch.bytes else float("inf")
            rows.append((launch.kernel, m.label, key_string(launch.key), launch.count, config_id(launch.config),
                         f"{launch.bytes / 1e6:.3f}", f"{launch.flops / 1e6:.3f}", f"{intensity:.2f}"))
    return rows


LAUNCH_HEADER = ("kernel", "workload", "key", "launches", "config", "MB", "MFLOP", "FLOP/B")


def to_json(measured: list[Measured], peak: Peak | None) -> dict:
    """Every launch and every trial, for --json."""
    def trial(t) -> dict:
        return {"config": t.config, "time_ms": t.time_ms, "gbps": t.gbps, "tflops": t.tflops, "error": t.error}

    out = {"peak": None if peak is None else {
        "device": peak.name, "capability": list(peak.capability), "bandwidth_gbps": peak.bandwidth / 1e9,
        "tflops": {k: v / 1e12 for k, v in peak.flops.items()}, "sm_count": peak.sm_count}, "workloads": []}
    for m in measured:
        out["workloads"].append({
            "label": m.label, "dtype": m.dtype, "launch_count": m.launch_count, "graph_nodes": m.graph_nodes,
            "launches": [{"kernel": launch.kernel, "key": list(launch.key), "config": launch.config,
                          "count": launch.count, "bytes": launch.bytes, "flops": launch.flops}
                         for launch in m.launches],
            "tunings": [{"kernel": r.spec_name, "key": list(r.key), "best": r.best, "best_ms": r.best_ms,
                         "heuristic": r.heuristic, "cost": r.cost, "trials": [trial(t) for t in r.trials]}
                        for r in m.results]})
    return out


def step_launches(name: str, device: str = "cuda") -> dict:
    """Kernel launches of one training step of model `name` beside the autograd nodes it records: the first
    step (which also creates the optimizer state) and a steady one, with the steady step's launches per kernel."""
    step = build_step(name, device)
    first = measure(f"{name} step", "fp32", step.run, None, dry_run=False)
    steady = measure(f"{name} step", "fp32", step.run, None, dry_run=False, graph_nodes=lambda: step.run.nodes)
    by_kernel: dict[str, int] = {}
    for launch in steady.launches:
        by_kernel[launch.kernel] = by_kernel.get(launch.kernel, 0) + launch.count
    return {"first_step_launches": first.launch_count, "kernel_launches": steady.launch_count,
            "graph_nodes": steady.graph_nodes, "by_kernel": dict(sorted(by_kernel.items()))}
