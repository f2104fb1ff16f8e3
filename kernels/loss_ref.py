"""cross_entropy / nll_loss's NumPy references (the cpu path), split from kernels/loss.py, which re-exports them.

x is (N, C) or (N, C, d1, ...) with classes on axis 1 (a 1-D x is (C,) with a 0-d target). They allocate little:
on the cpu path a training step's cost here is a few passes over the logits plus a fixed cost per NumPy call, so the
forward's exp buffer becomes the backward's gradient (cross_entropy_rows_exp_ref) and the common case (no class
weights, nothing ignored, 2-D logits) skips the masks and moves.
"""

from __future__ import annotations

import numpy as np

from . import host_threads


def _acc(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float64 if x.dtype == np.float64 else np.float32)


def _classes_last(x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim == 2:  # already rows of classes (the common case: no moveaxis call per step)
        return x, np.asarray(target).reshape(-1)
    if x.ndim == 1:
        return x[None, :], np.asarray(target).reshape(1)
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]), np.asarray(target).reshape(-1)


def check_targets_ref(target: np.ndarray, n_classes: int, ignore_index: int) -> None:
    t = np.asarray(target)
    if not t.size or (t.min() >= 0 and t.max() < n_classes):  # two reductions instead of four masks per step
        return
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if np.any(bad):
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")


def cross_entropy_rows_ref(x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None,
                           ignore_index: int = -100, label_smoothing: float = 0.0,
                           nll: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-row loss, target weight, lse) in the accumulation dtype, rows in target's row-major order."""
    return cross_entropy_rows_exp_ref(x, target, weight, ignore_index, label_smoothing, nll)[:3]


def cross_entropy_rows_exp_ref(x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None,
                               ignore_index: int = -100, label_smoothing: float = 0.0,
                               nll: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple | None]:
    """cross_entropy_rows_ref's results and (exp(x - row max) as (rows, C), the row max, the exp's row sums):
    what the forward computed on the way, which cross_entropy_backward_ref turns into the gradient in place
    instead of computing the exp again (None for nll)."""
    acc = _acc(x)
    xr, t = _classes_last(x, target)
    xr = xr.astype(acc, copy=False)  # read only here
    C = xr.shape[1]
    check_targets_ref(t, C, ignore_index)
    tc, counted, w, w_t = _target_weights(t, C, weight, ignore_index, acc)
    x_t = xr[np.arange(len(tc)), tc] if xr.size else np.zeros(t.shape, acc)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if nll:
            return _counted_only(-w_t * x_t, counted, acc), w_t, np.zeros(t.shape, acc), None
        m, e, total = _exp_rows(xr, acc)
        lse = m + np.log(total)
        loss = lse - x_t
        if weight is not None or counted is not None:
            loss *= w_t
        if label_smoothing > 0:
            smooth = C * lse - xr.sum(axis=1) if weight is None else w.sum() * lse - (xr * w).sum(axis=1)
            loss = (1 - label_smoothing) * loss + label_smoothing / C * smooth
    return _counted_only(loss, counted, acc), w_t, lse.astype(acc, copy=False), (e, m, total)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ROWS = np.arange(1024)  # row indices, sliced per call (grown on demand): a fresh arange per step costs a call


def _row_index(n: int) -> np.ndarray:
    global _ROWS
    rows = _ROWS
    if len(rows) < n:
        if n > 1 << 16:  # a large batch's arange costs little next to its rows; it is not kept
            return np.arange(n)
        rows = _ROWS = np.arange(n)
    return rows[:n]


def class_rows_ref(x: np.ndarray, target: np.ndarray, ignore_index: int, reduction: str,
                   keep_exp: bool = True) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """cross_entropy's common case, direct: (N, C) C-contiguous float32/float64 logits, 1-D targets all in [0, C),
    ignore_index outside [0, C) (so no row is ignored), no class weights, no label smoothing, reduction "mean" or
    "sum". Returns (the reduced loss as a 0-d array in x's dtype, lse, exp_rows), the same bits as
    cross_entropy_rows_exp_ref + reduce_loss_ref (the same ufunc calls on the same operands, minus the masks,
    weights and casts that are identities here), or None where the case does not hold: the caller then takes
    the general path, which also reports a bad target. Per-call cost, not arithmetic, is what a small batch
    pays here. keep_exp=False (no gradient wanted): exp_rows' array is None, and the exp of an input of two
    blocks (_BLOCK_BYTES) or more goes through one cache-sized scratch block per thread instead of a fresh
    (N, C) array."""
    rows, C = x.shape
    if (not rows or not C or rows > 1 << 24 or 0 <= ignore_index < C or x.dtype not in _FLOATS
            or not x.flags.c_contiguous or target.ndim != 1 or target.dtype != np.int64):
        return None
    # Viewed as unsigned, a negative target is >= 2^63: both bounds in one reduction.
    if np.maximum.reduce(target.view(np.uint64)) >= C:
        return None
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        host_threads.unbuffer_rows(C)  # the row max's broadcast pass: one inner loop per row (the same bits)
        if not keep_exp and rows * C * x.itemsize >= 2 * _BLOCK_BYTES:
            m, total = _exp_sums(x)
            e = None
        elif rows * C >= host_threads.MIN_PARALLEL_ELEMENTS:
            m, e, total = _exp_rows(x, x.dtype)
        else:  # _exp_rows' passes as one inline call
            m = np.maximum.reduce(x, axis=1)
            e = np.subtract(x, m[:, None])
            np.exp(e, out=e)
            total = host_threads.row_sums(e)
        lse = m + np.log(total)
        out = np.add.reduce(lse - x[_row_index(rows), target])
        if reduction == "mean":  # the target weights are ones: their sum is exactly `rows` (<= 2^24)
            out = out / x.dtype.type(rows)
    return np.asarray(out, x.dtype), lse, (e, m, total)


