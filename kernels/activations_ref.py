"""NumPy references of the cheap everyday activations (relu, silu) and the host-thread split they share with the
rest of kernels/activations.py, which re-exports them (its OPS finds `<op>_ref` there).

relu and its backward are selections: where(a < 0, 0, a) and where(y <= 0, 0, g). np.where on a data-dependent
mask branches per element (~1.1 ms for 2^18 random fp32, 9x np.maximum's pass), and np.maximum itself returns the
0 operand on a tie (relu(-0.0) would become +0.0, and only on some loops). So the kept elements are picked
bitwise instead: the element's bits, viewed as an unsigned integer, times the 0/1 mask; 0 bits are +0.0, the
value np.where wrote, and every kept value (a NaN's payload, -0.0) keeps its exact bits.
"""

from __future__ import annotations

import numpy as np

from . import host_threads
from .special import np_sigmoid, np_sigmoid_one
from .unary import _opmath, backward_ref, forward_ref

# Elements from which relu and silu split over the host threads. Measured on the 2-core host (CPU and wall time,
# one thread -> two): relu, a pass or two of memory traffic, lost at every size (2^22 fp32: 3.0 -> 5.2 ms), silu's
# dozen short passes (each a GIL hand-over) lost up to 2^20 (2^18: 0.74 -> 1.18 ms) and gained at 2^22 (26 -> 22).
_RELU_MIN = 1 << 24
_SILU_MIN = 1 << 21
# Up to this many elements np.where's branches cost less than the mask's extra NumPy calls.
_SMALL = 256


def _threaded(fn, *arrays, min_elements: int = host_threads.MIN_PARALLEL_ELEMENTS):
    """forward_ref(fn, x) / backward_ref(fn, grad, saved), elements split over host_threads (fn elementwise)."""
    arrays = [np.asarray(a) for a in arrays]
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
    if a.size <= _SMALL:
        return np.where(a < 0, a.dtype.type(0), a)
    keep = np.less(a, 0)  # kept: not below 0, so NaN and -0.0 pass as they are (PyTorch)
    return keep_where(a, np.logical_not(keep, out=keep))


def _relu_backward_np(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    if g.size <= _SMALL:
        return np.where(y <= 0, 0, g)
    keep = np.less_equal(y, 0)
    np.logical_not(keep, out=keep)
    return keep_where(g, keep) if g.shape == keep.shape else np.where(keep, g, 0)


def relu_ref(x):
    return _threaded(_relu_np, x, min_elements=_RELU_MIN)


def relu_backward_ref(grad, out):
    return _threaded(_relu_backward_np, grad, out, min_elements=_RELU_MIN)


def _silu_np(a: np.ndarray) -> np.ndarray:
    return a * np_sigmoid_one(a)  # (a fresh result above the freed scratch: see _silu_backward_np)


def _silu_backward_np(g: np.ndarray, a: np.ndarray) -> np.ndarray:
    s, one_minus_s = np_sigmoid(a)
    if s.shape != a.shape or g.shape != s.shape or g.dtype != s.dtype:
        return g * (s * (1 + a * one_minus_s))
    t = np.multiply(a, one_minus_s, out=one_minus_s)  # g (s (1 + a (1 - s))), the old operand order
    np.add(t, 1, out=t)
    np.multiply(s, t, out=t)
    # The result in a buffer allocated after the scratch (s, e r, t), so that freeing those leaves them below a live
    # block: freed at the heap's top they would be handed back to the kernel (glibc trims from 2 MiB) and the next
    # call would page-fault them in again, ~1000 faults (~2.5 ms here) for a (256, 1024) fp32 input.
    return g * t


def silu_ref(x):
    return _threaded(_silu_np, x, min_elements=_SILU_MIN)


def silu_backward_ref(grad, x):
    return _threaded(_silu_backward_np, grad, x, min_elements=_SILU_MIN)
