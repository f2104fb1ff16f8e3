"""The table of key_averages (torch's columns, sort keys, row limit, totals) and the Chrome trace export."""

import gzip
import json

import pytest

import tritensor as tt
from tritensor.profiler import ProfilerActivity, profile, record_function
from tritensor.profiler.table import format_memory, format_time

CPU = [ProfilerActivity.CPU]


def _prof(**options):
    a = tt.ones(8, 8)
    with profile(activities=CPU, **options) as prof:
        with record_function("block"):
            for _ in range(3):
                a = a + 1
            a.sum()
    assert a.tolist() == [[4.0] * 8] * 8
    return prof


def _rows(table):
    lines = table.splitlines()
    header = lines[1].split("  ")
    body = lines[3:lines.index(lines[0], 3)]
    return [h.strip() for h in header if h.strip()], [line.split() for line in body]


def test_table_columns_and_sorting():
    prof = _prof()
    table = prof.key_averages().table(sort_by="count", row_limit=10)
    header, rows = _rows(table)
    assert header == ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    assert [r[0] for r in rows][:1] == ["tt.add"] and rows[0][-1] == "3"
    assert {r[0] for r in rows} == {"tt.add", "tt.sum", "block"}
    assert table.rstrip().splitlines()[-1].startswith("Self CPU time total: ")
    # the self CPU percentages add up to 100
    assert sum(float(r[1].rstrip("%")) for r in rows) == pytest.approx(100.0, abs=0.05)
    by_total = [r[0] for r in _rows(prof.key_averages().table(sort_by="cpu_time_total"))[1]]
    assert by_total[0] == "block"
    assert len(_rows(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=1))[1]) == 1
    assert len(_rows(prof.key_averages().table(row_limit=-1))[1]) == 3


def test_table_optional_columns():
    prof = _prof(record_shapes=True, profile_memory=True, with_flops=True)
    header, rows = _rows(prof.key_averages(group_by_input_shape=True).table(sort_by="cpu_memory_usage"))
    assert header == ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "CPU Mem",
                      "Self CPU Mem", "# of Calls", "Input Shapes", "Total FLOPs"]
    assert rows[0][0] == "block" and " ".join(rows[0][6:8]) == "772 b"  # 3 adds and a sum: 3 * 256 + 4 bytes
    cuda = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
    cuda.start()
    cuda.stop()
    header, rows = _rows(cuda.key_averages().table())
    assert header[6:12] == ["Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg", "# Kernels", "Bytes moved"]
    assert rows == []


def test_an_unknown_sort_key_raises():
    with pytest.raises(AttributeError, match="has no attribute 'cpu_time_totl'"):
        _prof().key_averages().table(sort_by="cpu_time_totl")


def test_long_names_are_cut():
    with profile(activities=CPU) as prof:
        with record_function("x" * 80):
            pass
    (row,) = _rows(prof.key_averages().table(max_name_column_width=20))[1]
    assert row[0] == "x" * 17 + "..."


def test_formats():
    assert [format_time(t) for t in (12.0, 1500.0, 2.5e6)] == ["12.000us", "1.500ms", "2.500s"]
    assert [format_memory(b) for b in (512, 1536, -3 << 20, 1 << 30)] == ["512 b", "1.50 Kb", "-3.00 Mb", "1.00 Gb"]


def test_total_average_and_str():
    prof = _prof()
    total = prof.events().total_average()
    assert total.key == "Total" and total.count == 5
    assert total.self_cpu_time_total == pytest.approx(prof.events().self_cpu_time_total)
    assert str(prof.key_averages()).splitlines()[1].split()[0] == "Name"


def test_chrome_trace(tmp_path):
    prof = _prof(record_shapes=True)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in events] == ["block", "tt.add", "tt.add", "tt.add", "tt.sum"]
    for e in events:
        assert set(e) == {"ph", "name", "ts", "dur", "pid", "tid", "cat", "args"}
    block = events[0]
    assert block["cat"] == "user_annotation" and all(e["cat"] == "cpu_op" for e in events[1:])
    for e in events[1:]:  # nesting: each op lies within the block's time range, on its thread
        assert block["ts"] <= e["ts"] and e["ts"] + e["dur"] <= block["ts"] + block["dur"] + 1e-3
        assert (e["pid"], e["tid"]) == (block["pid"], block["tid"])
    assert events[1]["args"]["Input Dims"] == [[8, 8], []]
    gz = tmp_path / "trace.json.gz"
    prof.events().export_chrome_trace(str(gz))
    assert json.loads(gzip.decompress(gz.read_bytes()))["traceEvents"][1:] == \
        json.loads(path.read_text())["traceEvents"][1:]
