"""With CUDA activity on interpreted cuda: kernel events (name, bytes and FLOPs of the cost model, device time)
inside the op that launched them, cuda memory per op from tt.cuda.memory_allocated, the kernel track of the
Chrome trace."""

import json

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
from tritensor.profiler import ProfilerActivity, profile

BOTH = [ProfilerActivity.CPU, ProfilerActivity.CUDA]


def test_kernel_events_carry_the_cost_model():
    a = tt.arange(64, dtype=tt.float32, device="cuda")
    seen = []
    tuning.add_observer(seen.append)
    try:
        with profile(activities=BOTH, with_flops=True) as prof:
            b = a + a
    finally:
        tuning.remove_observer(seen.append)
    np.testing.assert_array_equal(b.cpu().numpy(), 2 * np.arange(64, dtype=np.float32))
    (record,) = seen
    cost = record.tunable.cost(**record.sizes)
    add, kernel = prof.events()
    assert (add.name, kernel.name, kernel.cat) == ("tt.add", record.tunable.name, "kernel")
    assert kernel.cpu_parent is add and add.cpu_children == []
    assert (add.kernels, add.bytes, add.flops) == (1, cost.bytes, cost.flops) == (1, kernel.bytes, kernel.flops)
    assert kernel.self_device_time_total > 0
    assert add.self_device_time_total == add.device_time_total == kernel.self_device_time_total
    assert kernel.cpu_time_total == 0 and kernel.device_type == "cuda"
    table = prof.key_averages().table(sort_by="self_cuda_time_total")
    assert table.rstrip().splitlines()[-1].startswith("Self CUDA time total: ")
    assert "Total FLOPs" in table.splitlines()[1]


def test_cuda_activity_alone_records_kernels_only():
    a = tt.ones(8, device="cuda")
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        s = a.sum()
    assert s.item() == 8.0
    assert [e.cat for e in prof.events()] == ["kernel"] and prof.events()[0].cpu_parent is None


def test_cpu_activity_alone_records_no_kernels():
    a = tt.ones(8, device="cuda")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        s = a.sum()
    assert s.item() == 8.0
    assert [e.name for e in prof.events()] == ["tt.sum"] and prof.events()[0].kernels == 0


def test_profile_memory_on_cuda_counts_allocations():
    a = tt.ones(64, device="cuda")  # 256 bytes: the allocator rounds each block to 512
    with profile(activities=BOTH, profile_memory=True) as prof:
        b = a + a
        c = tt.stack([b, b])
    assert c.shape == (2, 64) and c.sum().item() == 256.0
    by_name = {e.name: e for e in prof.events() if e.cat == "cpu_op"}
    assert by_name["tt.add"].device_memory_usage == 512 and by_name["tt.add"].self_device_memory_usage == 512
    assert by_name["tt.stack"].device_memory_usage >= 512
    assert by_name["tt.stack"].device_memory_usage == by_name["tt.stack"].self_device_memory_usage + sum(
        ch.device_memory_usage for ch in by_name["tt.stack"].cpu_children)
    assert by_name["tt.add"].cpu_memory_usage == 0  # its result is on cuda
    header = prof.key_averages().table().splitlines()[1]
    assert "CUDA Mem" in header and "Self CUDA Mem" in header


def test_kernels_get_their_own_trace_track(tmp_path):
    a = tt.ones(8, device="cuda")
    with profile(activities=BOTH) as prof:
        (a * 2).sum()
    path = tmp_path / "t.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    kernels = [e for e in events if e.get("cat") == "kernel"]
    ops = [e for e in events if e.get("cat") == "cpu_op"]
    assert len(kernels) == 2 and [e["name"] for e in ops] == ["tt.mul", "tt.sum"]
    assert all((k["pid"], k["tid"]) == (0, 7) and k["args"]["bytes"] > 0 for k in kernels)
    names = {(e["pid"], e["name"]): e["args"]["name"] for e in events if e["ph"] == "M"}
    assert names[(0, "process_name")] == "GPU 0" and names[(0, "thread_name")] == "stream 7"
    for op, kernel in zip(ops, kernels):  # under the interpreter a kernel runs inside its op's time range
        assert op["ts"] <= kernel["ts"] and kernel["ts"] + kernel["dur"] <= op["ts"] + op["dur"] + 1e-3
    assert pytest.approx(sum(k["dur"] for k in kernels), rel=1e-6) == sum(
        e.self_device_time_total for e in prof.events() if e.cat == "kernel")
