"""Shape kernels that views + copy cannot express: flip, roll, pad (constant / reflect / replicate /
circular) and tril/triu, forward and backward.

flip, roll and pad are one idea: every output coordinate reads the input at a coordinate that
depends on its own dim only (n-1-i, (i-shift) mod n, i-pad reflected/clamped/wrapped, or "none":
the pad value). `remap_kernel` applies such a per-dim map, one constexpr MODE per dim, over at
most four dims; dims that are not remapped are merged where both operands are contiguous across
them (only leading dims beyond four are looped over on the host). Run the other way round
(SCATTER), the same kernel is the backward of reflect/replicate/circular padding: each gradient
element is atomically added to the input cell it was read from, so border cells accumulate.
tril/triu zero the elements beyond a diagonal of the last two dims, batched over the leading dims.

Outputs must not overlap their inputs (tril/triu may run in place).
"""

from __future__ import annotations

import itertools

import numpy as np
import triton
import triton.language as tl

from . import tuning
from .device_array import DeviceArray
from .index_core import INDEX_SPACE, begin_accumulate, end_accumulate, from_bits, no_alias, scalar_bits
from .launch_spec import KernelSpec
from .launcher import fast_jit
from .strided import MAX_DIMS, cast_to, collapse
from .tuning import Cost, Tunable, next_pow2

BLOCK = 1024
NUM_WARPS = 4


def _heuristic(key) -> dict:
    return dict(BLOCK=BLOCK, num_warps=NUM_WARPS)


NARROW = dict(BLOCK=4096, num_warps=8)  # 16 elements per thread: a 1-byte output's 16 bytes, one 128-bit store
_ONE_BYTE = frozenset({"bool", "int8", "uint8"})


def _copy_heuristic(key) -> dict:
    # Keys start with the output's dtype name.
    return dict(NARROW) if key[0] in _ONE_BYTE else _heuristic(key)


def _copy_cost(numel: int, itemsizes: int) -> Cost:
    # itemsizes: the output's and the source's item size (the scatter's atomic reads and writes its target).
    return Cost(float(numel) * itemsizes, float(numel))


# The index kernels' trade-off (index_core.INDEX_SPACE): the per-element coordinate math dominates.
REMAP_TUNING = Tunable("shape.remap", INDEX_SPACE, _copy_heuristic, _copy_cost)
# The SCATTER variant adds into its target (pad's backward): never timed on a user's tensors.
REMAP_SCATTER_TUNING = Tunable("shape.remap_scatter", INDEX_SPACE, _heuristic, _copy_cost, repeatable=False)
TRI_TUNING = Tunable("shape.tri", INDEX_SPACE, _copy_heuristic, _copy_cost)

# Per-dim coordinate maps of remap_kernel (its MODE constexprs), and their in-kernel names.
IDENTITY, FLIP, ROLL, PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR = range(7)
_IDENTITY = tl.constexpr(IDENTITY)
_FLIP = tl.constexpr(FLIP)
_ROLL = tl.constexpr(ROLL)  # p = shift mod n
_PAD_CONSTANT = tl.constexpr(PAD_CONSTANT)  # p = leading pad (negative crops)
_PAD_REFLECT = tl.constexpr(PAD_REFLECT)
_PAD_REPLICATE = tl.constexpr(PAD_REPLICATE)
PAD_MODES = {"constant": PAD_CONSTANT, "reflect": PAD_REFLECT, "replicate": PAD_REPLICATE,
             "circular": PAD_CIRCULAR}


@triton.jit
def _source_coord(i, p, n, MODE: tl.constexpr):
    """(source coordinate, valid) along one dim for output coordinate i; n is the source size."""
    t = i - p
    if MODE == _IDENTITY:
        return i, i >= 0
    else:
        if MODE == _FLIP:
            return n - 1 - i, i >= 0
        else:
            if MODE == _ROLL:
                return tl.where(t < 0, t + n, t), i >= 0
            else:
                if MODE == _PAD_CONSTANT:
                    return t, (t >= 0) & (t < n)
                else:
                    if MODE == _PAD_REFLECT:  # mirror about the edge cells, which are not repeated
                        r = tl.where(t < 0, -t, t)
                        r = tl.where(r >= n, 2 * (n - 1) - r, r)
                        return r, (r >= 0) & (r < n)
                    else:
                        if MODE == _PAD_REPLICATE:
                            r = tl.minimum(tl.maximum(t, 0), n - 1)
                            return r, r >= 0
                        else:
                            r = tl.where(t < 0, t + n, t)
                            r = tl.where(r >= n, r - n, r)
                            return r, (r >= 0) & (r < n)