# The forward alone needs only the exp's row sums: x - max, its exp and their sums in a scratch block that stays in
# L2 leave x's two reads as the only memory passes (an (N, C) exp array adds a write, a read-modify-write and a
# read, and from 32 MiB up a fresh mapping's page faults). Measured at 256 x 4096 fp32, one thread, against the
# unblocked passes in the same process: 2-15% less CPU time in each of 6 runs, on a loaded host (an earlier
# measurement with 64 KiB blocks found them ~9% slower: the blocks' per-call cost).
_BLOCK_BYTES = 1 << 19  # _exp_sums' scratch block: half a core's L2 here (x streams through the other half)


def _exp_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row max, row sums of exp(x - row max)) of C-contiguous (rows, C) logits with no (rows, C) result: blocks of
    rows through one scratch block per part, each row's max and sum inside one call (_exp_rows' bits)."""
    rows, C = x.shape
    m = np.empty(rows, x.dtype)
    total = np.empty(rows, x.dtype)
    step = max(1, _BLOCK_BYTES // (C * x.itemsize))

    def part(lo: int, hi: int) -> None:
        scratch = np.empty((min(step, hi - lo), C), x.dtype)
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            xs, es = x[a:b], scratch[:b - a]
            np.maximum.reduce(xs, axis=1, out=m[a:b])
            np.subtract(xs, m[a:b, None], out=es)
            host_threads.row_sums(np.exp(es, out=es), out=total[a:b])

    host_threads.for_rows(part, rows, C)
    return m, total


def class_rows_backward_ref(grad: np.ndarray, target: np.ndarray, reduction: str, exp_rows: tuple) -> np.ndarray:
    """class_rows_ref's gradient from its exp_rows (whose array becomes the gradient, in place): the bits of
    cross_entropy_backward_ref in that case, where every row's scale is grad (/ N for "mean") times weight 1."""
    e, _, total = exp_rows
    rows = e.shape[0]
    q = np.asarray(grad, e.dtype).reshape(())[()]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        host_threads.unbuffer_rows(e.shape[1])
        if reduction == "mean":
            q = q / e.dtype.type(rows)
        if e.size < host_threads.MIN_PARALLEL_ELEMENTS:
            e *= (q / total)[:, None]
        else:
            _scale_rows(e, q / total)
        e[_row_index(rows), target] -= q
    return e


