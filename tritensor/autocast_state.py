"""The switches autocast reads on every op: which device types autocast, to which dtype, and the cast cache.

They live beside grad_state, below autograd, because the backward engine suspends autocast (a backward runs
in the dtypes its forward chose, as PyTorch's does) and the op layer reads them on every eligible call;
`tt.autocast` (tritensor.amp) is the context manager that sets them. Like grad mode here, the state is
process-wide rather than per thread.
"""

from __future__ import annotations

from contextlib import contextmanager

from . import dtypes as D

# PyTorch's defaults: float16 on cuda, bfloat16 on cpu.
DEFAULT_DTYPES = {"cuda": D.float16, "cpu": D.bfloat16}


class _State:
    __slots__ = ("active", "enabled", "dtype", "cache_enabled", "nesting", "cache")

    def __init__(self):
        self.enabled = {"cuda": False, "cpu": False}
        self.dtype = dict(DEFAULT_DTYPES)
        # True while autocast is on for any device type: the one check an op pays when autocast is off.
        self.active = False
        self.cache_enabled = True
        self.nesting = 0
        # id(fp32 leaf weight) -> (weight, its lower-precision copy), for the outermost region's lifetime.
        self.cache: dict[int, tuple] = {}

    def set_enabled(self, device_type: str, enabled: bool) -> None:
        self.enabled[device_type] = bool(enabled)
        self.active = any(self.enabled.values())


state = _State()


@contextmanager
def suspended():
    """Autocast off for every device type inside (a backward pass, or the body of an op autocast already
    cast: PyTorch excludes the autocast dispatch key below an autocast kernel), restored on exit."""
    if not state.active:
        yield
        return
    saved = dict(state.enabled)
    state.enabled = dict.fromkeys(saved, False)
    state.active = False
    try:
        yield
    finally:
        state.enabled = saved
        state.active = any(saved.values())
