"""Config spaces, the tuner, its on-disk cache, the GPU timer and ahead-of-time compile checks.

Importing this package loads neither triton nor the kernels modules: launch wrappers reach the
tuner through `select`, and only tuning or an AOT check imports the heavy parts.
"""

from tritensor.kernels import tuning as _tuning

from .cache import CacheWarning, DeviceInfo, TuningCache, cache_dir
from .space import Config, config_id, key_string, mode_from_env, next_pow2
from .timer import CudaEventTimer, Timer, gpu_available
from .tuner import (
    AutotuneWarning,
    Trial,
    Tuner,
    TuneResult,
    default_tuner,
    reset_default_tuner,
    select,
    select_for_launch,
)

# Every kernel launch asks this package for its config (the kernels layer cannot import it).
_tuning.install_selector(select_for_launch)


def main(argv=None) -> int:
    """The `tritensor autotune` command (see tritensor.autotune.cli)."""
    from .cli import main as cli_main

    return cli_main(argv)


__all__ = [
    "AutotuneWarning", "CacheWarning", "Config", "CudaEventTimer", "DeviceInfo", "Timer", "Trial", "TuneResult",
    "Tuner", "TuningCache", "cache_dir", "config_id", "default_tuner", "gpu_available", "key_string", "main",
    "mode_from_env", "next_pow2", "reset_default_tuner", "select", "select_for_launch",
]
