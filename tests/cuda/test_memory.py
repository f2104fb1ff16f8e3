"""tt.cuda memory statistics under Triton's interpreter (cuda memory is host memory, nothing is cached) and, with
the fake GPU, on the real-GPU code path (allocations from cuda.core, the pool's reservation, cuMemGetInfo)."""

import collections
import gc
import os
import types

import numpy as np
import pytest

import tritensor as tt
from tests.emulated.fake_gpu import CudaError
from tritensor.cuda import driver

REQUIRED_KEYS = {
    "allocated_bytes.all.current", "allocated_bytes.all.peak", "allocated_bytes.all.allocated",
    "allocated_bytes.all.freed", "reserved_bytes.all.current", "reserved_bytes.all.peak",
    "active_bytes.all.current", "active_bytes.all.peak", "num_alloc_retries", "num_ooms",
    "allocation.all.current", "allocation.all.peak", "allocation.all.allocated", "allocation.all.freed",
}


@pytest.fixture(autouse=True)
def _initialised():
    tt.cuda.init()  # memory_stats() is empty until cuda is initialised, as PyTorch's


def _settled(device=None) -> int:
    gc.collect()  # the interpreter's argument copies and autograd graphs may sit in reference cycles
    return tt.cuda.memory_allocated(device)


def test_an_allocation_counts_its_bytes_rounded_up_to_512_until_its_last_view_goes():
    base = _settled()
    count = tt.cuda.memory_stats()["allocation.all.current"]
    x = tt.empty(1000, device="cuda")  # 4000 bytes
    assert tt.cuda.memory_allocated() - base == 4096
    y = tt.empty(1, dtype=tt.uint8, device="cuda")  # 1 byte: one 512-byte block, as PyTorch counts
    z = tt.empty(256, dtype=tt.float64, device="cuda")  # exactly 2048 bytes
    assert tt.cuda.memory_allocated() - base == 4096 + 512 + 2048
    assert tt.cuda.memory_stats()["allocation.all.current"] - count == 3
    view = x[10:20].view(2, 5)
    assert tt.cuda.memory_allocated() - base == 4096 + 512 + 2048  # views share their storage
    del x
    assert tt.cuda.memory_allocated() - base == 4096 + 512 + 2048  # the view keeps the memory alive
    del view
    assert tt.cuda.memory_allocated() - base == 512 + 2048
    del y, z
    assert tt.cuda.memory_allocated() == base
    assert tt.cuda.memory_stats()["allocation.all.current"] == count


def test_cpu_and_zero_byte_tensors_are_not_counted():
    base = _settled()
    stats = tt.cuda.memory_stats()
    a = tt.ones(1000)
    b = tt.empty(0, device="cuda")
    c = tt.empty(3, 0, device="cuda")
    assert tt.cuda.memory_allocated() == base
    assert tt.cuda.memory_stats()["allocation.all.allocated"] == stats["allocation.all.allocated"]
    del a, b, c


def test_replaced_memory_is_recounted_and_never_drifts():
    """A resize gives a storage new memory: `recount` counts its new size, and the statistics return exactly to
    where they were when it is freed, recounted or not."""
    base = _settled()
    x = tt.empty(100, device="cuda")
    st = x._get_storage()
    st.host, st.nbytes, st._kernel_storage = np.empty(3000, np.uint8), 3000, None
    assert tt.cuda.memory_allocated() - base == 512  # not recounted yet: the size first counted
    st.recount()
    assert tt.cuda.memory_allocated() - base == 3072
    st.host, st.nbytes = np.empty(0, np.uint8), 0
    st.recount()
    assert tt.cuda.memory_allocated() == base
    st.host, st.nbytes = np.empty(10, np.uint8), 10
    st.recount()
    assert tt.cuda.memory_allocated() - base == 512
    y = tt.empty(0, device="cuda")
    yst = y._get_storage()
    yst.host, yst.nbytes = np.empty(600, np.uint8), 600
    yst.recount()  # an empty cuda storage grown later is counted from then on
    assert tt.cuda.memory_allocated() - base == 512 + 1024
    z = tt.empty(100, device="cuda")
    z._get_storage().nbytes = 5000  # replaced without a recount
    tt.ones(3)._get_storage().recount()  # host storages are not counted
    del x, y, z, st, yst
    assert _settled() == base


