"""DDP's buckets, their all-reduces during backward, no_sync, unused parameters and gradient_as_bucket_view
(run by tests/nn/test_ddp.py via mpiexec)."""

from __future__ import annotations

import numpy as np
from common import assert_close, assert_same_on_all_ranks, done, gathered, host, setup, shard, t

import tritensor as tt
import tritensor.distributed as dist
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor.nn.parallel import DistributedDataParallel

MIB = 1024 * 1024


def mlp() -> nn.Module:
    # Parameter bytes (float32): w0 128, b0 32, w1 256, b1 32, w2 64, b2 8.
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))


def data(rank: int, world: int, seed: int = 0) -> tuple[tt.Tensor, tt.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4 * world, 4)).astype(np.float32)
    y = rng.standard_normal((4 * world, 2)).astype(np.float32)
    return t(shard(x, rank, world)), t(shard(y, rank, world))


class Recorder:
    """Logs, in order, each float all_reduce DDP issues and each gradient accumulated (hooks registered after
    DDP's, so they run after DDP's hook of the same parameter)."""

    def __init__(self, params: list) -> None:
        self.events: list[tuple] = []
        self._all_reduce = dist.all_reduce
        for i, p in enumerate(params):
            p.register_post_accumulate_grad_hook(lambda _p, i=i: self.events.append(("grad", i)))

    def __enter__(self) -> Recorder:
        def all_reduce(tensor, *args, **kwargs):
            if tensor.dtype.is_floating_point:
                self.events.append(("all_reduce", tensor.numel(), kwargs.get("async_op", False)))
            return self._all_reduce(tensor, *args, **kwargs)
        dist.all_reduce = all_reduce
        return self

    def __exit__(self, *exc) -> None:
        dist.all_reduce = self._all_reduce


def expected_buckets(params: list, order: list[int], limits: list[int]) -> list[list[int]]:
    """PyTorch's greedy assignment, written out: a bucket closes once it reaches its limit."""
    buckets, current, size, k = [], [], 0, 0
    for i in order:
        current.append(i)
        size += params[i].numel() * 4
        if size >= limits[k]:
            buckets.append(current)
            current, size, k = [], 0, min(k + 1, len(limits) - 1)
    return buckets + ([current] if current else [])


def check_bucket_layout(rank: int, world: int) -> None:
    # Default: one bucket for the first iteration, then rebuilt in the gradients' ready order (1 MiB, 25 MiB).
    ddp = DistributedDataParallel(mlp())
    params = list(ddp.parameters())
    assert ddp.reducer.bucket_indices == [[0, 1, 2, 3, 4, 5]]
    assert ddp.bucket_bytes_cap == 25 * MIB and ddp.reducer.first_bucket_bytes == MIB
    x, y = data(rank, world)
    with Recorder(params) as rec:
        F.mse_loss(ddp(x), y).backward()
    order = [i for kind, i, *_ in rec.events if kind == "grad"]
    assert sorted(order) == list(range(6))
    ddp(x)  # the next forward rebuilds the buckets
    assert ddp.reducer.bucket_indices == [order]

    # A tiny cap: several buckets, rebuilt from the ready order (rank 0's, shared by broadcast).
    cap_mb = 200 / MIB
    ddp = DistributedDataParallel(mlp(), bucket_cap_mb=cap_mb)
    params = list(ddp.parameters())
    assert ddp.reducer.bucket_indices == [[0, 1, 2, 3, 4, 5]]
    with Recorder(params) as rec:
        F.mse_loss(ddp(x), y).backward()
    order = [i for kind, i, *_ in rec.events if kind == "grad"]
    ddp(x)
    expected = expected_buckets(params, order, [200, 200])
    assert len(expected) > 1 and ddp.reducer.bucket_indices == expected, (ddp.reducer.bucket_indices, expected)
    assert ddp.reducer.bucket_sizes() == [4 * sum(params[i].numel() for i in b) for b in expected]

    # find_unused_parameters=True: buckets by size from construction, in reverse registration order.
    ddp = DistributedDataParallel(mlp(), bucket_cap_mb=cap_mb, find_unused_parameters=True)
    assert ddp.reducer.bucket_indices == [[3, 4, 5], [0, 1, 2]]
    ddp = DistributedDataParallel(mlp(), bucket_cap_mb=1e-9, find_unused_parameters=True)
    assert ddp.reducer.bucket_indices == [[5], [4], [3], [2], [1], [0]]


