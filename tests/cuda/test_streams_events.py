"""tt.cuda streams and events: under Triton's interpreter (synchronous: events hold host time, waits are no-ops)
and with the fake GPU on the real-GPU code path (cuda.core events and streams, recorded in the fake's log)."""

import time
import types

import numpy as np
import pytest

import tritensor as tt
from tests.emulated.fake_gpu import FakeEvent
from tritensor.cuda import driver


def test_elapsed_time_of_a_sleep_is_measured_in_milliseconds():
    start, end = tt.cuda.Event(enable_timing=True), tt.cuda.Event(enable_timing=True)
    start.record()
    time.sleep(0.05)
    end.record()
    end.synchronize()
    elapsed = start.elapsed_time(end)
    assert isinstance(elapsed, float) and 50.0 <= elapsed < 10_000.0
    assert end.elapsed_time(start) < 0  # as cudaEventElapsedTime: signed


def test_elapsed_time_raises_pytorchs_errors():
    plain, timed, unrecorded = tt.cuda.Event(), tt.cuda.Event(enable_timing=True), tt.cuda.Event(enable_timing=True)
    plain.record()
    timed.record()
    with pytest.raises(ValueError, match=r"Both events must be created with argument 'enable_timing=True'\."):
        plain.elapsed_time(timed)
    with pytest.raises(ValueError, match="enable_timing=True"):
        timed.elapsed_time(plain)
    with pytest.raises(ValueError, match=r"Both events must be recorded before calculating elapsed time\."):
        timed.elapsed_time(unrecorded)
    with pytest.raises(ValueError, match="must be recorded"):
        unrecorded.elapsed_time(timed)


def test_event_defaults_query_wait_and_synchronize():
    e = tt.cuda.Event()
    assert (e.enable_timing, e.blocking, e.interprocess) == (False, False, False)
    assert e.query() and e.device is None and repr(e) == "<tritensor.cuda.Event uninitialized>"
    e.synchronize()  # never recorded: returns at once
    e.wait()
    x = tt.ones(4, device="cuda") * 3.0
    e.record()
    assert e.query() and e.device == tt.device("cuda", 0) and e.cuda_event == 0
    e.wait(tt.cuda.current_stream())
    e.synchronize()
    np.testing.assert_array_equal(x.cpu().numpy(), np.full(4, 3.0, np.float32))
    assert tt.cuda.Event(enable_timing=True, blocking=True, interprocess=True).blocking


def test_stream_record_event_wait_event_and_query():
    s = tt.cuda.Stream()
    assert s.query() and s.device == tt.device("cuda", 0) and s.cuda_stream == 0 and s.priority == 0
    event = s.record_event()
    assert isinstance(event, tt.cuda.Event) and event.query() and event.device is not None
    timed = tt.cuda.Event(enable_timing=True)
    assert s.record_event(timed) is timed
    tt.cuda.current_stream().wait_event(event)
    s.wait_stream(tt.cuda.current_stream())
    s.synchronize()
    later = s.record_event(tt.cuda.Event(enable_timing=True))
    assert timed.elapsed_time(later) >= 0.0


def test_default_and_current_streams_and_the_stream_context():
    default = tt.cuda.default_stream()
    assert tt.cuda.current_stream() is default is tt.cuda.default_stream(0) is tt.cuda.current_stream("cuda:0")
    s = tt.cuda.Stream()
    assert s != default and s == s and len({s, default}) == 2
    with tt.cuda.stream(s) as entered:
        assert entered is s and tt.cuda.current_stream() is s
        y = tt.ones(2, device="cuda") + 1.0
    assert tt.cuda.current_stream() is default
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(2, 2.0, np.float32))
    with tt.cuda.stream(None) as entered:
        assert entered is None and tt.cuda.current_stream() is default
    assert isinstance(tt.cuda.stream(s), tt.cuda.StreamContext)
    tt.cuda.set_stream(s)
    try:
        assert tt.cuda.current_stream() is s
    finally:
        tt.cuda.set_stream(default)
    assert tt.cuda.current_stream() is default


def test_synchronize_checks_its_device():
    tt.cuda.synchronize()
    tt.cuda.synchronize(0)
    tt.cuda.synchronize("cuda:0")
    with pytest.raises(RuntimeError, match="invalid device ordinal 1"):
        tt.cuda.synchronize(1)
    with pytest.raises(RuntimeError, match="invalid device ordinal 1"):
        tt.cuda.Stream("cuda:1")


