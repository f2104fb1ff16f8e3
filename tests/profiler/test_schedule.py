"""tt.profiler.schedule and the profile's step machine: torch's ProfilerAction sequence, on_trace_ready at the
end of each active cycle, ProfilerStep#n ranges, tensorboard_trace_handler's files."""

import json
import os
import re

import pytest

import tritensor as tt
from tritensor.ops.autocast import op_hook
from tritensor.profiler import ProfilerAction, ProfilerActivity, profile, schedule, tensorboard_trace_handler

N, W, R, S = ProfilerAction.NONE, ProfilerAction.WARMUP, ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE
CPU = [ProfilerActivity.CPU]


def test_schedule_actions():
    fn = schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    assert [fn(i) for i in range(11)] == [N, N, W, R, S, N, W, R, S, N, N]
    forever = schedule(wait=0, warmup=1, active=1)
    assert [forever(i) for i in range(5)] == [W, S, W, S, W]
    early = schedule(wait=2, warmup=1, active=1, skip_first_wait=1)
    assert [early(i) for i in range(6)] == [W, S, N, N, W, S]


def test_schedule_arguments_are_checked():
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        schedule(wait=0, warmup=1, active=0)
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        schedule(wait=-1, warmup=1, active=1)
    with pytest.warns(UserWarning, match="Profiler won't be using warmup"):
        fn = schedule(wait=0, warmup=0, active=1)
    assert fn(0) is S
    with pytest.raises(AssertionError, match="step must be >= 0"):
        fn(-1)
    with pytest.raises(TypeError):
        schedule(1, 1, 1)  # keyword-only, as torch's


def test_steps_record_per_schedule_and_hand_each_trace_over():
    traces = []

    def ready(prof):
        traces.append((prof.step_num, sorted({e.name for e in prof.events() if e.name.startswith("ProfilerStep")}),
                       sum(e.count for e in prof.key_averages() if e.key == "tt.exp")))

    x = tt.ones(2)
    with profile(activities=CPU, schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as p:
        for _ in range(10):
            x.exp()
            x = x + 1
            p.step()
    assert x.tolist() == [11.0, 11.0]
    assert traces == [(4, ["ProfilerStep#2", "ProfilerStep#3"], 2), (8, ["ProfilerStep#6", "ProfilerStep#7"], 2)]
    assert op_hook.trace is None


def test_stopping_while_recording_hands_the_partial_trace_over():
    traces = []
    x = tt.ones(1)
    with profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=3),
                 on_trace_ready=lambda prof: traces.append([e.name for e in prof.events()])) as p:
        x.neg()
        p.step()  # now recording
        x.exp()
        p.step()
    assert traces == [["ProfilerStep#1", "tt.exp", "ProfilerStep#2"]]


def test_without_a_schedule_the_trace_is_ready_at_stop():
    seen = []
    x = tt.ones(1)
    with profile(activities=CPU, on_trace_ready=lambda prof: seen.append(len(prof.events()))) as p:
        x.neg()
        p.step()
        x.exp()
    assert seen == [2]  # no ProfilerStep ranges without a schedule
    assert [e.name for e in p.events()] == ["tt.neg", "tt.exp"]


def test_incorrect_schedules_warn_as_torch():
    actions = {0: R, 1: N}
    x = tt.ones(1)
    with pytest.warns(UserWarning, match="Incorrect schedule: RECORD followed by NONE"):
        with profile(activities=CPU, schedule=lambda step: actions.get(step, N)) as p:
            x.neg()
            p.step()
    assert [e.name for e in p.events()] == ["ProfilerStep#0", "tt.neg"]
    with pytest.warns(UserWarning, match="Incorrect schedule: WARMUP followed by NONE"):
        with profile(activities=CPU, schedule=lambda step: W if step == 0 else N) as p:
            p.step()
    assert len(p.events()) == 0


def test_active_one_records_every_step_apart():
    traces = []
    with profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=1, repeat=0),
                 on_trace_ready=lambda prof: traces.append(prof.step_num)) as p:
        for _ in range(4):
            p.step()
    assert traces == [2, 4]


def test_acc_events_keeps_every_cycle():
    x = tt.ones(1)
    with profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=1), acc_events=True) as p:
        for _ in range(4):
            x.neg()
            p.step()
    assert [e.name for e in p.events()].count("tt.neg") == 2
    assert [e.name for e in p.events() if e.name.startswith("ProfilerStep")] == ["ProfilerStep#1", "ProfilerStep#3"]


def test_tensorboard_trace_handler_writes_one_file_per_trace(tmp_path):
    folder = tmp_path / "tb" / "run"
    x = tt.ones(3)
    with profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=1, repeat=2),
                 on_trace_ready=tensorboard_trace_handler(str(folder), worker_name="w0")) as p:
        for _ in range(5):
            x.sum()
            p.step()
    names = sorted(os.listdir(folder))
    assert len(names) == 2 and all(re.fullmatch(r"w0\.\d+\.pt\.trace\.json", n) for n in names)
    trace = json.loads((folder / names[0]).read_text())
    assert [e["name"] for e in trace["traceEvents"] if e["ph"] == "X"] == ["ProfilerStep#1", "tt.sum"]
    default = tensorboard_trace_handler(str(tmp_path / "d"), use_gzip=True)
    with profile(activities=CPU, on_trace_ready=default):
        x.neg()
    (name,) = os.listdir(tmp_path / "d")
    assert re.fullmatch(r".+_\d+\.\d+\.pt\.trace\.json\.gz", name)


def test_tensorboard_trace_handler_reports_a_folder_it_cannot_make(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RuntimeError, match="Can't create directory: "):
        with profile(activities=CPU, on_trace_ready=tensorboard_trace_handler(str(blocker / "sub"))):
            tt.ones(1)
