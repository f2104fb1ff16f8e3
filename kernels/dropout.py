"""Dropout: a Philox mask (tl.rand(seed, offsets)) fused with the 1 / (1 - p) scaling.

Element i of a contiguous buffer is kept when tl.rand(seed, i) < 1 - p. The mask is a pure function
of (seed, i), so nothing is stored: the backward runs the same kernel on the incoming gradient with
the forward's seed and regenerates the identical mask (dropout is linear: grad_x = dropout(grad)).

`philox_uniform` reproduces tl.rand bit for bit in NumPy (Philox4x32-10 on the counter (i, 0, 0, 0)
with key (seed_lo, seed_hi), then Triton's uint32 -> [0, 1) conversion), so the cpu reference and the
Triton kernel drop the same elements for the same seed. Seeds are in [0, 2**31).
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import cast_to, compute_type
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4


def _dropout_cost(numel: int, itemsize: int) -> Cost:
    # One read and one write per element; Philox-4x32-10 is ~10 rounds of two multiplies.
    return Cost(2.0 * numel * itemsize, 20.0 * numel)


# The mask depends only on (seed, position), never on the block size, so every config draws the same mask.
DROPOUT_TUNING = Tunable(
    "dropout.dropout",
    space=[dict(BLOCK=BLOCK, num_warps=NUM_WARPS), dict(BLOCK=512, num_warps=4), dict(BLOCK=2048, num_warps=8),
           dict(BLOCK=4096, num_warps=8)],
    heuristic=lambda key: dict(BLOCK=BLOCK, num_warps=NUM_WARPS),
    cost=_dropout_cost,
    specs="dropout[",
)


@fast_jit
def dropout_kernel(
    out_ptr,  # (numel,) contiguous output
    x_ptr,  # (numel,) contiguous input (or the incoming gradient, in backward)
    numel,
    seed,  # Philox key
    p_keep,  # probability of keeping an element (fp32)
    scale_hi, scale_lo,  # 1 / p_keep as an fp32 pair (fp64 inputs get ~48 bits of it)
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    x = compute_type(tl.load(x_ptr + offs, mask=mask, other=0.0))
    keep = tl.rand(seed, offs) < p_keep
    if x.dtype == tl.float64:
        scale = (tl.zeros_like(x) + scale_hi) + scale_lo
    else:
        scale = scale_hi
    tl.store(out_ptr + offs, cast_to(tl.where(keep, x * scale, 0.0), out_ptr.dtype.element_ty), mask=mask)


def _split(value: float) -> tuple[float, float]:
    hi = float(np.float32(value))
    return hi, float(value) - hi


def _dense(a: DeviceArray) -> bool:
    """Row-major contiguous, ignoring the strides of size-1 dims."""
    expected = 1
    for n, st in zip(reversed(a.shape), reversed(a.strides)):
        if n != 1 and st != expected:
            return False
        expected *= n
    return True


def dropout(out: DeviceArray, x: DeviceArray, p: float, seed: int) -> None:
    """out = x * mask / (1 - p) for contiguous x and out (fp16/bf16/fp32/fp64); p in [0, 1)."""
    numel = x.numel()
    if numel == 0:
        return
    if not (_dense(x) and _dense(out)):
        raise ValueError("dropout needs contiguous operands (the mask is indexed by linear position)")
    x, out = x.view_as((numel,), (1,)), out.view_as((numel,), (1,))
    p_keep = 1.0 - p
    scale = _split(1.0 / p_keep)

    def run(config):
        dropout_kernel[(triton.cdiv(numel, config["BLOCK"]),)](out, x, numel, int(seed), p_keep, *scale, **config)

    # In place (out is x), each timing trial would drop and rescale the already dropped values again.
    tuning.launch(DROPOUT_TUNING, (x.dtype.name, next_pow2(numel)), dict(numel=numel, itemsize=x.dtype.itemsize),
                  run, repeatable=out.storage is not x.storage)


# dropout is linear in x with a mask fixed by the seed: its backward is itself, on the gradient.
dropout_backward = dropout


# ---------------------------------------------------------------- NumPy references
_PHILOX_KEY_A, _PHILOX_KEY_B = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_PHILOX_ROUND_A, _PHILOX_ROUND_B = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)


def philox_uniform(seed: int, offsets: np.ndarray) -> np.ndarray:
    """tl.rand(seed, offsets) for int32 offsets: float32 uniforms in [0, 1)."""
    c0 = np.asarray(offsets).astype(np.uint32)
    c1 = np.zeros_like(c0)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0 = np.uint32(seed & 0xFFFFFFFF)
    k1 = np.uint32((seed >> 32) & 0xFFFFFFFF)
    low = np.uint64(0xFFFFFFFF)
    with np.errstate(over="ignore"):
        for _ in range(10):
            prod_b = _PHILOX_ROUND_B * c2.astype(np.uint64)
            prod_a = _PHILOX_ROUND_A * c0.astype(np.uint64)
            c0, c1, c2, c3 = ((prod_b >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0, (prod_b & low).astype(np.uint32),
                              (prod_a >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1, (prod_a & low).astype(np.uint32))
            k0 = np.uint32(k0 + _PHILOX_KEY_A)
            k1 = np.uint32(k1 + _PHILOX_KEY_B)
    r = c0.view(np.int32)
    r = np.where(r < 0, ~r, r)
    return r.astype(np.float32) * np.float32(4.6566127342e-10)


def dropout_mask_ref(shape: tuple, p: float, seed: int) -> np.ndarray:
    """The kept elements (bool, row-major positions), as the kernel draws them."""
    n = int(np.prod(shape, dtype=np.int64))
    return (philox_uniform(seed, np.arange(n, dtype=np.int64)) < np.float32(1.0 - p)).reshape(shape)


def dropout_ref(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    keep = dropout_mask_ref(x.shape, p, seed)
    if x.dtype == np.float64:
        return np.where(keep, x * (1.0 / (1.0 - p)), 0.0)
    scale = np.float32(1.0 / (1.0 - p))
    return np.where(keep, x.astype(np.float32) * scale, np.float32(0)).astype(x.dtype)


dropout_backward_ref = dropout_ref


# ---------------------------------------------------------------- AOT / tuner declarations
SPECS = [
    KernelSpec(f"dropout[{dtype}]", dropout_kernel,
               {"out_ptr": f"*{dtype}", "x_ptr": f"*{dtype}", "numel": "i32", "seed": "i32", "p_keep": "fp32",
                "scale_hi": "fp32", "scale_lo": "fp32"}, {},
               [DROPOUT_TUNING.heuristic(())], DROPOUT_TUNING.all_configs())
    for dtype in ("fp32", "bf16", "fp16", "fp64")
]