def check_reduction_in_backward(rank: int, world: int) -> None:
    """Each bucket's all_reduce is issued from a gradient hook (async_op=True), in bucket order, before
    backward returns, each once its bucket's last gradient is accumulated; the result is the global average."""
    tt.manual_seed(1)
    module = mlp()
    rec = Recorder(list(module.parameters()))  # hooks before DDP's: "grad i" is logged before DDP sees it
    ddp = DistributedDataParallel(module, bucket_cap_mb=1e-9, find_unused_parameters=True)  # a bucket per param
    reference = mlp()
    reference.load_state_dict(ddp.module.state_dict())
    x, y = data(rank, world)
    with rec:
        F.mse_loss(ddp(x), y).backward()
        rec.events.append(("backward returned",))
    kinds = [e[0] for e in rec.events]
    assert kinds.count("all_reduce") == 6 and kinds[-1] == "backward returned", rec.events
    assert all(e[2] for e in rec.events if e[0] == "all_reduce"), "bucket all_reduces are async_op=True"
    # Buckets go out in bucket order: [5], [4], ..., [0]; bucket [i]'s all_reduce only after "grad i".
    sizes = [e[1] for e in rec.events if e[0] == "all_reduce"]
    assert sizes == [p.numel() for p in reversed(list(ddp.parameters()))]
    launched = [i for i, k in enumerate(kinds) if k == "all_reduce"]
    for bucket, position in zip(range(5, -1, -1), launched):
        assert kinds[:position].count("grad") >= 1 and ("grad", bucket) in rec.events[:position], rec.events
    full_x, full_y = (t(np.concatenate(gathered(v))) for v in (x, y))
    F.mse_loss(reference(full_x), full_y).backward()
    for p, q in zip(ddp.parameters(), reference.parameters()):
        assert_close(p.grad, q.grad, "bucketed reduction")


def check_no_sync(rank: int, world: int, as_view: bool) -> None:
    """Two micro-batches, the first under no_sync(): the second backward reduces the accumulated sum, and
    the step equals one step on the large batch."""
    tt.manual_seed(2)
    ddp = DistributedDataParallel(mlp(), gradient_as_bucket_view=as_view)
    reference = mlp()
    reference.load_state_dict(ddp.module.state_dict())
    opt = tt.optim.SGD(ddp.parameters(), lr=0.1)
    ref_opt = tt.optim.SGD(reference.parameters(), lr=0.1)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.standard_normal((world, 2, 3, 4)).astype(np.float32)  # [rank, micro-batch, sample]
        y = rng.standard_normal((world, 2, 3, 2)).astype(np.float32)
        opt.zero_grad()
        with Recorder([]) as rec:
            with ddp.no_sync():
                (F.mse_loss(ddp(t(x[rank, 0])), t(y[rank, 0])) / 2).backward()
            assert not rec.events, "no all_reduce under no_sync"
            local = [host(p.grad) for p in ddp.parameters()]
            (F.mse_loss(ddp(t(x[rank, 1])), t(y[rank, 1])) / 2).backward()
            assert any(e[0] == "all_reduce" for e in rec.events)
        if world > 1:
            assert not np.array_equal(gathered(t(local[0]))[0], gathered(t(local[0]))[1])
        opt.step()
        ref_opt.zero_grad()
        F.mse_loss(reference(t(x.reshape(-1, 4))), t(y.reshape(-1, 2))).backward()
        for p, q in zip(ddp.parameters(), reference.parameters()):
            assert_close(p.grad, q.grad, f"no_sync accumulation (gradient_as_bucket_view={as_view})")
        ref_opt.step()
    assert_same_on_all_ranks(list(ddp.parameters()), "no_sync parameters")


