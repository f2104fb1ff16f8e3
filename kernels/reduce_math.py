"""The per-row math every reduction kernel runs (kernels/reduction.py's row kernel, the split stages of
kernels/reduction_split.py, the scans' chunk totals): element transforms (PRE), row transforms (POST), and
the combine loops of each KIND over BLOCK_M rows x BLOCK_R-element steps. Jit helpers only: no kernels."""

from __future__ import annotations

import triton
import triton.language as tl

from .strided import compute_type


@triton.jit
def _pre(x, p, PRE: tl.constexpr, acc_type: tl.constexpr):
    """The per-element transform applied before combining (x already in compute type)."""
    if PRE == "nonzero":
        return (x != 0).to(acc_type)
    elif PRE == "abs":
        return tl.abs(x.to(acc_type))
    elif PRE == "square":
        v = x.to(acc_type)
        return v * v
    elif PRE == "pow":
        # |x|^p via log2; |0|^p (0 for p > 0, inf for p < 0, as PyTorch's pow) is settled apart: no log2(0).
        ax = tl.abs(x.to(acc_type))
        v = tl.exp2(p * tl.log2(tl.where(ax == 0, 1.0, ax)))
        return tl.where(ax == 0, tl.where(p > 0, 0.0, tl.where(p < 0, float("inf"), float("nan"))), v)
    else:
        return x.to(acc_type)


@triton.jit
def _post(total, R, p, POST: tl.constexpr):
    """The per-row transform applied to the combined value."""
    if POST == "mean":
        # The mean of nothing is NaN (as in PyTorch), chosen rather than computed as 0 / 0.
        return tl.where(R == 0, float("nan"), total / tl.maximum(R, 1))
    elif POST == "sqrt" or POST == "std":
        return tl.sqrt(total)
    elif POST == "root":
        # A zero total (rows past M too) is 0^(1/p), settled apart so log2(0) is never taken.
        v = tl.exp2(tl.log2(tl.where(total == 0, 1.0, total)) / p)
        return tl.where(total == 0, tl.where(p < 0, float("inf"), 0.0), v)
    elif POST == "all":
        return total == R
    elif POST == "any":
        return total > 0
    else:
        return total


@triton.jit
def prod_rows(t, BLOCK_R: tl.constexpr):
    """Product along axis 1: a cumprod's last column (the interpreter vectorises cumprod, not tl.reduce)."""
    lane = tl.arange(0, BLOCK_R)
    return tl.sum(tl.where(lane[None, :] == BLOCK_R - 1, tl.cumprod(t, axis=1), 0), axis=1)


@triton.jit
def _nan_where(flag, v):
    if v.dtype.is_floating():
        v = tl.where(flag, float("nan"), v)
    return v


@triton.jit
def _nan_to_zero(v):
    if v.dtype.is_floating():
        v = tl.where(v != v, 0.0, v)
    return v


@triton.jit
def _reduce_add_mul(x_rows, row_mask, R, stride_xr, p, KIND: tl.constexpr, PRE: tl.constexpr,
                    acc_type: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """Combine PRE(x) along each row by addition or multiplication; returns (BLOCK_M,)."""
    if KIND == "mul":
        acc = tl.full((BLOCK_M, BLOCK_R), 1, acc_type)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        if PRE == "pow":
            # Padding reads 1.0, not 0: log2(0) would be computed for a lane that is discarded.
            x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=1.0))
        else:
            x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=0))
        v = _pre(x, p, PRE, acc_type)
        if KIND == "mul":
            acc = acc * tl.where(mask, v, 1)
        else:
            acc += tl.where(mask, v, 0)
    if KIND == "mul":
        return prod_rows(acc, BLOCK_R)
    else:
        return tl.sum(acc, axis=1)