def test_ops_results_and_copies_to_cuda_are_counted():
    base = _settled()
    x = tt.ones(300, device="cuda")  # 1200 bytes
    y = x * 2.0
    z = tt.from_numpy(np.arange(700, dtype=np.float32)).to("cuda")  # 2800 bytes
    assert tt.cuda.memory_allocated() - base == 1536 + 1536 + 3072
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(300, 2.0, np.float32))
    del x, y, z
    assert _settled() == base


def test_the_peak_is_kept_until_reset():
    base = _settled()
    tt.cuda.reset_peak_memory_stats()
    assert tt.cuda.max_memory_allocated() == base
    x = tt.empty(10_000, device="cuda")  # 40000 bytes -> 40448
    del x
    assert tt.cuda.memory_allocated() == base
    assert tt.cuda.max_memory_allocated() == base + 40448
    assert tt.cuda.max_memory_reserved() == base + 40448  # nothing is cached under the interpreter
    assert tt.cuda.memory_stats()["allocation.all.peak"] >= 1
    small = tt.empty(10, device="cuda")
    assert tt.cuda.max_memory_allocated() == base + 40448
    tt.cuda.reset_peak_memory_stats()
    assert tt.cuda.max_memory_allocated() == tt.cuda.memory_allocated() == base + 512
    del small
    with pytest.warns(FutureWarning, match="reset_peak_memory_stats"):
        tt.cuda.reset_max_memory_allocated()
    assert tt.cuda.max_memory_allocated() == base
    with pytest.warns(FutureWarning, match="reset_peak_memory_stats"):
        tt.cuda.reset_max_memory_cached()


def test_memory_stats_has_pytorchs_keys_sorted_and_consistent():
    keep = tt.empty(100, device="cuda")
    stats = tt.cuda.memory_stats()
    assert isinstance(stats, collections.OrderedDict)
    assert list(stats) == sorted(stats)
    assert REQUIRED_KEYS <= set(stats)
    for key in ("allocated_bytes", "allocation", "active_bytes", "reserved_bytes"):
        assert stats[f"{key}.all.allocated"] - stats[f"{key}.all.freed"] == stats[f"{key}.all.current"]
        assert stats[f"{key}.all.peak"] >= stats[f"{key}.all.current"]
    assert stats["allocated_bytes.all.current"] == tt.cuda.memory_allocated() == tt.cuda.memory_reserved()
    assert stats["active_bytes.all.current"] == stats["allocated_bytes.all.current"]
    nested = tt.cuda.memory_stats_as_nested_dict()
    assert nested["allocated_bytes"]["all"]["current"] == stats["allocated_bytes.all.current"]
    assert nested["num_ooms"] == stats["num_ooms"]
    del keep


def test_memory_stats_is_empty_until_cuda_is_initialised(monkeypatch):
    from tritensor.cuda import devices, memory

    monkeypatch.setattr(devices, "_initialized", False)  # as in a fresh process
    monkeypatch.setattr(memory, "_stats", {})
    assert not tt.cuda.is_initialized()
    assert tt.cuda.memory_stats() == collections.OrderedDict()
    x = tt.empty(1, device="cuda")  # the first cuda tensor initialises cuda
    assert tt.cuda.is_initialized() and tt.cuda.memory_stats()["allocation.all.current"] >= 1
    del x