class Branches(nn.Module):
    """A trunk and two heads; forward(x, use_b) uses head b only when asked."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(4, 6)
        self.a = nn.Linear(6, 2)
        self.b = nn.Linear(6, 2)

    def forward(self, x, use_b: bool):
        h = self.trunk(x).tanh()
        return self.a(h) + self.b(h) if use_b else self.a(h)


def branch_grads(reference: Branches, xs, ys, flags) -> list[np.ndarray | None]:
    """The gradients DDP must produce: the average over ranks of each rank's loss, in one process."""
    reference.zero_grad()
    loss = sum(F.mse_loss(reference(x, f), y) for x, y, f in zip(xs, ys, flags)) / len(xs)
    loss.backward()
    return [None if p.grad is None else host(p.grad) for p in reference.parameters()]


def check_unused(rank: int, world: int) -> None:
    tt.manual_seed(3)
    ddp = DistributedDataParallel(Branches(), find_unused_parameters=True, bucket_cap_mb=100 / MIB)
    reference = Branches()
    reference.load_state_dict(ddp.module.state_dict())
    rng = np.random.default_rng(7)
    xs = [t(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(world)]
    ys = [t(rng.standard_normal((3, 2)).astype(np.float32)) for _ in range(world)]
    # Head b unused on every rank, then used on rank 0 only, then on every rank.
    for flags in ([False] * world, [r == 0 for r in range(world)], [True] * world):
        ddp.zero_grad()
        F.mse_loss(ddp(xs[rank], flags[rank]), ys[rank]).backward()
        expected = branch_grads(reference, xs, ys, flags)
        for (name, p), e in zip(ddp.module.named_parameters(), expected):
            if e is None:
                assert p.grad is None, f"{name}: unused on every rank, its .grad stays None"
            else:
                assert_close(p.grad, e, f"find_unused_parameters {flags} {name}")

    # A parameter no rank used keeps the .grad it had; one used only under no_sync() has its accumulated
    # gradient reduced by the next synchronised backward.
    ddp.zero_grad()
    ddp.module.b.bias.grad = tt.full((2,), 3.0)
    F.mse_loss(ddp(xs[rank], False), ys[rank]).backward()
    assert_close(ddp.module.b.bias.grad, np.full(2, 3.0, np.float32), "globally unused: .grad untouched")
    ddp.zero_grad()
    with ddp.no_sync():
        F.mse_loss(ddp(xs[rank], True), ys[rank]).backward()
    local_b = ddp.module.b.weight.grad.clone()
    F.mse_loss(ddp(xs[rank], False), ys[rank]).backward()
    assert_close(ddp.module.b.weight.grad, np.mean(gathered(local_b), axis=0), "no_sync-only use is reduced")

    # static_graph=True: the unused head is found once, on the first iteration, and the buckets are rebuilt.
    ddp = DistributedDataParallel(Branches(), static_graph=True)
    ddp.module.load_state_dict(reference.state_dict())
    for _ in range(3):
        ddp.zero_grad()
        F.mse_loss(ddp(xs[rank], False), ys[rank]).backward()
        expected = branch_grads(reference, xs, ys, [False] * world)
        for (name, p), e in zip(ddp.module.named_parameters(), expected):
            assert (p.grad is None) if e is None else np.allclose(host(p.grad), e, rtol=1e-5, atol=1e-6), name
    assert ddp.reducer.has_rebuilt_buckets and ddp.reducer.unused_parameters == [4, 5]

    # Without find_unused_parameters the reduction never finishes: the next forward says why.
    ddp = DistributedDataParallel(Branches())
    F.mse_loss(ddp(xs[rank], False), ys[rank]).backward()
    try:
        ddp(xs[rank], False)
    except RuntimeError as e:
        message = str(e)
    else:
        raise AssertionError("expected the unfinished-reduction error")
    assert message.startswith("Expected to have finished reduction in the prior iteration before starting a new "
                              "one. This error indicates that your module has parameters that were not used in "
                              "producing loss. You can enable unused parameter detection by passing the keyword "
                              "argument `find_unused_parameters=True`"), message
    assert f"Parameter indices which did not receive grad for rank {rank}: 4 5" in message, message


def check_bucket_view(rank: int, world: int) -> None:
    """gradient_as_bucket_view=True: each .grad is a view into its bucket's flat buffer, training matches."""
    tt.manual_seed(4)
    ddp = DistributedDataParallel(mlp(), gradient_as_bucket_view=True, bucket_cap_mb=200 / MIB)
    plain = DistributedDataParallel(mlp())
    plain.module.load_state_dict(ddp.module.state_dict())
    opts = [tt.optim.SGD(m.parameters(), lr=0.1, momentum=0.5) for m in (ddp, plain)]
    for step in range(4):
        x, y = data(rank, world, seed=10 + step)
        for model, opt in zip((ddp, plain), opts):
            opt.zero_grad(set_to_none=step % 2 == 0)
            F.mse_loss(model(x), y).backward()
        buffers = [(b.buffer.data_ptr(), b.buffer.numel() * 4) for b in ddp.reducer.buckets]
        for i, p in enumerate(ddp.parameters()):
            b, slot = next((b, s) for b, bucket in enumerate(ddp.reducer.buckets)
                           for s, j in enumerate(bucket.indices) if j == i)
            assert p.grad is ddp.reducer.buckets[b].views[slot]
            start, size = buffers[b]
            assert start <= p.grad.data_ptr() < start + size
        for p, q in zip(ddp.parameters(), plain.parameters()):
            assert_close(p.grad, q.grad, f"gradient_as_bucket_view step {step}")
        for opt in opts:
            opt.step()
    assert len(ddp.reducer.buckets) > 1


def check_cuda(rank: int, world: int) -> None:
    """A cuda module (the Triton interpreter without a GPU): device_ids moves the inputs, the buckets live on
    cuda, and SyncBatchNorm on cuda inputs matches BatchNorm on the whole batch."""
    tt.manual_seed(6)
    ddp = DistributedDataParallel(nn.Sequential(mlp(), nn.BatchNorm1d(2)).to("cuda"), device_ids=[0],
                                  gradient_as_bucket_view=True)
    ddp = DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(ddp.module), device_ids=[0])
    assert ddp.device_ids == [0] and ddp.output_device == 0
    reference = nn.Sequential(mlp(), nn.BatchNorm1d(2))
    reference.load_state_dict({k: v.cpu() for k, v in ddp.module.state_dict().items()})
    x, y = data(rank, world)
    out = ddp(x)  # a cpu input, moved to cuda:0 by DDP
    assert out.device.type == "cuda" and ddp.reducer.buckets[0].buffer.device.type == "cuda"
    F.mse_loss(out, y.to("cuda")).backward()
    full_x, full_y = (t(np.concatenate(gathered(v))) for v in (x, y))
    F.mse_loss(reference(full_x), full_y).backward()
    for (name, p), q in zip(ddp.module.named_parameters(), reference.parameters()):
        assert p.grad.device.type == "cuda"
        assert_close(p.grad.cpu(), q.grad, f"cuda DDP + SyncBatchNorm grad {name}", rtol=1e-4, atol=1e-5)
    assert_close(ddp.module[1].running_var.cpu(), reference[1].running_var, "cuda running_var")


def check_model_mismatch(rank: int, world: int) -> None:
    """Replicas with different parameter lists are refused on every rank before any bucket exists."""
    for extra in (nn.Linear(2, 2), None):
        module = mlp()
        if rank == world - 1:
            if extra is not None:
                module.append(extra)  # one more parameter pair on the last rank
            else:
                module[4] = nn.Linear(8, 3)  # same count, another shape
        try:
            DistributedDataParallel(module)
        except RuntimeError as e:
            assert str(e).startswith(f"DDP expects same model across all ranks, but Rank {rank} has "), e
        else:
            assert world == 1, "a mismatched replica must be refused"


def main() -> None:
    rank, world = setup()
    check_bucket_layout(rank, world)
    check_reduction_in_backward(rank, world)
    check_no_sync(rank, world, as_view=False)
    check_no_sync(rank, world, as_view=True)
    check_unused(rank, world)
    check_bucket_view(rank, world)
    check_cuda(rank, world)
    check_model_mismatch(rank, world)
    done("buckets", rank)


if __name__ == "__main__":
    main()
