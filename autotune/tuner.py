"""The tuner: pick the fastest config of a kernel for a key, once, and remember it.

    tuner.select("matmul[fp16]", matmul.tuning_key(...), lambda space: matmul.config_space(dtype, space),
                 run, heuristic=matmul.heuristic_config(M, N, K, dtype))

`run(config)` launches the kernel once with that config; configs are a list or a function of the
space name ("default" or "max"). The mode (TRITENSOR_AUTOTUNE) decides: "0" returns the heuristic
config and never times; "1" tunes a key the first time it is seen, over the "default" space; "max"
over the "max" space. Tuning prunes configs that cannot fit (AOT resource
check), times the rest, keeps the fastest in memory and in the on-disk cache; a key found in either
is never timed again.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cache import DeviceInfo, TuningCache
from .registry import spec_for
from .space import MODES, Config, config_id, dedupe, key_string, mode_from_env, resolve_space, space_for_mode
from .timer import Timer

ConfigSource = Sequence[Config] | Callable[[str], Sequence[Config]]
Pruner = Callable[[str, list[Config]], list[Config]]


class AutotuneWarning(UserWarning):
    """Tuning a kernel failed (its timer or every config); the heuristic config runs instead."""


@dataclass
class Trial:
    config: Config
    time_ms: float | None  # None when the config failed to run
    error: str | None = None
    gbps: float | None = None  # achieved DRAM throughput by the kernel's cost model
    tflops: float | None = None


@dataclass
class TuneResult:
    spec_name: str
    key: Any
    best: Config
    best_ms: float
    trials: list[Trial] = field(default_factory=list)
    pruned: list[Config] = field(default_factory=list)  # dropped before timing (resources)
    cost: tuple[float, float] | None = None  # (bytes, flops) of one run
    heuristic: Config | None = None  # what runs untuned (timed too, when given)

    def trial_of(self, config: Config) -> Trial | None:
        """The trial that timed `config`, if any."""
        return next((t for t in self.trials if t.config == config), None)


def current_device(index: int = 0) -> DeviceInfo:
    from tritensor.cuda import driver

    return DeviceInfo(driver.name(index), driver.capability(index))


class Tuner:
    """Selects configs for (kernel, key) pairs; see the module docstring.

    timer: times one config (default: CudaEventTimer on device 0, created on first use).
    cache: the on-disk winners (default: TuningCache() under the user cache dir).
    mode: "0", "1" or "max" (default: TRITENSOR_AUTOTUNE).
    device: what results are keyed by (default: the current CUDA device).
    pruner: (spec_name, configs) -> configs that may run (default: the AOT resource check).
    in_place: also time launches that update their operands (benchmark runs, where values do not matter).
    refresh: tune every key a launch brings, even one the cache holds (benchmark runs).
    """

    def __init__(self, timer: Timer | None = None, cache: TuningCache | None = None, mode: str | None = None,
                 device: DeviceInfo | None = None, pruner: Pruner | None = None, progress: bool = False,
                 in_place: bool = False, refresh: bool = False):
        self.mode = mode_from_env() if mode is None else str(mode)
        if self.mode not in MODES:
            raise ValueError(f"autotune mode must be one of {MODES}, not {self.mode!r}")
        self._timer = timer
        self.cache = cache if cache is not None else TuningCache()
        self._device = device
        self.pruner = pruner if pruner is not None else self.aot_prune
        self.progress = progress
        self.in_place = in_place
        self.refresh = refresh
        self.results: list[TuneResult] = []  # every tuning this tuner ran, in order
        self._memory: dict[tuple[str, str, str], Config] = {}
        self._lock = threading.RLock()

    @property
    def timer(self) -> Timer:
        if self._timer is None:
            from .timer import CudaEventTimer

            self._timer = CudaEventTimer()
        return self._timer

    @property
    def device(self) -> DeviceInfo:
        if self._device is None:
            self._device = current_device()
        return self._device

    # ------------------------------------------------------------ selection
    def select(self, spec_name: str, key: Any, configs: ConfigSource, run: Callable[[Config], None],
               heuristic: Config | None = None) -> Config:
        """The config to launch `spec_name` with for `key` (tuning it first if this mode says so)."""
        if self.mode == "0":
            return dict(heuristic) if heuristic is not None else resolve_space(configs, "default")[0]
        memo = (spec_name, key_string(key), self.mode)
        hit = self._memory.get(memo)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._memory.get(memo)
            if hit is not None:
                return hit
            # A "max" winner also serves mode "1"; a "default" winner is not good enough for "max".
            spaces = ("max",) if self.mode == "max" else ("default", "max")
            entry = self.cache.get(spec_name, self.device, key, spaces)
            if entry is not None:
                chosen = dict(entry["config"])
            else:
                chosen = self.tune(spec_name, key, configs, run, heuristic=heuristic).best
            self._memory[memo] = chosen
            return chosen

    def select_launch(self, tunable: Any, key: Any, sizes: dict, run: Callable[[Config], None],
                      repeatable: bool) -> tuple[Config, bool]:
        """The selector `tritensor.kernels.tuning.launch` calls on a key's first launch: (config, remember)."""
        heuristic = tunable.heuristic(key)
        if self.mode == "0" or interpreting():
            return heuristic, True
        try:
            spaces = ("max",) if self.mode == "max" else ("default", "max")
            entry = None if self.refresh else self.cache.get(tunable.name, self.device, key, spaces)
            if entry is not None:
                return dict(entry["config"]), True
            if not (repeatable or self.in_place):
                # Never timed on a user's tensors; the heuristic stays until a benchmark run tunes it.
                return heuristic, not tunable.repeatable
            cost = tunable.cost(**sizes)
            spec = spec_for(tunable.name, key, tunable.specs)
            return self.tune(tunable.name, key, lambda space: tunable.configs(key, space), run,
                             heuristic=heuristic, cost=cost, prune_as=None if spec is None else spec.name).best, True
        except Exception as exc:  # the op must run even when its tuning cannot
            warnings.warn(f"autotuning {tunable.name} for {key_string(key)} failed ({type(exc).__name__}: {exc}); "
                          "using the heuristic config", AutotuneWarning, stacklevel=3)
            return heuristic, True

    def tune(self, spec_name: str, key: Any, configs: ConfigSource, run: Callable[[Config], None],
             heuristic: Config | None = None, store: bool = True, progress: bool | None = None,
             cost: tuple[float, float] | None = None, prune_as: str | None = None) -> TuneResult:
        """Prune, time every remaining config, store the fastest: always measures (the CLI's entry).

        prune_as: the KernelSpec whose AOT build decides which configs fit (default: `spec_name`'s own)."""
        space = space_for_mode(self.mode)
        candidates = resolve_space(configs, space)
        if heuristic is not None:  # tuning must never end up slower than not tuning
            candidates = dedupe([dict(heuristic), *candidates])
        if not candidates:
            raise ValueError(f"{spec_name}: no configs to tune")
        kept = self.pruner(prune_as or spec_name, candidates) or candidates  # nothing fits: let launches decide
        pruned = [c for c in candidates if c not in kept]
        trials = []
        iterator: Any = kept
        if self.progress if progress is None else progress:
            from tqdm.auto import tqdm

            iterator = tqdm(kept, desc=f"tuning {spec_name}", unit="config", leave=False)
        for config in iterator:
            try:
                ms = float(self.timer.measure(run, config))
                trials.append(_trial(config, ms, cost))
            except Exception as exc:  # out of resources, launch failure: this config is not a candidate
                trials.append(Trial(dict(config), None, f"{type(exc).__name__}: {exc}"))
        timed = [t for t in trials if t.time_ms is not None]
        if not timed:
            errors = "; ".join(f"{config_id(t.config)}: {t.error}" for t in trials[:3])
            raise RuntimeError(f"{spec_name}: no config ran for key {key_string(key)} ({errors})")
        best = min(timed, key=lambda t: t.time_ms)
        if store:
            self.cache.put(spec_name, self.device, key, best.config, best.time_ms, space=space,
                           throughput={"gbps": best.gbps, "tflops": best.tflops})
            self._memory[(spec_name, key_string(key), self.mode)] = dict(best.config)
        result = TuneResult(spec_name, key, dict(best.config), best.time_ms, trials, pruned,
                            None if cost is None else (float(cost[0]), float(cost[1])),
                            None if heuristic is None else dict(heuristic))
        self.results.append(result)
        return result

    # ------------------------------------------------------------ pruning
    def aot_prune(self, spec_name: str, configs: list[Config]) -> list[Config]:
        """Drop configs that spill or exceed shared memory on this device (AOT compile, cached)."""
        from . import aot
        from .registry import find_spec

        spec = find_spec(spec_name)
        if spec is None or not aot.is_compilable(spec.kernel):
            return configs
        capability = self.device.capability
        shared_limit = None
        try:
            from tritensor.cuda import driver

            shared_limit = int(driver.properties(0).max_shared_memory_per_block_optin)
        except Exception:  # no live device: the target's table value applies
            pass
        return aot.prune(configs, spec, capability[0] * 10 + capability[1], shared_limit)