@triton.jit
def _reduce_extremum(x_rows, row_mask, R, stride_xr, p, IS_MAX: tl.constexpr, PRE: tl.constexpr,
                     val_type: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_R: tl.constexpr):
    """Max (or min) of PRE(x) per row and the index of its first occurrence; NaN is the extreme.

    Lanes start at the row's first element (index 0) rather than at an identity, so no -inf/int
    minimum is needed and padding lanes can never win a tie against a real first occurrence.
    """
    first = _pre(compute_type(tl.load(x_rows, mask=row_mask[:, None], other=0)), p, PRE, val_type)
    acc = tl.broadcast_to(first, (BLOCK_M, BLOCK_R))
    idx = tl.zeros((BLOCK_M, BLOCK_R), tl.int32)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        v = _pre(compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=0)),
                 p, PRE, val_type)
        better = v > acc if IS_MAX else v < acc
        # Strict comparisons keep the earlier index on ties; a NaN replaces any non-NaN.
        better = mask & (better | ((v != v) & (acc == acc)))
        acc = tl.where(better, v, acc)
        idx = tl.where(better, cols[None, :], idx)
    return pick_extreme(acc, idx, IS_MAX)


@triton.jit
def pick_extreme(acc, idx, IS_MAX: tl.constexpr):
    """(value, index) per row of lane candidates (BLOCK_M, W): NaN if any lane holds one, else the extreme;
    then the least index holding it (each lane holds its first occurrence, so that is the row's first)."""
    # Three plain reductions rather than one over (value, index) pairs: tl.max alone may drop NaNs.
    has_nan = tl.max((acc != acc).to(tl.int32), axis=1) > 0
    # NaNs count as 0 in the max/min (a row holding one takes NaN anyway), so a row of NaNs only is no special case.
    finite = _nan_to_zero(acc)
    value = _nan_where(has_nan, tl.max(finite, axis=1) if IS_MAX else tl.min(finite, axis=1))
    hit = (acc == value[:, None]) | ((acc != acc) & has_nan[:, None])
    index = tl.min(tl.where(hit, idx, 2147483647), axis=1)  # R < 2**31: past any index
    return value, index


@triton.jit
def _reduce_logsumexp(x_rows, row_mask, R, stride_xr, acc_type: tl.constexpr, BLOCK_M: tl.constexpr,
                      BLOCK_R: tl.constexpr):
    """log(sum(exp(x))) per row in one pass: each lane keeps a running max m and sum(exp(x - m))."""
    m = tl.full((BLOCK_M, BLOCK_R), float("-inf"), acc_type)
    s = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=float("-inf"))
        x = compute_type(x).to(acc_type)
        new_m = tl.maximum(m, x)
        # An infinite max shifts by 0 instead, so -inf rows give -inf and +inf rows give +inf, not NaN.
        shift = tl.where(tl.abs(new_m) == float("inf"), 0.0, new_m)
        s = s * tl.exp(m - shift) + tl.exp(x - shift)
        m = new_m
    row_max = tl.max(m, axis=1)
    shift = tl.where(tl.abs(row_max) == float("inf"), 0.0, row_max)
    total = tl.sum(s * tl.exp(m - shift[:, None]), axis=1)
    # Rows past M sum to 0; adding 1 there (0 elsewhere, exactly) keeps their discarded log off log(0).
    return shift + tl.log(total + (row_mask == 0).to(acc_type))


@triton.jit
def _reduce_var(x_rows, row_mask, R, stride_xr, correction, acc_type: tl.constexpr, BLOCK_M: tl.constexpr,
                BLOCK_R: tl.constexpr):
    """(variance, mean) per row, two-pass: the mean first, then the squared deviations from it."""
    mean = _reduce_add_mul(x_rows, row_mask, R, stride_xr, 0.0, "add", "id", acc_type, BLOCK_M, BLOCK_R) / R
    acc = tl.zeros((BLOCK_M, BLOCK_R), acc_type)
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols < R)[None, :]
        x = compute_type(tl.load(x_rows + cols.to(tl.int64)[None, :] * stride_xr, mask=mask, other=0))
        d = tl.where(mask, x.to(acc_type) - mean[:, None], 0)
        acc += d * d
    # PyTorch divides by max(R - correction, 0): a non-positive divisor gives inf (or NaN for 0/0).
    var = tl.sum(acc, axis=1) / tl.maximum(R - correction, 0.0)
    return var, mean
