"""The one tuning path every kernel launch goes through.

Each kernels module declares, beside its kernel, a `Tunable`: the kernel's config space, the
heuristic config for a tuning key, and its cost model (bytes moved and FLOPs of one launch). A
launch wrapper then calls

    config = tuning.launch(TUNABLE, key, sizes, run)

where `key` is the bucketed, hashable tuning key (dtype names, sizes rounded to powers of two,
layout flags), `sizes` the launch's exact sizes for the cost model, and `run(config)` launches
the kernel(s) with one config. After the first launch of a key, choosing the config is one dict
lookup.

Which config a key gets is decided by a selector that the autotuner installs
(`tritensor.autotune` sits above this layer): it times the space on a real GPU and returns the
heuristic under Triton's interpreter or with TRITENSOR_AUTOTUNE=0. With no selector installed the
heuristic is used. Observers (the launch recorder of `tritensor autotune --model ... --dry-run`,
the launch-count tests) see every launch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Config = dict[str, Any]
Key = tuple
SpaceFn = Callable[[Key, str], Sequence[Config]]


class Cost(NamedTuple):
    """What one launch moves through DRAM and computes: the roofline's two axes."""

    bytes: float
    flops: float


@dataclass(frozen=True, eq=False)
class Tunable:
    """How one kernel (or one fixed sequence of kernels) is tuned.

    name: the tuning-cache name, "<kernels module>.<kernel>", e.g. "reduction.reduce".
    space: the candidate configs, or `fn(key, space) -> configs` when they depend on the key;
        space is "default" or "max". At least two configs, unless `single` says why one is optimal.
    heuristic: `fn(key) -> config` launched when tuning is off or has not run.
    cost: `fn(**sizes) -> Cost` for one launch with those sizes.
    repeatable: False when a launch updates its operands in place (optimizer steps, accumulating
        scatters): the tuner never times such a kernel on a user's tensors.
    single: why one config is optimal, when `space` holds just one.
    specs: the name prefix of the KernelSpecs that compile this kernel, when it is not "<name>[" (the
        tuner's AOT pruning looks the launch's spec up by it, e.g. "reduction." for reduction.sum[fp32], ...).
    """

    name: str
    space: Sequence[Config] | SpaceFn
    heuristic: Callable[[Key], Config]
    cost: Callable[..., Cost]
    repeatable: bool = True
    single: str = ""
    specs: str = ""

    def __post_init__(self):
        if not callable(self.space) and len(self.space) < 2 and not self.single:
            raise ValueError(f"{self.name}: a tuning space needs two configs or a reason (`single`) for one")

    def configs(self, key: Key, space: str = "default") -> list[Config]:
        """The candidates for `key` (static spaces serve every key and both spaces)."""
        if callable(self.space):
            return [dict(c) for c in self.space(key, space)]
        return [dict(c) for c in self.space]

    def all_configs(self) -> list[Config]:
        """Every config of a static space (what the AOT check compiles)."""
        if callable(self.space):
            raise TypeError(f"{self.name}: a key-dependent space has no static list")
        return [dict(c) for c in self.space]


class LaunchRecord(NamedTuple):
    """One launch as observers see it."""

    tunable: Tunable
    key: Key
    sizes: dict
    config: Config


# Selector: (tunable, key, sizes, run, repeatable) -> (config, remember). `remember` False keeps
# the choice out of the per-key memo (a launch that could not be timed may be tuned next time).
Selector = Callable[[Tunable, Key, dict, Callable[[Config], None], bool], tuple[Config, bool]]

_selector: Selector | None = None
_chosen: dict[tuple[int, Key], Config] = {}
_observers: list[Callable[[LaunchRecord], None]] = []
_sm_count = 132
_dry_run = False  # launches are recorded and chosen but not run (listing what a workload launches)
# Replaced by a new object whenever a remembered choice may be dropped or launches stop (or start) only running:
# a caller that repeats remembered launches itself (elementwise_flat's plans) keeps the one `epoch()` gave it and
# compares identities instead of re-reading the memo, the observers and the dry-run flag on every call. Read it,
# never set it.
epoch_token = object()


def _changed() -> None:
    global epoch_token
    epoch_token = object()


def heuristic_selector(tunable: Tunable, key: Key, sizes: dict, run, repeatable: bool) -> tuple[Config, bool]:
    """The selector used when none is installed: the heuristic, remembered."""
    return tunable.heuristic(key), True


