"""NumPy references for kernels/pool.py: pooling over a (NC, D, H, W) array, forward and backward.

Per spatial dim a (Out, K) table of window positions and their validity is built (fixed windows with
`sliding_window_view` over the padded position range, adaptive ones from PyTorch's start/end rule); the
input is gathered through the three tables at once into (NC, OD, OH, OW, KD, KH, KW) windows, so no Python
loop runs over output pixels. Statistics in fp32 (fp64 for fp64). The geometry dict `p` is kernels/pool.py's.

Fast path (`_tiled`): the common kernel == stride pooling without padding or dilation whose windows tile a
prefix of the input views that prefix as (NC, OD, KD, OH, KH, OW, KW) and makes one elementwise pass per kernel
tap over all windows at once (NumPy reductions over a short trailing axis cost far more), with no tables or
gathers (max pooling first copies the taps into one contiguous row each, so its passes are plain 1-d
loops); its max pooling backward scatters with a plain assignment (tiled windows never share an input, so no
np.add.at). It gives the general path's values and indices (the first max of a window, the
last NaN when a window holds NaNs).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _acc(x: np.ndarray) -> np.ndarray:
    """x in the statistics' type (fp64 for fp64, else fp32); x itself when it already is (callers never write
    into it)."""
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)


def _table(In: int, Out: int, K: int, S: int, P: int, dil: int, adaptive: bool):
    """(positions (Out, K), valid (Out, K), padded window size (Out,), clipped window size (Out,))."""
    o = np.arange(Out)
    if adaptive:
        start = (o * In) // Out
        end = -((-(o + 1) * In) // Out)
        pos = start[:, None] + np.arange(K)[None, :]
        valid = pos < end[:, None]
        return pos, valid, end - start, end - start
    span = (K - 1) * dil + 1
    lo = -P
    hi = max((Out - 1) * S - P + span, lo + span)
    pos = sliding_window_view(np.arange(lo, hi), span)[::S][:Out, ::dil]
    valid = (pos >= 0) & (pos < In)
    start = o * S - P
    end = np.minimum(start + K, In + P)
    clipped = np.minimum(end, In) - np.maximum(start, 0)
    return pos, valid, end - start, clipped


def _tables(shape: tuple, out_shape: tuple, p: dict):
    return [_table(In, Out, K, S, P, dl, p["adaptive"])
            for In, Out, K, S, P, dl in zip(shape, out_shape, p["kernel"], p["stride"], p["padding"], p["dilation"])]


def _windows(x: np.ndarray, tabs):
    """(values (NC, OD, OH, OW, KD, KH, KW), valid, flat spatial index) of every window tap."""
    (pd, vd, *_), (ph, vh, *_), (pw, vw, *_) = tabs
    D, H, W = x.shape[1:]
    a = np.take(x, np.clip(pd, 0, D - 1), axis=1)
    a = np.take(a, np.clip(ph, 0, H - 1), axis=3)
    a = np.take(a, np.clip(pw, 0, W - 1), axis=5)
    a = a.transpose(0, 1, 3, 5, 2, 4, 6)
    valid = vd[:, None, None, :, None, None] & vh[None, :, None, None, :, None] & vw[None, None, :, None, None, :]
    flat = (pd[:, None, None, :, None, None] * H + ph[None, :, None, None, :, None]) * W \
        + pw[None, None, :, None, None, :]
    return a, valid, flat


def _divisors(tabs, p: dict) -> np.ndarray:
    if p["divisor"]:
        return np.full(tuple(len(t[2]) for t in tabs), float(p["divisor"]))
    k = 2 if p["adaptive"] or p["count_include_pad"] else 3
    d, h, w = (t[k].astype(np.float64) for t in tabs)
    return d[:, None, None] * h[None, :, None] * w[None, None, :]


def _tiled(in_shape: tuple, out_shape: tuple, p: dict) -> bool:
    """Whether the windows are kernel == stride tiles of the input's leading corner (no padding, dilation or
    adaptive windows, and no ceil_mode window running past the input)."""
    return (not p["adaptive"] and tuple(p["kernel"]) == tuple(p["stride"]) and not any(p["padding"])
            and all(d == 1 for d in p["dilation"]) and all(o * k <= n for o, k, n in zip(out_shape, p["kernel"],
                                                                                        in_shape)))


def _tiles(x: np.ndarray, out_shape: tuple, ks: tuple) -> np.ndarray:
    """The (NC, OD, KD, OH, KH, OW, KW) view of x's tiled prefix (a view: no copy)."""
    (od, oh, ow), (kd, kh, kw) = out_shape, ks
    x = x[:, :od * kd, :oh * kh, :ow * kw]
    return x.reshape(x.shape[0], od, kd, oh, kh, ow, kw)


