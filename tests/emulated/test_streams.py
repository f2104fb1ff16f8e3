"""Streams on the real-GPU code path: launches, allocation and frees follow the current stream, frees
happen on the allocation stream, wait_stream and record_stream order work across streams."""

import gc

import numpy as np

import tritensor as tt
from tritensor.cuda import driver


def _frees(gpu, storage_address):
    return [e for e in gpu.entries("free") if e[1] == storage_address]


def test_work_follows_the_current_stream(gpu):
    s = tt.cuda.Stream()
    assert s._stream._device_id == 0 and int(s._stream.handle) != 1
    x = tt.ones(4, device="cuda")
    with tt.cuda.stream(s):
        assert tt.cuda.current_stream() is s
        assert gpu.triton.get_current_stream(0) == int(s._stream.handle)  # Triton's launches use it
        y = x + 1.0
    assert tt.cuda.current_stream() is not s
    assert gpu.triton.get_current_stream(0) == 1  # back on the legacy default stream
    address = y._get_storage().data_ptr()
    assert ("allocate", address, int(s._stream.handle), 0) in gpu.log
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(4, 2.0))


def test_memory_is_freed_on_its_allocation_stream(gpu):
    s = tt.cuda.Stream()
    with tt.cuda.stream(s):
        y = tt.zeros(16, device="cuda")
    address = y._get_storage().data_ptr()
    assert y._get_storage().device_storage.stream == s._stream
    gc.collect()
    del y  # dropped while the default stream is current
    assert _frees(gpu, address) == [("free", address, int(s._stream.handle), 0)]


def test_wait_stream_records_on_the_other_stream_and_waits(gpu):
    s = tt.cuda.Stream()
    default = tt.cuda.current_stream()
    start = len(gpu.log)
    s.wait_stream(default)
    record, wait = gpu.log[start:]
    assert record[:2] == ("record", 1) and wait == ("wait", int(s._stream.handle), record[2])
    start = len(gpu.log)
    s.wait_stream(s)  # a stream is always ordered after itself
    assert gpu.log[start:] == []


def test_record_stream_defers_the_free_until_the_recorded_stream_is_done(gpu):
    s = tt.cuda.Stream()
    x = tt.ones(8, device="cuda")  # allocated on the default stream
    with tt.cuda.stream(s):
        y = x * 2.0  # s reads x
    x.record_stream(s)
    x[2:].record_stream(s)  # a view records on the same memory block: recorded once
    x.record_stream(tt.cuda.current_stream())  # the allocation stream: nothing to wait for
    address = x._get_storage().data_ptr()
    gc.collect()  # the interpreter's argument copies sit in a reference cycle until collected
    start = len(gpu.log)
    del x
    tail = [e for e in gpu.log[start:] if e[0] in ("record", "wait", "free")]
    record, wait, free = tail
    assert record[:2] == ("record", int(s._stream.handle))
    assert wait == ("wait", 1, record[2])  # the allocation stream waits for s ...
    assert free == ("free", address, 1, 0)  # ... then frees on itself
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(8, 2.0))


def test_record_stream_on_host_memory_is_a_no_op():
    x = tt.ones(3)
    x.record_stream(tt.cuda.current_stream())
    np.testing.assert_array_equal(x.numpy(), np.ones(3))


def test_del_never_raises_when_the_module_is_torn_down(gpu, monkeypatch):
    storage = driver.DeviceStorage(64, 0)
    buffer = storage.buffer
    monkeypatch.setattr(driver, "_tls", None)  # what interpreter exit leaves of module globals
    monkeypatch.setattr(driver, "_core", None)
    storage.__del__()
    storage.__del__()  # and twice
    assert not buffer.is_closed
    buffer.close()  # the fake's own leak check wants it back
    monkeypatch.undo()
    empty = driver.DeviceStorage.__new__(driver.DeviceStorage)  # __init__ failed before the allocation
    empty.__del__()


def test_device_sync_and_stream_sync_make_the_device_current(gpu):
    tt.ones(2, device="cuda:1")
    tt.cuda.synchronize(0)
    assert gpu.current == 0 and gpu.entries("device_sync")[-1] == ("device_sync", 0)
    s1 = tt.cuda.Stream("cuda:1")
    s1.synchronize()
    assert gpu.current == 1
