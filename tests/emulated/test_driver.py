"""tritensor.cuda.driver's own calls: the device count, current device, events, and the launcher check."""

import os
import sys

import cuda.core
import pytest

import tritensor as tt
from tritensor.cuda import driver

from .fake_gpu import mirrors


def test_the_fakes_must_take_the_installed_cuda_core_signatures():
    with pytest.raises(AssertionError, match="allocate"):
        @mirrors(cuda.core.Device)
        class WrongDevice:  # stream positional: cuda.core 1.2 takes it by keyword only
            def allocate(self, size, stream):
                pass

    with pytest.raises(AssertionError, match="no 'enable_timing'"):
        @mirrors(cuda.core.Event)
        class WrongEvent:
            @property
            def enable_timing(self):
                return True

    with pytest.raises(TypeError, match="enable_timing"):
        cuda.core.EventOptions(enable_timing=True)  # the keyword the driver once used


def test_device_count_comes_from_the_cuda_driver(gpu):
    assert tt.cuda.device_count() == 2 and tt.cuda.is_available()
    assert gpu.entries("set_current") == []  # counting does not create a context
    gpu.count = 0  # cuInit fails with CUDA_ERROR_NO_DEVICE (e.g. CUDA_VISIBLE_DEVICES="")
    driver.device_count.cache_clear()
    assert tt.cuda.device_count() == 0 and not tt.cuda.is_available()
    with pytest.raises(RuntimeError, match="No CUDA GPU is available"):
        tt.ones(1, device="cuda")


def test_device_count_is_zero_without_a_driver(monkeypatch):
    def missing():
        raise OSError("libcuda.so.1: cannot open shared object file")

    monkeypatch.setattr(driver, "_cu", missing)
    driver.device_count.cache_clear()
    try:
        assert driver.device_count() == 0
    finally:
        driver.device_count.cache_clear()


def test_device_count_here_never_raises():
    driver.device_count.cache_clear()
    try:
        count = driver.device_count()  # this machine's real driver, or none
    finally:
        driver.device_count.cache_clear()
    assert isinstance(count, int) and count >= 0


def test_ensure_current_sets_a_device_only_when_it_changes(gpu):
    driver.ensure_current(1)
    driver.ensure_current(1)
    driver.ensure_current(0)
    driver.ensure_current(0)
    assert [e[1] for e in gpu.entries("set_current")] == [1, 0]
    with pytest.raises(RuntimeError, match="invalid device ordinal 2"):
        tt.ones(1, device="cuda:2")


def test_the_current_device_sets_the_sm_count_grids_fill(gpu, monkeypatch):
    from tritensor.kernels import tuning

    from .fake_gpu import FakeProperties

    monkeypatch.setattr(FakeProperties, "multiprocessor_count", property(lambda self: 108))  # an A100's
    monkeypatch.setattr(tuning, "_sm_count", tuning.sm_count())  # restored after the test
    driver.ensure_current(1)
    assert tuning.sm_count() == 108


def test_device_queries(gpu):
    assert tt.cuda.get_device_name(1) == "Emulated GPU 1"
    assert tt.cuda.get_device_capability() == (9, 0)
    assert driver.properties(0).l2_cache_size == gpu.l2_cache_size
    event = driver.timing_event(0)
    assert event.is_timing_enabled


def test_check_launcher_finds_what_this_machine_has():
    check = driver.check_launcher()
    if check.compiler is None:
        assert "no C compiler" in check.message
    else:
        assert os.path.isfile(check.compiler)
    assert check.python_include and (check.ok == (not check.problems))
    if check.libcuda_dir is None:  # no NVIDIA driver here
        assert not check.ok and "libcuda.so.1 is not in the loader cache" in check.message
        assert "ldconfig" in check.message


def test_check_launcher_names_each_missing_piece(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(driver.shutil, "which", lambda name: None)
    monkeypatch.setattr(driver, "_python_include", lambda: str(tmp_path))
    monkeypatch.setattr(driver, "_libcuda_dir", lambda: (None, "AssertionError: libcuda.so cannot found!"))
    check = driver.check_launcher()
    assert not check.ok and len(check.problems) == 3
    message = check.message
    assert message.startswith("Triton cannot build its C launcher:")
    assert "no C compiler" in message and "gcc" in message
    assert f"no Python.h in {tmp_path}" in message and "python3-dev" in message
    assert "TRITON_LIBCUDA_PATH" in message


def _headers(tmp_path):
    (tmp_path / "Python.h").write_text("")
    return str(tmp_path)


def test_check_launcher_passes_with_everything_present(monkeypatch, tmp_path):
    monkeypatch.setattr(driver, "_find_compiler", lambda: "/usr/bin/cc")
    monkeypatch.setattr(driver, "_python_include", lambda: _headers(tmp_path))
    monkeypatch.setattr(driver, "_libcuda_dir", lambda: ("/usr/lib/x86_64-linux-gnu", ""))
    check = driver.check_launcher(compile_headers=False)
    assert check.ok, check.message
    assert check.message == (f"Triton's launcher can be built: C compiler /usr/bin/cc, Python headers in "
                               f"{tmp_path}, libcuda.so.1 in /usr/lib/x86_64-linux-gnu")


def test_check_launcher_compiles_a_probe_against_python_h(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", sys.executable)  # found, but not a C compiler: the probe fails
    monkeypatch.setattr(driver, "_python_include", lambda: _headers(tmp_path))
    monkeypatch.setattr(driver, "_libcuda_dir", lambda: ("/usr/lib/x86_64-linux-gnu", ""))
    check = driver.check_launcher()
    assert check.compiler == sys.executable
    assert check.problems and all("cannot compile against Python.h" in p for p in check.problems)