@functools.lru_cache(maxsize=64)
def _tile_index(in_shape: tuple, out_shape: tuple, ks: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(flat input index of each window's first tap (OD, OH, OW), flat offset of each tap (KD * KH * KW,)),
    cached per geometry (read-only: callers build new arrays from them)."""
    _, H, W = in_shape
    (od, oh, ow), (kd, kh, kw) = out_shape, ks
    base = ((np.arange(od)[:, None, None] * kd * H + np.arange(oh)[None, :, None] * kh) * W
            + np.arange(ow)[None, None, :] * kw)
    offs = ((np.arange(kd)[:, None, None] * H + np.arange(kh)[None, :, None]) * W + np.arange(kw)).reshape(-1)
    base.flags.writeable = offs.flags.writeable = False
    return base, offs


def _tiled_pool(x: np.ndarray, out_shape: tuple, p: dict):
    """pool_ref over tiles: one elementwise pass per kernel tap over all windows at once. Max pooling keeps
    PyTorch's update rule (a tap replaces the running max only when greater, so the first max wins ties; a NaN
    always replaces it, so a window's last NaN wins)."""
    ks = tuple(p["kernel"])
    v = _tiles(x if x.dtype in (np.float32, np.float64) else _acc(x), out_shape, ks)  # max is exact in x's dtype
    taps = list(itertools.product(*map(range, ks)))
    if not p["max"]:  # v is in the statistics' type here (16-bit and integer inputs were widened)
        out = v[:, :, 0, :, 0, :, 0].copy()
        for kd, kh, kw in taps[1:]:
            out += v[:, :, kd, :, kh, :, kw]
        out /= float(p["divisor"] or len(taps))
        return out.astype(x.dtype, copy=False), None
    # The taps first, each one contiguous run over all windows: one gathering copy, then every pass below is a
    # plain 1-d loop (on the strided view each pass looped over OW-long rows).
    t = np.ascontiguousarray(v.transpose(2, 4, 6, 0, 1, 3, 5)).reshape(len(taps), -1)
    if len(taps) == 1:
        out, tap = t[0].copy(), np.zeros(t.shape[1], np.uint8)  # t may be x itself (a contiguous view)
    else:  # the first pass writes fresh arrays (tap 1 wins only when strictly greater than tap 0)
        out, tap = np.maximum(t[0], t[1]), np.greater(t[1], t[0]).view(np.uint8)
        if len(taps) > 256:
            tap = tap.astype(np.intp)
    for k in range(2, len(taps)):
        s = t[k]
        # Tap k replaces the running tap (always < k) where it is strictly greater than the taps so far (before
        # the maximum below): a maximum with k * mask, cheaper than a masked write.
        np.maximum(tap, np.greater(s, out).view(np.uint8) * tap.dtype.type(k), out=tap)
        np.maximum(out, s, out=out)  # propagates NaN, so a NaN window ends as NaN
    if np.isnan(out).any():  # the index of a NaN window is its last NaN tap
        for k in range(len(taps)):
            np.copyto(tap, k, where=np.isnan(t[k]))
    base, offs = _tile_index(x.shape[1:], out_shape, ks)
    idx = offs.take(tap).reshape(x.shape[0], -1)
    idx += base.reshape(-1)
    shape = (x.shape[0], *out_shape)
    return out.reshape(shape).astype(x.dtype, copy=False), idx.reshape(shape)


def pool_ref(x: np.ndarray, out_shape: tuple, p: dict):
    """(out, argmax flat indices or None) of pooling the (NC, D, H, W) array x to (NC, *out_shape)."""
    if _tiled(x.shape[1:], out_shape, p):
        return _tiled_pool(x, tuple(out_shape), p)
    tabs = _tables(x.shape[1:], out_shape, p)
    a, valid, flat = _windows(_acc(x), tabs)
    NC = x.shape[0]
    taps = valid.shape[3:]
    a = a.reshape(NC, *out_shape, -1)
    valid = valid.reshape(*out_shape, -1)
    flat = np.broadcast_to(flat, valid.shape[:3] + taps).reshape(*out_shape, -1)
    if not p["max"]:
        out = np.where(valid, a, 0).sum(-1) / _divisors(tabs, p)
        return out.astype(x.dtype), None
    isnan = np.isnan(a) & valid
    v = np.where(valid & ~isnan, a, -np.inf)
    best = v.max(-1, keepdims=True)
    first = np.argmax(valid & (v == best), axis=-1)  # first tap holding the max (the first valid if all -inf)
    last_nan = a.shape[-1] - 1 - np.argmax(isnan[..., ::-1], axis=-1)
    tap = np.where(isnan.any(-1), last_nan, first)
    idx = np.take_along_axis(np.broadcast_to(flat, a.shape), tap[..., None], -1)[..., 0]
    out = np.take_along_axis(a, tap[..., None], -1)[..., 0]
    return out.astype(x.dtype), idx.astype(np.int64)


def pool_backward_ref(grad: np.ndarray, in_shape: tuple, p: dict, indices: np.ndarray | None = None) -> np.ndarray:
    """The gradient of pool_ref's input (NC, *in_shape) for the incoming (NC, OD, OH, OW) gradient."""
    g = _acc(grad)
    NC = g.shape[0]
    if _tiled(in_shape, g.shape[1:], p):
        return _tiled_backward(g, tuple(in_shape), p, indices).astype(grad.dtype, copy=False)
    gx = np.zeros((NC, math.prod(in_shape)), g.dtype)
    if p["max"]:
        np.add.at(gx, (np.arange(NC)[:, None], indices.reshape(NC, -1)), g.reshape(NC, -1))
        return gx.reshape(NC, *in_shape).astype(grad.dtype)
    tabs = _tables(in_shape, g.shape[1:], p)
    _, valid, flat = _windows(np.zeros((1, *in_shape), g.dtype), tabs)
    share = (g / _divisors(tabs, p))[:, :, :, :, None, None, None]
    contrib = np.broadcast_to(np.where(valid, share, 0), (NC, *valid.shape))
    where = np.broadcast_to(np.where(valid, flat, 0), valid.shape)
    np.add.at(gx, (np.arange(NC)[:, None], np.broadcast_to(where, (NC, *where.shape)).reshape(NC, -1)),
              contrib.reshape(NC, -1))
    return gx.reshape(NC, *in_shape).astype(grad.dtype)


def _tiled_backward(g: np.ndarray, in_shape: tuple, p: dict, indices: np.ndarray | None) -> np.ndarray:
    """pool_backward_ref for tiled windows: each input element is in at most one window, so max pooling's
    gradient is a plain scatter (unique indices: no accumulation) and avg pooling's a broadcast."""
    NC = g.shape[0]
    size = math.prod(in_shape)
    if p["max"]:
        gx = np.zeros(NC * size, g.dtype)
        flat = indices.reshape(NC, -1) + np.arange(0, NC * size, size)[:, None]
        gx[flat] = g.reshape(NC, -1)
        return gx.reshape(NC, *in_shape)
    gx = np.zeros((NC, *in_shape), g.dtype)
    ks = tuple(p["kernel"])
    share = g / float(p["divisor"] or ks[0] * ks[1] * ks[2])
    _tiles(gx, g.shape[1:], ks)[...] = share[:, :, None, :, None, :, None]
    return gx
