"""F.grid_sample on 4-d inputs: bilinear / nearest sampling with zeros / border padding, forward and backward.

input (N, C, H, W) and grid (N, Ho, Wo, 2) have any strides; grid[..., 0] is x (width), grid[..., 1] is y, in
[-1, 1]. A coordinate is unnormalised as PyTorch's: ((g + 1) / 2) * (size - 1) with align_corners, else
((g + 1) * size - 1) / 2; border padding then clips it to [0, size - 1] (its gradient 0 where clipped), zeros
padding reads 0 outside. Nearest rounds half to even (nearbyint). Coordinates and sums are fp32 (fp64 for fp64).

* forward: one lane per output location (n, ho, wo); the corners and weights are computed once and the lane
  loops over the C channels (output (N, C, Ho, Wo) contiguous).
* backward: the same lanes; each channel's gradient is scattered into the input gradient's four corners with
  atomic adds (an arbitrary grid has no bounded footprint to gather over; an fp32 scratch for 16-bit inputs,
  run-dependent summation order as PyTorch's cuda kernel), and the grid gradient is summed over the channels in
  registers and stored once (no atomics, deterministic).

Loads are data-dependent gathers at the sampled corners: the specs set memory_bound=False.
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


@triton.jit
def _source(g, size, ALIGN, PAD):
    """(pixel coordinate, d coordinate / d g) of normalised grid values g along a dim of `size`."""
    sf = size.to(g.dtype)
    if ALIGN:
        x = (g + 1.0) * 0.5 * (sf - 1.0)
        mult = (sf - 1.0) * 0.5 + g * 0.0
    else:
        x = ((g + 1.0) * sf - 1.0) * 0.5
        mult = sf * 0.5 + g * 0.0
    if PAD == 1:  # border: clip, and no gradient through a clipped coordinate
        inside = (x > 0.0) & (x < sf - 1.0)
        mult = tl.where(inside, mult, 0.0)
        x = tl.minimum(tl.maximum(x, 0.0), sf - 1.0)
    return x, mult


@triton.jit
def _round_half_even(x):
    r = tl.floor(x + 0.5)
    odd = (r - 2.0 * tl.floor(r * 0.5)) != 0.0
    return tl.where(((r - x) == 0.5) & odd, r - 1.0, r)


@triton.jit
def _corner_ptrs(ix, iy, H, W, sxh, sxw):
    """Offsets and in-bounds masks of the 4 bilinear corners (nw, ne, sw, se) and their weights."""
    x0 = tl.floor(ix)
    y0 = tl.floor(iy)
    x0i = x0.to(tl.int32)
    y0i = y0.to(tl.int32)
    fx = ix - x0
    fy = iy - y0
    in_x0 = (x0i >= 0) & (x0i < W)
    in_x1 = (x0i + 1 >= 0) & (x0i + 1 < W)
    in_y0 = (y0i >= 0) & (y0i < H)
    in_y1 = (y0i + 1 >= 0) & (y0i + 1 < H)
    off = y0i.to(tl.int64) * sxh + x0i.to(tl.int64) * sxw
    return off, fx, fy, in_x0 & in_y0, in_x1 & in_y0, in_x0 & in_y1, in_x1 & in_y1


@triton.jit
def _sample_point(loc, mask, grid_ptr, Ho, Wo, H, W, sgn, sgh, sgw, sgk, ALIGN, PAD, acc_type: tl.constexpr):
    """Output location loc = (n, ho, wo) flattened: (n, ho, wo, ix, iy, d ix/d gx, d iy/d gy), the grid's source
    coordinates in input pixels (both kernels read the grid the same way)."""
    wo = loc % Wo
    r = loc // Wo
    ho = r % Ho
    n = r // Ho
    gp = grid_ptr + n * sgn + ho * sgh + wo * sgw
    gx = compute_type(tl.load(gp, mask=mask, other=0.0)).to(acc_type)
    gy = compute_type(tl.load(gp + sgk, mask=mask, other=0.0)).to(acc_type)
    ix, mult_x = _source(gx, W, ALIGN, PAD)
    iy, mult_y = _source(gy, H, ALIGN, PAD)
    return n, ho, wo, ix, iy, mult_x, mult_y


@fast_jit
def grid_sample_kernel(
    out_ptr,  # (N, C, Ho, Wo) contiguous output
    x_ptr,  # (N, C, H, W) input, any strides
    grid_ptr,  # (N, Ho, Wo, 2) grid, any strides
    total,  # N * Ho * Wo locations
    C, H, W, Ho, Wo,
    sxn, sxc, sxh, sxw,  # input strides (elements)
    sgn, sgh, sgw, sgk,  # grid strides (elements)
    MODE,  # 0 bilinear, 1 nearest
    PAD,  # 0 zeros, 1 border
    ALIGN,  # align_corners
    BLOCK: tl.constexpr,  # locations per program
):
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    loc = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = loc < total
    n, ho, wo, ix, iy, _, _ = _sample_point(loc, mask, grid_ptr, Ho, Wo, H, W, sgn, sgh, sgw, sgk, ALIGN, PAD,
                                             acc_type)
    x_base = x_ptr + n * sxn
    o_base = out_ptr + (n * C * Ho + ho) * Wo + wo  # + c * Ho * Wo
    if MODE == 1:
        nx = _round_half_even(ix).to(tl.int32)
        ny = _round_half_even(iy).to(tl.int32)
        ok = mask & (nx >= 0) & (nx < W) & (ny >= 0) & (ny < H)
        off = ny.to(tl.int64) * sxh + nx.to(tl.int64) * sxw
        for c in range(C):
            v = tl.load(x_base + c * sxc + off, mask=ok, other=0.0)
            tl.store(o_base + c * Ho * Wo, v, mask=mask)
    else:
        off, fx, fy, m00, m01, m10, m11 = _corner_ptrs(ix, iy, H, W, sxh, sxw)
        w00 = (1.0 - fx) * (1.0 - fy)
        w01 = fx * (1.0 - fy)
        w10 = (1.0 - fx) * fy
        w11 = fx * fy
        for c in range(C):
            p = x_base + c * sxc + off
            v = compute_type(tl.load(p, mask=mask & m00, other=0.0)).to(acc_type) * w00
            v += compute_type(tl.load(p + sxw, mask=mask & m01, other=0.0)).to(acc_type) * w01
            v += compute_type(tl.load(p + sxh, mask=mask & m10, other=0.0)).to(acc_type) * w10
            v += compute_type(tl.load(p + sxh + sxw, mask=mask & m11, other=0.0)).to(acc_type) * w11
            tl.store(o_base + c * Ho * Wo, cast_to(v, out_ptr.dtype.element_ty), mask=mask)


@fast_jit
def grid_sample_backward_kernel(
    gin_ptr,  # (N, C, H, W) contiguous input gradient (fp32 scratch for 16-bit), zeroed; atomically added into
    ggrid_ptr,  # (N, Ho, Wo, 2) contiguous grid gradient (every element written)
    g_ptr,  # (N, C, Ho, Wo) output gradient, any strides
    x_ptr,  # (N, C, H, W) input, any strides
    grid_ptr,  # (N, Ho, Wo, 2) grid, any strides
    total,  # N * Ho * Wo locations
    C, H, W, Ho, Wo,
    sgon, sgoc, sgoh, sgow,  # output-gradient strides
    sxn, sxc, sxh, sxw,  # input strides
    sgn, sgh, sgw, sgk,  # grid strides
    MODE, PAD, ALIGN,
    BLOCK: tl.constexpr,
):
    acc_type: tl.constexpr = tl.float64 if x_ptr.dtype.element_ty == tl.float64 else tl.float32
    loc = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = loc < total
    n, ho, wo, ix, iy, mult_x, mult_y = _sample_point(loc, mask, grid_ptr, Ho, Wo, H, W, sgn, sgh, sgw, sgk, ALIGN, PAD,
                                             acc_type)
    g_base = g_ptr + n * sgon + ho * sgoh + wo * sgow
    x_base = x_ptr + n * sxn
    gi_base = gin_ptr + n * C * H * W
    dx = tl.zeros((BLOCK,), acc_type)
    dy = tl.zeros((BLOCK,), acc_type)
    if MODE == 1:
        nx = _round_half_even(ix).to(tl.int32)
        ny = _round_half_even(iy).to(tl.int32)
        ok = mask & (nx >= 0) & (nx < W) & (ny >= 0) & (ny < H)
        off = ny.to(tl.int64) * W + nx.to(tl.int64)
        for c in range(C):
            g = compute_type(tl.load(g_base + c * sgoc, mask=mask, other=0.0)).to(acc_type)
            tl.atomic_add(gi_base + c * H * W + off, g.to(gin_ptr.dtype.element_ty), mask=ok)
    else:
        off, fx, fy, m00, m01, m10, m11 = _corner_ptrs(ix, iy, H, W, sxh, sxw)
        x0 = tl.floor(ix).to(tl.int32)
        y0 = tl.floor(iy).to(tl.int32)
        goff = y0.to(tl.int64) * W + x0.to(tl.int64)  # the contiguous input gradient's corner offset
        for c in range(C):
            g = compute_type(tl.load(g_base + c * sgoc, mask=mask, other=0.0)).to(acc_type)
            p = x_base + c * sxc + off
            v00 = compute_type(tl.load(p, mask=mask & m00, other=0.0)).to(acc_type)
            v01 = compute_type(tl.load(p + sxw, mask=mask & m01, other=0.0)).to(acc_type)
            v10 = compute_type(tl.load(p + sxh, mask=mask & m10, other=0.0)).to(acc_type)
            v11 = compute_type(tl.load(p + sxh + sxw, mask=mask & m11, other=0.0)).to(acc_type)
            dx += g * ((v01 - v00) * (1.0 - fy) + (v11 - v10) * fy)
            dy += g * ((v10 - v00) * (1.0 - fx) + (v11 - v01) * fx)
            q = gi_base + c * H * W + goff
            ty: tl.constexpr = gin_ptr.dtype.element_ty
            tl.atomic_add(q, (g * (1.0 - fx) * (1.0 - fy)).to(ty), mask=mask & m00)
            tl.atomic_add(q + 1, (g * fx * (1.0 - fy)).to(ty), mask=mask & m01)
            tl.atomic_add(q + W, (g * (1.0 - fx) * fy).to(ty), mask=mask & m10)
            tl.atomic_add(q + W + 1, (g * fx * fy).to(ty), mask=mask & m11)
    gg = ggrid_ptr + loc * 2
    tl.store(gg, cast_to(dx * mult_x, ggrid_ptr.dtype.element_ty), mask=mask)
    tl.store(gg + 1, cast_to(dy * mult_y, ggrid_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- tuning and launch
def _heuristic(key: tuple) -> dict:
    """Keys are (kernel, dtype, next_pow2(locations)): one location per thread (its corners, weights and, in the
    backward, two running sums stay live across the channel loop)."""
    if triton.cdiv(key[-1], 256) < 2 * tuning.sm_count():
        return dict(BLOCK=128, num_warps=4)
    return dict(BLOCK=256, num_warps=8)


_CONFIGS = [dict(BLOCK=256, num_warps=8), dict(BLOCK=128, num_warps=4)]
_SPACE = _CONFIGS + [dict(BLOCK=512, num_warps=16)]
GRID_SAMPLE_TUNING = Tunable("grid_sample.grid_sample", lambda key, space: list(_SPACE), _heuristic,
                             lambda locations, channels, itemsize: Cost(
                                 float(locations) * (2 + 5 * channels) * itemsize, 8.0 * locations * channels))
# Scatters into the input gradient: a timing run would add twice.
GRID_SAMPLE_BACKWARD_TUNING = Tunable("grid_sample.grid_sample_backward", lambda key, space: list(_SPACE),
                                      _heuristic, GRID_SAMPLE_TUNING.cost, repeatable=False)


def grid_sample(out: DeviceArray, x: DeviceArray, grid: DeviceArray, mode: int, pad: int, align: bool) -> None:
    """out (N, C, Ho, Wo) contiguous = x sampled at grid (see the module docstring); mode 0 bilinear / 1 nearest,
    pad 0 zeros / 1 border."""
    n, c, h, w = x.shape
    ho, wo = grid.shape[1:3]
    total = n * ho * wo
    if total == 0 or c == 0:
        return

    def run(cfg):
        grid_sample_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            out, x, grid, total, c, h, w, ho, wo, *x.strides, *grid.strides, mode, pad, int(align), **cfg)

    tuning.launch(GRID_SAMPLE_TUNING, ("forward", x.dtype.name, next_pow2(total)),
                  dict(locations=total, channels=c, itemsize=x.dtype.itemsize), run)


def grid_sample_backward(grad_input: DeviceArray, grad_grid: DeviceArray, grad: DeviceArray, x: DeviceArray,
                         grid: DeviceArray, mode: int, pad: int, align: bool) -> None:
    """grad_input (N, C, H, W) contiguous, zeroed (fp32 for 16-bit inputs) += the scattered gradient; grad_grid
    (N, Ho, Wo, 2) contiguous = the grid gradient (0 for nearest)."""
    n, c, h, w = x.shape
    ho, wo = grid.shape[1:3]
    total = n * ho * wo
    if total == 0:
        return

    def run(cfg):
        grid_sample_backward_kernel[(triton.cdiv(total, cfg["BLOCK"]),)](
            grad_input, grad_grid, grad, x, grid, total, c, h, w, ho, wo, *grad.strides, *x.strides, *grid.strides,
            mode, pad, int(align), **cfg)

    tuning.launch(GRID_SAMPLE_BACKWARD_TUNING, ("backward", x.dtype.name, next_pow2(total)),
                  dict(locations=total, channels=c, itemsize=x.dtype.itemsize), run, repeatable=False)


# ---------------------------------------------------------------- NumPy references
def _source_ref(g, size, align, pad):
    if align:
        x, mult = (g + 1) / 2 * (size - 1), np.full_like(g, (size - 1) / 2)
    else:
        x, mult = ((g + 1) * size - 1) / 2, np.full_like(g, size / 2)
    if pad == 1:
        mult = np.where((x > 0) & (x < size - 1), mult, 0)
        x = np.clip(x, 0, size - 1)
    return x, mult


def _corners(x, ix, iy):
    """The 4 corner values (N, C, Ho, Wo) each, weights and in-bounds masks."""
    n, c, h, w = x.shape
    x0, y0 = np.floor(ix).astype(np.int64), np.floor(iy).astype(np.int64)
    fx, fy = ix - x0, iy - y0
    bidx = np.arange(n)[:, None, None]
    out = []
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        v = x[bidx, :, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]  # (N, Ho, Wo, C)
        out.append((np.moveaxis(np.where(ok[..., None], v, 0), -1, 1), ok, xi, yi))
    return out, fx[:, None], fy[:, None]


def grid_sample_ref(x: np.ndarray, grid: np.ndarray, mode: int, pad: int, align: bool) -> np.ndarray:
    """Vectorised sampling in fp32 (fp64 for fp64)."""
    acc = np.float64 if x.dtype == np.float64 else np.float32
    xf, gf = x.astype(acc), grid.astype(acc)
    n, c, h, w = x.shape
    ix, _ = _source_ref(gf[..., 0], w, align, pad)
    iy, _ = _source_ref(gf[..., 1], h, align, pad)
    if mode == 1:
        nx, ny = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)  # rint: half to even
        ok = (nx >= 0) & (nx < w) & (ny >= 0) & (ny < h)
        v = xf[np.arange(n)[:, None, None], :, np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)]
        return np.moveaxis(np.where(ok[..., None], v, 0), -1, 1).astype(x.dtype)
    (c00, c01, c10, c11), fx, fy = _corners(xf, ix, iy)
    out = c00[0] * (1 - fx) * (1 - fy) + c01[0] * fx * (1 - fy) + c10[0] * (1 - fx) * fy + c11[0] * fx * fy
    return out.astype(x.dtype)


def grid_sample_backward_ref(grad: np.ndarray, x: np.ndarray, grid: np.ndarray, mode: int, pad: int,
                             align: bool) -> tuple[np.ndarray, np.ndarray]:
    """(input gradient by np.add.at of the weighted output gradient, grid gradient), fp32/fp64 sums."""
    acc = np.float64 if x.dtype == np.float64 else np.float32
    xf, gf, g = x.astype(acc), grid.astype(acc), grad.astype(acc)
    n, c, h, w = x.shape
    ix, mx = _source_ref(gf[..., 0], w, align, pad)
    iy, my = _source_ref(gf[..., 1], h, align, pad)
    gin = np.zeros((n, c, h, w), acc)
    bidx = np.broadcast_to(np.arange(n)[:, None, None], ix.shape)
    gm = np.moveaxis(g, 1, -1)  # (N, Ho, Wo, C)
    if mode == 1:
        nx, ny = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        ok = (nx >= 0) & (nx < w) & (ny >= 0) & (ny < h)
        np.add.at(gin, (bidx[ok], slice(None), ny[ok], nx[ok]), gm[ok])
        return gin.astype(x.dtype), np.zeros_like(grid)
    corners, fx, fy = _corners(xf, ix, iy)
    fx2, fy2 = fx[:, 0], fy[:, 0]
    weights = [(1 - fx2) * (1 - fy2), fx2 * (1 - fy2), (1 - fx2) * fy2, fx2 * fy2]
    for (_, ok, xi, yi), wt in zip(corners, weights):
        np.add.at(gin, (bidx[ok], slice(None), yi[ok], xi[ok]), (gm * wt[..., None])[ok])
    v00, v01, v10, v11 = (cc[0] for cc in corners)
    dx = (g * ((v01 - v00) * (1 - fy) + (v11 - v10) * fy)).sum(1) * mx
    dy = (g * ((v10 - v00) * (1 - fx) + (v11 - v01) * fx)).sum(1) * my
    return gin.astype(x.dtype), np.stack([dx, dy], -1).astype(grid.dtype)


# ---------------------------------------------------------------- AOT declarations
def _signature(dtype: str, backward: bool) -> dict[str, str]:
    scratch = "fp64" if dtype == "fp64" else "fp32"
    sig = ({"gin_ptr": f"*{scratch}", "ggrid_ptr": f"*{dtype}", "g_ptr": f"*{dtype}"} if backward
           else {"out_ptr": f"*{dtype}"})
    sig.update({"x_ptr": f"*{dtype}", "grid_ptr": f"*{dtype}", "total": "i64"})
    sig.update({k: "i32" for k in ("C", "H", "W", "Ho", "Wo")})
    strides = (["sgon", "sgoc", "sgoh", "sgow"] if backward else []) + ["sxn", "sxc", "sxh", "sxw", "sgn", "sgh",
                                                                         "sgw", "sgk"]
    sig.update({k: "i32" for k in strides})
    return dict(sig, MODE="i32", PAD="i32", ALIGN="i32")


# Gathers (and, backward, scatters) at data-dependent corners: no access can be 128-bit; memory_bound=False.
SPECS = [
    KernelSpec(f"grid_sample.{name}[{dtype}]", kernel, _signature(dtype, name.endswith("backward")), {}, _CONFIGS,
               _SPACE, memory_bound=False, unit_args=())
    for name, kernel in (("grid_sample", grid_sample_kernel), ("grid_sample_backward", grid_sample_backward_kernel))
    for dtype in ("fp32", "fp16", "bf16", "fp64")
]