def _trial(config: Config, ms: float, cost: tuple[float, float] | None) -> Trial:
    if not math.isfinite(ms):
        return Trial(dict(config), None, "non-finite time")
    if cost is None or ms <= 0:
        return Trial(dict(config), ms)
    return Trial(dict(config), ms, None, cost[0] / ms / 1e6, cost[1] / ms / 1e9)


def interpreting() -> bool:
    """True when kernels run in Triton's interpreter, where timings mean nothing."""
    from tritensor.device import interpreting as device_interpreting

    return device_interpreting()


_default: Tuner | None = None
_default_lock = threading.Lock()


def default_tuner() -> Tuner:
    """The process-wide tuner the launch wrappers share (mode from TRITENSOR_AUTOTUNE)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Tuner()
        return _default


def reset_default_tuner(tuner: Tuner | None = None) -> None:
    """Replace the process-wide tuner (None: a new one from TRITENSOR_AUTOTUNE on next use) and forget
    every config launches remembered."""
    global _default
    from tritensor.kernels import tuning

    with _default_lock:
        _default = tuner
    tuning.forget()


def select_for_launch(tunable: Any, key: Any, sizes: dict, run: Callable[[Config], None],
                      repeatable: bool) -> tuple[Config, bool]:
    """The selector installed into `tritensor.kernels.tuning`: default_tuner().select_launch(...)."""
    return default_tuner().select_launch(tunable, key, sizes, run, repeatable)


def select(spec_name: str, key: Any, configs: ConfigSource, run: Callable[[Config], None],
           heuristic: Config | None = None) -> Config:
    """default_tuner().select(...)."""
    return default_tuner().select(spec_name, key, configs, run, heuristic)
