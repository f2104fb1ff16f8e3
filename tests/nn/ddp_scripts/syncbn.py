"""SyncBatchNorm on each rank's share of a batch equals BatchNorm on the whole batch: outputs, input and
parameter gradients, running statistics (run by tests/nn/test_ddp.py via mpiexec)."""

from __future__ import annotations

import numpy as np
from common import assert_close, done, gathered, setup, t

import tritensor as tt
import tritensor.distributed as dist
import tritensor.nn as nn

CASES = [  # (layer, per-sample shape, affine, momentum)
    (nn.BatchNorm1d, (3,), True, 0.1),
    (nn.BatchNorm1d, (3, 5), False, None),
    (nn.BatchNorm2d, (4, 3, 5), True, 0.3),
    (nn.BatchNorm3d, (2, 3, 2, 4), True, None),
]


def sizes(world: int) -> list[int]:
    """Uneven batches: rank r holds r + 2 samples."""
    return [r + 2 for r in range(world)]


def check_case(rank: int, world: int, seed: int, layer, shape, affine: bool, momentum, group=None) -> None:
    rng = np.random.default_rng(seed)
    counts = sizes(world)
    start = sum(counts[:rank])
    x_all = (rng.standard_normal((sum(counts), *shape)) * 3 + 2).astype(np.float32)
    g_all = rng.standard_normal(x_all.shape).astype(np.float32)
    channels = shape[0]
    reference = layer(channels, affine=affine, momentum=momentum)
    sync = nn.SyncBatchNorm(channels, affine=affine, momentum=momentum, process_group=group)
    if affine:
        weight = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        bias = rng.standard_normal(channels).astype(np.float32)
        with tt.no_grad():
            for m in (reference, sync):
                m.weight.copy_(t(weight))
                m.bias.copy_(t(bias))
    for step in range(2):
        x_ref = t(x_all + step, requires_grad=True)
        x = t(x_all[start:start + counts[rank]] + step, requires_grad=True)
        out_ref = reference(x_ref)
        out = sync(x)
        what = f"{layer.__name__}{shape} affine={affine} momentum={momentum} step {step}"
        assert_close(out, out_ref[start:start + counts[rank]], f"{what}: output", rtol=1e-5, atol=1e-5)
        (out_ref * t(g_all)).sum().backward()
        (out * t(g_all[start:start + counts[rank]])).sum().backward()
        assert_close(x.grad, x_ref.grad[start:start + counts[rank]], f"{what}: input grad", rtol=1e-4, atol=1e-5)
        if affine:
            # Each rank holds its batch's share of the parameter gradients (DDP averages them): they sum up.
            for p, q in ((sync.weight, reference.weight), (sync.bias, reference.bias)):
                assert_close(np.sum(gathered(p.grad), axis=0), q.grad, f"{what}: parameter grad", 1e-4, 1e-4)
                p.grad = None
                q.grad = None
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            assert_close(getattr(sync, name), getattr(reference, name), f"{what}: {name}", rtol=1e-5, atol=1e-6)
    sync.eval()
    reference.eval()
    x = t(x_all[:2])
    assert_close(sync(x), reference(x), f"{layer.__name__}{shape} eval", rtol=1e-5, atol=1e-5)


def check_errors() -> None:
    for bad, message in ((tt.zeros(3), "expected at least 2D input (got 1D input)"),
                         (tt.zeros(2, 0, 3), "SyncBatchNorm number of input channels should be non-zero")):
        try:
            nn.SyncBatchNorm(3)(bad)
        except ValueError as e:
            assert str(e) == message, e
        else:
            raise AssertionError(message)


def main() -> None:
    rank, world = setup()
    for seed, (layer, shape, affine, momentum) in enumerate(CASES):
        check_case(rank, world, seed, layer, shape, affine, momentum)
    check_case(rank, world, 9, *CASES[2], group=dist.new_group(list(range(world))))
    check_errors()
    done("syncbn", rank)


if __name__ == "__main__":
    main()
