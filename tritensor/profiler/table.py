"""The text table of `EventList.table` / `prof.key_averages().table(...)`, laid out as torch's.

Columns: Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time avg; with CUDA activity Self CUDA,
Self CUDA %, CUDA total, CUDA time avg, and tritensor's # Kernels and Bytes moved (the launches made directly
inside the row's events and the bytes their cost models move); with profile_memory CPU Mem, Self CPU Mem
(and CUDA Mem, Self CUDA Mem); then # of Calls; Input Shapes with record_shapes (under
group_by_input_shape); Total FLOPs with with_flops. Percentages are of the summed self time of every event
(the footer's "Self CPU time total"), so the Self CPU % column adds up to 100%; Self CUDA % is of the
kernels' time (each kernel's time shows in its own row and again in the op that launched it).
"""

from __future__ import annotations

# The attributes `sort_by` may name (torch's; "cuda" and "device" name the same times).
SORT_KEYS = ("cpu_time", "cuda_time", "device_time", "cpu_time_total", "cuda_time_total", "device_time_total",
             "self_cpu_time_total", "self_cuda_time_total", "self_device_time_total", "cpu_memory_usage",
             "cuda_memory_usage", "device_memory_usage", "self_cpu_memory_usage", "self_cuda_memory_usage",
             "self_device_memory_usage", "count", "flops", "kernels", "bytes")

_WIDTH = 12


def format_time(us: float) -> str:
    """Microseconds as torch prints them: 12.000us, 1.500ms, 2.000s."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def format_memory(nbytes: float) -> str:
    """Bytes as torch prints them: 512 b, 1.50 Kb, 2.00 Mb, 1.00 Gb."""
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{int(nbytes)} b"


def format_flops(flops: float) -> str:
    """A FLOP count with an SI prefix."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if flops >= size:
            return f"{flops / size:.3f} {unit}"
    return f"{flops:.0f}"


def _percent(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole > 0 else "0.00%"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _columns(columns: frozenset, cpu_total: float, device_total: float, has_shapes: bool) -> list[tuple]:
    """(header, cell function) for every column after Name."""
    cols = [("Self CPU %", lambda e: _percent(e.self_cpu_time_total, cpu_total)),
            ("Self CPU", lambda e: format_time(e.self_cpu_time_total)),
            ("CPU total %", lambda e: _percent(e.cpu_time_total, cpu_total)),
            ("CPU total", lambda e: format_time(e.cpu_time_total)),
            ("CPU time avg", lambda e: format_time(e.cpu_time_total / max(e.count, 1)))]
    if "cuda" in columns:
        cols += [("Self CUDA", lambda e: format_time(e.self_device_time_total)),
                 ("Self CUDA %", lambda e: _percent(e.self_device_time_total, device_total)),
                 ("CUDA total", lambda e: format_time(e.device_time_total)),
                 ("CUDA time avg", lambda e: format_time(e.device_time_total / max(e.count, 1))),
                 ("# Kernels", lambda e: str(e.kernels)),
                 ("Bytes moved", lambda e: format_memory(e.bytes))]
    if "memory" in columns:
        cols += [("CPU Mem", lambda e: format_memory(e.cpu_memory_usage)),
                 ("Self CPU Mem", lambda e: format_memory(e.self_cpu_memory_usage))]
        if "cuda" in columns:
            cols += [("CUDA Mem", lambda e: format_memory(e.device_memory_usage)),
                     ("Self CUDA Mem", lambda e: format_memory(e.self_device_memory_usage))]
    cols.append(("# of Calls", lambda e: str(e.count)))
    if has_shapes:
        cols.append(("Input Shapes", lambda e: str(e.input_shapes)))
    if "flops" in columns:
        cols.append(("Total FLOPs", lambda e: format_flops(e.flops)))
    return cols


def _sorted(events, sort_by: str | None) -> list:
    if sort_by is None:
        return list(events)
    if sort_by not in SORT_KEYS:
        raise AttributeError(f"'FunctionEventAvg' object has no attribute '{sort_by}' (sort_by is one of "
                             f"{', '.join(SORT_KEYS)})")
    attribute = sort_by.replace("cuda", "device")
    return sorted(events, key=lambda e: getattr(e, attribute), reverse=True)


def build_table(events, sort_by: str | None = None, row_limit: int = 100, max_name_column_width: int = 55,
                max_shapes_column_width: int = 80, header: str | None = None,
                top_level_events_only: bool = False) -> str:
    """The table of `events` (an EventList); see the module docstring."""
    if top_level_events_only:
        events = [e for e in events if getattr(e, "cpu_parent", None) is None]
    rows = _sorted(events, sort_by)
    cpu_total = sum(e.self_cpu_time_total for e in rows)
    # The device total counts the kernels' rows alone (the ops' self device time is theirs again).
    device_total = sum(e.self_device_time_total for e in rows if e.device_type != "cpu")
    columns = getattr(events, "columns", frozenset())
    has_shapes = "shapes" in columns and any(e.input_shapes for e in rows)
    cols = _columns(columns, cpu_total, device_total, has_shapes)
    if row_limit is not None and row_limit >= 0:
        rows = rows[:row_limit]
    name_width = min(max([len(e.key) for e in rows] + [4]) + 4, max_name_column_width)
    widths = [name_width] + [max(_WIDTH, len(title) + 2) for title, _ in cols]
    if has_shapes:
        shapes_at = [title for title, _ in cols].index("Input Shapes") + 1
        widths[shapes_at] = min(max([len(str(e.input_shapes)) for e in rows] + [12]) + 4, max_shapes_column_width)

    def line(cells: list[str]) -> str:
        return "  ".join(_truncate(c, w).rjust(w) for c, w in zip(cells, widths)) + "  "

    rule = "  ".join("-" * w for w in widths) + "  "
    out = [header] if header else []
    out += [rule, line(["Name"] + [title for title, _ in cols]), rule]
    out += [line([e.key] + [cell(e) for _, cell in cols]) for e in rows]
    out += [rule, f"Self CPU time total: {format_time(cpu_total)}"]
    if "cuda" in columns:
        out.append(f"Self CUDA time total: {format_time(device_total)}")
    return "\n".join(out) + "\n"