def test_reset_accumulated_memory_stats_restarts_totals_from_zero():
    keep = tt.empty(100, device="cuda")
    gc.collect()  # nothing left over from earlier tests is freed below
    tt.cuda.reset_accumulated_memory_stats()
    stats = tt.cuda.memory_stats()
    assert stats["allocated_bytes.all.allocated"] == stats["allocated_bytes.all.freed"] == 0
    assert stats["allocation.all.allocated"] == stats["allocation.all.freed"] == 0
    assert stats["num_alloc_retries"] == stats["num_ooms"] == 0
    x = tt.empty(1, device="cuda")
    del x, keep
    gc.collect()
    stats = tt.cuda.memory_stats()
    assert stats["allocated_bytes.all.allocated"] == 512 and stats["allocation.all.allocated"] == 1
    assert stats["allocated_bytes.all.freed"] == 1024 and stats["allocation.all.freed"] == 2


def test_memory_summary_is_a_table_of_the_statistics():
    keep = tt.empty(1 << 18, device="cuda")  # 1 MiB
    summary = tt.cuda.memory_summary()
    lines = summary.splitlines()
    assert "memory summary, device ID 0" in lines[1]
    assert len({len(line) for line in lines}) == 1  # every row is as wide as the frame
    row = next(line for line in lines if line.startswith("| Allocated memory"))
    assert "KiB" in row or "MiB" in row
    assert "| Allocations" in summary and "GPU reserved memory" in summary and "CUDA OOMs: 0" in summary
    assert tt.cuda.memory_summary(0, abbreviated=True) == tt.cuda.memory_summary("cuda:0")
    del keep


def test_mem_get_info_reports_the_hosts_memory():
    free, total = tt.cuda.mem_get_info()
    assert total == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < free <= total
    assert tt.cuda.mem_get_info("cuda:0")[1] == total == tt.cuda.get_device_properties(0).total_memory


def test_empty_cache_keeps_live_tensors():
    x = tt.arange(10, device="cuda")
    before = tt.cuda.memory_allocated()
    tt.cuda.empty_cache()
    assert tt.cuda.memory_allocated() == before
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(10))


def test_an_allocation_too_large_for_memory_raises_out_of_memory_after_one_retry():
    base = _settled()
    stats = tt.cuda.memory_stats()
    with pytest.raises(tt.cuda.OutOfMemoryError, match=r"CUDA out of memory\. Tried to allocate 4096\.00 GiB\."):
        tt.empty(1 << 40, device="cuda")  # 4 TiB of float32
    assert issubclass(tt.cuda.OutOfMemoryError, RuntimeError)
    after = tt.cuda.memory_stats()
    assert after["num_ooms"] == stats["num_ooms"] + 1
    assert after["num_alloc_retries"] == stats["num_alloc_retries"] + 1
    assert tt.cuda.memory_allocated() == base
    assert "CUDA OOMs: " + str(after["num_ooms"]) in tt.cuda.memory_summary()


def test_a_failed_host_allocation_counts_nothing_and_its_retry_counts_once(monkeypatch):
    from tritensor import storage

    failures = []

    def empty(*args, **kwargs):
        if failures:
            failures.pop()
            raise MemoryError
        return np.empty(*args, **kwargs)

    monkeypatch.setattr(storage, "np", types.SimpleNamespace(empty=empty, dtype=np.dtype, uint8=np.uint8))
    base, stats = _settled(), tt.cuda.memory_stats()
    failures[:] = [1]  # fails once: the retry succeeds and is counted once
    x = tt.empty(1000, device="cuda")
    after = tt.cuda.memory_stats()
    assert tt.cuda.memory_allocated() - base == 4096
    assert after["allocation.all.current"] == stats["allocation.all.current"] + 1
    assert after["num_alloc_retries"] == stats["num_alloc_retries"] + 1 and after["num_ooms"] == stats["num_ooms"]
    failures[:] = [1, 1]  # fails twice: out of memory, nothing counted
    with pytest.raises(tt.cuda.OutOfMemoryError, match=r"Tried to allocate 3\.91 KiB\."):
        tt.empty(1000, device="cuda")
    gc.collect()
    assert tt.cuda.memory_allocated() - base == 4096
    assert tt.cuda.memory_stats()["allocation.all.current"] == stats["allocation.all.current"] + 1
    assert tt.cuda.memory_stats()["num_ooms"] == stats["num_ooms"] + 1
    del x
    assert _settled() == base
    assert tt.cuda.memory_stats()["allocation.all.current"] == stats["allocation.all.current"]


