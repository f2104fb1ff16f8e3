"""Config spaces: what a launch config is, how it is named, keyed and split for Triton.

A Config is a plain dict: the kernel's tunable constexprs (BLOCK_M=128, ...) plus Triton's launch
options (num_warps, num_stages). Each kernels module declares its spaces next to its kernel (its
KernelSpec `configs`/`space`, or a `config_space(dtype, mode)` function) and its key function
(e.g. `matmul.tuning_key`); this module only gives them one vocabulary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tritensor.kernels.launch_spec import KernelSpec

Config = dict[str, Any]

# Keys of a Config that are options of triton.compile / the launch, not constexpr arguments.
LAUNCH_OPTIONS = ("num_warps", "num_stages", "num_ctas", "maxnreg")

MODES = ("0", "1", "max")  # TRITENSOR_AUTOTUNE: off (heuristic), tune unseen keys, tune the wide space
SPACES = ("default", "max")  # what a kernels module's config_space(dtype, space) is asked for


def space_for_mode(mode: str) -> str:
    """The config space a tuner mode searches: "max" for mode "max", "default" otherwise."""
    return "max" if mode == "max" else "default"


def split(config: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """(constexprs, launch options) of a config."""
    constexprs = {k: v for k, v in config.items() if k not in LAUNCH_OPTIONS}
    options = {k: v for k, v in config.items() if k in LAUNCH_OPTIONS}
    return constexprs, options


def freeze(config: Config) -> tuple:
    """A hashable, order-independent identity for a config."""
    return tuple(sorted((k, _plain(v)) for k, v in config.items()))


def config_id(config: Config) -> str:
    """A short readable name: constexprs in declaration order, then w<num_warps> s<num_stages>."""
    constexprs, options = split(config)
    parts = [f"{k}={_plain(v)}" for k, v in constexprs.items()]
    short = {"num_warps": "w", "num_stages": "s", "num_ctas": "ctas", "maxnreg": "maxnreg"}
    parts += [f"{short[k]}{options[k]}" for k in LAUNCH_OPTIONS if k in options]
    return " ".join(parts)


def dedupe(configs: Iterable[Config]) -> list[Config]:
    """Configs in first-seen order without repeats."""
    seen: set[tuple] = set()
    out = []
    for c in configs:
        ident = freeze(c)
        if ident not in seen:
            seen.add(ident)
            out.append(dict(c))
    return out


def spec_space(spec: KernelSpec, space: str) -> list[Config]:
    """A spec's candidates: its shipped configs, plus its wide `space` for space "max"."""
    if space == "max":
        return dedupe([*spec.configs, *spec.space])
    return dedupe(spec.configs)


def resolve_space(configs: Sequence[Config] | Callable[[str], Sequence[Config]], space: str) -> list[Config]:
    """Configs given as a list, or as a kernels module's `lambda space: config_space(dtype, space)`.

    `space` is "default" or "max" (a plain list serves both).
    """
    if space not in SPACES:
        raise ValueError(f"config space must be one of {SPACES}, not {space!r}")
    if callable(configs):
        return dedupe(configs(space))
    return dedupe(configs)


def next_pow2(n: int) -> int:
    """The shape bucket of a size: the smallest power of two >= n (0 stays 0)."""
    n = int(n)
    return 0 if n <= 0 else 1 << (n - 1).bit_length()


def key_string(key: Any) -> str:
    """The canonical JSON text of a kernel's tuning key (tuples, dtypes and NumPy scalars allowed)."""
    return json.dumps(_plain(key), sort_keys=True, separators=(",", ":"))


def mode_from_env(default: str | None = None) -> str:
    """TRITENSOR_AUTOTUNE as one of MODES; unset means `default` (or "1" if a GPU runs the kernels)."""
    value = os.environ.get("TRITENSOR_AUTOTUNE", "").strip().lower()
    if not value:
        if default is not None:
            return default
        return "0" if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0") else "1"
    if value in ("max", "2"):
        return "max"
    if value in ("0", "off", "false", "no"):
        return "0"
    if value in ("1", "on", "true", "yes"):
        return "1"
    raise ValueError(f"TRITENSOR_AUTOTUNE must be 0, 1 or max, not {value!r}")


def _plain(value: Any) -> Any:
    """JSON-ready form of a key or config value."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _plain(value.item())
    name = getattr(value, "name", None) or getattr(value, "__name__", None)
    if isinstance(name, str):  # tritensor dtypes, @triton.jit functions used as constexprs
        return name
    return str(value)
