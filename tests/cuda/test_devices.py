"""tt.cuda's devices: the current device and its context managers, properties, availability and initialisation,
under Triton's interpreter (one device, the host) and with the two-device fake GPU on the real-GPU code path."""

import os
import threading
import types

import numpy as np
import pytest

import tritensor as tt
from tests.emulated.fake_gpu import FakeProperties
from tritensor.cuda import driver


def test_the_interpreter_is_one_device_that_is_current():
    assert tt.cuda.is_available() and tt.cuda.device_count() == 1
    assert tt.cuda.current_device() == 0
    tt.cuda.set_device(0)
    tt.cuda.set_device("cuda:0")
    tt.cuda.set_device(tt.device("cuda"))
    tt.cuda.set_device(-1)  # a negative index is a no-op, as in PyTorch
    assert tt.cuda.current_device() == 0


def test_set_device_past_the_last_device_raises_before_anything_runs():
    with pytest.raises(RuntimeError, match="CUDA error: invalid device ordinal 1"):
        tt.cuda.set_device(1)
    with pytest.raises(RuntimeError, match="invalid device ordinal 3"):
        with tt.cuda.device("cuda:3"):
            pass
    assert tt.cuda.current_device() == 0
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        tt.cuda.set_device("cpu")


def test_device_and_device_of_are_context_managers():
    with tt.cuda.device(0) as entered:
        assert entered is None and tt.cuda.current_device() == 0
    with tt.cuda.device(None), tt.cuda.device(-1):
        assert tt.cuda.current_device() == 0
    x = tt.ones(2, device="cuda")
    with tt.cuda.device_of(x), tt.cuda.device_of(tt.ones(2)):  # a cpu tensor changes nothing
        assert tt.cuda.current_device() == 0
    assert tt.cuda.device(tt.device("cuda", 0)).idx == 0


def test_device_properties_of_the_interpreter_describe_the_host():
    props = tt.cuda.get_device_properties()
    assert props.name == tt.cuda.get_device_name() == tt.cuda.get_device_name(0) == "Triton interpreter (host memory)"
    assert (props.major, props.minor) == tt.cuda.get_device_capability() == (0, 0)
    assert props.total_memory == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert props.multi_processor_count == os.cpu_count()
    assert props.warp_size == 32
    assert repr(props).startswith("_CudaDeviceProperties(name='Triton interpreter (host memory)', major=0, minor=0")
    assert tt.cuda.get_device_properties("cuda:0").name == props.name
    with pytest.raises(AssertionError, match="Invalid device id"):
        tt.cuda.get_device_properties(1)
    with pytest.raises(AssertionError, match="Invalid device id"):
        tt.cuda.get_device_name("cuda:1")
    with pytest.raises(ValueError, match="Expected a cuda device"):
        tt.cuda.get_device_capability("cpu")


def test_bf16_arch_list_and_initialisation_under_the_interpreter():
    assert tt.cuda.is_bf16_supported() and tt.cuda.is_bf16_supported(including_emulation=False)
    assert tt.cuda.get_arch_list() == ["sm_80", "sm_90"]
    tt.cuda.init()
    assert tt.cuda.is_initialized()


def test_without_any_device_availability_is_false_and_queries_raise(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.setattr(driver, "device_count", lambda: 0)
    assert not tt.cuda.is_available() and tt.cuda.device_count() == 0
    assert not tt.cuda.is_bf16_supported() and tt.cuda.get_arch_list() == []
    for query in (tt.cuda.get_device_properties, tt.cuda.get_device_name, tt.cuda.init, tt.cuda.mem_get_info,
                  lambda: tt.cuda.set_device(0)):
        with pytest.raises(RuntimeError, match="No CUDA GPU is available"):
            query()


# ------------------------------------------------------------------ the real-GPU code path (fake GPU)
def test_set_device_selects_where_cuda_tensors_go(gpu):
    tt.cuda.set_device(1)
    assert tt.cuda.current_device() == 1 and gpu.current == 1  # the device's context is current at once
    x = tt.ones(3, device="cuda")
    assert x.device == tt.device("cuda", 1)
    with tt.cuda.device(0):
        assert tt.cuda.current_device() == 0
        assert tt.zeros(2, device="cuda").device == tt.device("cuda", 0)
        with tt.cuda.device_of(x):
            assert tt.cuda.current_device() == 1
        assert tt.cuda.current_device() == 0
    assert tt.cuda.current_device() == 1
    y = x + 1.0
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(3, 2.0, np.float32))
    assert tt.cuda.memory_allocated() == tt.cuda.memory_allocated(1)  # None is the current device
    tt.cuda.set_device(0)
    assert tt.ones(1, device="cuda").device.index == 0
    with pytest.raises(RuntimeError, match="invalid device ordinal 2"):
        tt.cuda.set_device(2)
    assert tt.cuda.current_device() == 0


def test_the_current_device_is_per_thread(gpu):
    tt.cuda.set_device(1)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(tt.cuda.current_device()))
    thread.start()
    thread.join()
    assert seen == [0] and tt.cuda.current_device() == 1
    tt.cuda.set_device(0)


def _gpu_properties(gpu, monkeypatch, total=80 << 30):
    extra = dict(integrated=False, multi_gpu_board=False, max_threads_per_multiprocessor=2048, warp_size=32)
    for name, value in extra.items():
        monkeypatch.setattr(FakeProperties, name, property(lambda self, v=value: v), raising=False)
    monkeypatch.setattr(gpu.Device, "uuid", property(lambda self: f"GPU-{self._id:08d}"), raising=False)
    cu = gpu.cu()
    success = cu.CUresult.CUDA_SUCCESS
    api = types.SimpleNamespace(**vars(cu), cuDeviceGet=lambda ordinal: (success, ordinal),
                                cuDeviceTotalMem=lambda dev: (success, total + dev))
    monkeypatch.setattr(driver, "_cu", lambda: api)


def test_gpu_device_properties(gpu, monkeypatch):
    _gpu_properties(gpu, monkeypatch)
    props = tt.cuda.get_device_properties(1)
    assert (props.name, props.major, props.minor) == ("Emulated GPU 1", 9, 0)
    assert props.total_memory == (80 << 30) + 1 and props.multi_processor_count == 132
    assert props.L2_cache_size == 1 << 20 and props.uuid == "GPU-00000001" and props.warp_size == 32
    assert tt.cuda.get_device_name() == "Emulated GPU 0" and tt.cuda.get_device_capability("cuda:1") == (9, 0)
    with pytest.raises(AssertionError, match="Invalid device id"):
        tt.cuda.get_device_properties(2)


def test_gpu_bf16_support_and_arch_list_follow_the_capability(gpu):
    assert tt.cuda.is_bf16_supported() and tt.cuda.get_arch_list() == ["sm_80", "sm_90"]
    gpu.capability = (7, 5)
    assert not tt.cuda.is_bf16_supported() and not tt.cuda.is_bf16_supported(including_emulation=True)
    assert tt.cuda.get_arch_list() == ["sm_75", "sm_80", "sm_90"]
    gpu.capability = (12, 0)
    assert tt.cuda.is_bf16_supported() and tt.cuda.get_arch_list() == ["sm_80", "sm_90", "sm_120"]


def test_gpu_init_makes_the_current_device_current(gpu):
    tt.cuda.set_device(1)
    driver.ensure_current(0)  # an op on cuda:0 made its context current
    tt.cuda.init()
    assert tt.cuda.is_initialized() and gpu.current == 1
    tt.cuda.set_device(0)
