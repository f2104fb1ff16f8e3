"""NumPy references of the convolution kernels (kernels/conv.py): im2col by one strided view and one copy, and
one batched BLAS matmul per call, never a Python loop over output pixels.

Every function takes the 3-D spatial form (N, C, D, H, W) with weight (O, C // groups, KD, KH, KW); 1-D and
2-D convolutions are the same call with leading spatial dims of size 1. 16-bit inputs compute in float32
and round once; float64 stays float64.

The im2col matrix is channels-first, (groups, C // groups * KD * KH * KW, N * OD * OH * OW): built from an
`as_strided` view of the input (zero-padded into one fresh buffer only when padding is non-zero), its copy
runs along output rows (contiguous input runs for stride 1), and the matmul's (O, N * P) result is the output
as an (N, O, P) view without another copy.

Wide fast path (stride 1 along W, the common case): the output grid is computed on the padded input's full
row width Wp instead of OW, so each im2col row (and each col2im slab) is ONE contiguous run over (OH, Wp)
instead of OH runs of OW; the Wp - OW extra columns per row read neighbouring input (never past the buffer,
which has spare zeros at its end) and are dropped from the output; the backward zero-fills them in dy, so
they add exact zeros (used only when the other operand is finite, as inf * 0 would not be zero).

- `conv_forward_ref`: y = conv(x, w) + bias.
- `conv_input_grad_ref`: dx of conv for dy (also conv_transpose's forward); col2im adds each kernel tap's
  strided slab at once (a loop over the KD*KH*KW taps, not over pixels). With stride 1 (`_plane_input_grad`)
  dy is laid over the whole padded grid, so each tap's slab is C long runs of the flat result.
- `conv_weight_grad_ref`: dw of conv for dy and x (one matmul of dy with the im2col matrix).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

Triple = tuple[int, int, int]


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 for 16-bit inputs (their fp32 accumulation), else the inputs' common dtype."""
    dt = np.result_type(*(a.dtype for a in arrays))
    return np.dtype(np.float32) if dt.itemsize < 4 else dt


