"""The sparse COO tensor: tt.sparse_coo_tensor(indices, values, size), as torch's sparse_coo layout.

A SparseCOOTensor holds `indices` (sparse_dim, nnz) int64 and `values` (nnz, *dense sizes) on one device;
element (i_0, ..., i_{s-1}) is the sum of the values whose index column equals it (uncoalesced: columns may
repeat, in any order). Trailing dense dims in values make a hybrid tensor. It is a Tensor subclass for the
attributes the rest of the library reads (is_sparse, layout, shape, dtype, device, .grad accumulation);
dense Tensor ops do not apply to it.

Autograd runs on the values: a sparse tensor built from values that require grad is differentiable through
everything here (to_dense, coalesce, sum, tt.sparse.mm, ...) since those are written with differentiable ops
on the values. A sparse leaf (`requires_grad=True`) keeps its values as the graph's leaf; its `.grad` is the
values' gradient with the leaf's indices: a sparse gradient with the input's sparsity pattern, as PyTorch's.

It is what embedding(sparse=True) returns as its weight gradient. Sparse + sparse concatenates (the result
is uncoalesced, as PyTorch's), sparse + dense is dense; `coalesce()` sorts the distinct index columns and
sums their values (the distinct columns are found on the host: their count sizes the result, a
synchronisation as in PyTorch).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..creation import tensor as _tensor
from ..creation import zeros
from ..device import device as _device
from ..formatting import _OPTS, _format
from ..tensor import Size, Tensor, sparse_coo, wrap_dim
from . import sparse_mm


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu()._host()


def _body(t: Tensor, indent: int) -> str:
    """A tensor's `tensor(...)` text without suffixes, its continuation lines indented by `indent` more."""
    values = t.detach()._to_host_array()
    text = _format(values, t.dtype) if values.size else "[]"
    return "tensor(" + text.replace("\n", "\n" + " " * indent) + ")"


def sparse_repr(parts: list[tuple[str, Tensor]], suffixes: list[str], force_newline: bool) -> str:
    """PyTorch's text of a sparse tensor: `tensor(name=tensor(...),` one part a line, then the suffixes
    (size, nnz, dtype, layout), which wrap at 80 columns; COO's first suffix always starts a new line."""
    lines = [f"{name}={_body(t, 7 + len(name) + 1)}" for name, t in parts]
    text = "tensor(" + (",\n" + " " * 7).join(lines)
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last + len(suffix) + 2 > _OPTS.linewidth:  # where the size/nnz/layout suffixes wrap
            text += ",\n" + " " * 7 + suffix
            last = 7 + len(suffix)
            force_newline = False
        else:
            text += ", " + suffix
            last += len(suffix) + 2
    return text + ")"


def suffixes(t: Tensor, nnz: int, layout) -> list[str]:
    """device (off the cpu), size, nnz, dtype (when not the default) and layout, in PyTorch's order."""
    out = [f"device='{t.device}'"] if t.device.type != "cpu" else []
    out += [f"size={tuple(t._shape)}", f"nnz={nnz}"]
    if t.dtype not in (D.get_default_dtype(), D.int64, D.bool):
        out.append(f"dtype={t.dtype}")
    out.append(f"layout={layout!r}")
    if t.grad_fn is not None:
        out.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        out.append("requires_grad=True")
    return out