def _source_coord_host(i: int, p: int, n: int, mode: int) -> tuple[int, bool]:
    """_source_coord for one coordinate of a dim looped over on the host (and the NumPy references)."""
    j, valid = _source_coords(np.array([i]), p, n, mode)
    return int(j[0]), bool(valid[0])


def _source_coords(i: np.ndarray, p: int, n: int, mode: int) -> tuple[np.ndarray, np.ndarray]:
    t = i - p
    if mode == IDENTITY:
        r = i
    elif mode == FLIP:
        r = n - 1 - i
    elif mode == ROLL:
        r = np.where(t < 0, t + n, t)
    elif mode == PAD_CONSTANT:
        r = t
    elif mode == PAD_REFLECT:
        r = np.abs(t)
        r = np.where(r >= n, 2 * (n - 1) - r, r)
    elif mode == PAD_REPLICATE:
        r = np.minimum(np.maximum(t, 0), n - 1)
    else:
        r = np.where(t < 0, t + n, t)
        r = np.where(r >= n, r - n, r)
    return r, (r >= 0) & (r < n)


@fast_jit(do_not_specialize=["value_bits", "slice_valid"])
def remap_kernel(
    out_ptr,  # array in launch coordinates: written (forward) or read (SCATTER)
    src_ptr,  # array at the mapped coordinates: read (forward) or atomically added to (SCATTER)
    numel,  # elements in this launch
    size1, size2, size3,  # launch shape (size0 implied by numel)
    os0, os1, os2, os3,  # out strides
    ss0, ss1, ss2, ss3,  # src strides
    p0, p1, p2, p3,  # per-dim map parameter (shift mod n, or leading pad)
    n0, n1, n2, n3,  # per-dim source size
    value_bits,  # constant pad value, packed by index_core.scalar_bits
    slice_valid,  # 0 when a host-looped dim maps outside the source (the whole launch is padding)
    MODE0: tl.constexpr, MODE1: tl.constexpr, MODE2: tl.constexpr, MODE3: tl.constexpr,  # per-dim maps
    SCATTER: tl.constexpr,  # backward: src[map(i)] += out[i]
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    i3 = idx % size3
    rest = idx // size3
    i2 = rest % size2
    rest = rest // size2
    i1 = rest % size1
    i0 = rest // size1
    j0, v0 = _source_coord(i0, p0, n0, MODE0)
    j1, v1 = _source_coord(i1, p1, n1, MODE1)
    j2, v2 = _source_coord(i2, p2, n2, MODE2)
    j3, v3 = _source_coord(i3, p3, n3, MODE3)
    # slice_valid is broadcast before the test: the interpreter mis-types scalar-bool & tensor-bool.
    valid = mask & v0 & v1 & v2 & v3 & ((idx * 0 + slice_valid) != 0)
    out_off = i0 * os0 + i1 * os1 + i2 * os2 + i3 * os3
    src_off = j0 * ss0 + j1 * ss1 + j2 * ss2 + j3 * ss3
    if SCATTER:
        grad = tl.load(out_ptr + out_off, mask=mask)
        tl.atomic_add(src_ptr + src_off, cast_to(grad, src_ptr.dtype.element_ty), mask=valid, sem="relaxed")
    else:
        dtype = out_ptr.dtype.element_ty
        value = cast_to(tl.load(src_ptr + src_off, mask=valid), dtype)
        fill = tl.zeros((BLOCK,), dtype) + from_bits(value_bits, dtype)
        tl.store(out_ptr + out_off, tl.where(valid, value, fill), mask=mask)


def _remap(out: DeviceArray, src: DeviceArray, maps: list[tuple[int, int, int]], value=0,
           scatter: bool = False) -> None:
    """Launch remap_kernel over out's shape; maps[d] = (mode, p, n) for each dim of out."""
    if out.numel() == 0:
        return
    dims: list[list[int]] = []  # [size, out stride, src stride, mode, p, n]
    for size, o_st, s_st, (mode, p, n) in zip(out.shape, out.strides, src.strides, maps):
        if mode == IDENTITY:
            if size == 1:
                continue
            last = dims[-1] if dims else None
            if last and last[3] == IDENTITY and last[1] == o_st * size and last[2] == s_st * size:
                last[0] *= size
                last[1], last[2], last[5] = o_st, s_st, last[0]
                continue
            n = size
        dims.append([size, o_st, s_st, mode, p, n])
    lead, inner = dims[:-MAX_DIMS] if len(dims) > MAX_DIMS else [], dims[-MAX_DIMS:]
    inner = [[1, 0, 0, 0, 0, 1]] * (MAX_DIMS - len(inner)) + inner
    size, o_st, s_st, modes, ps, ns = (list(col) for col in zip(*inner))
    bits = 0 if scatter else scalar_bits(value, out.dtype)
    numel = size[0] * size[1] * size[2] * size[3]
    tunable = REMAP_SCATTER_TUNING if scatter else REMAP_TUNING
    key = (out.dtype.name, src.dtype.name, *modes, scatter, next_pow2(numel))
    sizes = dict(numel=numel, itemsizes=out.dtype.itemsize + src.dtype.itemsize * (2 if scatter else 1))
    repeatable = not scatter and no_alias([out], [src])
    for coords in itertools.product(*(range(d[0]) for d in lead)):
        o_off, s_off, valid = out.offset, src.offset, True
        for i, (_, o, s, mode, p, n) in zip(coords, lead):
            j, ok = _source_coord_host(i, p, n, mode)
            o_off += i * o
            s_off += j * s if ok else 0
            valid &= ok
        if scatter and not valid:
            continue
        o_view = out.view_as((numel,), (1,), o_off)
        s_view = src.view_as((1,), (1,), s_off)

        def run(config, o_view=o_view, s_view=s_view, valid=valid):
            remap_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                o_view, s_view, numel, size[1], size[2], size[3], *o_st, *s_st, *ps, *ns, bits, int(valid),
                MODE0=modes[0], MODE1=modes[1], MODE2=modes[2], MODE3=modes[3], SCATTER=scatter, **config,
            )

        tuning.launch(tunable, key, sizes, run, repeatable)