def out_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """The output length of one spatial dim of a convolution."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _padded(x: np.ndarray, padding: Triple) -> np.ndarray:
    """x zero-padded on both sides of each spatial dim (x itself when padding is 0)."""
    if not any(padding):
        return x
    xp = np.zeros(x.shape[:2] + tuple(s + 2 * p for s, p in zip(x.shape[2:], padding)), x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:]))] = x
    return xp


def _cols(x: np.ndarray, ks: Triple, stride: Triple, padding: Triple, dilation: Triple, groups: int,
          osz: tuple | None = None) -> np.ndarray:
    """The im2col matrix (groups, C // groups * KD * KH * KW, N * OD * OH * OW) of x (N, C, D, H, W): one
    strided view of the padded input, one copy. `osz` crops the output grid (a transposed convolution's
    output_padding leaves input rows no window reads)."""
    n, c = x.shape[:2]
    xp = _padded(x, padding)
    if osz is None:
        osz = tuple((s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(xp.shape[2:], ks, stride, dilation))
    sn, sc, *ss = xp.strides
    cg = c // groups
    view = as_strided(xp, (groups, cg, *ks, n, *osz),
                      (cg * sc, sc, *(d * s for d, s in zip(dilation, ss)), sn,
                       *(st * s for st, s in zip(stride, ss))), writeable=False)
    return view.reshape(groups, cg * ks[0] * ks[1] * ks[2], -1)


def _dy_mat(dy: np.ndarray, groups: int) -> np.ndarray:
    """dy (N, O, OD, OH, OW) as (groups, O // groups, N * OD * OH * OW) (a view when dy is stored O-major)."""
    n, o = dy.shape[:2]
    return dy.reshape(n, groups, o // groups, -1).transpose(1, 2, 0, 3).reshape(groups, o // groups, -1)


def _wide_ok(x_shape: tuple, ks: Triple, stride: Triple, padding: Triple, dilation: Triple,
             osz: tuple) -> bool:
    """Whether the wide path applies and wastes little: stride 1 along W, and the padded row at most 1.5x the
    output row."""
    wp = x_shape[4] + 2 * padding[2]
    return stride[2] == 1 and 2 * wp <= 3 * osz[2] and wp >= dilation[2] * (ks[2] - 1) + osz[2]


def _flat_strides(shape: tuple, itemsize: int) -> list[int]:
    strides, acc = [], itemsize
    for s in reversed(shape):
        strides.append(acc)
        acc *= s
    return strides[::-1]


def _wide_cols(x: np.ndarray, ks: Triple, stride: Triple, padding: Triple, dilation: Triple, groups: int,
               osz: tuple) -> np.ndarray:
    """The im2col matrix (groups, Cg * K, N * OD * OH * Wp) over the padded row width Wp: x copied into a
    zeroed flat buffer (padding, plus dilation * (KW - 1) spare elements read by the last row's extra
    columns), then one strided view whose (OH, Wp) dims are one contiguous run when stride_h is 1."""
    n, c = x.shape[:2]
    padded = tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))
    size = n * c * padded[0] * padded[1] * padded[2]
    buf = np.zeros(size + dilation[2] * (ks[2] - 1), x.dtype)
    inner = tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:]))
    buf[:size].reshape(n, c, *padded)[(slice(None), slice(None)) + inner] = x
    sn, sc, sd, sh, sw = _flat_strides((n, c, *padded), buf.itemsize)
    cg = c // groups
    view = np.ndarray((groups, cg, *ks, n, osz[0], osz[1], padded[2]), buf.dtype, buf, 0,
                      (cg * sc, sc, dilation[0] * sd, dilation[1] * sh, dilation[2] * sw, sn, stride[0] * sd,
                       stride[1] * sh, sw))  # as_strided's view, without its per-call overhead
    return view.reshape(groups, cg * ks[0] * ks[1] * ks[2], -1)


