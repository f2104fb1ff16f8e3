"""The done-when check: the profile of a GPT training step lists every op the step calls with the call counts an
independent op hook counts, every backward node the step's graph has, and (interpreted cuda) every kernel launch
the tuning layer reports, attributed to the op that made it, with its cost model's bytes."""

from collections import Counter

import numpy as np
import pytest
from tritensor.kernels import tuning

from tritensor.benchmark.models import gpt_step
from tritensor.ops.autocast import op_hook
from tritensor.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from tritensor.profiler import ProfilerActivity, profile, record_function
from tritensor.profiler.record import op_key

NODE = "autograd::engine::evaluate_function: "


def _profiled_step(device: str):
    step = gpt_step(device, batch=2, block=8, hidden=16, vocab=20)
    reference = gpt_step("cpu", batch=2, block=8, hidden=16, vocab=20)  # the same model and data, unprofiled
    calls: Counter = Counter()
    launches: list = []

    def count(name, call, args, kwargs):
        calls[op_key(name)] += 1
        return call(*args, **kwargs)

    ranges = []  # the optimizer's step as a range, as `tritensor train --profile` marks it (and PyTorch's optimizers)
    handles = [register_optimizer_step_pre_hook(
        lambda o, a, k: ranges.append(record_function("optimizer.step").__enter__())),
        register_optimizer_step_post_hook(lambda o, a, k: ranges.pop().__exit__(None, None, None))]
    op_hook.trace = count
    tuning.add_observer(launches.append)
    try:
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True) as prof:
            loss = step.run()
    finally:
        tuning.remove_observer(launches.append)
        op_hook.trace = None
        for handle in handles:
            handle.remove()
    # profiling leaves the step's results as they are: the loss and gradients of an unprofiled step
    assert loss == pytest.approx(reference.run(), rel=1e-5)
    for p, q in zip(step.parameters, reference.parameters):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6)
    return step, prof, calls, launches


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_gpt_step_table_counts_every_op(device):
    step, prof, calls, launches = _profiled_step(device)
    averages = prof.key_averages()
    ops = {e.key: e.count for e in averages if e.cat == "cpu_op" and not e.key.startswith(NODE)}
    assert ops == dict(calls)
    assert {"F.linear", "F.scaled_dot_product_attention", "F.cross_entropy", "F.layer_norm", "tt.backward"} <= set(ops)
    # one evaluate_function event per node of the step's graph (leaves' AccumulateGrad included)
    assert sum(e.count for e in averages if e.key.startswith(NODE)) == step.run.nodes
    # the printed table: a row per op, its "# of Calls" (the last column) the counted calls
    lines = averages.table(sort_by="count", row_limit=-1).splitlines()
    assert lines[1].split("  ")[-2].strip() == "# of Calls"
    printed = {line.split()[0]: line.split()[-1] for line in lines[3:] if line.startswith(" ")}
    assert {name: printed[name] for name in calls} == {name: str(n) for name, n in calls.items()}
    kernels = Counter(r.tunable.name for r in launches)
    assert {e.key: e.count for e in averages if e.cat == "kernel"} == dict(kernels)
    assert (len(launches) > 0) == (device == "cuda")
    if device == "cuda":
        _check_kernels(prof, launches)


def _check_kernels(prof, launches):
    """Every launch is a kernel event, with its cost model's bytes, inside the op or node that made it."""
    events = prof.events()
    kernels = [e for e in events if e.cat == "kernel"]
    assert [k.name for k in kernels] == [r.tunable.name for r in launches]
    assert sum(k.bytes for k in kernels) == sum(r.tunable.cost(**r.sizes).bytes for r in launches)
    # every launch happens inside an op, a backward node or the optimizer's step (whose state is made by
    # creation functions, which are not bound through the op wrapper)
    assert all(k.cpu_parent is not None for k in kernels)
    outside_ops = {k.name for k in kernels if k.cpu_parent.name == "optimizer.step"}
    assert "optim.step" in outside_ops
    inside = kernels
    assert sum(e.kernels for e in events if e.cat != "kernel") == len(kernels)
    assert sum(e.bytes for e in events if e.cat != "kernel") == pytest.approx(sum(k.bytes for k in kernels))
    for k in kernels:
        assert k.self_device_time_total > 0
    for k in inside:
        assert k.cpu_parent.time_range.start <= k.time_range.start <= k.time_range.end <= k.cpu_parent.time_range.end
    outer = [e for e in events if e.cat != "kernel" and e.cpu_parent is None]
    assert sum(e.device_time_total for e in outer) == pytest.approx(sum(k.self_device_time_total for k in inside))
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["tt.backward"].device_time_total > 0 and avg["F.linear"].kernels == avg["F.linear"].count
