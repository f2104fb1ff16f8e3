"""Dropout: a Philox mask (tl.rand(seed, offsets)) fused with the 1 / (1 - p) scaling.

Element i of a contiguous buffer is kept when tl.rand(seed, i) < 1 - p. The mask is a pure function
of (seed, i), so nothing is stored: the backward runs the same kernel on the incoming gradient with
the forward's seed and regenerates the identical mask (dropout is linear: grad_x = dropout(grad)).

`philox_uniform` reproduces tl.rand bit for bit in NumPy (Philox4x32-10 on the counter (i, 0, 0, 0)
with key (seed_lo, seed_hi), then Triton's uint32 -> [0, 1) conversion), so the cpu reference and the
Triton kernel drop the same elements for the same seed. Seeds are in [0, 2**31).
"""

from __future__ import annotations

import sys

import numpy as np
import triton
import triton.language as tl

from . import host_threads, tuning
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
_PHILOX_KEY_A, _PHILOX_KEY_B = 0x9E3779B9, 0xBB67AE85
_PHILOX_ROUND_A, _PHILOX_ROUND_B = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_PHILOX_ROUNDS = 10
_TO_UNIT = np.float32(4.6566127342e-10)  # tl.rand's int31 -> [0, 1) scale (about 2**-31, the constant Triton writes)
# Counters per pass of the rounds: its buffers (2.5 MiB) stay in cache across the rounds. Measured for 2^19 uniforms
# on one thread (ms): blocks of 2^14 12.9, 2^15 11.6-13.2, 2^16 10.7, 2^17 19.8 (the textbook rounds on the whole
# array: 64).
_PHILOX_BLOCK = 1 << 16
# A uint64 product seen as two uint32 words: which of them is the low half (the machine's byte order).
_LO, _HI = (0, 1) if sys.byteorder == "little" else (1, 0)


def _round_keys(seed: int) -> list[tuple[np.uint32, np.uint32]]:
    """Philox's key (seed_lo, seed_hi) for each round, bumped by the Weyl constants between rounds."""
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    return [(np.uint32((k0 + r * _PHILOX_KEY_A) & 0xFFFFFFFF), np.uint32((k1 + r * _PHILOX_KEY_B) & 0xFFFFFFFF))
            for r in range(_PHILOX_ROUNDS)]


def _philox_block(counters: np.ndarray, keys: list, out: np.ndarray) -> None:
    """out = tl.rand's uniforms of uint32 `counters` (1-D, one block), Philox4x32-10 on the counter
    (c, 0, 0, 0): each round's two 32x32 -> 64-bit products written into a uint64 buffer whose two uint32 halves
    are the next round's words as they are (no shifts, masks or casts), the product buffers alternating between
    rounds because a round's low halves are read by the next. Bit for bit the textbook rounds (tests compare)."""
    n = counters.shape[0]
    c0, c2 = np.empty(n, np.uint32), np.empty(n, np.uint32)
    products = [(np.empty(n, np.uint64), np.empty(n, np.uint64)) for _ in range(2)]
    words = [(pa.view(np.uint32), pb.view(np.uint32)) for pa, pb in products]
    # Round 0: c1 = c2 = c3 = 0, so its B product is 0 and c0' = k0, c1' = 0, c2' = hi(A c0) ^ k1, c3' = lo(A c0).
    k0, k1 = keys[0]
    pa, _ = products[0]
    np.multiply(counters, _PHILOX_ROUND_A, out=pa)
    c0.fill(k0)
    np.bitwise_xor(words[0][0][_HI::2], k1, out=c2)
    c1, c3 = None, words[0][0][_LO::2]
    for r in range(1, _PHILOX_ROUNDS):
        k0, k1 = keys[r]
        pa, pb = products[r & 1]
        wa, wb = words[r & 1]
        np.multiply(c0, _PHILOX_ROUND_A, out=pa)
        np.multiply(c2, _PHILOX_ROUND_B, out=pb)
        if c1 is None:  # (round 1: c1 is still 0)
            np.bitwise_xor(wb[_HI::2], k0, out=c0)
        else:
            np.bitwise_xor(wb[_HI::2], c1, out=c0)
            c0 ^= k0
        np.bitwise_xor(wa[_HI::2], c3, out=c2)
        c2 ^= k1
        c1, c3 = wb[_LO::2], wa[_LO::2]
    r32 = c0.view(np.int32)
    r32 ^= r32 >> 31  # Triton's `where(r < 0, ~r, r)`: ~r is r ^ -1, and r >> 31 is -1 exactly when r < 0
    np.copyto(out, r32, casting="unsafe")  # int32 -> float32 as astype rounds it
    out *= _TO_UNIT


def _philox_range(seed: int, counters_of, size: int, out: np.ndarray) -> None:
    """out[lo:hi] = tl.rand(seed, counters_of(lo, hi)) over [0, size) in blocks, split over the host threads."""
    keys = _round_keys(seed)

    def part(lo: int, hi: int) -> None:
        for start in range(lo, hi, _PHILOX_BLOCK):
            stop = min(start + _PHILOX_BLOCK, hi)
            _philox_block(counters_of(start, stop), keys, out[start:stop])

    host_threads.for_elements(part, size)


def philox_uniform(seed: int, offsets: np.ndarray) -> np.ndarray:
    """tl.rand(seed, offsets) for int32 offsets: float32 uniforms in [0, 1)."""
    offsets = np.asarray(offsets)
    flat = offsets.astype(np.uint32).reshape(-1)  # (a fresh array: the int32 offsets' bits as Triton holds them)
    out = np.empty(flat.shape, np.float32)
    _philox_range(seed, lambda lo, hi: flat[lo:hi], flat.size, out)
    return out.reshape(offsets.shape)


def _positions(lo: int, hi: int) -> np.ndarray:
    return np.arange(lo, hi, dtype=np.uint32)


def dropout_mask_ref(shape: tuple, p: float, seed: int) -> np.ndarray:
    """The kept elements (bool, row-major positions), as the kernel draws them."""
    n = int(np.prod(shape, dtype=np.int64))
    uniforms = np.empty(n, np.float32)
    _philox_range(seed, _positions, n, uniforms)
    return (uniforms < np.float32(1.0 - p)).reshape(shape)


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