def _dy_wide(dy: np.ndarray, groups: int, wp: int) -> np.ndarray:
    """dy (N, O, OD, OH, OW) as (groups, O // groups, N * OD * OH * wp), zero in the columns past OW."""
    n, o, od, oh, ow = dy.shape
    out = np.zeros((o, n, od, oh, wp), dy.dtype)
    out[..., :ow] = dy.swapaxes(0, 1)
    return out.reshape(groups, o // groups, -1)


def conv_forward_ref(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, stride: Triple, padding: Triple,
                     dilation: Triple, groups: int) -> np.ndarray:
    """conv(x, w) + bias for x (N, C, D, H, W), w (O, C // groups, KD, KH, KW), bias (O,) or None."""
    ct = compute_dtype(x, w)
    n, o, ks = x.shape[0], w.shape[0], w.shape[2:]
    osz = tuple(out_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], ks, stride, padding, dilation))
    xc = x.astype(ct, copy=False)
    wide = _wide_ok(x.shape, ks, stride, padding, dilation, osz)
    cols = (_wide_cols if wide else _cols)(xc, ks, stride, padding, dilation, groups, osz)
    wm = w.astype(ct, copy=False).reshape(groups, o // groups, -1)
    y = np.matmul(wm, cols)  # (groups, O // groups, N * P): the one BLAS call
    if bias is not None:  # in place, on the matmul's contiguous result
        y += bias.astype(ct, copy=False).reshape(groups, o // groups, 1)
    if wide:  # drop the extra columns: a view
        y = y.reshape(o, n, osz[0], osz[1], -1)[..., :osz[2]]
    y = y.reshape(o, n, *osz).swapaxes(0, 1)  # (N, O, *osz): a view, O-major in memory
    return y.astype(np.result_type(x.dtype, w.dtype), copy=False)


def _col2im(dcols: np.ndarray, dims: tuple, ks: Triple, stride: Triple, dilation: Triple, osz: tuple,
            wide: bool) -> np.ndarray:
    """(C, N, *dims) sums of the (C, KD, KH, KW, N, OD, OH, OW or Wp) column gradients at their input
    positions: one strided slab add per kernel tap. Wide columns are added through flat views of a buffer
    with spare elements at its end (their extra columns hold zeros)."""
    c, n = dcols.shape[0], dcols.shape[len(ks) + 1]
    size = c * n * dims[0] * dims[1] * dims[2]
    buf = np.zeros(size + (dilation[2] * (ks[2] - 1) if wide else 0), dcols.dtype)
    dxp = buf[:size].reshape(c, n, *dims)
    sc, sn, sd, sh, sw = _flat_strides((c, n, *dims), buf.itemsize)
    for kd, kh, kw in itertools.product(*map(range, ks)):
        if wide:
            off = (kd * dilation[0] * dims[1] * dims[2] + kh * dilation[1] * dims[2] + kw * dilation[2]) * sw
            slab = np.ndarray((c, n, osz[0], osz[1], dims[2]), buf.dtype, buf, off,
                              (sc, sn, stride[0] * sd, stride[1] * sh, sw))
        else:
            slab = dxp[(slice(None), slice(None)) + tuple(
                slice(t * d, t * d + (od - 1) * st + 1, st)
                for t, d, od, st in zip((kd, kh, kw), dilation, osz, stride))]
        slab += dcols[:, kd, kh, kw]
    return dxp


def conv_input_grad_ref(dy: np.ndarray, w: np.ndarray, bias: np.ndarray | None, in_shape: tuple,
                        stride: Triple, padding: Triple, dilation: Triple, groups: int) -> np.ndarray:
    """dx (in_shape: N, C, D, H, W) of conv for dy (N, O, OD, OH, OW), plus bias (C,) when given (which
    makes it conv_transpose(dy, w) + bias)."""
    ct = compute_dtype(dy, w)
    n, o = dy.shape[:2]
    c, ks, osz = in_shape[1], w.shape[2:], dy.shape[2:]
    padded = [s + 2 * p for s, p in zip(in_shape[2:], padding)]
    need = [(od - 1) * st + d * (k - 1) + 1 for od, st, d, k in zip(osz, stride, dilation, ks)]
    dims = tuple(max(a, b) for a, b in zip(padded, need))
    wc = w.astype(ct, copy=False)
    if _plane_ok(stride, wc):
        dx = _plane_input_grad(dy.astype(ct, copy=False), wc, groups, c, dims, dilation)
    else:
        dx = _strided_input_grad(dy.astype(ct, copy=False), wc, groups, (n, c, *dims), padding, stride, dilation)
    dx = dx[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, in_shape[2:]))]
    dx = dx.swapaxes(0, 1)  # (N, C, D, H, W): a view
    if bias is not None:
        dx += bias.astype(ct, copy=False).reshape(1, c, 1, 1, 1)
    return dx.astype(np.result_type(dy.dtype, w.dtype), copy=False)


def _plane_ok(stride: Triple, wc: np.ndarray) -> bool:
    """Whether conv_input_grad_ref takes the whole-plane path: stride 1, and a finite weight (the extra columns
    must give exact zeros, as inf * 0 would not)."""
    return tuple(stride) == (1, 1, 1) and bool(np.isfinite(wc).all())


