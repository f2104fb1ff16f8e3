"""Benchmark problems for `tritensor autotune --kernel ...`: operands on the GPU and a run(config).

A kernels module can supply its own by defining
`tuning_problem(shape: tuple[int, ...], dtype: str, device_index: int) -> Problem`; matmul's is
built in here. The spec name and key a problem tunes under are the ones the launch path looks up,
so winners stored by the command line are found by training code later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .space import Config
from .tuner import ConfigSource

DTYPE_CHOICES = ("fp16", "bf16", "fp32", "tf32")  # tf32: fp32 operands on TF32 tensor cores
SPLIT_SCRATCH_LIMIT = 256 << 20  # bytes: split-K scratch beyond this cannot win anyway


@dataclass
class Problem:
    spec_name: str  # the KernelSpec the tuner keys results (and AOT-prunes) by
    key: Any  # the kernel module's tuning key for this shape
    configs: ConfigSource
    heuristic: Config
    run: Callable[[Config], None]
    flops: float  # per run, for TFLOP/s
    label: str  # e.g. "4096x4096x4096 fp16"


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """"4096x4096x4096,128x4096x11008" -> [(4096, 4096, 4096), (128, 4096, 11008)]."""
    shapes = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            dims = tuple(int(d) for d in item.split("x"))
        except ValueError:
            raise ValueError(f"bad shape {item!r}: expected sizes joined by 'x', e.g. 4096x4096x4096") from None
        if not dims or any(d <= 0 for d in dims):
            raise ValueError(f"bad shape {item!r}: sizes must be positive")
        shapes.append(dims)
    if not shapes:
        raise ValueError("no shapes given")
    return shapes


BUILT_IN = ("matmul",)  # kernels modules whose problem is built in here


def tunable_kernels() -> list[str]:
    """Short names `tritensor autotune --kernel` accepts: the built-in problems and every kernels module
    that defines tuning_problem, sorted."""
    import importlib

    from .registry import module_names

    names = set(BUILT_IN)
    for name in module_names():
        try:
            module = importlib.import_module(name)
        except Exception:  # the AOT check reports a broken module; here it is simply not tunable
            continue
        if hasattr(module, "tuning_problem"):
            names.add(name.rsplit(".", 1)[1])
    return sorted(names)


def make_problem(kernel: str, shape: tuple[int, ...], dtype: str, device_index: int = 0) -> Problem:
    from .registry import kernel_module

    module = kernel_module(kernel)
    custom = getattr(module, "tuning_problem", None)
    if custom is not None:
        return custom(shape, dtype, device_index)
    if kernel == "matmul":
        return matmul_problem(module, shape, dtype, device_index)
    raise ValueError(f"kernels module {kernel!r} defines no tuning_problem(shape, dtype, device_index); "
                     "tunable from the command line: " + ", ".join(tunable_kernels()))


def _device_array(shape: tuple[int, ...], dtype, device_index: int, rng: np.random.Generator | None):
    from tritensor.kernels.device_array import DeviceArray, contiguous_strides

    from tritensor.cuda import driver

    n = int(np.prod(shape))
    storage = driver.DeviceStorage(n * dtype.itemsize, device_index)
    if rng is not None:
        host = rng.standard_normal(n, dtype=np.float32).astype(dtype.np)
        driver.copy_host_to_device(storage, 0, host)
    return DeviceArray(storage, 0, shape, contiguous_strides(shape), dtype)


def matmul_problem(module, shape: tuple[int, ...], dtype: str, device_index: int = 0) -> Problem:
    """C (1, M, N) = A (1, M, K) @ B (1, K, N), row-major, random normal operands."""
    from tritensor import dtypes

    if len(shape) != 3:
        raise ValueError(f"matmul shapes are MxNxK, got {'x'.join(map(str, shape))}")
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"matmul dtype must be one of {DTYPE_CHOICES}, got {dtype!r}")
    M, N, K = shape
    tt = {"fp16": dtypes.float16, "bf16": dtypes.bfloat16, "fp32": dtypes.float32, "tf32": dtypes.float32}[dtype]
    rng = np.random.default_rng(0)
    a = _device_array((1, M, K), tt, device_index, rng)
    b = _device_array((1, K, N), tt, device_index, rng)
    out = _device_array((1, M, N), tt, device_index, None)
    scratch: dict[tuple, Any] = {}
    allow_tf32 = dtype == "tf32"

    def fits(config: Config) -> bool:
        want = module.scratch_shape(config, 1, M, N)
        return want is None or int(np.prod(want)) * 4 <= SPLIT_SCRATCH_LIMIT

    def run(config: Config) -> None:
        want = module.scratch_shape(config, 1, M, N)
        buf = None
        if want is not None:
            buf = scratch.get(want)
            if buf is None:
                buf = scratch[want] = _device_array(want, dtypes.float32, device_index, None)
        module.matmul(out, a, b, allow_tf32=allow_tf32, config=config, scratch=buf)

    def configs(space: str) -> list[Config]:
        return [c for c in module.config_space(tt, space) if fits(c)]

    short = {"fp16": "fp16", "bf16": "bf16", "fp32": "fp32:ieee", "tf32": "fp32:tf32"}[dtype]
    return Problem(
        spec_name=f"matmul[{short}]",
        key=module.tuning_key(M, N, K, tt, a.strides, b.strides),
        configs=configs,
        heuristic=module.heuristic_config(M, N, K, tt),
        run=run,
        flops=2.0 * M * N * K,
        label=f"{M}x{N}x{K} {dtype}",
    )