def _dims(dims, ndim: int) -> list[int]:
    dims = [dims] if isinstance(dims, int) else list(dims)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (got {d} for a {ndim}-d tensor)")
    return [d % max(ndim, 1) for d in dims]


# ================================================================ flip
def flip(out: DeviceArray, x: DeviceArray, dims) -> None:
    """out = x.flip(dims) (torch.flip); any dtype; out and x share a shape."""
    maps = [(IDENTITY, 0, n) for n in x.shape]
    for d in set(_dims(dims, x.ndim)):
        if x.ndim and x.shape[d] > 1:
            maps[d] = (FLIP, 0, x.shape[d])
    _remap(out, x, maps)


def flip_backward(grad_x: DeviceArray, grad: DeviceArray, dims) -> None:
    """grad_x = grad.flip(dims)."""
    flip(grad_x, grad, dims)


# ================================================================ roll
def roll(out: DeviceArray, x: DeviceArray, shifts, dims=None) -> None:
    """out = x.roll(shifts, dims) (torch.roll): out[..., (i + shift) % n, ...] = x[..., i, ...].

    dims=None rolls the flattened array; then x and out must each collapse to one dim (contiguous
    arrays do; otherwise pass contiguous ones).
    """
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError("roll without dims takes one shift")
        flat = []
        for a in (out, x):
            shape, (strides,) = collapse(a.shape, [a.strides])
            if len(shape) > 1:
                raise ValueError("roll without dims needs arrays that collapse to one dim")
            flat.append(a.view_as((a.numel(),), strides if shape else (1,)))
        roll(flat[0], flat[1], shifts, [0])
        return
    dims = _dims(dims, x.ndim)
    if len(dims) != len(shifts):
        raise ValueError(f"shifts and dims must align (got {len(shifts)} shifts, {len(dims)} dims)")
    total = [0] * x.ndim
    for s, d in zip(shifts, dims):
        total[d] += s
    maps = [(IDENTITY, 0, n) for n in x.shape]
    for d, n in enumerate(x.shape):
        if n and total[d] % n:
            maps[d] = (ROLL, total[d] % n, n)
    _remap(out, x, maps)