class SparseAutograd(Tensor):
    """The autograd attributes of a sparse tensor, read from its values (`_values()`): requires_grad, grad_fn,
    and `.grad`, the values' gradient with this tensor's pattern (`_with_values`)."""

    def _with_values(self, values: Tensor) -> Tensor:  # pragma: no cover - every sparse subclass defines it
        raise NotImplementedError

    @property
    def requires_grad(self) -> bool:
        """True when the values are recorded by autograd."""
        return self._values().requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._values().requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Sets `requires_grad` in place (on the values, the leaf the gradient lands in) and returns self."""
        self._values().requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        """The graph node that made the values (None for a leaf)."""
        return self._values().grad_fn

    @grad_fn.setter
    def grad_fn(self, value) -> None:
        self._values().grad_fn = value

    @property
    def grad(self) -> Tensor | None:
        """The gradient of a sparse leaf: sparse, with this tensor's indices and the values' gradient."""
        g = self._values()._grad
        return None if g is None else self._with_values(g)

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and value._values()._shape != self._values()._shape:
            raise RuntimeError("assigned grad has data of a different size")
        self._values()._grad = None if value is None else value._values()

    @grad.deleter
    def grad(self) -> None:
        self._values()._grad = None

    @property
    def shape(self) -> Size:
        """The dense shape this tensor stands for."""
        return Size(self._shape)

    def size(self, dim: int | None = None):
        """The shape, or its length along `dim`."""
        return Size(self._shape) if dim is None else self._shape[wrap_dim(dim, len(self._shape))]

    def dim(self) -> int:
        """The number of dims of the dense shape."""
        return len(self._shape)

    @property
    def ndim(self) -> int:
        """The number of dims of the dense shape."""
        return len(self._shape)

    def numel(self) -> int:
        """The number of elements of the dense shape."""
        return int(np.prod(self._shape, dtype=np.int64))

    def _sparse_mm(self, other: Tensor) -> Tensor:
        """tt.mm / tt.matmul / `@` with this sparse first operand (ops/matmul.py dispatches here)."""
        if isinstance(other, Tensor) and other.ndim == 1 and other.layout is not sparse_coo:
            return sparse_mm.mm(self, other.unsqueeze(1)).squeeze(1)
        return sparse_mm.mm(self, other)

    def _sparse_addmm(self, input: Tensor, mat2: Tensor, beta=1, alpha=1) -> Tensor:  # noqa: A002
        """tt.addmm with this sparse mat1 (ops/matmul.py dispatches here)."""
        return sparse_mm.addmm(input, self, mat2, beta=beta, alpha=alpha)

    def is_contiguous(self, memory_format=None) -> bool:
        """Sparse tensors have no strides: False, as PyTorch's."""
        return False

    def __eq__(self, other):  # identity, as the Tensor hash (a sparse tensor is not compared elementwise here)
        return self is other

    __hash__ = Tensor.__hash__


