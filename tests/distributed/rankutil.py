"""What the rank scripts share: the check registry and runner, deterministic per-rank data, comparisons.

Each rank script registers its checks with `@checks.add`; `checks.main()` initialises the default group, runs
them in order on every rank (each one is collective: every rank runs the same calls), prints `PASS <name>
rank=<r>` or `FAIL <name> rank=<r>: <error>`, and on a failure aborts the whole job at once (MPI_Abort) so the
other rank is not left waiting.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")   # "cuda" tensors: host memory driven by Triton's interpreter

import re  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import timedelta  # noqa: E402

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

import tritensor as tt  # noqa: E402
import tritensor.distributed as dist  # noqa: E402

BF16 = np.dtype(ml_dtypes.bfloat16)


class Checks:
    """An ordered registry of check functions, and the runner of a rank script."""

    def __init__(self) -> None:
        self.funcs: list[Callable[[], None]] = []

    def add(self, fn: Callable[[], None]) -> Callable[[], None]:
        self.funcs.append(fn)
        return fn

    @property
    def names(self) -> list[str]:
        return [f.__name__ for f in self.funcs]

    def main(self, timeout: float = 30) -> None:
        dist.init_process_group("mpi", timeout=timedelta(seconds=timeout))
        rank = dist.get_rank()
        for fn in self.funcs:
            try:
                fn()
            except Exception as e:
                say(f"FAIL {fn.__name__} rank={rank}: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
                traceback.print_exc()
                sys.stderr.flush()
                from mpi4py import MPI
                MPI.COMM_WORLD.Abort(1)
            say(f"PASS {fn.__name__} rank={rank}")
        if dist.is_initialized():
            dist.destroy_process_group()


def say(line: str) -> None:
    """Print one line with a single write, so that the ranks' lines never interleave within a line."""
    sys.stdout.flush()
    os.write(1, (line + "\n").encode())


def rank() -> int:
    return dist.get_rank()


def world() -> int:
    return dist.get_world_size()


def host(r: int, shape: tuple, dtype, seed: int = 0) -> np.ndarray:
    """Rank r's deterministic data: small integers (products stay in range) or normal floats, per dtype."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(1000 * seed + r)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 5, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-4, 5, shape).astype(dtype)
    return (rng.standard_normal(shape) * 3).astype(dtype)


def tensor(a: np.ndarray, device: str = "cpu") -> tt.Tensor:
    """A new tensor holding a copy of `a` on `device`."""
    t = tt.from_numpy(np.array(a, copy=True))
    return t if device == "cpu" else t.to(device)


def same(t: tt.Tensor, expected: np.ndarray, what: str = "") -> None:
    """t holds exactly `expected` (values and dtype)."""
    got = t.detach().cpu().numpy()
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    g = got.astype(np.float64) if got.dtype != np.bool_ else got
    e = expected.astype(np.float64) if expected.dtype != np.bool_ else expected
    assert np.array_equal(g, e), f"{what}: got {got.tolist()}, expected {expected.tolist()}"


@contextmanager
def raises(exc: type, match: str):
    """The block raises `exc` with a message matching `match`."""
    try:
        yield
    except exc as e:
        assert re.search(match, str(e), re.S), f"{exc.__name__}({str(e)!r}) does not match {match!r}"
        return
    raise AssertionError(f"{exc.__name__} matching {match!r} was not raised")
