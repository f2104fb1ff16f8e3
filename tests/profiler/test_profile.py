"""tt.profiler.profile on cpu: every public op call, record_function range and backward node is an event, nested
by time; key_averages counts and sums them; the hooks come off when the profile ends."""

import numpy as np
import pytest

import tritensor as tt
from tritensor import onnx as tonnx
from tritensor.autograd import engine
from tritensor.ops.autocast import op_hook
from tritensor.profiler import ProfilerActivity, profile, record_function
from tritensor.profiler.record import op_key

F = tt.nn.functional


def _linear_step(x, w):
    y = F.linear(x, w).relu().sum()
    y.backward()
    return y


def test_ops_ranges_and_backward_nodes_are_events(rng):
    xa, wa = rng.standard_normal((4, 8)).astype(np.float32), rng.standard_normal((3, 8)).astype(np.float32)
    x, w = tt.tensor(xa, requires_grad=True), tt.tensor(wa, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("forward"):
            y = F.linear(x, w).relu().sum()
        y.backward()
    # the values are those of an unprofiled run
    np.testing.assert_allclose(y.item(), np.maximum(xa @ wa.T, 0).sum(), rtol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), ((xa @ wa.T) > 0).astype(np.float32).T @ xa, rtol=1e-5)
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts["forward"] == 1 and counts["F.linear"] == 1 and counts["tt.relu"] == 1 and counts["tt.sum"] == 1
    assert counts["tt.backward"] == 1
    assert counts["autograd::engine::evaluate_function: MmBackward0"] == 1
    assert counts["autograd::engine::evaluate_function: ReluBackward0"] == 1
    assert counts["autograd::engine::evaluate_function: AccumulateGrad"] == 2
    events = prof.events()
    forward = next(e for e in events if e.name == "forward")
    assert {c.name for c in forward.cpu_children} == {"F.linear", "tt.relu", "tt.sum"}
    linear = next(e for e in events if e.name == "F.linear")
    assert linear.cpu_parent is forward
    # self time is total time less the children's, and children lie inside their parent
    for ev in events:
        kids = sum(c.cpu_time_total for c in ev.cpu_children)
        assert ev.self_cpu_time_total == pytest.approx(ev.cpu_time_total - kids)
        for c in ev.cpu_children:
            assert ev.time_range.start <= c.time_range.start <= c.time_range.end <= ev.time_range.end
    backward = next(e for e in events if e.name == "tt.backward")
    assert any(c.name.startswith("autograd::engine::evaluate_function") for c in backward.cpu_children)
    averaged = prof.key_averages()
    assert sum(e.self_cpu_time_total for e in averaged) == pytest.approx(events.self_cpu_time_total)
    assert op_hook.trace is None and engine.node_observer.fn is None


def test_key_averages_sum_per_name_and_per_shape():
    a, b = tt.ones(2, 3), tt.ones(4, 5)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(3):
            tt.add(a, a)
        tt.add(b, b)
    (add,) = [e for e in prof.key_averages() if e.key == "tt.add"]
    assert add.count == 4 and add.input_shapes == []
    events = [e for e in prof.events() if e.name == "tt.add"]
    assert add.cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in events))
    assert add.cpu_time == pytest.approx(add.cpu_time_total / 4)
    by_shape = {str(e.input_shapes): e.count for e in prof.key_averages(group_by_input_shape=True) if e.key == "tt.add"}
    assert by_shape == {"[[2, 3], [2, 3]]": 3, "[[4, 5], [4, 5]]": 1}
    assert events[0].input_dtypes == ["float32", "float32"]
    cat = [e for e in prof.events() if e.name == "tt.add"]
    assert all(e.input_shapes for e in cat)


def test_record_shapes_lists_tensor_lists_and_non_tensors():
    a = tt.ones(2, 3)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        out = tt.cat([a, a], 0)
        tt.mul(a, 2.0)
    assert out.shape == (4, 3)
    shapes = {e.name: e.input_shapes for e in prof.events()}
    assert shapes["tt.cat"] == [[[2, 3], [2, 3]], []]
    assert shapes["tt.mul"] == [[2, 3], []]