class SparseCOOTensor(SparseAutograd):
    """A sparse COO tensor (see the module docstring); build one with tt.sparse_coo_tensor or Tensor.to_sparse."""

    @staticmethod
    def _make_coo(indices: Tensor, values: Tensor, size: tuple, coalesced: bool = False) -> SparseCOOTensor:
        t = object.__new__(SparseCOOTensor)
        t._storage, t._np, t._offset = None, None, 0
        t._shape = tuple(int(n) for n in size)
        t._stride = ()
        t.dtype, t.device, t._requires_grad = values.dtype, values.device, False
        t._coo = (indices, values, bool(coalesced))
        return t

    def _with_values(self, values: Tensor) -> SparseCOOTensor:
        return SparseCOOTensor._make_coo(self._coo[0], values, self._shape, self._coo[2])

    # ------------------------------------------------------------------ attributes
    @property
    def is_sparse(self) -> bool:
        """True: a sparse COO tensor."""
        return True

    @property
    def is_sparse_csr(self) -> bool:
        """False: a COO tensor."""
        return False

    @property
    def layout(self):
        """tt.sparse_coo."""
        return sparse_coo

    def sparse_dim(self) -> int:
        """The number of sparse dimensions (rows of indices())."""
        return self._coo[0]._shape[0]

    def dense_dim(self) -> int:
        """The number of dense dimensions (values().dim() - 1)."""
        return self._coo[1].ndim - 1

    def _nnz(self) -> int:
        """The number of stored index columns (duplicates count until coalesce())."""
        return self._coo[1]._shape[0]

    def is_coalesced(self) -> bool:
        """True when the index columns are sorted and distinct."""
        return self._coo[2]

    def _coalesced_(self, coalesced: bool) -> SparseCOOTensor:
        """Marks the tensor (un)coalesced in place, trusting the caller, as PyTorch's."""
        self._coo = (self._coo[0], self._coo[1], bool(coalesced))
        return self

    def _indices(self) -> Tensor:
        """The (sparse_dim, nnz) int64 indices, coalesced or not."""
        return self._coo[0]

    def _values(self) -> Tensor:
        """The (nnz, *dense sizes) values, coalesced or not."""
        return self._coo[1]

    def indices(self) -> Tensor:
        """The (sparse_dim, nnz) int64 indices of a coalesced tensor."""
        if not self._coo[2]:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._coo[0]

    def values(self) -> Tensor:
        """The (nnz, *dense sizes) values of a coalesced tensor."""
        if not self._coo[2]:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._coo[1]

    def __repr__(self) -> str:
        idx, val, _ = self._coo
        return sparse_repr([("indices", idx), ("values", val)], suffixes(self, self._nnz(), sparse_coo), True)

    __str__ = __repr__

    # ------------------------------------------------------------------ conversions
    def _linear(self) -> Tensor:
        """The row-major position of each index column among the sparse dims, int64 (nnz,)."""
        idx = self._coo[0]
        lin = idx[0] if idx._shape[0] else zeros(self._nnz(), dtype=D.int64, device=self.device)
        for k in range(1, idx._shape[0]):
            lin = lin * self._shape[k] + idx[k]
        return lin

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The dense tensor: zeros with every value added at its index (duplicates sum); differentiable in
        the values."""
        sd = self.sparse_dim()
        rows = int(np.prod(self._shape[:sd], dtype=np.int64))
        out = zeros((rows,) + self._shape[sd:], dtype=self.dtype, device=self.device)
        if self._nnz():
            out = out.index_add(0, self._linear(), self._coo[1])
        out = out.reshape(self._shape)
        return out if dtype is None else out.to(dtype)

    def coalesce(self) -> SparseCOOTensor:
        """The equivalent tensor with sorted, distinct index columns (duplicates' values summed)."""
        if self._coo[2]:
            return self
        idx, val, _ = self._coo
        lin = _host(self._linear()) if self._nnz() else np.zeros(0, np.int64)
        uniq, inverse = np.unique(lin, return_inverse=True)
        sizes = self._shape[:self.sparse_dim()]
        cols = np.stack(np.unravel_index(uniq, sizes)) if sizes else np.zeros((0, len(uniq)), np.int64)
        new_idx = Tensor._from_host(np.ascontiguousarray(cols.astype(np.int64)), self.device)
        summed = zeros((len(uniq),) + tuple(val._shape[1:]), dtype=val.dtype, device=self.device)
        if len(uniq):
            summed = summed.index_add(0, Tensor._from_host(inverse.reshape(-1).astype(np.int64), self.device), val)
        return SparseCOOTensor._make_coo(new_idx, summed, self._shape, True)

    def detach(self) -> SparseCOOTensor:
        """This tensor without autograd history (values detached)."""
        return SparseCOOTensor._make_coo(self._coo[0], self._coo[1].detach(), self._shape, self._coo[2])

    def clone(self, *, memory_format=None) -> SparseCOOTensor:
        """A copy with its own indices and values."""
        idx, val, c = self._coo
        return SparseCOOTensor._make_coo(idx.clone(), val.clone(), self._shape, c)

    def to(self, *args, **kwargs) -> SparseCOOTensor:
        """The same tensor with values converted (dtype and/or device, as Tensor.to)."""
        val = self._coo[1].to(*args, **kwargs)
        return SparseCOOTensor._make_coo(self._coo[0].to(val.device), val, self._shape, self._coo[2])

    def cpu(self) -> SparseCOOTensor:
        """The tensor on the cpu."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> SparseCOOTensor:
        """The tensor on a cuda device."""
        return self.to("cuda" if device is None else device)

    def t(self) -> SparseCOOTensor:
        """The transpose of a 2-D sparse tensor (its two index rows swapped; uncoalesced)."""
        if self.sparse_dim() != 2 or self.dense_dim():
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
                               f"{self.sparse_dim()} sparse and {self.dense_dim()} dense dimensions")
        idx = self._coo[0]
        return SparseCOOTensor._make_coo(idx.flip(0), self._coo[1], self._shape[::-1], False)

    def zero_(self) -> SparseCOOTensor:
        """In place: no stored entries left (nnz 0), as PyTorch's sparse zero_ (optimizer.zero_grad(False))."""
        idx, val, _ = self._coo
        empty_idx = zeros((idx._shape[0], 0), dtype=D.int64, device=self.device)
        self._coo = (empty_idx, zeros((0,) + tuple(val._shape[1:]), dtype=val.dtype, device=self.device), True)
        return self

    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        """tt.sparse.sum: dense for a full reduction or one over every sparse dim, sparse otherwise."""
        return sparse_sum(self, dim, dtype)

    # ------------------------------------------------------------------ arithmetic
    def _check_size(self, other: Tensor) -> None:
        if tuple(other._shape) != self._shape:
            raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(self._shape)} while other has size {list(other._shape)} (FYI: dense-sparse "
                               "addition does not currently support broadcasting)")

    def __add__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        self._check_size(other)
        if not other.is_sparse:
            return other + self.to_dense()
        idx = _cat([self._coo[0], other._coo[0]], 1)
        val = _cat([self._coo[1], other._coo[1].to(self.dtype)], 0)
        return SparseCOOTensor._make_coo(idx, val, self._shape, False)

    def __radd__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        self._check_size(other)
        return other + self.to_dense()

    def __neg__(self) -> SparseCOOTensor:
        return self._with_values(-self._coo[1])

    def __mul__(self, other) -> SparseCOOTensor:
        if isinstance(other, Tensor):
            return NotImplemented
        return self._with_values(self._coo[1] * other)

    __rmul__ = __mul__


def _cat(tensors: list, dim: int) -> Tensor:
    from .shape import cat

    return cat(tensors, dim)


