"""Debug levels, as torch.distributed's (`TORCH_DISTRIBUTED_DEBUG=OFF|INFO|DETAIL`), and the DETAIL check that every
rank calls the same collective with tensors of the same size and dtype.

What is detected when:
- always, on each rank alone: argument errors (list lengths, output sizes against input sizes, non-contiguous
  tensors, devices), before any communication;
- always, by MPI: a receive buffer smaller than the message (MPI_ERR_TRUNCATE becomes a RuntimeError naming the
  operation), and a `recv` whose message has a different size from the tensor;
- always, by the timeout: a rank that never joins (or joins a different collective that cannot match);
- with DETAIL: before every collective, one small MPI_Allreduce compares (operation, numel, dtype, root) across the
  group and raises RuntimeError on every rank when they differ, instead of a corrupt result or a hang.
"""

from __future__ import annotations

import enum
import os

import numpy as np

from . import backend_mpi
from .work import Work

__all__ = ["DebugLevel", "get_debug_level", "set_debug_level", "set_debug_level_from_env"]


class DebugLevel(enum.IntEnum):
    """How much tritensor.distributed checks: OFF, INFO or DETAIL (the cross-rank consistency check)."""

    OFF = 0
    INFO = 1
    DETAIL = 2


def _from_env() -> DebugLevel:
    raw = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper() or "OFF"
    if raw not in DebugLevel.__members__:
        raise ValueError(f"The value of TORCH_DISTRIBUTED_DEBUG must be OFF, INFO or DETAIL, got {raw!r}")
    return DebugLevel[raw]


_level = _from_env()


def get_debug_level() -> DebugLevel:
    """The current debug level (from TORCH_DISTRIBUTED_DEBUG at import, or set_debug_level)."""
    return _level


def set_debug_level(level: DebugLevel) -> None:
    """Set the debug level; DETAIL checks that every rank's collective matches before it runs."""
    global _level
    _level = DebugLevel(level)


def set_debug_level_from_env() -> None:
    """Read the debug level again from the TORCH_DISTRIBUTED_DEBUG environment variable."""
    set_debug_level(_from_env())


_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
_FIELDS = ("operation", "numel", "dtype", "root")


def check_consistent(pg, op: str, numel: int, dtype, root: int = -1) -> None:
    """With DEBUG DETAIL: raise RuntimeError on every rank if the ranks of `pg` disagree on the collective.

    `numel` -1 skips the size (operations whose per-rank sizes may differ)."""
    if _level < DebugLevel.DETAIL:
        return
    name = getattr(dtype, "name", str(dtype))
    fields = [sum(ord(c) * 31 ** i for i, c in enumerate(op)) % (1 << 40), numel,
              _DTYPES.index(name) if name in _DTYPES else len(_DTYPES), root]
    buf = np.array(fields + [-f for f in fields], dtype=np.int64)
    MPI = backend_mpi.mpi()
    Work(f"{op} (debug check)", [pg._comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.MAX)], pg.timeout,
         rank=pg.rank()).wait()
    hi, lo = buf[:4], -buf[4:]
    bad = [f"{_FIELDS[i]}" for i in range(4) if hi[i] != lo[i]]
    if bad:
        raise RuntimeError(f"Detected mismatch between collectives on ranks: rank {pg.rank()} of group "
                           f"{pg.group_name!r} is running {op} (numel {numel}, dtype {name}, root {root}), but the "
                           f"ranks disagree on: {', '.join(bad)}")