def test_an_invalid_device_raises_as_pytorch():
    tt.empty(1, device="cuda")  # cuda is initialised
    assert tt.cuda.is_initialized()
    with pytest.raises(RuntimeError, match="Invalid device argument 1"):
        tt.cuda.memory_allocated(1)
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        tt.cuda.memory_allocated("cpu")
    assert tt.cuda.memory_allocated(tt.device("cuda")) == tt.cuda.memory_allocated(0)


def test_deprecated_cached_names_warn_and_answer_the_reserved_ones():
    with pytest.warns(FutureWarning, match="memory_reserved"):
        assert tt.cuda.memory_cached() == tt.cuda.memory_reserved()
    with pytest.warns(FutureWarning, match="max_memory_reserved"):
        assert tt.cuda.max_memory_cached() == tt.cuda.max_memory_reserved()


@pytest.mark.slow
def test_a_training_loop_does_not_grow_memory():
    """100 steps of Linear + SGD on cuda: once the optimizer's cache of multi-tensor tables is full (16 entries:
    zero_grad drops the gradients, so each step's gradients are new memory), allocated memory and its peak stay
    exactly where they are."""
    tt.manual_seed(0)
    model = tt.nn.Linear(3, 2).to("cuda")
    opt = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tt.randn(4, 3, device="cuda"), tt.randn(4, 2, device="cuda")
    current, peak, losses = [], [], []
    for _ in range(100):
        opt.zero_grad()
        loss = tt.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        current.append(_settled())
        peak.append(tt.cuda.max_memory_allocated())
    assert losses[-1] < losses[0]
    assert len(set(current[20:])) == 1, current
    assert len(set(peak[20:])) == 1, peak
    del model, opt, loss
    assert _settled() < current[-1]


# ------------------------------------------------------------------ the real-GPU code path (fake GPU)
def test_gpu_allocations_are_counted_per_device_until_freed(gpu):
    base0, base1 = _settled(0), _settled(1)
    a = tt.empty(1000, device="cuda:0")
    b = tt.empty(10, device="cuda:1")
    assert tt.cuda.memory_allocated(0) - base0 == 4096 and tt.cuda.memory_allocated(1) - base1 == 512
    assert tt.cuda.memory_allocated("cuda:1") == tt.cuda.memory_allocated(tt.device("cuda", 1))
    assert tt.cuda.memory_reserved(0) == tt.cuda.memory_allocated(0)  # the fake device has no memory pool
    address = a._get_storage().data_ptr()
    del a
    assert tt.cuda.memory_allocated(0) == base0
    assert any(e[:2] == ("free", address) for e in gpu.entries("free"))
    del b
    assert tt.cuda.memory_allocated(1) == base1


class _Pool:
    """A stand-in for cuda.core's DeviceMemoryResource: pool attributes and a handle."""

    handle = "pool-handle"

    def __init__(self):
        self.attributes = types.SimpleNamespace(reserved_mem_current=1 << 21, reserved_mem_high=3 << 21)


def _driver_api(gpu, calls: list, free=1 << 30, total=80 << 30):
    """The fake GPU's cuda.bindings functions plus the memory-pool and cuMemGetInfo calls, recorded in `calls`."""
    cu = gpu.cu()
    success = cu.CUresult.CUDA_SUCCESS
    from cuda.bindings import driver as real_cu

    def record(name, result):
        def fn(*args):
            calls.append((name, *args))
            return result
        return fn

    return types.SimpleNamespace(
        **vars(cu), cuMemGetInfo=record("cuMemGetInfo", (success, free, total)),
        cuMemPoolSetAttribute=record("cuMemPoolSetAttribute", (success,)),
        cuMemPoolTrimTo=record("cuMemPoolTrimTo", (success,)),
        CUmemPool_attribute=real_cu.CUmemPool_attribute, cuuint64_t=real_cu.cuuint64_t)