def launch(tunable: Tunable, key: Key, sizes: dict, run: Callable[[Config], None], repeatable: bool = True) -> Config:
    """Choose the config for `key` (see the module docstring), record the launch, run it; returns the config.

    repeatable: False for a call that writes into one of its inputs (an in-place op), even when
    the kernel is otherwise safe to time.
    """
    memo = (id(tunable), key)
    config = _chosen.get(memo)
    if config is None:
        config, remember = (_selector or heuristic_selector)(tunable, key, sizes, run,
                                                             repeatable and tunable.repeatable)
        if remember:
            _chosen[memo] = config
    if _observers:
        record = LaunchRecord(tunable, key, sizes, config)
        for observer in list(_observers):
            observer(record)
    if not _dry_run:
        run(config)
    return config


def remembered(memo: tuple) -> Config | None:
    """The config `launch` remembered for memo = (id(tunable), key), or None."""
    return _chosen.get(memo)


def launches_only_run() -> bool:
    """True while a launch only runs its config: no observer records it and it is not a dry run. Only then may a
    caller that repeats remembered launches itself (elementwise_flat's plans) skip `launch`."""
    return not _observers and not _dry_run


def epoch() -> object | None:
    """`epoch_token` while `launches_only_run()`, else None. The token stays the same object exactly as long as no
    remembered choice is dropped (`install_selector`, `forget`) and no observer or dry run comes or goes (a choice,
    once remembered, is never replaced): a caller that got it may repeat the launches it remembered with it (their
    configs still chosen, still launches that only run) for as long as `tuning.epoch_token is` it."""
    return epoch_token if not _observers and not _dry_run else None


def launching() -> bool:
    """True while the calling thread is inside `launch` (the tuner's timing runs included): the launch-count
    tests check every kernel runs so. It reads the call stack, so the launch path itself pays nothing."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is launch.__code__:
            return True
        frame = frame.f_back
    return False


def install_selector(selector: Selector | None) -> None:
    """Set how configs are chosen (the autotuner installs its own) and forget every remembered choice."""
    global _selector
    _selector = selector
    _chosen.clear()
    _changed()


def forget() -> None:
    """Drop every remembered choice (after the tuning mode or cache changes)."""
    _chosen.clear()
    _changed()


def set_dry_run(dry: bool) -> bool:
    """Choose and record launches without running them (True) or run them (False); returns the old setting.

    Outputs of skipped launches hold whatever their memory held: only for listing launches.
    """
    global _dry_run
    old, _dry_run = _dry_run, bool(dry)
    _changed()
    return old


def add_observer(observer: Callable[[LaunchRecord], None]) -> None:
    """Call `observer(record)` for every launch from now on (see `launch`)."""
    _observers.append(observer)
    _changed()


def remove_observer(observer: Callable[[LaunchRecord], None]) -> None:
    """Stop calling `observer` (ValueError when it was not added)."""
    _observers.remove(observer)
    _changed()


def sm_count() -> int:
    """Streaming multiprocessors of the GPU launches go to: the number a grid must cover to fill it (an
    H100's 132 where no GPU has said otherwise, as under the interpreter)."""
    return _sm_count


def set_sm_count(count: int) -> None:
    """Called by the driver layer when a device becomes current."""
    global _sm_count
    _sm_count = int(count)


def next_pow2(n: int) -> int:
    """The shape bucket of a size: the smallest power of two >= n (0 stays 0)."""
    return 0 if n <= 0 else 1 << (int(n) - 1).bit_length()


# Bytes one thread moves in a single 128-bit access; a warp's share of a tile must reach it for wide loads.
WIDE_ACCESS_BYTES = 16
ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
            "int8": 1, "uint8": 1, "bool": 1}


def wide_warps(elements: int, itemsize: int, most: int) -> int:
    """The most warps (up to `most`) that still give each thread 16 contiguous bytes of an `elements` tile, so
    that its aligned loads are 128-bit; 0 when even one warp cannot (the tile is under 512 bytes)."""
    warps = elements * itemsize // (32 * WIDE_ACCESS_BYTES)
    return min(most, 1 << (warps.bit_length() - 1)) if warps else 0


def elementwise_cost(numel: int, itemsize: int, operands: int, flops_per_element: float = 1.0) -> Cost:
    """The cost model of a kernel that touches `operands` arrays of `numel` elements once each."""
    return Cost(float(numel) * itemsize * operands, float(numel) * flops_per_element)