# ------------------------------------------------------------------ the real-GPU code path (fake GPU)
@pytest.fixture
def done(monkeypatch):
    """Whether the fake's events are complete (cuda.core's Event.is_done), settable by the test."""
    state = types.SimpleNamespace(value=True)
    monkeypatch.setattr(FakeEvent, "is_done", property(lambda self: state.value), raising=False)
    monkeypatch.setattr(FakeEvent, "handle", property(lambda self: 0xE000 + id(self) % 0x1000), raising=False)
    return state


def test_gpu_events_are_cuda_core_events_recorded_on_the_current_stream(gpu, done):
    start, end = tt.cuda.Event(enable_timing=True), tt.cuda.Event(enable_timing=True, blocking=True)
    assert start.cuda_event == 0  # created on first record
    start.record()
    gpu.clock = 2.5
    end.record()
    assert start._native._timing and end._native._timing
    assert ("record", 1, id(start._native)) in gpu.log  # the legacy default stream, the current one
    end.synchronize()
    assert gpu.log[-1] == ("event_sync",)
    assert start.elapsed_time(end) == 2.5
    assert start.cuda_event != 0 and "cuda:0" in repr(start)
    s = tt.cuda.Stream()
    s.wait_event(end)
    assert gpu.log[-1] == ("wait", int(s._stream.handle), id(end._native))
    with tt.cuda.stream(s):
        plain = tt.cuda.Event()
        plain.record()
    assert gpu.log[-1][:2] == ("record", int(s._stream.handle)) and not plain._native._timing
    done.value = False
    assert not end.query()
    with pytest.raises(RuntimeError, match=r"Both events must be completed before calculating elapsed time\."):
        start.elapsed_time(end)
    done.value = True
    with pytest.raises(ValueError, match="enable_timing=True"):
        plain.elapsed_time(end)


def test_gpu_an_event_stays_on_the_device_of_its_first_record(gpu, done):
    e = tt.cuda.Event()
    e.record()
    s1 = tt.cuda.Stream("cuda:1")
    with pytest.raises(RuntimeError, match=r"Event device 0 does not match recording stream's device 1\."):
        e.record(s1)
    e.wait(s1)  # waiting across devices is allowed
    assert gpu.log[-1] == ("wait", int(s1._stream.handle), id(e._native))
    assert s1.record_event().device == tt.device("cuda", 1)


def test_gpu_an_unrecorded_event_waits_for_nothing(gpu, done):
    start = len(gpu.log)
    tt.cuda.Event().wait()
    tt.cuda.Event().synchronize()
    assert tt.cuda.Event().query()
    assert [e for e in gpu.log[start:] if e[0] in ("wait", "event_sync")] == []


def test_gpu_stream_query_asks_the_driver(gpu, monkeypatch):
    cu = gpu.cu()
    answers = [cu.CUresult.CUDA_ERROR_NOT_READY, cu.CUresult.CUDA_SUCCESS]
    queried = []

    def query(stream):
        queried.append(int(stream))
        return (answers.pop(0),)

    api = types.SimpleNamespace(**vars(cu), cuStreamQuery=query)
    monkeypatch.setattr(driver, "_cu", lambda: api)
    s = tt.cuda.Stream()
    assert not s.query() and s.query()
    assert queried == [int(s._stream.handle)] * 2


def test_gpu_streams_have_priorities_and_handles(gpu):
    s = tt.cuda.Stream(priority=-1)
    assert s.priority == -1 and s.cuda_stream == int(s._stream.handle) != 0
    assert tt.cuda.default_stream().cuda_stream == 1  # cuda.core's legacy default stream
    assert tt.cuda.Stream() != s and s == tt.cuda.Stream(_stream=s._stream)


def test_gpu_the_stream_context_makes_the_streams_device_current(gpu):
    s1 = tt.cuda.Stream("cuda:1")
    default0, default1 = tt.cuda.current_stream(0), tt.cuda.current_stream(1)
    with tt.cuda.stream(s1):
        assert tt.cuda.current_device() == 1
        assert tt.cuda.current_stream() is s1 and tt.cuda.current_stream(0) is default0
        x = tt.ones(2, device="cuda")
    assert x.device == tt.device("cuda", 1)
    assert tt.cuda.current_device() == 0
    assert tt.cuda.current_stream(1) is default1 and tt.cuda.current_stream() is default0
    tt.cuda.synchronize(1)
    assert gpu.entries("device_sync")[-1] == ("device_sync", 1)
