"""NumPy references of the cheap everyday activations (relu, silu) and the host-thread split they share with the
rest of kernels/activations.py, which re-exports them (its OPS finds `<op>_ref` there).

relu and its backward are selections: where(a < 0, 0, a) and where(y <= 0, 0, g). np.where on a data-dependent
mask branches per element (~1.1 ms for 2^18 random fp32, 9x np.maximum's pass), and np.maximum itself returns the
0 operand on a tie (relu(-0.0) would become +0.0, and only on some loops). So the kept elements are picked
bitwise instead: the element's bits, viewed as an unsigned integer, times the 0/1 mask; 0 bits are +0.0, the
value np.where wrote, and every kept value (a NaN's payload, -0.0) keeps its exact bits.

silu and its backward are kernels/special.py's sigmoid passes (the same bits) run over blocks of _BLOCK elements, in
the result and two block-sized buffers (measured at (256, 1024) fp32 on the 2-core host: 1.65 -> 0.36 ms
forward, 3.1 -> 1.0 ms forward+backward; the whole-array passes' temporaries cost more in page faults than in
arithmetic).
"""

from __future__ import annotations

import numpy as np

from . import host_threads
from .special import _other_side, _sigmoid_parts, _sigmoid_side, np_sigmoid, np_sigmoid_one
from .unary import _opmath, backward_ref, forward_ref, host_fn

# Elements from which relu and silu split over the host threads. Measured on the 2-core host (CPU and wall time,
# one thread -> two): relu, a pass or two of memory traffic, lost at every size (2^22 fp32: 3.0 -> 5.2 ms), silu's
# dozen short passes (each a GIL hand-over) lost up to 2^20 (2^18: 0.74 -> 1.18 ms) and gained at 2^22 (26 -> 22).
_RELU_MIN = 1 << 24
_SILU_MIN = 1 << 21
# Up to this many elements np.where's branches cost less than the mask's extra NumPy calls.
_SMALL = 256
# silu's passes run over blocks of this many elements (256 KiB of fp32: the block's buffers stay in the 2 MiB L2).
_BLOCK = 1 << 16


def _threaded(fn, *arrays, min_elements: int = host_threads.MIN_PARALLEL_ELEMENTS):
    """forward_ref(fn, x) / backward_ref(fn, grad, saved), elements split over host_threads (fn elementwise)."""
    arrays = [np.asarray(a) for a in arrays]
    if arrays[0].size < min_elements:  # split_map would decline: skip building its call (most of a small op's cost)
        return (forward_ref if len(arrays) == 1 else backward_ref)(fn, *arrays)
    out = host_threads.split_map(lambda *parts: fn(*map(_opmath, parts)), arrays, arrays[0].dtype, min_elements)
    if out is None:
        return (forward_ref if len(arrays) == 1 else backward_ref)(fn, *arrays)
    return out if len(arrays) == 1 else (out,)


