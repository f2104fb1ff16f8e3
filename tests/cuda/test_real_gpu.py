"""tt.cuda on a real GPU: what only cuda.core and the CUDA driver can answer (the memory pool's reservation,
cuMemGetInfo, timing events, stream queries, device properties, a real out-of-memory error).

Skipped without a GPU. Run on a machine with one:

    TRITON_INTERPRET=0 python -m pytest tests/cuda/test_real_gpu.py -q -n 0
"""

import gc

import numpy as np
import pytest

import tritensor as tt
from tests.conftest import INTERPRETED
from tritensor.cuda import driver


def _real_gpu() -> bool:
    return not INTERPRETED and driver.device_count() > 0


pytestmark = pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU (TRITON_INTERPRET=0 on a machine with one)")

MIB = 1 << 20


def test_allocated_memory_follows_tensors_and_the_pool_reserves_at_least_as_much():
    tt.cuda.synchronize()
    gc.collect()
    base = tt.cuda.memory_allocated()
    x = tt.empty(64 * MIB // 4, device="cuda")  # 64 MiB
    assert tt.cuda.memory_allocated() - base == 64 * MIB
    assert tt.cuda.memory_reserved() >= tt.cuda.memory_allocated()
    assert tt.cuda.max_memory_reserved() >= tt.cuda.memory_reserved()
    stats = tt.cuda.memory_stats()
    reserved = tt.cuda.memory_reserved()
    assert stats["reserved_bytes.all.current"] == reserved
    del x
    assert tt.cuda.memory_allocated() == base
    tt.cuda.empty_cache()
    assert tt.cuda.memory_reserved() < reserved  # the pool gave the freed memory back to the driver
    tt.cuda.reset_peak_memory_stats()
    assert tt.cuda.max_memory_reserved() == tt.cuda.memory_reserved()
    assert tt.cuda.max_memory_allocated() == tt.cuda.memory_allocated()


def test_mem_get_info_and_device_properties_come_from_the_driver():
    free, total = tt.cuda.mem_get_info()
    props = tt.cuda.get_device_properties()
    assert 0 < free <= total == props.total_memory
    assert props.name == tt.cuda.get_device_name() and props.name
    assert (props.major, props.minor) == tt.cuda.get_device_capability() == driver.capability(0)
    assert props.multi_processor_count == int(driver.properties(0).multiprocessor_count) > 0
    assert props.warp_size == 32 and props.L2_cache_size > 0 and props.uuid
    assert tt.cuda.is_bf16_supported() == (props.major >= 8)
    assert f"sm_{props.major}{props.minor}" in tt.cuda.get_arch_list()
    with pytest.raises(AssertionError, match="Invalid device id"):
        tt.cuda.get_device_properties(tt.cuda.device_count())
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        tt.cuda.set_device(tt.cuda.device_count())


def test_timing_events_measure_kernels_and_streams_order_work():
    x = tt.randn(2048, 2048, device="cuda")
    start, end = tt.cuda.Event(enable_timing=True), tt.cuda.Event(enable_timing=True, blocking=True)
    start.record()
    for _ in range(10):
        y = x @ x
    end.record()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) > 0.0
    with pytest.raises(ValueError, match="enable_timing=True"):
        tt.cuda.Event().elapsed_time(end)
    side = tt.cuda.Stream(priority=-1)
    side.wait_stream(tt.cuda.current_stream())
    with tt.cuda.stream(side):
        z = y * 2.0
        done = side.record_event()
    tt.cuda.current_stream().wait_event(done)
    w = z + 1.0
    np.testing.assert_allclose(w.cpu().numpy(), y.cpu().numpy() * 2.0 + 1.0, rtol=1e-6)
    tt.cuda.synchronize()
    assert side.query() and tt.cuda.current_stream().query() and done.query()


def test_an_impossible_allocation_raises_out_of_memory_and_later_ones_work():
    ooms = tt.cuda.memory_stats()["num_ooms"]
    with pytest.raises(tt.cuda.OutOfMemoryError,
                       match=r"CUDA out of memory\. Tried to allocate 65536\.00 GiB\. GPU 0 has a total capacity of"):
        tt.empty(1 << 44, device="cuda")  # 64 TiB of float32
    assert tt.cuda.memory_stats()["num_ooms"] == ooms + 1
    x = tt.ones(4, device="cuda")
    np.testing.assert_array_equal(x.cpu().numpy(), np.ones(4, np.float32))
