"""tt.profiler: what a model spends its time on, per op and per kernel launch, as torch.profiler.

    with tt.profiler.profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True) as prof:
        with tt.profiler.record_function("step"):
            loss = model(x).sum()
            loss.backward()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")

What is recorded (see tritensor.profiler.record): every public op call ("tt.add", "F.linear"), at the one
wrapper every `tt.*` function, Tensor method and nn.functional function is bound through; each node the
autograd engine runs ("autograd::engine::evaluate_function: MmBackward0"); `record_function` ranges; and,
with CUDA activity, every kernel launch (its device time, and the bytes and FLOPs of its cost model).
"""

from .events import EventList, FunctionEvent, FunctionEventAvg
from .profile import ProfilerActivity, profile, record_function, supported_activities
from .schedule import ProfilerAction, schedule, tensorboard_trace_handler

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "tensorboard_trace_handler", "supported_activities", "EventList", "FunctionEvent", "FunctionEventAvg"]