def test_gpu_reserved_memory_comes_from_the_pool_and_empty_cache_trims_it(gpu, monkeypatch):
    pools = {0: _Pool(), 1: _Pool()}
    monkeypatch.setattr(gpu.Device, "memory_resource", property(lambda self: pools[self._id]), raising=False)
    calls = []
    monkeypatch.setattr(driver, "_cu", lambda: _driver_api(gpu, calls))
    keep = tt.empty(10, device="cuda:0")
    assert tt.cuda.memory_reserved() == 1 << 21 and tt.cuda.max_memory_reserved() == 3 << 21
    stats = tt.cuda.memory_stats()
    assert stats["reserved_bytes.all.current"] == 1 << 21 and stats["reserved_bytes.all.peak"] == 3 << 21
    assert stats["reserved_bytes.all.allocated"] - stats["reserved_bytes.all.freed"] == 1 << 21
    tt.cuda.reset_peak_memory_stats(0)
    attrs = {c[2].name for c in calls if c[0] == "cuMemPoolSetAttribute"}
    assert attrs == {"CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH", "CU_MEMPOOL_ATTR_USED_MEM_HIGH"}
    assert all(c[1] == "pool-handle" and int(c[3]) == 0 for c in calls if c[0] == "cuMemPoolSetAttribute")
    calls.clear()
    start = len(gpu.log)
    tt.cuda.empty_cache()
    trims = [c for c in calls if c[0] == "cuMemPoolTrimTo"]
    assert ("cuMemPoolTrimTo", "pool-handle", 0) in trims
    syncs = [e for e in gpu.log[start:] if e[0] == "device_sync"]
    assert ("device_sync", 0) in syncs  # frees queued on streams are done before the trim
    assert tt.cuda.mem_get_info(0) == (1 << 30, 80 << 30)
    del keep


def test_gpu_out_of_memory_retries_once_then_raises(gpu, monkeypatch):
    failures = []
    real_allocate = gpu.allocate

    def allocate(size, device_id, stream):
        if failures:
            failures.pop()
            raise CudaError("CUDA_ERROR_OUT_OF_MEMORY: out of memory")
        return real_allocate(size, device_id, stream)

    monkeypatch.setattr(gpu, "allocate", allocate)
    monkeypatch.setattr(driver, "_cu", lambda: _driver_api(gpu, [], free=1 << 20, total=1 << 34))
    stats = tt.cuda.memory_stats(0)
    failures[:] = [1]  # fails once: the retry succeeds
    x = tt.ones(8, device="cuda")
    np.testing.assert_array_equal(x.cpu().numpy(), np.ones(8, np.float32))
    after = tt.cuda.memory_stats(0)
    assert after["num_alloc_retries"] == stats["num_alloc_retries"] + 1 and after["num_ooms"] == stats["num_ooms"]
    failures[:] = [1, 1]  # fails twice: out of memory
    with pytest.raises(tt.cuda.OutOfMemoryError) as info:
        tt.empty(3 << 28, device="cuda")
    assert str(info.value).startswith("CUDA out of memory. Tried to allocate 3.00 GiB. GPU 0 has a total capacity "
                                      "of 16.00 GiB of which 1024.00 KiB is free.")
    assert tt.cuda.memory_stats(0)["num_ooms"] == stats["num_ooms"] + 1
    assert driver.is_out_of_memory(CudaError("CUDA_ERROR_OUT_OF_MEMORY: out of memory"))
    del x


def test_gpu_errors_other_than_out_of_memory_pass_through(gpu, monkeypatch):
    def allocate(size, device_id, stream):
        raise CudaError("CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered")

    monkeypatch.setattr(gpu, "allocate", allocate)
    stats = tt.cuda.memory_stats(0)
    with pytest.raises(CudaError, match="ILLEGAL_ADDRESS"):
        tt.empty(4, device="cuda")
    assert tt.cuda.memory_stats(0)["num_alloc_retries"] == stats["num_alloc_retries"]

