"""Fast Fourier transforms: a radix-2 Stockham kernel over the rows of a batch, and its NumPy reference.

A complex row of N = 2**m points is its interleaved (real, imag) float pairs (Triton has no complex type).
One launch is one Stockham stage for every row at once (grid: rows x butterfly blocks): butterfly j of a
stage with sub-transform size Ns reads points j and j + N/2, twists the second by exp(sign*i*pi*(j % Ns)/Ns)
(twiddles computed in the kernel, in the data's precision) and writes the pair to (j // Ns) * 2Ns + j % Ns
and + Ns. Stockham's autosort needs no bit reversal; m stages ping-pong between `out` and a scratch buffer
so that the last one lands in `out`, scaled by the normalisation factor on the way. The reference is
NumPy's pocketfft (numpy.fft), which is also what the cpu path runs.
"""

from __future__ import annotations

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .tuning import Cost, Tunable, next_pow2


@fast_jit
def stockham_stage_kernel(src_ptr, dst_ptr, N, Ns, sign, scale, BLOCK: tl.constexpr):
    """One radix-2 Stockham stage over row program_id(0) of a (rows, N, 2) float buffer."""
    row = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    half = N // 2
    mask = j < half
    base = row * N * 2
    pair = tl.arange(0, 2)
    a = tl.load(src_ptr + base + (j * 2)[:, None] + pair[None, :], mask=mask[:, None], other=0.0)
    b = tl.load(src_ptr + base + ((j + half) * 2)[:, None] + pair[None, :], mask=mask[:, None], other=0.0)
    a_re, a_im = tl.split(a)
    b_re, b_im = tl.split(b)
    k = j % Ns
    # The angle as an exact fraction of pi first: k / Ns is exact in binary, so only the product rounds.
    angle = (k.to(a_re.dtype) / Ns) * 3.141592653589793 * sign
    c = tl.cos(angle)
    s = tl.sin(angle)
    t_re = b_re * c - b_im * s
    t_im = b_re * s + b_im * c
    out = (j // Ns) * (2 * Ns) + k
    lo = tl.join((a_re + t_re) * scale, (a_im + t_im) * scale)
    hi = tl.join((a_re - t_re) * scale, (a_im - t_im) * scale)
    tl.store(dst_ptr + base + (out * 2)[:, None] + pair[None, :], lo, mask=mask[:, None])
    tl.store(dst_ptr + base + ((out + Ns) * 2)[:, None] + pair[None, :], hi, mask=mask[:, None])


def _heuristic(key: tuple) -> dict:
    """Keys are (dtype, next_pow2(N)): a block of up to 1024 butterflies, 4 warps (8 at 1024)."""
    block = max(16, min(1024, key[1] // 2))
    return dict(BLOCK=block, num_warps=8 if block >= 1024 else 4)


def _space(key: tuple, space: str) -> list[dict]:
    """The heuristic, then half and twice its block (a row's N/2 butterflies bound it from above)."""
    h = _heuristic(key)
    cands = [h, dict(BLOCK=max(16, h["BLOCK"] // 2), num_warps=4)]
    if h["BLOCK"] < key[1] // 2:
        cands.append(dict(BLOCK=2 * h["BLOCK"], num_warps=8))
    if len({repr(c) for c in cands}) == 1:
        cands.append(dict(BLOCK=h["BLOCK"], num_warps=2 if h["num_warps"] == 4 else 4))
    return list({repr(c): c for c in cands}.values())


# Every stage reads and writes each row once (2 * 2 floats per point); 5 N log2(N) flops per row (radix 2).
FFT_TUNING = Tunable("fft.stockham", _space, _heuristic, lambda B, N, itemsize: Cost(
    4.0 * B * N * itemsize * max(1, N.bit_length() - 1), 5.0 * B * N * max(1, N.bit_length() - 1)),
    specs="fft.stockham")


def fft_rows(out: DeviceArray, x: DeviceArray, scratch: DeviceArray, inverse: bool, scale: float) -> None:
    """out = scale * DFT of each row of x (sign +1 if inverse): x, out and scratch are contiguous (rows, N, 2)
    float32/float64 buffers of interleaved complex rows, N a power of two >= 2. x is left unchanged; scratch
    (same shape) is overwritten."""
    B, N = x.shape[0], x.shape[1]
    stages = N.bit_length() - 1
    if N < 2 or N != 1 << stages:
        raise ValueError(f"fft_rows needs a power-of-two row length >= 2, got {N}")
    buffers = (out, scratch)
    sign = 1.0 if inverse else -1.0

    def run(cfg: dict) -> None:
        src = x
        for i in range(stages):
            dst = buffers[(stages - 1 - i) % 2]
            grid = (B, triton.cdiv(N // 2, cfg["BLOCK"]))
            stockham_stage_kernel[grid](src, dst, N, 1 << i, sign, scale if i == stages - 1 else 1.0, **cfg)
            src = dst

    sizes = dict(B=B, N=N, itemsize=x.dtype.itemsize)
    tuning.launch(FFT_TUNING, (x.dtype.name, next_pow2(N)), sizes, run)


def fft_rows_ref(x: np.ndarray, inverse: bool, scale: float) -> np.ndarray:
    """NumPy's reference of fft_rows on complex rows: scale * the unnormalised (i)DFT along the last axis."""
    y = np.fft.ifft(x, axis=-1, norm="forward") if inverse else np.fft.fft(x, axis=-1)
    return (y * scale).astype(x.dtype, copy=False)


def _declared() -> tuple[list[dict], list[dict]]:
    keys = [("float32", 1 << k) for k in range(1, 21)]
    configs = list({repr(_heuristic(k)): _heuristic(k) for k in keys}.values())
    space = list({repr(c): c for k in keys for c in _space(k, "max")}.values())
    return configs, space


SPECS = [
    KernelSpec(f"fft.stockham[{dtype}]", stockham_stage_kernel,
               {"src_ptr": f"*{dtype}", "dst_ptr": f"*{dtype}", "N": "i32", "Ns": "i32", "sign": dtype,
                "scale": dtype}, {}, *_declared(),
               # Each thread moves whole (real, imag) points: 8 bytes in fp32 (64-bit accesses; fp64's 16-byte
               # points do reach 128-bit), and the stores scatter each butterfly pair Ns points apart (the
               # Stockham reorder), so the first stages (Ns = 1, 2) store no contiguous runs at all.
               memory_bound=False)
    for dtype in ("fp32", "fp64")
]
