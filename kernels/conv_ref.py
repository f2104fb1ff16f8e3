"""NumPy references of the convolution kernels (kernels/conv.py): im2col by `sliding_window_view` and one
batched BLAS matmul per call, never a Python loop over output pixels.

Every function takes the 3-D spatial form (N, C, D, H, W) with weight (O, C // groups, KD, KH, KW); 1-D and
2-D convolutions are the same call with leading spatial dims of size 1. 16-bit inputs compute in float32
and round once; float64 stays float64.

- `conv_forward_ref`: y = conv(x, w) + bias.
- `conv_input_grad_ref`: dx of conv for dy (also conv_transpose's forward); col2im adds each kernel tap's
  strided slab at once (a loop over the KD*KH*KW taps, not over pixels).
- `conv_weight_grad_ref`: dw of conv for dy and x (one matmul of dy^T with the im2col matrix).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Triple = tuple[int, int, int]


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 for 16-bit inputs (their fp32 accumulation), else the inputs' common dtype."""
    dt = np.result_type(*(a.dtype for a in arrays))
    return np.dtype(np.float32) if dt.itemsize < 4 else dt


def out_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """The output length of one spatial dim of a convolution."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _cols(x: np.ndarray, ks: Triple, stride: Triple, padding: Triple, dilation: Triple, groups: int,
          osz: tuple | None = None) -> np.ndarray:
    """The im2col matrix (groups, N * OD * OH * OW, C // groups * KD * KH * KW) of x (N, C, D, H, W); `osz`
    crops the output grid (a transposed convolution's output_padding leaves input rows no window reads)."""
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    span = tuple(d * (k - 1) + 1 for k, d in zip(ks, dilation))
    win = sliding_window_view(xp, span, axis=(2, 3, 4))  # (N, C, D', H', W', span_d, span_h, span_w)
    win = win[:, :, ::stride[0], ::stride[1], ::stride[2], ::dilation[0], ::dilation[1], ::dilation[2]]
    if osz is not None:
        win = win[:, :, :osz[0], :osz[1], :osz[2]]
    od, oh, ow = win.shape[2:5]
    win = win.reshape(n, groups, c // groups, od, oh, ow, *ks)
    return win.transpose(1, 0, 3, 4, 5, 2, 6, 7, 8).reshape(groups, n * od * oh * ow, -1)


def _dy_mat(dy: np.ndarray, groups: int) -> np.ndarray:
    """dy (N, O, OD, OH, OW) as (groups, N * OD * OH * OW, O // groups)."""
    n, o = dy.shape[:2]
    return dy.reshape(n, groups, o // groups, -1).transpose(1, 0, 3, 2).reshape(groups, -1, o // groups)


def conv_forward_ref(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, stride: Triple, padding: Triple,
                     dilation: Triple, groups: int) -> np.ndarray:
    """conv(x, w) + bias for x (N, C, D, H, W), w (O, C // groups, KD, KH, KW), bias (O,) or None."""
    ct = compute_dtype(x, w)
    n, o, ks = x.shape[0], w.shape[0], w.shape[2:]
    cols = _cols(x.astype(ct, copy=False), ks, stride, padding, dilation, groups)
    wm = w.astype(ct, copy=False).reshape(groups, o // groups, -1)
    y = np.matmul(cols, wm.transpose(0, 2, 1))  # (groups, N * P, O // groups): the one BLAS call
    if bias is not None:  # in place, on the matmul's contiguous result
        y += bias.astype(ct, copy=False).reshape(groups, 1, o // groups)
    osz = tuple(out_size(s, k, st, p, d) for s, k, st, p, d in zip(x.shape[2:], ks, stride, padding, dilation))
    y = y.reshape(groups, n, *osz, o // groups).transpose(1, 0, 5, 2, 3, 4).reshape(n, o, *osz)
    return y.astype(np.result_type(x.dtype, w.dtype), copy=False)


def conv_input_grad_ref(dy: np.ndarray, w: np.ndarray, bias: np.ndarray | None, in_shape: tuple,
                        stride: Triple, padding: Triple, dilation: Triple, groups: int) -> np.ndarray:
    """dx (in_shape: N, C, D, H, W) of conv for dy (N, O, OD, OH, OW), plus bias (C,) when given (which
    makes it conv_transpose(dy, w) + bias)."""
    ct = compute_dtype(dy, w)
    n, o = dy.shape[:2]
    c, ks, osz = in_shape[1], w.shape[2:], dy.shape[2:]
    cg = c // groups
    wm = w.astype(ct, copy=False).reshape(groups, o // groups, -1)
    dcols = np.matmul(_dy_mat(dy.astype(ct, copy=False), groups), wm)  # (groups, N * P, Cg * K): one BLAS call
    dcols = dcols.reshape(groups, n, *osz, cg, *ks).transpose(1, 0, 5, 2, 3, 4, 6, 7, 8)
    dcols = dcols.reshape(n, c, *osz, *ks)
    padded = [s + 2 * p for s, p in zip(in_shape[2:], padding)]
    need = [(od - 1) * st + d * (k - 1) + 1 for od, st, d, k in zip(osz, stride, dilation, ks)]
    dxp = np.zeros((n, c, *(max(a, b) for a, b in zip(padded, need))), ct)
    for kd, kh, kw in np.ndindex(*ks):  # col2im: one strided slab per kernel tap
        sl = tuple(slice(t * d, t * d + (od - 1) * st + 1, st)
                   for t, d, od, st in zip((kd, kh, kw), dilation, osz, stride))
        dxp[(slice(None), slice(None)) + sl] += dcols[..., kd, kh, kw]
    dx = dxp[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, in_shape[2:]))]
    dx = np.ascontiguousarray(dx)
    if bias is not None:
        dx += bias.astype(ct, copy=False).reshape(1, c, 1, 1, 1)
    return dx.astype(np.result_type(dy.dtype, w.dtype), copy=False)


def conv_weight_grad_ref(dy: np.ndarray, x: np.ndarray, w_shape: tuple, stride: Triple, padding: Triple,
                         dilation: Triple, groups: int) -> np.ndarray:
    """dw (w_shape: O, C // groups, KD, KH, KW) of conv for dy (N, O, OD, OH, OW) and x (N, C, D, H, W)."""
    ct = compute_dtype(dy, x)
    cols = _cols(x.astype(ct, copy=False), tuple(w_shape[2:]), stride, padding, dilation, groups, dy.shape[2:])
    dy_t = _dy_mat(dy.astype(ct, copy=False), groups).transpose(0, 2, 1)
    dw = np.matmul(dy_t, cols)  # (groups, O // groups, Cg * K): the one BLAS call
    return dw.reshape(w_shape).astype(np.result_type(dy.dtype, x.dtype), copy=False)