def _plane_input_grad(dy: np.ndarray, wc: np.ndarray, groups: int, c: int, dims: tuple,
                      dilation: Triple) -> np.ndarray:
    """conv_input_grad_ref for stride 1: (C, N, *dims) padded input gradient. dy is laid over the whole padded
    grid (zeros past its own extent), so every kernel tap's contribution to all (C, N) planes is one slab of
    the flat result shifted by the tap's offset: C runs of N * plane elements per tap instead of C * N * OD * OH
    short rows. The extra columns are exact zeros (wc is finite) and land in the padding, a neighbouring plane's
    padding, or the spare elements past the end."""
    n, o = dy.shape[:2]
    ks, osz = wc.shape[2:], dy.shape[2:]
    full = np.zeros((o, n, *dims), dy.dtype)
    full[:, :, :osz[0], :osz[1], :osz[2]] = dy.swapaxes(0, 1)
    m = n * dims[0] * dims[1] * dims[2]
    dcols = np.matmul(wc.reshape(groups, o // groups, -1).transpose(0, 2, 1), full.reshape(groups, o // groups, m))
    dcols = dcols.reshape(c, -1, m)  # (C, KD * KH * KW, N * plane)
    spare = ((dilation[0] * (ks[0] - 1) * dims[1] + dilation[1] * (ks[1] - 1)) * dims[2]
             + dilation[2] * (ks[2] - 1))
    buf = np.zeros(c * m + spare, dy.dtype)
    isz = buf.itemsize
    for t, (kd, kh, kw) in enumerate(itertools.product(*map(range, ks))):
        off = (kd * dilation[0] * dims[1] + kh * dilation[1]) * dims[2] + kw * dilation[2]
        slab = np.ndarray((c, m), buf.dtype, buf, off * isz, (m * isz, isz))
        slab += dcols[:, t]
    return buf[:c * m].reshape(c, n, *dims)


def _strided_input_grad(dy: np.ndarray, wc: np.ndarray, groups: int, shape: tuple, padding: Triple,
                        stride: Triple, dilation: Triple) -> np.ndarray:
    """conv_input_grad_ref's (C, N, *dims) padded input gradient by im2col's transpose (wide when it applies)."""
    n, c, *dims = shape
    dims = tuple(dims)
    o, ks, osz = dy.shape[1], wc.shape[2:], dy.shape[2:]
    wide = _wide_ok((n, c, *(d - 2 * p for d, p in zip(dims, padding))), ks, stride, padding, dilation, osz) \
        and bool(np.isfinite(wc).all())  # the extra columns must get exact zeros
    dym = _dy_wide(dy, groups, dims[2]) if wide else _dy_mat(dy, groups)
    dcols = np.matmul(wc.reshape(groups, o // groups, -1).transpose(0, 2, 1), dym)  # the one BLAS call
    dcols = dcols.reshape(c, *ks, n, osz[0], osz[1], -1)  # (C, KD, KH, KW, N, OD, OH, OW or Wp)
    return _col2im(dcols, dims, ks, stride, dilation, osz, wide)  # C-major, as dcols


def conv_weight_grad_ref(dy: np.ndarray, x: np.ndarray, w_shape: tuple, stride: Triple, padding: Triple,
                         dilation: Triple, groups: int) -> np.ndarray:
    """dw (w_shape: O, C // groups, KD, KH, KW) of conv for dy (N, O, OD, OH, OW) and x (N, C, D, H, W)."""
    ct = compute_dtype(dy, x)
    ks, osz = tuple(w_shape[2:]), dy.shape[2:]
    xc, dyc = x.astype(ct, copy=False), dy.astype(ct, copy=False)
    if _wide_ok(x.shape, ks, stride, padding, dilation, osz) and np.isfinite(xc).all():  # exact zeros needed
        cols = _wide_cols(xc, ks, stride, padding, dilation, groups, osz)
        dym = _dy_wide(dyc, groups, x.shape[4] + 2 * padding[2])
    else:
        cols, dym = _cols(xc, ks, stride, padding, dilation, groups, osz), _dy_mat(dyc, groups)
    dw = np.matmul(dym, cols.transpose(0, 2, 1))  # the one BLAS call
    return dw.reshape(w_shape).astype(np.result_type(dy.dtype, x.dtype), copy=False)
