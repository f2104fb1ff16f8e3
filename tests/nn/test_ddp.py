"""tt.nn.parallel.DistributedDataParallel and tt.nn.SyncBatchNorm.

The distributed behaviour runs in rank scripts (tests/nn/ddp_scripts/) under `mpiexec -n 2` (and one as an MPI
singleton, a world of one): each script asserts on values on every rank and prints `OK <script> rank <r>` at
the end. What needs no process group is tested here, in process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tritensor as tt
import tritensor.distributed as dist
import tritensor.nn as nn
import tritensor.nn.parallel
from tests.distributed.mpirun import run
from tritensor.nn.modules.batchnorm import _BatchNorm
from tritensor.nn.parallel import DistributedDataParallel
from tritensor.nn.parallel.reducer import compute_bucket_assignment_by_size

SCRIPTS = Path(__file__).resolve().parent / "ddp_scripts"


def _run_ranks(script: str, n: int | None) -> None:
    result = run(str(SCRIPTS / script), n=n, timeout=150)
    ranks = 1 if n is None else n
    name = script.removesuffix(".py")
    missing = [r for r in range(ranks) if f"OK {name} rank {r}" not in result.output]
    assert result.returncode == 0 and not missing, (f"exit status {result.returncode}, ranks without OK: {missing}"
                                                    f"\n--- output ---\n{result.output[-8000:]}")


@pytest.mark.parametrize("n", [2, None], ids=["2 ranks", "world of 1"])
def test_ddp_training_equals_single_process_training_on_the_global_batch(n):
    """MLP, CNN with SyncBatchNorm and CNN with per-rank BatchNorm (broadcast_buffers on and off): 20 SGD steps
    of DDP on shares of each batch give the weights of one process on the whole batch; state_dict keys."""
    _run_ranks("training.py", n)


def test_ddp_buckets_no_sync_unused_parameters_and_bucket_views():
    """Bucket layout and rebuild, async all_reduces from gradient hooks during backward, no_sync accumulation,
    find_unused_parameters (and the error without it), gradient_as_bucket_view, a cuda module."""
    _run_ranks("buckets.py", 2)


def test_sync_batchnorm_equals_batchnorm_on_the_concatenated_batch():
    """1d/2d/3d inputs, uneven batches per rank, affine or not, momentum or cumulative average, a new_group."""
    _run_ranks("syncbn.py", 2)


def test_ddp_first_all_reduce_starts_before_backward_reaches_the_input():
    _run_ranks("overlap.py", 2)


def test_public_names_are_pytorchs():
    assert tt.nn.parallel.DistributedDataParallel is DistributedDataParallel
    # torch.nn.parallel.__all__: the DataParallel family and DDP
    assert sorted(tritensor.nn.parallel.__all__) == sorted(["replicate", "scatter", "parallel_apply", "gather",
                                                            "data_parallel", "DataParallel", "DistributedDataParallel"])
    assert not hasattr(tt.nn.parallel, "DDP")
    assert nn.SyncBatchNorm is nn.modules.sync_batchnorm.SyncBatchNorm and "SyncBatchNorm" in nn.__all__
    assert issubclass(nn.SyncBatchNorm, _BatchNorm)


def test_ddp_without_a_process_group_raises_pytorchs_error():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match=r"^Default process group has not been initialized, please make sure to "
                                         r"call init_process_group\.$"):
        DistributedDataParallel(nn.Linear(2, 2))


def _bn_pair(cls, channels: int, **kwargs):
    reference = cls(channels, **kwargs)
    sync = nn.SyncBatchNorm(channels, **kwargs)
    with tt.no_grad():
        if reference.affine:
            reference.weight.copy_(tt.linspace(0.5, 1.5, channels))
            reference.bias.copy_(tt.linspace(-1.0, 1.0, channels))
    sync.load_state_dict(reference.state_dict())
    return reference, sync


@pytest.mark.parametrize("cls, shape, kwargs", [
    (nn.BatchNorm1d, (5, 3), {}),
    (nn.BatchNorm2d, (4, 3, 2, 5), {"momentum": None}),
    (nn.BatchNorm3d, (2, 3, 2, 2, 3), {"affine": False}),
    (nn.BatchNorm2d, (3, 3, 2, 2), {"track_running_stats": False}),
])
def test_sync_batchnorm_without_a_process_group_is_batch_norm(cls, shape, kwargs):
    """Not initialised (or a world of one, or eval mode): plain batch norm, as PyTorch's need_sync."""
    reference, sync = _bn_pair(cls, 3, **kwargs)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 2 + 1
    for _ in range(2):
        a, b = tt.tensor(x, requires_grad=True), tt.tensor(x, requires_grad=True)
        out_ref, out = reference(a), sync(b)
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), rtol=1e-6, atol=1e-6)
        (out_ref * out_ref).sum().backward()
        (out * out).sum().backward()
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(sync.state_dict()[key].numpy(), value.numpy(), rtol=1e-6)
    reference.eval()
    sync.eval()
    x = tt.tensor(x)
    with tt.no_grad():
        np.testing.assert_allclose(sync(x).numpy(), reference(x).numpy(), rtol=1e-6, atol=1e-6)


