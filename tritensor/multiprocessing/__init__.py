"""tritensor.multiprocessing: Python's multiprocessing, with tensors shared through memory, as
torch.multiprocessing.

Every name of the standard `multiprocessing` module is here (Process, Queue, Pipe, Pool, get_context,
set_start_method, ...), so `import tritensor.multiprocessing as mp` replaces it. Importing this package registers
a reduction with multiprocessing's pickler: a cpu tensor put on a Queue, sent through a Pipe or passed to a
Process is moved into shared memory and the receiver sees the same memory (reductions.py). `spawn` runs a
function in several fresh processes and reports a failing child's traceback (spawn.py).
"""

from __future__ import annotations

import multiprocessing as _mp

from .reductions import get_all_sharing_strategies, get_sharing_strategy, init_reductions, set_sharing_strategy
from .spawn import (
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    SpawnContext,
    spawn,
    start_processes,
)

globals().update({name: getattr(_mp, name) for name in _mp.__all__})

__all__ = [*_mp.__all__, "ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException",
           "SpawnContext", "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn",
           "start_processes"]

init_reductions()