def _exp_rows(xr: np.ndarray, acc: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row max, exp(x - row max), its row sums) of the (rows, C) logits, rows split over host_threads (each
    row's max and sum inside one call, so the bits do not depend on the thread count)."""
    rows, C = xr.shape
    if not C:
        return np.zeros(rows, acc), np.empty(xr.shape, acc), np.zeros(rows, acc)
    m = np.empty(rows, acc)
    e = np.empty(xr.shape, acc)
    total = np.empty(rows, acc)

    def part(lo: int, hi: int) -> None:
        xs, es = xr[lo:hi], e[lo:hi]
        np.max(xs, axis=1, out=m[lo:hi])
        np.subtract(xs, m[lo:hi, None], out=es)
        host_threads.row_sums(np.exp(es, out=es), out=total[lo:hi])  # a dot per row: ~2x np.sum's speed

    if xr.flags.c_contiguous:
        host_threads.for_rows(part, rows, C)
    else:  # strided logits: one call in their memory order
        part(0, rows)
    return m, e, total


def _scale_rows(gx: np.ndarray, factor: np.ndarray) -> None:
    """gx *= factor[:, None], rows split over host_threads."""
    def part(lo: int, hi: int) -> None:
        gx[lo:hi] *= factor[lo:hi, None]

    host_threads.for_rows(part, gx.shape[0], gx.shape[1])


def _target_weights(t: np.ndarray, C: int, weight: np.ndarray | None, ignore_index: int,
                    acc: np.dtype) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """(targets with ignored ones at class 0, the counted mask or None when every target counts, the class weights
    in acc or None, each row's target weight). The common case (no weight, nothing ignored) takes a few calls: a
    training step's cost here is per call, not per element."""
    counted = t != ignore_index
    if counted.all():
        counted, tc = None, t
    else:
        tc = np.where(counted, t, 0)
    if weight is None:
        return tc, counted, None, np.ones(t.shape, acc) if counted is None else counted.astype(acc)
    w = weight.astype(acc)
    w_t = w[tc] if counted is None else np.where(counted, w[tc], 0).astype(acc)
    return tc, counted, w, w_t


def _counted_only(loss: np.ndarray, counted: np.ndarray | None, acc: np.dtype) -> np.ndarray:
    """Zero on ignored rows (whatever x holds there), in acc."""
    return loss.astype(acc, copy=False) if counted is None else np.where(counted, loss, 0).astype(acc)


def cross_entropy_ref(x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None, ignore_index: int = -100,
                      reduction: str = "mean", label_smoothing: float = 0.0, nll: bool = False) -> np.ndarray:
    """PyTorch's cross_entropy (nll_loss when nll) from class indices, in x's dtype."""
    loss, w_t, _ = cross_entropy_rows_ref(x, target, weight, ignore_index, label_smoothing, nll)
    return reduce_loss_ref(loss, w_t, np.shape(target), reduction, x.dtype)


def reduce_loss_ref(loss: np.ndarray, w_t: np.ndarray, target_shape: tuple, reduction: str,
                    dtype: np.dtype) -> np.ndarray:
    """The per-row losses of cross_entropy_rows_ref reduced as `reduction` says, in `dtype`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "none":
            out = loss.reshape(target_shape)
        elif reduction == "sum":
            out = loss.sum()
        else:
            out = loss.sum() / w_t.sum()
    return np.asarray(out).astype(dtype)


def cross_entropy_backward_ref(grad: np.ndarray, x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None,
                               ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                               nll: bool = False, lse: np.ndarray | None = None,
                               exp_rows: tuple | None = None) -> np.ndarray:
    """d loss / d x for cross_entropy_ref (grad: target-shaped for "none", a scalar otherwise); lse: the
    forward's per-row log-sum-exp (cross_entropy_rows_ref's third result), which spares a max and a sum;
    exp_rows: cross_entropy_rows_exp_ref's fourth result, which spares the exp too: its array becomes the
    gradient (pass it once; with None in its place the exp is computed again, as the forward did)."""
    acc = _acc(x)
    xr, t = _classes_last(x, target)
    C = xr.shape[1]
    tc, counted, w, w_t = _target_weights(t, C, weight, ignore_index, acc)
    g = np.asarray(grad, acc)
    if reduction == "none":
        g = g.reshape(-1)
    else:
        g = np.full(t.shape, g.reshape(()), acc)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = g / w_t.sum()
    rows = slice(None) if counted is None else np.nonzero(counted)[0]
    if counted is not None:
        g = np.where(counted, g, 0)
    eps = 0.0 if nll else label_smoothing
    # In place on one (M, C) working array, with no one-hot matrix: the softmax (from the forward's exp when
    # given), one scaling, then the target column (one per row) corrected by fancy indexing.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = g * ((1 - eps) * w_t + eps / C * (acc.type(C) if w is None else w.sum()))
        if nll:
            gx = np.zeros(xr.shape, acc)
        elif exp_rows is not None:  # softmax = exp(x - m) / total, the exp as the forward computed it
            gx, m, total = exp_rows
            if gx is None:  # already used: the same passes again, so a second backward gives the same values
                gx = np.exp(np.subtract(xr, m[:, None], dtype=acc), dtype=acc)
            _scale_rows(gx, scale / total)
        else:
            gx = np.array(xr, acc)  # a working copy
            if lse is not None:  # softmax = exp(x - lse)
                np.subtract(gx, lse[:, None], out=gx)
                np.exp(gx, out=gx)
            else:
                m = np.max(gx, axis=1, keepdims=True) if C else np.zeros((gx.shape[0], 1), acc)
                np.subtract(gx, m, out=gx)
                np.exp(gx, out=gx)
                scale = scale / host_threads.row_sums(gx)
            gx *= scale[:, None]
        if eps > 0:
            gx -= (g[:, None] * (eps / C)) if w is None else (g[:, None] * (eps / C)) * w[None, :]
        gx[np.arange(len(tc))[rows], tc[rows]] -= (g * (1 - eps) * w_t)[rows]
    if x.ndim <= 2:  # rows already (no moveaxis: two of those cost more than a small batch's arithmetic)
        return gx.reshape(x.shape).astype(x.dtype, copy=False)
    moved = np.moveaxis(gx.reshape(np.moveaxis(x, 1, -1).shape), -1, 1)
    return moved.astype(x.dtype)  # classes moved back: a strided view, copied