def test_record_function_as_decorator_and_outside_a_profile():
    @record_function("double")
    def double(t):
        return t + t

    assert double(tt.ones(2)).tolist() == [2.0, 2.0]  # no profile: a plain call
    one = tt.ones(1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        got = double(double(tt.ones(2)))
        with record_function("outer", args="note") as rf:
            one.neg()
    assert got.tolist() == [4.0, 4.0] and isinstance(rf, record_function)
    doubles = [e for e in prof.events() if e.name == "double"]
    assert len(doubles) == 2 and all(e.cat == "user_annotation" for e in doubles)
    assert [c.name for c in doubles[0].cpu_children] == ["tt.add"]
    assert next(e for e in prof.events() if e.name == "outer").args == {"args": "note"}


def test_nested_op_calls_are_recorded_under_the_outer_op():
    x, w = tt.ones(2, 3), tt.ones(4, 3)
    seen = []

    def counting(name, call, args, kwargs):
        seen.append(name)
        return call(*args, **kwargs)

    op_hook.trace = counting
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            y = F.linear(x, w)
    finally:
        op_hook.trace = None
    assert y.tolist() == [[3.0] * 4] * 2
    # the profile chained to the hook installed before it: both saw every call, and it was put back
    assert [op_key(n) for n in seen] == [e.name for e in prof.events()]
    linear = next(e for e in prof.events() if e.name == "F.linear")
    assert seen[0] == "F.linear" and [c.name for c in linear.cpu_children] == [op_key(n) for n in seen[1:]]
    assert linear.cpu_children and all(c.cpu_parent is linear for c in linear.cpu_children)


def test_start_stop_and_events_of_the_last_trace():
    prof = profile(activities=[ProfilerActivity.CPU])
    prof.start()
    assert op_hook.trace is not None
    x = tt.ones(3)
    assert x.exp().sum().item() == pytest.approx(3 * np.e)
    prof.stop()
    assert op_hook.trace is None
    assert [e.name for e in prof.events()] == ["tt.exp", "tt.sum"]
    x.sum()  # not recorded
    assert len(prof.events()) == 2


def test_a_failing_op_is_recorded_and_the_hooks_come_off():
    with pytest.raises(RuntimeError):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            tt.ones(2, 3) @ tt.ones(2, 3)
    assert op_hook.trace is None and engine.node_observer.fn is None
    assert "tt.matmul" in [e.name for e in prof.events()]
    assert all(e.time_range.end >= e.time_range.start for e in prof.events())


def test_a_second_profile_inside_one_raises():
    with profile(activities=[ProfilerActivity.CPU]):
        inner = profile(activities=[ProfilerActivity.CPU])
        with pytest.raises(RuntimeError, match="^Profiler is already enabled on this thread$"):
            inner.start()
        assert tt.ones(2).sum().item() == 2.0
    with profile(activities=[ProfilerActivity.CPU]) as again:  # enabled again once the first has ended
        tt.ones(1).neg()
    assert [e.name for e in again.events()] == ["tt.neg"]


def test_bad_activities_raise():
    with pytest.raises(TypeError, match="activities must be ProfilerActivity values"):
        profile(activities=["cpu"])
    with pytest.raises(ValueError, match="No valid profiler activities found"):
        profile(activities=[])
    with pytest.warns(FutureWarning, match="use_cuda"):
        prof = profile(activities=[ProfilerActivity.CPU], use_cuda=True)
    assert prof.activities == {ProfilerActivity.CPU, ProfilerActivity.CUDA}


def test_profile_memory_on_cpu_is_the_bytes_of_the_results():
    a = tt.ones(4, 8)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        with record_function("block"):
            b = a + a  # 128 bytes
            c = tt.cat([b, b], 1)  # 256 bytes
    assert c.shape == (4, 16)
    by_name = {e.name: e for e in prof.events()}
    assert by_name["tt.add"].cpu_memory_usage == 128 and by_name["tt.add"].self_cpu_memory_usage == 128
    assert by_name["tt.cat"].cpu_memory_usage == 256
    assert by_name["block"].cpu_memory_usage == 384 and by_name["block"].self_cpu_memory_usage == 0


def test_with_stack_names_the_calling_line():
    x = tt.ones(2)
    with profile(activities=[ProfilerActivity.CPU], with_stack=True) as prof:
        x.neg()
    (ev,) = prof.events()
    assert ev.stack and "test_profile.py" in ev.stack[0] and "test_with_stack_names_the_calling_line" in ev.stack[0]
    (avg,) = prof.key_averages(group_by_stack_n=1)
    assert avg.stack == ev.stack[:1] and avg.count == 1


def test_export_for_onnx_still_works_after_a_profile(tmp_path):
    import onnx

    class Net(tt.nn.Module):
        def forward(self, x):
            return x.relu() + 1

    before, after = tmp_path / "before.onnx", tmp_path / "after.onnx"
    tonnx.export(Net(), (tt.randn(3),), str(before))
    with profile(activities=[ProfilerActivity.CPU]):
        tt.ones(1).neg()
    tonnx.export(Net(), (tt.randn(3),), str(after))
    nodes = [n.op_type for n in onnx.load(str(after)).graph.node]
    assert nodes[:2] == ["Relu", "Add"] and nodes == [n.op_type for n in onnx.load(str(before)).graph.node]
    assert op_hook.trace is None


def test_an_export_inside_a_profile_chains_to_the_profiler(tmp_path):
    model = tt.nn.Sequential(tt.nn.Linear(3, 2), tt.nn.ReLU())
    x = tt.randn(4, 3)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tonnx.export(model, (x,), str(tmp_path / "m.onnx"))
    assert op_hook.trace is None
    counts = {e.key: e.count for e in prof.key_averages()}
    # the export runs the model twice: the trace and the perturbed-input check (no dynamic axis: no probe run)
    assert counts["F.linear"] == 2 and counts["F.relu"] == 2
    import onnx
    assert [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node] == ["Gemm", "Relu", "Identity"]


def test_a_profile_inside_an_export_trace_chains_to_the_tracer():
    from tritensor.onnx.trace import Tracer, tracing

    x = tt.randn(3)
    with tracing(Tracer([x])) as tracer:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            y = x.relu() + 1
    assert [n.op for n in tracer.nodes] == ["relu", "add"]
    assert [e.name for e in prof.events()] == ["tt.relu", "tt.add"]
    np.testing.assert_allclose(y.numpy(), np.maximum(x.numpy(), 0) + 1)
    assert op_hook.trace is None
