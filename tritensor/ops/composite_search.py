"""Counting and searching composites: bincount, histc, searchsorted, bucketize, unique, unique_consecutive, isin.

Counts are a scatter_add into a zero tensor on the input's device; searches compare each value against the
whole boundary row (in chunks, so memory stays bounded) and count. unique and unique_consecutive have a
data-dependent size: they run on the host (PyTorch's cuda versions synchronise too) and put the result on the
input's device; bincount reads the input's maximum for the same reason.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes as D
from ..creation import tensor as _tensor
from ..creation import zeros
from ..grad_state import state as grad_state
from ..tensor import Tensor, wrap_dim
from .elementwise import _into
from .shape import cat

_CHUNK = 1 << 22  # compare at most this many (value, boundary) pairs at once


def _check_tensor(name: str, value, label: str = "input") -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{label}' (position 1) must be Tensor, not {type(value).__name__}")


def _integral(dtype: D.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype is not D.bool


# ================================================================ counting
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Occurrences of each value 0..max(input) of a 1-D non-negative integer tensor (at least minlength
    bins); with weights, the sum of the weights per value (float32 weights stay float32, others give float64)."""
    _check_tensor("bincount", input)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.ndim != 1 or not _integral(input.dtype):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if input.device.type == "cpu" and (weights is None or (weights.device.type == "cpu" and not (
            grad_state.enabled and weights._requires_grad))):
        return _bincount_host(input, weights, minlength)
    n = input.shape[0]
    if n and bool((input < 0).any()):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    size = max(int(input.max().item()) + 1 if n else 0, minlength)
    if weights is None:
        src, dtype = input.new_ones((n,), dtype=D.int64), D.int64
    else:
        dtype = D.float32 if weights.dtype is D.float32 else D.float64
        src = weights.to(dtype)
    out = zeros(size, dtype=dtype, device=input.device)
    return out.scatter_add(0, input.long(), src) if n else out


