"""tritensor.multiprocessing: the standard API re-exported, tensors shared through Queues and spawn's semantics."""

import multiprocessing as std_mp
import pickle
import time
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import tritensor as tt
import tritensor.multiprocessing as mp

from . import _workers


def test_reexports_the_standard_api():
    for name in ("Process", "Queue", "Pool", "Pipe", "get_context", "set_start_method", "cpu_count"):
        assert getattr(mp, name) is getattr(std_mp, name)
        assert name in mp.__all__
    assert mp.get_sharing_strategy() == "file_descriptor"
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    with pytest.raises(AssertionError):
        mp.set_sharing_strategy("carrier_pigeon")


@pytest.mark.parametrize("strategy", ["file_descriptor", "file_system"])
def test_forking_pickler_shares_memory(strategy):
    mp.set_sharing_strategy(strategy)
    try:
        x = tt.arange(6.0).reshape(2, 3)
        assert not x.is_shared()
        y = pickle.loads(ForkingPickler.dumps(x))
        assert x.is_shared() and y.is_shared()
        y[1, 2] = 50.0
        x[0, 0] = -1.0
        np.testing.assert_array_equal(x.numpy(), [[-1, 1, 2], [3, 4, 50]])
        np.testing.assert_array_equal(y.numpy(), x.numpy())
        again = pickle.loads(ForkingPickler.dumps(x[:, 1]))  # a strided view of the same storage
        again.mul_(10)
        np.testing.assert_array_equal(x.numpy(), [[-1, 10, 2], [3, 40, 50]])
    finally:
        mp.set_sharing_strategy("file_descriptor")


def test_forking_pickler_keeps_dtype_grad_and_parameter_mark():
    p = tt.nn.Parameter(tt.tensor([1.0, 2.0], dtype=tt.float64))
    q = pickle.loads(ForkingPickler.dumps(p))
    assert isinstance(q, tt.nn.Parameter) and q.requires_grad and q.is_leaf and q.dtype == tt.float64
    ints = pickle.loads(ForkingPickler.dumps(tt.tensor([[7]], dtype=tt.int32)))
    assert ints.dtype == tt.int32 and ints.tolist() == [[7]]
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor which requires_grad"):
        ForkingPickler.dumps(p * 2)
    plain = pickle.loads(pickle.dumps(tt.tensor([1.0])))  # ordinary pickle still copies
    assert not plain.is_shared()


def test_queue_round_trip_is_shared_with_the_child():
    ctx = mp.get_context("fork")
    inbox, outbox = ctx.Queue(), ctx.Queue()
    x = tt.zeros(4)
    x.share_memory_()
    child = ctx.Process(target=_workers.add_one_and_reply, args=(inbox, outbox))
    child.start()
    inbox.put(x)
    try:
        total, child_saw_shared, back = outbox.get(timeout=60)
    finally:
        inbox.put(None)
        child.join(60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert total == 4.0 and child_saw_shared
    np.testing.assert_array_equal(x.numpy(), [1, 1, 1, 1])  # the parent's tensor changed in place
    back.add_(1)
    np.testing.assert_array_equal(x.numpy(), [2, 2, 2, 2])


def test_spawn_children_write_into_a_shared_tensor():
    shared = tt.zeros(2, 3)
    assert mp.spawn(_workers.fill_row, args=(shared, 10.0), nprocs=2) is None
    np.testing.assert_array_equal(shared.numpy(), [[10] * 3, [11] * 3])


def _join(ctx, seconds=120.0):
    """Join a ProcessContext, failing (after killing the children) instead of hanging past `seconds`."""
    deadline = time.monotonic() + seconds
    while not ctx.join(timeout=1.0):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail(f"children still running after {seconds} s")


def test_spawn_raises_the_child_traceback():
    ctx = mp.spawn(_workers.fail_on_rank_one, nprocs=2, join=False)
    with pytest.raises(mp.ProcessRaisedException, match="rank one failed on purpose") as info:
        _join(ctx)
    assert info.value.error_index == 1
    assert "-- Process 1 terminated with the following error:" in str(info.value)
    assert "ValueError" in str(info.value)


def test_spawn_join_false_and_exit_code():
    ctx = mp.spawn(_workers.exit_with_code, nprocs=1, join=False)
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 1
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as info:
        _join(ctx)
    assert info.value.exit_code == 3 and info.value.error_index == 0
    assert ctx.join() is True  # nothing left to join
