"""Order statistics and moments as composites: aminmax, median/nanmedian, kthvalue, mode, quantile/nanquantile,
cummax/cummin, cov, corrcoef.

Selections sort each row (tt.sort, stable, NaN last) and gather the chosen element from the input, so the
gradient goes to the selected element as PyTorch's does. mode and the indices of cummax/cummin are found on
the host (a sync, as PyTorch's cuda kernels of these also make); their values are gathered on the device.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from .. import dtypes as D
from ..creation import arange
from ..creation import tensor as _tensor
from ..kernels.sort import MAX_SORT_R
from ..tensor import Tensor, wrap_dim
from .elementwise import _into
from .reduction import return_type
from .sort import sort
from .where import where

_median_return, _nanmedian_return = return_type("median"), return_type("nanmedian")
_kthvalue_return, _mode_return = return_type("kthvalue"), return_type("mode")
_cummax_return, _cummin_return = return_type("cummax"), return_type("cummin")
_aminmax_return = collections.namedtuple("aminmax", ["min", "max"])
_aminmax_return.__module__ = "tritensor.return_types"
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_tensor(name: str, value, label: str = "input") -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{label}' (position 1) must be Tensor, not {type(value).__name__}")


def _row_dim(x: Tensor, dim: int) -> int:
    return wrap_dim(dim, x.ndim) if x.ndim else wrap_dim(dim, 1)


# ================================================================ min and max
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """(min, max) of the input, over `dim` or over all elements: a named tuple (min, max)."""
    _check_tensor("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation "
                               "has no identity.")
        lo, hi = input.amin(), input.amax()
        if keepdim:
            shape = (1,) * input.ndim
            lo, hi = lo.reshape(shape), hi.reshape(shape)
        return _aminmax_return(lo, hi)
    d = _row_dim(input, dim)
    if input.ndim and input.shape[d] == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    if input.ndim == 0:
        return _aminmax_return(input.clone(), input.clone())
    return _aminmax_return(input.amin(d, keepdim=keepdim), input.amax(d, keepdim=keepdim))


# ================================================================ selections along a dim
def _sort_order(x: Tensor, d: int) -> Tensor:
    """The int64 indices that sort x along d (stable, NaN last), on x's device. The cuda sort kernel holds a
    row in registers (MAX_SORT_R elements); longer rows are sorted on the host, as the values are gathered
    on the device anyway."""
    x = x.detach()
    if x.device.type != "cpu" and x.shape[d] > MAX_SORT_R:
        return sort(x.cpu(), d).indices.to(x.device)
    return sort(x, d).indices


def _select_sorted(x: Tensor, d: int, position: Tensor, keepdim: bool) -> tuple[Tensor, Tensor]:
    """(values, int64 indices) of the element at `position` (int64, keepdim shape) of each sorted row along d."""
    order = _sort_order(x, d)
    indices = order.gather(d, position)
    values = x.gather(d, indices)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return values, indices


def _nan_count(x: Tensor, d: int) -> Tensor:
    if not x.dtype.is_floating_point:
        return x.new_zeros(tuple(1 if i == d else s for i, s in enumerate(x.shape)), dtype=D.int64)
    return x.detach().isnan().sum(d, keepdim=True)


def _median_dim(name: str, x: Tensor, dim: int, keepdim: bool, ignore_nan: bool):
    d = _row_dim(x, dim)
    row = x if x.ndim else x.reshape(1)
    n = row.shape[d]
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    nans = _nan_count(row, d)
    if ignore_nan:
        valid = nans.neg() + n
        position = (valid - 1).clamp_min(0).div(2, rounding_mode="floor")
    else:
        # A row with a NaN has median NaN: the first NaN of the sorted row (NaN sorts last).
        position = where(nans > 0, nans.neg() + n, nans.new_full((), (n - 1) // 2))
    values, indices = _select_sorted(row, d, position, keepdim or x.ndim == 0)
    if x.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return (_nanmedian_return if ignore_nan else _median_return)(values, indices)


def _median_all(x: Tensor, ignore_nan: bool) -> Tensor:
    flat = x.reshape(-1)
    if flat.numel() == 0:
        return x.new_full((), math.nan)
    value = _median_dim("median", flat, 0, False, ignore_nan).values
    # PyTorch spreads the gradient evenly over every element equal to the median; the value stays exact.
    v = value.detach()
    mask = flat.detach() == v
    if x.dtype.is_floating_point:
        mask = mask | (flat.detach().isnan() & v.isnan())
    if not x.dtype.is_floating_point:
        return v
    picked = where(mask, flat, flat.new_zeros(()))  # NaN * 0 elsewhere would poison the sum
    share = picked.sum() / mask.sum().clamp_min(1).to(flat.dtype)
    return v + (share - share.detach())


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median: of all elements (a 0-d tensor) without `dim`; along `dim` a named tuple
    (values, indices). NaN propagates: a row holding NaN has median NaN (at its first NaN)."""
    _check_tensor("median", input)
    if dim is None:
        return _median_all(input, False)
    return _median_dim("median", input, dim, keepdim, False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """median ignoring NaN (NaN only where a row is all NaN); the same forms as `median`."""
    _check_tensor("nanmedian", input)
    if dim is None:
        return _median_all(input, True)
    return _median_dim("nanmedian", input, dim, keepdim, True)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest element (1-based) along dim and its index, a named tuple (values, indices)."""
    _check_tensor("kthvalue", input)
    d = _row_dim(input, dim)
    row = input if input.ndim else input.reshape(1)
    if row.shape[d] == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= row.shape[d]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    shape = tuple(1 if i == d else s for i, s in enumerate(row.shape))
    position = row.new_full(shape, k - 1, dtype=D.int64)
    values, indices = _select_sorted(row, d, position, keepdim or input.ndim == 0)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return _kthvalue_return(values, indices)


def _mode_rows(rows: np.ndarray) -> np.ndarray:
    """Per row of (M, R): the index of the mode (the smallest of the most frequent values; its last index)."""
    out = np.zeros(rows.shape[0], np.int64)
    for i, row in enumerate(rows):
        values, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        best = int(np.argmax(counts))  # the first maximum: the smallest value among the most frequent
        out[i] = int(np.flatnonzero(inverse.reshape(-1) == best)[-1]) if values.size else 0
    return out


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along dim (the smallest on a tie) and the index of its last occurrence:
    a named tuple (values, indices)."""
    _check_tensor("mode", input)
    d = _row_dim(input, dim)
    row = input if input.ndim else input.reshape(1)
    if row.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    moved = np.moveaxis(row.detach().cpu().numpy(), d, -1)
    picked = _mode_rows(moved.reshape(-1, moved.shape[-1])).reshape(moved.shape[:-1] + (1,))
    indices = _tensor(np.moveaxis(picked, -1, d), dtype=D.int64, device=input.device)
    values = row.gather(d, indices)
    if not keepdim or input.ndim == 0:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return _mode_return(values, indices)


# ================================================================ quantiles
def _quantile_q(q, x: Tensor) -> tuple[Tensor, bool]:
    """q as a 1-D tensor of x's dtype and whether it was a scalar; PyTorch's checks in its order."""
    if not isinstance(q, Tensor):
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
        q = x.new_tensor(float(q), dtype=x.dtype) if x.dtype in (D.float32, D.float64) else None
    if x.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if q is not None and q.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if x.dtype not in (D.float32, D.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if q.dtype is not x.dtype:
        raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    if q.device != x.device:
        raise RuntimeError("quantile() q tensor must be on the same device as the input tensor")
    qh = q.detach().cpu().numpy()  # PyTorch checks this on the cpu only; checked on both here (no kernel ran)
    if qh.size and not ((qh >= 0) & (qh <= 1)).all():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    return q.detach().reshape(-1), q.ndim == 0


def _quantile(name: str, input: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    _check_tensor(name, input)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    qs, scalar = _quantile_q(q, input)
    x = input.reshape(-1) if dim is None else (input if input.ndim else input.reshape(1))
    d = 0 if dim is None else _row_dim(input, dim)
    values = x.gather(d, _sort_order(x, d)).movedim(d, -1)  # (..., n), NaN last
    n = values.shape[-1]
    nans = values.detach().isnan().sum(-1, keepdim=True).to(x.dtype)  # (..., 1)
    if ignore_nan:
        last = (nans.neg() + (n - 1)).clamp_min(0)
        rank = qs * last  # (..., Q)
    else:
        # A row holding NaN: every quantile reads its last (NaN) element, as PyTorch does.
        rank = where(nans > 0, nans.new_full((), float(n - 1)), qs * (n - 1))
    lo, hi = rank.floor(), rank.ceil()
    if interpolation == "nearest":
        lo = hi = rank.round()
    elif interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    v_lo, v_hi = values.gather(-1, lo.long()), values.gather(-1, hi.long())
    if interpolation == "linear":
        out = v_lo + (v_hi - v_lo) * (rank - lo)
    elif interpolation == "midpoint":
        out = v_lo + (v_hi - v_lo) * 0.5
    else:
        out = v_lo
    if ignore_nan:  # an all-NaN row gives NaN
        out = where(nans == n, out.new_full((), math.nan), out)
    out = out.movedim(-1, 0)  # (Q, ...)
    if keepdim:
        kept = (1,) * input.ndim if dim is None else tuple(1 if i == d else s for i, s in enumerate(input.shape))
        out = out.reshape((out.shape[0],) + kept)
    return out.squeeze(0) if scalar else out


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear", out: Tensor | None = None) -> Tensor:
    """The q-th quantiles along dim (all elements by default); q a float or a 1-D tensor (its dim leads the
    result). interpolation: linear, lower, higher, midpoint or nearest. NaN in a row makes its quantiles NaN."""
    result = _quantile("quantile", input, q, dim, keepdim, interpolation, False)
    return result if out is None else _into(out, result)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear", out: Tensor | None = None) -> Tensor:
    """quantile ignoring NaN values (NaN only where a row is all NaN)."""
    result = _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)
    return result if out is None else _into(out, result)


# ================================================================ running extrema
def _running_indices(a: np.ndarray, is_max: bool) -> np.ndarray:
    """PyTorch's running arg-extremum along the last axis: ties and NaN move the index to the newest element."""
    out = np.zeros(a.shape, np.int64)
    best = a[..., 0].copy()
    idx = np.zeros(a.shape[:-1], np.int64)
    for i in range(a.shape[-1]):
        x = a[..., i]
        with np.errstate(invalid="ignore"):
            take = (x >= best) if is_max else (x <= best)
        if a.dtype.kind in "fc":
            take = (take & ~np.isnan(best)) | np.isnan(x)
        best = np.where(take, x, best)
        idx = np.where(take, i, idx)
        out[..., i] = idx
    return out


def _cumext(name: str, input: Tensor, dim: int, is_max: bool):
    _check_tensor(name, input)
    if input.is_complex():
        raise RuntimeError(f"{name}() is not implemented for complex tensors.")
    d = _row_dim(input, dim)
    row = input if input.ndim else input.reshape(1)
    ret = _cummax_return if is_max else _cummin_return
    if row.shape[d] == 0:
        return ret(row.clone(), row.new_zeros(row.shape, dtype=D.int64))
    moved = np.moveaxis(row.detach().cpu().numpy(), d, -1)
    picked = np.moveaxis(_running_indices(moved, is_max), -1, d)
    indices = _tensor(np.ascontiguousarray(picked), dtype=D.int64, device=input.device)
    values = row.gather(d, indices)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return ret(values, indices)


def cummax(input: Tensor, dim: int):
    """The running maximum along dim and the index where it was (the latest on ties; NaN propagates)."""
    return _cumext("cummax", input, dim, True)


def cummin(input: Tensor, dim: int):
    """The running minimum along dim and the index where it was (the latest on ties; NaN propagates)."""
    return _cumext("cummin", input, dim, False)


# ================================================================ covariance
def _check_weights(name: str, w, observations: int, integral: bool) -> None:
    if w is None:
        return
    if w.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                           f"{w.ndim} dimensions")
    if w.numel() != observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the "
                           f"input but got {w.numel()} != {observations}")
    if integral and (w.dtype.is_floating_point or w.dtype.is_complex):
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                           f"{D.scalar_type_name(w.dtype)} dtype")
    if not integral and not w.dtype.is_floating_point:
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                           f"{D.scalar_type_name(w.dtype)} dtype")
    if bool((w.detach() < 0).any()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in input's rows (observations in columns); a 1-D input is one
    variable (a 0-d result). fweights (integral) and aweights (floating) weight the observations."""
    _check_tensor("cov", input)
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        x = x.to(D.get_default_dtype())
    observations = x.shape[1]
    _check_weights("fweights", fweights, observations, True)
    _check_weights("aweights", aweights, observations, False)
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        avg = x.mean(1, keepdim=True)
        norm = x.new_full((), float(max(observations - correction, 0)))
        centered = x - avg
        product = centered
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if correction == 0:
            norm = w_sum
        elif aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights.to(x.dtype)).sum() / w_sum
        norm = norm.clamp_min(0)
        centered = x - avg
        product = centered * w
    c = product.matmul(centered.transpose(0, 1).conj()) / norm
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """The Pearson correlation matrix of the variables in input's rows (cov normalised by the standard
    deviations, clipped to [-1, 1])."""
    _check_tensor("corrcoef", input)
    if input.ndim > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    n = c.shape[0]
    diag = c.reshape(-1).index_select(0, arange(n, device=c.device) * (n + 1))
    std = diag.sqrt() if not c.dtype.is_complex else diag.real.sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c if c.dtype.is_complex else c.clamp(-1, 1)


__all__ = ["aminmax", "median", "nanmedian", "kthvalue", "mode", "quantile", "nanquantile", "cummax", "cummin",
           "cov", "corrcoef"]
METHODS: dict = {name: globals()[name] for name in __all__}