def sparse_sum(input: SparseCOOTensor, dim=None, dtype=None) -> Tensor:  # noqa: A002
    """The sum of a COO tensor over `dim` (all dims when None): a dense 0-d tensor for a full reduction, a dense
    tensor when every sparse dim is reduced, else a coalesced sparse tensor over the dims left."""
    val = input._values() if dtype is None else input._values().to(dtype)
    if dim is None:
        return val.sum()
    dims = [dim] if isinstance(dim, int) else list(dim)
    wrapped = [wrap_dim(d, input.ndim) for d in dims]
    for d in set(wrapped):
        if wrapped.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    sd = input.sparse_dim()
    dense_axes = [d - sd + 1 for d in wrapped if d >= sd]
    if dense_axes:
        val = val.sum(dense_axes)
    kept = [d for d in range(sd) if d not in wrapped]
    if not kept:
        return val.sum(0)
    keep_dense = [d for d in range(sd, input.ndim) if d not in wrapped]
    size = tuple(input._shape[d] for d in kept + keep_dense)
    idx = input._indices()
    new_idx = idx if len(kept) == sd else idx.index_select(0, Tensor._from_host(np.array(kept, np.int64),
                                                                               input.device))
    return SparseCOOTensor._make_coo(new_idx, val, size, False).coalesce()


def _as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    return _tensor(data, dtype=dtype, device=device)


def _check_bounds(host: np.ndarray, sizes: tuple, sd: int) -> None:
    for k in range(sd):
        if host.shape[1] and int(host[k].max()) >= sizes[k]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {k}, size is {sizes[k]} but found "
                               f"index {int(host[k].max())}")


def _sizes(host: np.ndarray, values: Tensor, size, sd: int) -> tuple:
    """The sizes given (checked against indices and values) or inferred (the smallest holding every index)."""
    if size is None:
        return tuple(int(host[k].max()) + 1 if host.shape[1] else 0 for k in range(sd)) + tuple(values._shape[1:])
    sizes = tuple(int(n) for n in size)
    if len(sizes) != sd + values.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sd}) + dense_dim ({values.ndim - 1}), but "
                           f"got {len(sizes)}")
    _check_bounds(host, sizes, sd)
    if tuple(values._shape[1:]) != sizes[sd:]:
        raise RuntimeError(f"values has incorrect size, expected {list((values._shape[0],) + sizes[sd:])}, got "
                           f"{list(values.shape)}")
    return sizes


def _check_coalesced(host: np.ndarray, sizes: tuple, sd: int) -> None:
    lin = np.ravel_multi_index(tuple(host), sizes[:sd]) if sd and host.shape[1] else np.zeros(host.shape[1])
    if np.any(np.diff(lin) <= 0):
        raise RuntimeError("`indices` is not coalesced")


def _indices_tensor(indices, device) -> Tensor:
    indices = _as_tensor(indices, None, device)
    if indices.dtype is not D.int64:
        if indices.dtype.is_floating_point or indices.dtype is D.bool:
            raise RuntimeError(f"indices must be an int64 tensor, got {indices.dtype}")
        indices = indices.to(D.int64)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    return indices


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad: bool = False,
                      check_invariants=None, is_coalesced=None) -> SparseCOOTensor:
    """A sparse COO tensor with the given `indices` (sparse_dim, nnz) and `values` (nnz, *dense sizes); `size`
    defaults to the smallest that holds every index (sparse dims) and values' trailing sizes (dense dims).

    Indices are always checked against `size` (a host read of the indices); `check_invariants=True` also checks
    that indices claimed coalesced (`is_coalesced=True`) are sorted and distinct. Values that require grad keep
    their graph (the tensor is differentiable in them); `requires_grad=True` makes a sparse leaf whose `.grad`
    is sparse with these indices.
    """
    values = _as_tensor(values, dtype, None if device is None else _device(device))
    indices = _indices_tensor(indices, values.device)
    if values.ndim == 0:
        values = values.reshape(1)
    if indices._shape[1] != values._shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {indices._shape[1]}, "
                           f"nnz from values: {values._shape[0]}")
    sd = indices._shape[0]
    host = _host(indices)
    if host.size and host.min() < 0:
        raise RuntimeError(f"found negative index {int(host.min())} for dim {int(np.argmin(host.min(1)))}")
    sizes = _sizes(host, values, size, sd)
    if check_invariants and is_coalesced:
        _check_coalesced(host, sizes, sd)
    if requires_grad:
        if not values.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        values = values.detach().requires_grad_()
    elif not values.requires_grad:
        values = values.detach()
    return SparseCOOTensor._make_coo(indices, values, sizes, bool(is_coalesced))


__all__ = ["sparse_coo_tensor"]
