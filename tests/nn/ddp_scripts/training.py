"""DDP training equals single-process training on the global batch (run by tests/nn/test_ddp.py via mpiexec).

Every rank trains the DDP model on its share of each global batch and, beside it, a reference model on the
whole global batch in one process; after 20 SGD steps their weights (and BatchNorm statistics) agree.
"""

from __future__ import annotations

import numpy as np
from common import assert_close, assert_params_close, assert_same_on_all_ranks, done, gathered, setup, shard, t

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor.nn.parallel import DistributedDataParallel

STEPS = 20


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2),
                         nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))


def train_mlp(rank: int, world: int) -> None:
    tt.manual_seed(10 + rank)  # different initial weights per rank: construction must broadcast rank 0's
    ddp = DistributedDataParallel(mlp())
    assert_same_on_all_ranks(list(ddp.parameters()), "broadcast parameters")
    reference = mlp()
    reference.load_state_dict(ddp.module.state_dict())
    opt = tt.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ref_opt = tt.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        x = rng.standard_normal((12, 6)).astype(np.float32)  # 12: shared evenly by 1, 2, 3 or 4 ranks
        y = rng.standard_normal((12, 3)).astype(np.float32)
        opt.zero_grad()
        F.mse_loss(ddp(t(shard(x, rank, world))), t(shard(y, rank, world))).backward()
        opt.step()
        ref_opt.zero_grad()
        F.mse_loss(reference(t(x)), t(y)).backward()
        ref_opt.step()
    assert_params_close(ddp.module, reference, "mlp after 20 steps")
    assert_same_on_all_ranks(list(ddp.parameters()), "mlp parameters")
    assert list(ddp.state_dict()) == ["module." + k for k in reference.state_dict()]


def train_cnn_sync_bn(rank: int, world: int) -> None:
    tt.manual_seed(20 + rank)
    ddp = DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(cnn()))
    assert isinstance(ddp.module[1], nn.SyncBatchNorm) and isinstance(ddp.module[4], nn.SyncBatchNorm)
    reference = cnn()  # plain BatchNorm on the global batch
    reference.load_state_dict(ddp.module.state_dict())
    opt = tt.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = tt.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(STEPS):
        x = rng.standard_normal((12, 3, 6, 6)).astype(np.float32)
        y = rng.integers(0, 3, 12)
        opt.zero_grad()
        F.cross_entropy(ddp(t(shard(x, rank, world))), t(shard(y, rank, world))).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(reference(t(x)), t(y)).backward()
        ref_opt.step()
    # Weights, biases, running statistics and num_batches_tracked: all as one process on the global batch.
    assert_params_close(ddp.module, reference, "cnn (SyncBatchNorm) after 20 steps", rtol=2e-5, atol=2e-6)
    assert_same_on_all_ranks(list(ddp.module.state_dict().values()), "cnn state")
    ddp.eval()
    reference.eval()
    x = t(np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32))
    with tt.no_grad():
        assert_close(ddp(x), reference(x), "cnn eval output", rtol=2e-5, atol=2e-6)


def train_cnn_local_bn(rank: int, world: int) -> None:
    """Plain BatchNorm under DDP normalises each rank's batch by itself: the reference averages the losses of
    the per-rank batches. broadcast_buffers=True hands rank 0's running statistics to every rank before each
    forward; with False each rank keeps its own."""
    for broadcast in (True, False):
        tt.manual_seed(30)
        ddp = DistributedDataParallel(cnn(), broadcast_buffers=broadcast)
        reference = cnn()
        reference.load_state_dict(ddp.module.state_dict())
        opt = tt.optim.SGD(ddp.parameters(), lr=0.1)
        ref_opt = tt.optim.SGD(reference.parameters(), lr=0.1)
        rng = np.random.default_rng(3)
        for _ in range(3):
            x = rng.standard_normal((world, 4, 3, 6, 6)).astype(np.float32)  # x[r]: rank r's batch
            y = rng.integers(0, 3, (world, 4))
            opt.zero_grad()
            F.cross_entropy(ddp(t(x[rank])), t(y[rank])).backward()
            opt.step()
            ref_opt.zero_grad()
            loss = sum(F.cross_entropy(reference(t(x[r])), t(y[r])) for r in range(world)) / world
            loss.backward()
            ref_opt.step()
        for (name, p), (_, q) in zip(ddp.module.named_parameters(), reference.named_parameters()):
            assert_close(p, q, f"local-BN cnn {name}")
        before = gathered(ddp.module[1].running_mean)
        if world > 1:
            assert not np.array_equal(before[0], before[1]), "each rank updated its statistics with its batch"
        ddp.eval()
        with tt.no_grad():
            ddp(t(np.zeros((1, 3, 6, 6), np.float32)))  # eval: the statistics are read, not updated
        after = gathered(ddp.module[1].running_mean)
        for r in range(world):
            np.testing.assert_array_equal(after[r], before[0] if broadcast else before[r])


def main() -> None:
    rank, world = setup()
    train_mlp(rank, world)
    train_cnn_sync_bn(rank, world)
    train_cnn_local_bn(rank, world)
    done("training", rank)


if __name__ == "__main__":
    main()