def keep_where(v: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """np.where(keep, v, 0) bit for bit (0 as +0 in v's dtype), for v of keep's shape: v's bits times the mask."""
    floating = v.dtype.kind == "f" or v.dtype.name == "bfloat16"
    if v.shape != keep.shape or not (floating or v.dtype.kind in "iu") or v.dtype.itemsize not in (1, 2, 4, 8):
        return np.where(keep, v, v.dtype.type(0))
    if floating:
        u = v.view(f"u{v.dtype.itemsize}")
        return np.multiply(u, keep, out=np.empty_like(u)).view(v.dtype)
    return np.multiply(v, keep, out=np.empty_like(v))


def _relu_np(a: np.ndarray) -> np.ndarray:
    if a.size <= _SMALL:  # a copy with the negatives zeroed: np.where's bits, in two thirds of its time
        y = a.copy()
        y[a < 0] = 0
        return y
    keep = np.less(a, 0)  # kept: not below 0, so NaN and -0.0 pass as they are (PyTorch)
    return keep_where(a, np.logical_not(keep, out=keep))


def _relu_backward_np(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    if g.size <= _SMALL:
        return np.where(y <= 0, 0, g)
    keep = np.less_equal(y, 0)
    np.logical_not(keep, out=keep)
    return keep_where(g, keep) if g.shape == keep.shape else np.where(keep, g, 0)


# The Tensor layer's hot path calls _relu_np itself on a plain fp32/fp64 tensor (host_fn): no threads there, which
# relu never gained from below _RELU_MIN; the same bits as the split, which runs the same function on each part.
@host_fn(_relu_np)
def relu_ref(x):
    return _threaded(_relu_np, x, min_elements=_RELU_MIN)


def relu_backward_ref(grad, out):
    return _threaded(_relu_backward_np, grad, out, min_elements=_RELU_MIN)


def _blocked(*arrays: np.ndarray) -> bool:
    """Whether silu's blocked passes apply: C-contiguous fp32/fp64 arrays of one shape and dtype, larger than _SMALL."""
    a = arrays[0]
    return (a.dtype.kind == "f" and a.dtype.itemsize in (4, 8) and a.size > _SMALL
            and all(x.shape == a.shape and x.dtype == a.dtype and x.flags.c_contiguous for x in arrays))


def _silu_np(a: np.ndarray) -> np.ndarray:
    if not _blocked(a):
        return a * np_sigmoid_one(a)
    # a * sigmoid(a) with np_sigmoid_one's passes (kernels/special.py: the same bits) block by block, in the result
    # and two block-sized buffers. Whole-array passes took three full-size temporaries besides the result, and the
    # MiBs they free per call make glibc hand the heap's top back to the kernel, which the next call page-faults in.
    y = np.empty_like(a)
    flat, out = a.reshape(-1), y.reshape(-1)
    w1, w2 = np.empty(min(_BLOCK, flat.size), a.dtype), np.empty(min(_BLOCK, flat.size), a.dtype)
    for i in range(0, flat.size, _BLOCK):
        x, yb = flat[i:i + _BLOCK], out[i:i + _BLOCK]
        e, r = _sigmoid_parts(x, w1[:x.size], w2[:x.size])
        np.multiply(x, _sigmoid_side(x, e, r, 1.0, out=yb), out=yb)
    return y


def _silu_backward_np(g: np.ndarray, a: np.ndarray) -> np.ndarray:
    if not (_blocked(a) and g.shape == a.shape and g.dtype == a.dtype):
        s, one_minus_s = np_sigmoid(a)
        return g * (s * (1 + a * one_minus_s))
    # g (s (1 + a (1 - s))) with np_sigmoid's passes and operand orders (the same bits), blocks as in _silu_np: s in
    # the result, e and r in the two block buffers. A strided g (a broadcast one from .sum().backward()) multiplies
    # the whole result once at the end.
    gx = np.empty_like(a)
    fused = g.flags.c_contiguous
    flat, out = a.reshape(-1), gx.reshape(-1)
    gflat = g.reshape(-1) if fused else None
    w1, w2 = np.empty(min(_BLOCK, flat.size), a.dtype), np.empty(min(_BLOCK, flat.size), a.dtype)
    for i in range(0, flat.size, _BLOCK):
        x = flat[i:i + _BLOCK]
        e, r = _sigmoid_parts(x, w1[:x.size], w2[:x.size])
        s = _sigmoid_side(x, e, r, 1.0, out=out[i:i + _BLOCK])
        t = _other_side(e, r, s)  # 1 - s
        np.multiply(x, t, out=t)
        np.add(t, 1, out=t)
        if fused:
            np.multiply(gflat[i:i + _BLOCK], np.multiply(s, t, out=t), out=s)
        else:
            np.multiply(s, t, out=s)
    return gx if fused else np.multiply(g, gx, out=gx)


def silu_ref(x):
    return _threaded(_silu_np, x, min_elements=_SILU_MIN)


def silu_backward_ref(grad, x):
    return _threaded(_silu_backward_np, grad, x, min_elements=_SILU_MIN)