def test_sync_batchnorm_input_errors():
    with pytest.raises(ValueError, match=r"^expected at least 2D input \(got 1D input\)$"):
        nn.SyncBatchNorm(3)(tt.zeros(3))
    with pytest.raises(ValueError, match="^SyncBatchNorm number of input channels should be non-zero$"):
        nn.SyncBatchNorm(0)(tt.zeros(2, 0, 3))
    assert repr(nn.SyncBatchNorm(4)) == "SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=True, " \
                                       "track_running_stats=True)"


def test_convert_sync_batchnorm_keeps_parameters_statistics_and_modes():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.2),
                          nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, eps=1e-3, affine=False)), nn.ReLU())
    model[2][1].eval()
    with tt.no_grad():
        model[1].running_mean.fill_(0.5)
    originals = [model[1], model[2][1]]
    keys = list(model.state_dict())
    group = object()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group=group)
    assert converted is model and list(converted.state_dict()) == keys
    for old, new in zip(originals, (converted[1], converted[2][1])):
        assert type(new) is nn.SyncBatchNorm and new.process_group is group
        assert (new.num_features, new.eps, new.momentum, new.affine, new.track_running_stats) == \
            (old.num_features, old.eps, old.momentum, old.affine, old.track_running_stats)
        assert new.running_mean is old.running_mean and new.running_var is old.running_var
        assert new.num_batches_tracked is old.num_batches_tracked and new.training == old.training
        assert new.weight is old.weight and new.bias is old.bias
    assert converted[1].running_mean.numpy().tolist() == [0.5] * 4
    assert isinstance(converted[0], nn.Conv2d) and isinstance(converted[2][0], nn.Linear)
    top = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm3d(2))
    assert type(top) is nn.SyncBatchNorm and top.num_features == 2


def _t(n: int, dtype=tt.float32) -> tt.Tensor:
    return tt.zeros(n, dtype=dtype)


def test_bucket_assignment_by_size_as_pytorchs():
    tensors = [_t(32), _t(8), _t(64), _t(8), _t(16), _t(2)]  # bytes: 128, 32, 256, 32, 64, 8
    assert compute_bucket_assignment_by_size(tensors, [200]) == ([[0, 1, 2], [3, 4, 5]], [200, 200])
    # The first limit applies to the first bucket only; the last limit repeats.
    assert compute_bucket_assignment_by_size(tensors, [100, 400]) == ([[0], [1, 2, 3, 4, 5]], [100, 400])
    assert compute_bucket_assignment_by_size(tensors, [1]) == ([[i] for i in range(6)], [1] * 6)
    # One kind of tensor per bucket; buckets sorted by their smallest index.
    mixed = [_t(4), _t(4, tt.float64), _t(4), _t(4, tt.float64)]
    assert compute_bucket_assignment_by_size(mixed, [40]) == ([[0, 2], [1, 3]], [40, 40])
    # With tensor_indices (a gradient-ready order) the buckets keep their closing order.
    order = [5, 4, 3, 2, 1, 0]
    assert compute_bucket_assignment_by_size([tensors[i] for i in order], [100, 400], order) == \
        ([[5, 4, 3], [2, 1, 0]], [100, 400])
