"""What `tritensor autotune` runs: one representative op per kernels module, and model training steps.

A workload builds its operands once for a shape and dtype and returns a callable that runs the op
once; every kernel the op launches goes through `tritensor.kernels.tuning.launch`, so running it
under a tuner tunes exactly the launches a user's call makes, with the same keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import tritensor as tt

FLOAT_DTYPES = ("fp16", "bf16", "fp32", "fp64")
DTYPES = {"fp16": tt.float16, "bf16": tt.bfloat16, "fp32": tt.float32, "fp64": tt.float64, "tf32": tt.float32}


@dataclass(frozen=True)
class Workload:
    """One benchmark: the op it runs, the shapes it takes and its default shapes."""

    kernel: str  # the kernels module it exercises (what --kernel names)
    what: str  # the op, as a user writes it
    dims: int  # sizes per shape ("4096x4096" has 2)
    default_shapes: tuple[tuple[int, ...], ...]
    build: Callable[[tuple[int, ...], str, str], Callable[[], object]]  # (shape, dtype, device) -> run
    dtypes: tuple[str, ...] = FLOAT_DTYPES


def _rand(shape, dtype: str, device: str):
    return tt.randn(*shape, device=device, dtype=DTYPES[dtype])


def _binary(op):
    def build(shape, dtype, device):
        a, b = _rand(shape, dtype, device), _rand(shape, dtype, device)
        return lambda: op(a, b)
    return build


def _unary(op):
    def build(shape, dtype, device):
        x = _rand(shape, dtype, device)
        return lambda: op(x)
    return build


def _matmul(shape, dtype, device):
    m, n, k = shape
    a, b = _rand((m, k), dtype, device), _rand((k, n), dtype, device)

    def run():
        previous = tt.get_float32_matmul_precision()
        tt.set_float32_matmul_precision("high" if dtype == "tf32" else "highest")
        try:
            return a @ b
        finally:
            tt.set_float32_matmul_precision(previous)
    return run


def _cross_entropy(shape, dtype, device):
    rows, classes = shape
    logits = _rand(shape, dtype, device)
    target = tt.randint(0, classes, (rows,), device=device)
    return lambda: tt.nn.functional.cross_entropy(logits, target)


def _gather(shape, dtype, device):
    x = _rand(shape, dtype, device)
    index = tt.randint(0, shape[1], shape, device=device)
    return lambda: tt.gather(x, 1, index)


def _masked_fill(shape, dtype, device):
    x = _rand(shape, dtype, device)
    mask = _rand(shape, "fp32", device) > 0
    return lambda: x.masked_fill(mask, 0.0)


def _adam(shape, dtype, device):
    param = tt.nn.Parameter(_rand(shape, dtype, device))
    param.grad = _rand(shape, dtype, device)
    optimizer = tt.optim.Adam([param], lr=1e-3)

    def run():
        optimizer.step()
        return param.detach()  # what the step changed, for the self test to compare across devices
    return run


SQUARE = ((4096, 4096),)
WORKLOADS = {w.kernel: w for w in [
    Workload("matmul", "a @ b", 3, ((4096, 4096, 4096), (128, 4096, 11008)), _matmul,
             ("fp16", "bf16", "fp32", "tf32")),
    Workload("elementwise", "a + b", 2, SQUARE, _binary(lambda a, b: a + b)),
    Workload("binary", "a / b", 2, SQUARE, _binary(lambda a, b: a / b)),
    Workload("exponential", "x.exp()", 2, SQUARE, _unary(lambda x: x.exp())),
    Workload("activations", "gelu(x)", 2, SQUARE, _unary(lambda x: tt.nn.functional.gelu(x))),
    Workload("reduction", "x.sum(-1)", 2, ((4096, 4096), (1, 1 << 24)), _unary(lambda x: x.sum(-1))),
    Workload("softmax", "softmax(x, -1)", 2, ((4096, 4096), (8192, 512)), _unary(lambda x: tt.softmax(x, -1))),
    Workload("loss", "cross_entropy(x, y)", 2, ((8192, 32000),), _cross_entropy),
    Workload("scan", "x.cumsum(-1)", 2, SQUARE, _unary(lambda x: x.cumsum(-1))),
    Workload("sort", "x.sort(-1)", 2, ((4096, 1024),), _unary(lambda x: x.sort(-1)), ("fp16", "bf16", "fp32")),
    Workload("shape", "x.t().contiguous()", 2, SQUARE, _unary(lambda x: x.t().contiguous())),
    Workload("gather_scatter", "x.gather(1, i)", 2, SQUARE, _gather),
    Workload("masked", "x.masked_fill(m, 0)", 2, SQUARE, _masked_fill),
    Workload("dropout", "dropout(x, 0.1)", 2, SQUARE, _unary(lambda x: tt.nn.functional.dropout(x, 0.1))),
    Workload("optim", "Adam.step()", 1, ((1 << 24,),), _adam, ("fp32",)),
]}


def parse_shapes(text: str, dims: int | None = None) -> list[tuple[int, ...]]:
    """"4096x4096,128x4096" -> [(4096, 4096), (128, 4096)]; `dims` sizes per shape when given."""
    shapes = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            shape = tuple(int(d) for d in item.split("x"))
        except ValueError:
            raise ValueError(f"bad shape {item!r}: expected sizes joined by 'x', e.g. 4096x4096") from None
        if any(d <= 0 for d in shape):
            raise ValueError(f"bad shape {item!r}: sizes must be positive")
        if dims is not None and len(shape) != dims:
            raise ValueError(f"bad shape {item!r}: this kernel takes {dims} sizes per shape")
        shapes.append(shape)
    if not shapes:
        raise ValueError("no shapes given")
    return shapes


def label(shape: tuple[int, ...], dtype: str) -> str:
    return "x".join(map(str, shape)) + f" {dtype}"


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
