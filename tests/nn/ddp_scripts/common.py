"""What the DDP rank scripts share: the process group, data shards, comparisons across ranks."""

from __future__ import annotations

import numpy as np

import tritensor as tt
import tritensor.distributed as dist


def setup() -> tuple[int, int]:
    """Join the default process group (mpiexec starts the ranks); returns (rank, world size)."""
    dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size()


def shard(x: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Rank `rank`'s equal share of the leading dimension of x."""
    n = x.shape[0] // world
    return x[rank * n:(rank + 1) * n]


def t(x: np.ndarray, requires_grad: bool = False) -> tt.Tensor:
    """A cpu tensor holding a copy of x."""
    out = tt.tensor(np.ascontiguousarray(x))
    return out.requires_grad_() if requires_grad else out


def host(x: tt.Tensor) -> np.ndarray:
    """x's values as a NumPy array."""
    return x.detach().numpy().copy()


def gathered(x: tt.Tensor) -> list[np.ndarray]:
    """x of every rank, in rank order."""
    out = [tt.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.detach().contiguous())
    return [host(o) for o in out]


def assert_same_on_all_ranks(tensors, what: str) -> None:
    """Every rank holds the same values (exactly) in each of `tensors`."""
    for i, x in enumerate(tensors):
        values = gathered(x)
        for r, v in enumerate(values):
            np.testing.assert_array_equal(v, values[0], err_msg=f"{what}[{i}]: rank {r} differs from rank 0")


def assert_close(actual, expected, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Tensors (or arrays) equal within float tolerance, element-wise."""
    a = host(actual) if isinstance(actual, tt.Tensor) else actual
    e = host(expected) if isinstance(expected, tt.Tensor) else expected
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def assert_params_close(module, reference, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Every parameter and buffer of module matches reference's (same names)."""
    ref = dict(reference.state_dict())
    for name, value in module.state_dict().items():
        assert_close(value, ref[name], f"{what}: {name}", rtol, atol)


def done(name: str, rank: int) -> None:
    """The line the pytest driver looks for, once per rank, then leave the group."""
    dist.barrier()
    print(f"OK {name} rank {rank}", flush=True)
    dist.destroy_process_group()
