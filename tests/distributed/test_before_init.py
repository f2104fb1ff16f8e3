"""tritensor.distributed in the test process itself: what raises before init_process_group, and the argument
errors init_process_group raises before MPI starts (MPI itself is only started by the mpiexec runs)."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest

import tritensor as tt
import tritensor.distributed as dist
from tritensor.distributed import backend_mpi

NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


@pytest.fixture
def mpi_must_not_start():
    """The test must not start MPI (checked when no earlier test in this process has)."""
    before = "mpi4py.MPI" in sys.modules
    yield
    if not before:
        assert sys.modules.get("mpi4py.MPI") is None, "MPI was started before the arguments were checked"


def test_availability():
    assert dist.is_available() and dist.is_mpi_available()
    assert not dist.is_initialized()
    assert dist.group.WORLD is None and dist.GroupMember.WORLD is None
    assert dist.GroupMember.NON_GROUP_MEMBER == -100


@pytest.mark.parametrize("call", [
    lambda: dist.get_rank(), lambda: dist.get_world_size(), lambda: dist.get_backend(),
    lambda: dist.all_reduce(tt.ones(2)), lambda: dist.broadcast(tt.ones(2), src=0), lambda: dist.barrier(),
    lambda: dist.all_gather([tt.ones(2)], tt.ones(2)), lambda: dist.send(tt.ones(1), dst=1),
    lambda: dist.new_group([0]), lambda: dist.all_gather_object([None], 1),
    lambda: dist.broadcast_object_list([1]),
], ids=["get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast", "barrier", "all_gather", "send",
        "new_group", "all_gather_object", "broadcast_object_list"])
def test_calls_before_init_raise_pytorchs_error(call, mpi_must_not_start):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == NOT_INIT


def test_destroy_before_init():
    with pytest.raises(ValueError, match="Invalid process group specified"):
        dist.destroy_process_group()


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(backend="tcp"), ValueError, r"Invalid backend: 'tcp'.*'mpi' \(PyTorch's 'gloo' is an alias of it\)"),
    (dict(backend="ucc"), ValueError, "supports 'mpi' .* and 'nccl'"),
    (dict(init_method="tcp://127.0.0.1:23456"), ValueError, "init_method 'tcp://127.0.0.1:23456' is not supported"),
    (dict(init_method="file:///tmp/x"), ValueError, "launch with mpiexec"),
    (dict(store=object()), ValueError, "store= is not supported"),
    (dict(timeout=30), TypeError, "datetime.timedelta"),
])
def test_init_argument_errors_come_before_mpi(kwargs, exc, match, mpi_must_not_start):
    with pytest.raises(exc, match=match):
        dist.init_process_group(**kwargs)
    assert not dist.is_initialized()


def test_missing_mpi4py_names_the_extra(monkeypatch, mpi_must_not_start):
    monkeypatch.setattr(backend_mpi, "_MPI", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # `import mpi4py` now raises ImportError
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(RuntimeError, match=r"pip install tritensor\[distributed\]"):
        dist.init_process_group("mpi", timeout=timedelta(seconds=5))
    assert not dist.is_initialized()


def test_nccl_without_gpu_or_nccl4py_raises_before_mpi(mpi_must_not_start):
    with pytest.raises(RuntimeError, match="nccl4py|no GPUs found"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_names_match_pytorch():
    assert [op.name for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN,
                               dist.ReduceOp.MAX)] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]
    assert dist.Backend("MPI") == "mpi" and dist.Backend.NCCL == "nccl"
    assert dist.get_debug_level() in tuple(dist.DebugLevel)


def test_debug_level_from_env(monkeypatch):
    old = dist.get_debug_level()
    try:
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "detail")
        dist.set_debug_level_from_env()
        assert dist.get_debug_level() == dist.DebugLevel.DETAIL
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "LOUD")
        with pytest.raises(ValueError, match="OFF, INFO or DETAIL"):
            dist.set_debug_level_from_env()
    finally:
        dist.set_debug_level(old)


def test_gloo_names_the_mpi_backend_and_devices_have_default_backends():
    assert dist.Backend("gloo") == dist.Backend.MPI == "mpi"
    assert dist.get_default_backend_for_device("cpu") == "mpi"
    assert dist.get_default_backend_for_device(tt.device("cuda:1")) == "nccl"
    with pytest.raises(ValueError, match="Default backend not registered for device : meta"):
        dist.get_default_backend_for_device("meta")
