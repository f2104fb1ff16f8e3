"""Chrome/Perfetto trace export: `{"traceEvents": [...]}` with one complete ("ph": "X") event per recorded
range, in microseconds from the profile's start.

Host events (ops, ranges, backward nodes) are on this process and their thread, so nesting shows as time
ranges inside one another; kernels are on a track of their own (pid: the device index, tid: 7, the default
stream's, as PyTorch's traces place GPU work), named by "M" metadata events. Open the file in
https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import gzip
import json
import os

from .kinds import KERNEL

__all__ = ["export_chrome_trace", "trace_events"]

_STREAM = 7


def _args(ev) -> dict:
    args = dict(ev.args)
    if ev.input_shapes:
        args["Input Dims"] = ev.input_shapes
    if ev.input_dtypes:
        args["Input type"] = ev.input_dtypes
    if ev.stack:
        args["Call stack"] = ";".join(ev.stack)
    if ev.cat == KERNEL:
        args["bytes"], args["flops"] = ev.bytes, ev.flops
    elif ev.kernels:
        args["kernels"] = ev.kernels
    if ev.cpu_memory_usage or ev.device_memory_usage:
        args["cpu_memory_usage"], args["device_memory_usage"] = ev.cpu_memory_usage, ev.device_memory_usage
    return args


def trace_events(events) -> list[dict]:
    """The trace's events (metadata first) for a list of FunctionEvents."""
    pid = os.getpid()
    out = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "python (tritensor)"}}]
    devices = sorted({ev.device_index for ev in events if ev.cat == KERNEL})
    for index in devices:
        out.append({"ph": "M", "name": "process_name", "pid": index, "tid": 0, "args": {"name": f"GPU {index}"}})
        out.append({"ph": "M", "name": "thread_name", "pid": index, "tid": _STREAM,
                    "args": {"name": f"stream {_STREAM}"}})
    for ev in events:
        on_device = ev.cat == KERNEL
        out.append({"ph": "X", "cat": ev.cat, "name": ev.name, "ts": round(ev.time_range.start, 3),
                    "dur": round(ev.self_device_time_total if on_device else ev.time_range.elapsed_us(), 3),
                    "pid": ev.device_index if on_device else pid, "tid": _STREAM if on_device else ev.thread,
                    "args": _args(ev)})
    return out


def export_chrome_trace(events, path: str) -> None:
    """Write `events` as a Chrome trace JSON file at `path` (gzip-compressed when it ends in .gz)."""
    document = {"traceEvents": trace_events(events), "displayTimeUnit": "ms",
                "schemaVersion": 1, "traceName": os.path.basename(path)}
    data = json.dumps(document).encode()
    if path.endswith(".gz"):
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