def roll_backward(grad_x: DeviceArray, grad: DeviceArray, shifts, dims=None) -> None:
    """grad_x = grad.roll(-shifts, dims)."""
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    roll(grad_x, grad, [-s for s in shifts], dims)


# ================================================================ pad
def _pad_maps(src_shape: tuple, pad, mode: str) -> list[tuple[int, int, int]]:
    """Per-dim maps for PyTorch's pad tuple: (left, right) of the last dim first, then the one before."""
    if len(pad) % 2 or len(pad) // 2 > len(src_shape):
        raise ValueError(f"Padding length must be divisible by 2 and at most twice the rank, got {len(pad)}")
    if mode not in PAD_MODES:
        raise ValueError(f"Unrecognised padding mode {mode}")
    maps = [(IDENTITY, 0, n) for n in src_shape]
    for k in range(len(pad) // 2):
        d = len(src_shape) - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        if before or after:
            maps[d] = (PAD_MODES[mode], before, src_shape[d])
    return maps


def pad_shape(x_shape: tuple, pad) -> tuple:
    """The output shape of pad(x, pad)."""
    shape = list(x_shape)
    for k in range(len(pad) // 2):
        shape[len(shape) - 1 - k] += pad[2 * k] + pad[2 * k + 1]
    return tuple(shape)


def pad(out: DeviceArray, x: DeviceArray, pad, mode: str = "constant", value=0) -> None:  # noqa: A002
    """out = F.pad(x, pad, mode, value): pad = (left, right) for the last dim, then for the one
    before, ...; out's shape is pad_shape(x.shape, pad). constant pads may be negative (crop);
    reflect needs pads < the dim's size, circular pads <= it (the Tensor layer checks: out-of-range
    maps are masked, reading `value`). Any dtype."""
    if out.shape != pad_shape(x.shape, pad):
        raise ValueError(f"out has shape {out.shape}, expected {pad_shape(x.shape, pad)}")
    _remap(out, x, _pad_maps(x.shape, pad, mode), value)


def pad_backward(grad_x: DeviceArray, grad: DeviceArray, pad, mode: str = "constant",  # noqa: A002
                 acc: DeviceArray | None = None) -> None:
    """grad_x (x's shape, overwritten) = the gradient of pad: constant crops grad; reflect, replicate
    and circular add every padded cell's gradient into the cell it copied (atomics: bfloat16 needs
    acc, a float32 scratch of x's shape; see index_core.accumulate_dtype)."""
    if mode == "constant":
        _remap(grad_x, grad, _pad_maps(grad.shape, [-p for p in pad], "constant"))
        return
    maps = _pad_maps(grad_x.shape, pad, mode)
    dst = begin_accumulate(grad_x, acc, zero=True)
    _remap(grad, dst, maps, scatter=True)
    end_accumulate(grad_x, dst)


# ================================================================ tril / triu
@fast_jit
def tri_kernel(
    out_ptr,  # output (may be x: in place)
    x_ptr,  # input
    numel,  # elements in this launch
    size1,  # second batch dim (size0 implied by numel)
    rows, cols,  # matrix shape (the last two dims)
    os0, os1, os2, os3,  # out strides (batch, batch, row, col)
    xs0, xs1, xs2, xs3,  # x strides
    diagonal,  # which diagonal bounds the kept triangle (0 main, > 0 above, < 0 below)
    UPPER: tl.constexpr,  # triu (keep col - row >= diagonal) instead of tril (<=)
    BLOCK: tl.constexpr,  # elements per program
):
    idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    c = idx % cols
    rest = idx // cols
    r = rest % rows
    rest = rest // rows
    b1 = rest % size1
    b0 = rest // size1
    if UPPER:
        keep = c - r >= diagonal
    else:
        keep = c - r <= diagonal
    value = tl.load(x_ptr + b0 * xs0 + b1 * xs1 + r * xs2 + c * xs3, mask=mask & keep, other=0)
    tl.store(out_ptr + b0 * os0 + b1 * os1 + r * os2 + c * os3, cast_to(value, out_ptr.dtype.element_ty),
             mask=mask)


def _tri(out: DeviceArray, x: DeviceArray, diagonal: int, upper: bool) -> None:
    if x.ndim < 2:
        raise ValueError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    if out.numel() == 0:
        return
    rows, cols = x.shape[-2:]
    bshape, (bo, bx) = collapse(x.shape[:-2], [out.strides[:-2], x.strides[:-2]])
    lead = len(bshape) - 2 if len(bshape) > 2 else 0
    inner = [(1, 0, 0)] * (2 - len(bshape[lead:])) + list(zip(bshape[lead:], bo[lead:], bx[lead:]))
    numel = inner[0][0] * inner[1][0] * rows * cols
    key = (out.dtype.name, upper, next_pow2(numel))
    sizes = dict(numel=numel, itemsizes=out.dtype.itemsize + x.dtype.itemsize)
    # tril_/triu_ run in place (out is x): not timed on the user's tensor.
    repeatable = no_alias([out], [x])
    for coords in itertools.product(*(range(n) for n in bshape[:lead])):
        o_off = out.offset + sum(i * s for i, s in zip(coords, bo))
        x_off = x.offset + sum(i * s for i, s in zip(coords, bx))

        def run(config, o_off=o_off, x_off=x_off):
            tri_kernel[(triton.cdiv(numel, config["BLOCK"]),)](
                out.view_as((numel,), (1,), o_off), x.view_as((numel,), (1,), x_off), numel, inner[1][0],
                rows, cols,
                inner[0][1], inner[1][1], *out.strides[-2:], inner[0][2], inner[1][2], *x.strides[-2:], diagonal,
                UPPER=upper, **config,
            )

        tuning.launch(TRI_TUNING, key, sizes, run, repeatable)


def tril(out: DeviceArray, x: DeviceArray, diagonal: int = 0) -> None:
    """out = x.tril(diagonal): the last two dims keep col - row <= diagonal, batched; any dtype."""
    _tri(out, x, diagonal, upper=False)


def triu(out: DeviceArray, x: DeviceArray, diagonal: int = 0) -> None:
    """out = x.triu(diagonal): the last two dims keep col - row >= diagonal, batched; any dtype."""
    _tri(out, x, diagonal, upper=True)


def tril_backward(grad_x: DeviceArray, grad: DeviceArray, diagonal: int = 0) -> None:
    """grad_x = grad.tril(diagonal)."""
    _tri(grad_x, grad, diagonal, upper=False)


def triu_backward(grad_x: DeviceArray, grad: DeviceArray, diagonal: int = 0) -> None:
    """grad_x = grad.triu(diagonal)."""
    _tri(grad_x, grad, diagonal, upper=True)


# ================================================================ NumPy references
def flip_ref(x: np.ndarray, dims) -> np.ndarray:
    return np.flip(x, axis=tuple(_dims(dims, x.ndim)) if x.ndim else None).copy()


def flip_backward_ref(grad: np.ndarray, dims) -> tuple:
    return (flip_ref(grad, dims),)


def roll_ref(x: np.ndarray, shifts, dims=None) -> np.ndarray:
    if dims is None:
        return np.roll(x.reshape(-1), shifts).reshape(x.shape)
    return np.roll(x, shifts, axis=dims)


def roll_backward_ref(grad: np.ndarray, shifts, dims=None) -> tuple:
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    return (roll_ref(grad, [-s for s in shifts] if dims is not None else -shifts[0], dims),)


def _constant_pad_ref(x: np.ndarray, pad, value) -> np.ndarray:
    """Constant pad (negative pads crop): the fill written once, the kept block copied in one assignment."""
    _pad_maps(x.shape, pad, "constant")
    shape = tuple(max(n, 0) for n in pad_shape(x.shape, pad))  # a crop past the end leaves an empty dim
    out = np.empty(shape, x.dtype)
    dst, src = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    whole = True
    for k in range(len(pad) // 2):
        d = x.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        dst[d] = slice(max(before, 0), shape[d] - max(after, 0))
        src[d] = slice(max(-before, 0), x.shape[d] - max(-after, 0))
        whole = whole and before <= 0 and after <= 0
    if not whole:
        out[...] = np.asarray(value).astype(x.dtype)
    if out.size and x.size and all(s.stop > s.start for s in dst[x.ndim - len(pad) // 2:]):
        out[tuple(dst)] = x[tuple(src)]
    return out


def pad_ref(x: np.ndarray, pad, mode: str = "constant", value=0) -> np.ndarray:  # noqa: A002
    """x padded as F.pad: constant (negative pads crop), reflect, replicate or circular."""
    if mode == "constant":
        return _constant_pad_ref(x, pad, value)
    out = x
    for d, (m, p, n) in enumerate(_pad_maps(x.shape, pad, mode)):
        if m == IDENTITY:
            continue
        k = (len(x.shape) - 1 - d) * 2
        size = n + pad[k] + pad[k + 1]
        j, valid = _source_coords(np.arange(size), p, n, m)
        taken = np.take(out, np.clip(j, 0, max(n - 1, 0)), axis=d) if n else np.zeros(
            out.shape[:d] + (size,) + out.shape[d + 1:], x.dtype)
        shape = [1] * x.ndim
        shape[d] = size
        out = taken if valid.all() else np.where(valid.reshape(shape), taken, np.asarray(value).astype(x.dtype))
    return np.array(out, dtype=x.dtype)


def pad_backward_ref(grad: np.ndarray, x_shape: tuple, pad, mode: str = "constant") -> tuple:  # noqa: A002
    g = grad.astype(np.float32) if grad.dtype.itemsize == 2 else grad
    for d, (m, p, n) in enumerate(_pad_maps(x_shape, pad, mode)):
        if m == IDENTITY:
            continue
        j, valid = _source_coords(np.arange(g.shape[d]), p, n, m)
        g = _gather_sum(g, d, j, valid, n)
    return (g.astype(grad.dtype, copy=g is grad),)  # each dim summed into a fresh buffer


def _gather_sum(g: np.ndarray, d: int, j: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    """acc[j[i]] += g[i] along dim d over the valid i in increasing order, from acc = 0: np.add.at's sums
    (the same order, so the same bits) as whole-slice gathers, one per rank of a source among its target's.

    Every target's first source comes in one gather (the interior is one contiguous slice), then each further
    rank (the few border cells a reflection, wrap or edge adds) in one fancy-indexed add."""
    src = np.flatnonzero(valid)
    tgt = j[valid]
    order = np.argsort(tgt, kind="stable")
    tgt, src = tgt[order], src[order]
    counts = np.bincount(tgt, minlength=n)
    rank = np.arange(tgt.size) - (np.cumsum(counts) - counts)[tgt]
    first = rank == 0
    lead = src[first]
    if counts.all() and n and (np.diff(lead) == 1).all():  # the interior: one slice, + 0 as add.at's first sum
        acc = np.add(g[(slice(None),) * d + (slice(lead[0], lead[0] + n),)], 0)  # (-0 -> +0)
    elif counts.all():
        acc = np.take(g, lead, axis=d)
        np.add(acc, 0, out=acc)
    else:
        acc = np.zeros(g.shape[:d] + (n,) + g.shape[d + 1:], g.dtype)
        np.moveaxis(acc, d, 0)[tgt[first]] += np.moveaxis(g, d, 0)[lead]
    acc_d, g_d = np.moveaxis(acc, d, 0), np.moveaxis(g, d, 0)
    for k in range(1, int(counts.max(initial=0))):
        at = rank == k
        acc_d[tgt[at]] += g_d[src[at]]
    return acc


def tril_ref(x: np.ndarray, diagonal: int = 0) -> np.ndarray:
    return np.tril(x, diagonal)


def triu_ref(x: np.ndarray, diagonal: int = 0) -> np.ndarray:
    return np.triu(x, diagonal)


def tril_backward_ref(grad: np.ndarray, diagonal: int = 0) -> tuple:
    return (np.tril(grad, diagonal),)


def triu_backward_ref(grad: np.ndarray, diagonal: int = 0) -> tuple:
    return (np.triu(grad, diagonal),)


# ================================================================ registration table
OPS = {
    # name: (forward wrapper, backward wrapper, forward ref, backward ref)
    "flip": (flip, flip_backward, flip_ref, flip_backward_ref),
    "roll": (roll, roll_backward, roll_ref, roll_backward_ref),
    "pad": (pad, pad_backward, pad_ref, pad_backward_ref),
    "tril": (tril, tril_backward, tril_ref, tril_backward_ref),
    "triu": (triu, triu_backward, triu_ref, triu_backward_ref),
}


# ================================================================ kernel specs (AOT compile check)
def _remap_signature(out: str, src: str) -> dict[str, str]:
    sig = {"out_ptr": f"*{out}", "src_ptr": f"*{src}", "numel": "i32", "size1": "i32", "size2": "i32",
           "size3": "i32"}
    for prefix in ("os", "ss", "p", "n"):
        sig.update({f"{prefix}{d}": "i32" for d in range(4)})
    sig.update(value_bits="i64", slice_valid="i32")
    return sig


def _modes(*modes) -> dict:
    return {f"MODE{d}": m for d, m in enumerate(modes)}


_CFG = [_heuristic(())]
_NARROW_TYPES = {"i1", "u1", "i8", "u8"}


def _cfg(dt: str) -> list[dict]:
    """The heuristic's config for an output of Triton type `dt` (what the spec ships)."""
    return [dict(NARROW)] if dt in _NARROW_TYPES else _CFG
_TRI_SIG = {"out_ptr": "*fp32", "x_ptr": "*fp32", "numel": "i32", "size1": "i32", "rows": "i32",
            "cols": "i32",
            **{f"os{d}": "i32" for d in range(4)}, **{f"xs{d}": "i32" for d in range(4)}, "diagonal": "i32"}

SPECS = (
    [KernelSpec(f"shape.remap[{name}:{dt}]", remap_kernel, _remap_signature(dt, dt),
                {**_modes(*modes), "SCATTER": False}, _cfg(dt), REMAP_TUNING.all_configs())
     for name, dt, modes in (
         ("flip", "fp32", (0, 1, 0, 1)), ("flip", "bf16", (1, 1, 1, 1)), ("roll", "i64", (0, 0, 2, 2)),
         ("roll", "i1", (2, 0, 1, 2)), ("pad_constant", "fp16", (0, 0, 3, 3)),
         ("pad_reflect", "fp32", (0, 4, 4, 4)), ("pad_replicate", "bf16", (0, 0, 5, 5)),
         ("pad_circular", "fp64", (0, 6, 6, 6)))]
    + [KernelSpec(f"shape.remap_scatter[{name}:{dt}]", remap_kernel, _remap_signature(dt, dt),
                  {**_modes(*modes), "SCATTER": True}, _CFG, REMAP_SCATTER_TUNING.all_configs())
       for name, dt, modes in (("pad_reflect", "fp32", (0, 0, 4, 4)), ("pad_replicate", "fp16", (0, 5, 5, 5)),
                               ("pad_circular", "fp64", (0, 0, 0, 6)))]
    + [KernelSpec(f"shape.tri[{'upper' if upper else 'lower'}:{dt}]", tri_kernel,
                  {**_TRI_SIG, "out_ptr": f"*{dt}", "x_ptr": f"*{dt}"}, {"UPPER": upper}, _cfg(dt),
                  TRI_TUNING.all_configs())
       for upper, dt in ((False, "fp32"), (True, "bf16"), (False, "i64"), (True, "i1"))]
)