def _bincount_host(input: Tensor, weights: Tensor | None, minlength: int) -> Tensor:
    """bincount of cpu tensors through np.bincount: the composite's values (a scatter_add in input order) without its
    seven tensor ops; float32 weights are summed in float32 in input order, as PyTorch's (and scatter_add's) loop."""
    a = input._host().astype(np.intp, copy=False)
    if weights is not None and weights.dtype is D.float32:
        if a.shape[0] and int(a.min()) < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        out = np.zeros(max(int(a.max()) + 1 if a.shape[0] else 0, minlength), np.float32)
        np.add.at(out, a, weights._host())
        return Tensor._fresh(out, D.float32)
    w = None if weights is None else weights._host().astype(np.float64, copy=False)
    try:
        out = np.bincount(a, w, minlength)  # int64 counts, or float64 sums in input order
    except ValueError as error:  # a negative value
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.") from error
    if w is None:
        return Tensor._fresh(out, D.int64)
    return Tensor._fresh(out.astype(np.float64, copy=False), D.float64)  # (NumPy counts an empty input as int64)


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0, *,  # noqa: A002
          out: Tensor | None = None) -> Tensor:
    """A histogram of `bins` equal-width bins over [min, max] (the data's range when min == max); elements
    outside are ignored, max itself counts in the last bin. The result has input's dtype."""
    _check_tensor("histc", input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"histogram_{input.device.type}\" not implemented for "
                           f"'{D.scalar_type_name(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    x = input.detach().reshape(-1)
    if lo == hi and x.numel():
        lo, hi = float(x.amin().item()), float(x.amax().item())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")  # C++ stream format
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    inside = (x >= lo) & (x <= hi)
    index = ((x.to(D.float64) - lo) * (bins / (hi - lo))).floor().clamp(0, bins - 1)
    index = index.masked_fill(inside.logical_not(), 0).long()
    result = zeros(bins, dtype=input.dtype, device=input.device).scatter_add(0, index, inside.to(input.dtype))
    return result if out is None else _into(out, result)


# ================================================================ searching
def _count_below(seq: Tensor, values: Tensor, right: bool) -> Tensor:
    """For rows seq (..., n) and values (..., m): how many of each row's boundaries are < value (<= if right);
    the values are compared in chunks of at most _CHUNK pairs."""
    n = seq.shape[-1]
    m = values.shape[-1]
    step = builtins.max(1, _CHUNK // builtins.max(1, n * builtins.max(1, int(np.prod(values.shape[:-1])))))
    parts = []
    for start in range(0, m, step):
        v = values.narrow(-1, start, builtins.min(step, m - start)).unsqueeze(-1)
        # not(b > v) / not(b >= v), PyTorch's binary-search predicates: a NaN value lands after every boundary.
        row = seq.unsqueeze(-2)
        hit = (row > v if right else row >= v).logical_not()
        parts.append(hit.sum(-1))
    if not parts:
        return values.new_zeros(values.shape, dtype=D.int64)
    return parts[0] if len(parts) == 1 else cat(parts, -1)


def _search_args(seq: Tensor, values, side, right: bool, sorter) -> tuple[Tensor, bool]:
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if side == "left" and right:
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left"
                               " while right was True")
        right = side == "right"
    if sorter is not None:
        if sorter.shape != seq.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got "
                               f"boundary tensor {list(seq.shape)}and got sorter tensor {list(sorter.shape)}")
        if sorter.dtype is not D.int64:
            raise RuntimeError("torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                               f"{D.scalar_type_name(sorter.dtype)}")
        if sorter.numel() and (int(sorter.min().item()) < 0 or int(sorter.max().item()) >= sorter.shape[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
        seq = seq.gather(-1, sorter)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}")
    return seq, right


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, out: Tensor | None = None, sorter: Tensor | None = None) -> Tensor:
    """For each value the index where it would be inserted into the innermost sorted row of
    sorted_sequence to keep it sorted: the first such place (side='left'), or the last (right=True or
    side='right'). sorter gives the indices that sort an unsorted sequence. int64 (int32 with out_int32)."""
    _check_tensor("searchsorted", sorted_sequence, "sorted_sequence")
    scalar = not isinstance(input, Tensor)
    if scalar and sorted_sequence.ndim != 1:
        raise RuntimeError("torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension "
                           f"is 1, but we got boundaries tensor dim({sorted_sequence.ndim}) and input value's dim(0) "
                           "numel(1)")
    values = sorted_sequence.new_tensor(input) if scalar else input
    seq, right = _search_args(sorted_sequence, values, side, right, sorter)
    dtype = D.promote_types(seq.dtype, values.dtype)
    seq, values = seq.detach().to(dtype), values.detach().to(dtype)
    if seq.ndim == 1:
        flat = values.reshape(1, -1)
        result = _count_below(seq.unsqueeze(0), flat, right).reshape(values.shape)
    else:
        result = _count_below(seq, values, right)
    result = result.to(D.int32 if out_int32 else D.int64)
    return result if out is None else _into(out, result)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out: Tensor | None = None) -> Tensor:
    """The index of the bucket of each input value given 1-D increasing boundaries: searchsorted(boundaries,
    input, right=right)."""
    _check_tensor("bucketize", boundaries, "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """A bool tensor of elements' shape: True where the element occurs in test_elements (False with invert).
    Either argument may be a Python number."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: elements or test_elements must be "
                        "a Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    e = elements if isinstance(elements, Tensor) else like.new_tensor(elements)
    t = test_elements if isinstance(test_elements, Tensor) else like.new_tensor(test_elements)
    dtype = D.promote_types(e.dtype, t.dtype)
    e, t = e.detach().to(dtype), t.detach().to(dtype).reshape(-1)
    flat = e.reshape(-1)
    n, m = t.shape[0], flat.shape[0]
    step = builtins.max(1, _CHUNK // builtins.max(1, n))
    parts = [(flat.narrow(0, s, builtins.min(step, m - s)).unsqueeze(-1) == t.unsqueeze(0)).any(-1)
             for s in range(0, m, step)] if n else []
    if not parts:
        found = flat.new_zeros((m,), dtype=D.bool)
    else:
        found = parts[0] if len(parts) == 1 else cat(parts, 0)
    found = found.reshape(e.shape)
    return found.logical_not() if invert else found


# ================================================================ unique
def _as_outputs(input: Tensor, values: np.ndarray, inverse: np.ndarray, counts: np.ndarray,
                return_inverse: bool, return_counts: bool):
    dev = input.device
    out = _tensor(np.ascontiguousarray(values), dtype=input.dtype, device=dev)
    if not (return_inverse or return_counts):
        return out
    result = [out]
    if return_inverse:
        result.append(_tensor(np.ascontiguousarray(inverse, dtype=np.int64), dtype=D.int64, device=dev))
    if return_counts:
        result.append(_tensor(np.ascontiguousarray(counts, dtype=np.int64), dtype=D.int64, device=dev))
    return tuple(result)


def _unique_dim(a: np.ndarray, d: int, consecutive: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    moved = np.moveaxis(a, d, 0)
    if moved.shape[0] == 0:
        return a, np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:])))
    if consecutive:
        change = np.concatenate([[True], (rows[1:] != rows[:-1]).any(axis=1)])
        inverse = np.cumsum(change) - 1
        counts = np.bincount(inverse, minlength=int(inverse[-1]) + 1)
        picked = moved[change]
    else:
        keys = [rows[:, j] for j in range(rows.shape[1] - 1, -1, -1)]
        order = np.lexsort(keys) if keys else np.arange(rows.shape[0])
        srt = rows[order]
        change = np.concatenate([[True], (srt[1:] != srt[:-1]).any(axis=1)])
        group = np.cumsum(change) - 1
        inverse = np.empty(rows.shape[0], np.int64)
        inverse[order] = group
        counts = np.bincount(group, minlength=int(group[-1]) + 1)
        picked = moved[order][change]
    return np.moveaxis(picked, 0, d), inverse, counts


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The unique elements of input (ascending), or the unique slices along dim; with return_inverse the
    index of each input element (slice) in the result, with return_counts how often each occurs."""
    _check_tensor("unique", input)
    a = input.detach().cpu().numpy()
    if dim is None:
        # NaN != NaN: each NaN is its own element, as PyTorch's sort-based unique keeps them.
        values, inverse, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
        inverse = inverse.reshape(a.shape)
    else:
        values, inverse, counts = _unique_dim(a, wrap_dim(dim, input.ndim), False)
    return _as_outputs(input, values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """input with each run of equal consecutive elements (slices along dim) collapsed to one, with the
    optional inverse indices and run lengths."""
    _check_tensor("unique_consecutive", input)
    a = input.detach().cpu().numpy()
    if dim is None:
        flat = a.reshape(-1)
        values, inverse, counts = _unique_dim(flat, 0, True)
        inverse = inverse.reshape(a.shape)
    else:
        values, inverse, counts = _unique_dim(a, wrap_dim(dim, input.ndim), True)
    return _as_outputs(input, values, inverse, counts, return_inverse, return_counts)


__all__ = ["bincount", "histc", "searchsorted", "bucketize", "isin", "unique", "unique_consecutive"]
METHODS: dict = {"bincount": bincount, "histc": histc, "unique": unique, "unique_consecutive": unique_consecutive}
