"""The sparse COO tensor: tt.sparse_coo_tensor(indices, values, size), as torch's sparse_coo layout.

A SparseCOOTensor holds `indices` (sparse_dim, nnz) int64 and `values` (nnz, *dense sizes) on one device;
element (i_0, ..., i_{s-1}) is the sum of the values whose index column equals it (uncoalesced: columns may
repeat, in any order). It is a Tensor subclass only for the attributes the rest of the library reads
(is_sparse, layout, shape, dtype, device, .grad accumulation); dense Tensor ops do not apply to it.

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
from ..tensor import Size, Tensor, sparse_coo


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu()._host()


class SparseCOOTensor(Tensor):
    """A sparse COO tensor (see the module docstring); build one with tt.sparse_coo_tensor."""

    @staticmethod
    def _make_coo(indices: Tensor, values: Tensor, size: tuple, coalesced: bool = False) -> SparseCOOTensor:
        t = object.__new__(SparseCOOTensor)
        t._storage, t._np, t._offset = None, None, 0
        t._shape = tuple(int(n) for n in size)
        t._stride = ()
        t.dtype, t.device, t._requires_grad = values.dtype, values.device, False
        t._coo = (indices, values, bool(coalesced))
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def is_sparse(self) -> bool:
        """True: a sparse COO tensor."""
        return True

    @property
    def layout(self):
        """tt.sparse_coo."""
        return sparse_coo

    @property
    def shape(self) -> Size:
        """The dense shape this tensor stands for."""
        return Size(self._shape)

    def size(self, dim: int | None = None):
        """The shape, or its length along `dim`."""
        return Size(self._shape) if dim is None else self._shape[dim]

    def dim(self) -> int:
        """sparse_dim() + dense_dim()."""
        return len(self._shape)

    @property
    def ndim(self) -> int:
        """sparse_dim() + dense_dim()."""
        return len(self._shape)

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
        return (f"tensor(indices={idx!r},\n       values={val!r},\n       size={tuple(self._shape)}, "
                f"nnz={self._nnz()}, layout=tritensor.sparse_coo)")

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
        """The dense tensor: zeros with every value added at its index (duplicates sum)."""
        sd = self.sparse_dim()
        rows = int(np.prod(self._shape[:sd], dtype=np.int64))
        out = zeros((rows,) + self._shape[sd:], dtype=self.dtype, device=self.device)
        if self._nnz():
            out.index_add_(0, self._linear(), self._coo[1])
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
            summed.index_add_(0, Tensor._from_host(inverse.reshape(-1).astype(np.int64), self.device), val.detach())
        return SparseCOOTensor._make_coo(new_idx, summed, self._shape, True)

    def detach(self) -> SparseCOOTensor:
        """This tensor without autograd history (sparse tensors here never carry any)."""
        return self

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

    def zero_(self) -> SparseCOOTensor:
        """In place: no stored entries left (nnz 0), as PyTorch's sparse zero_ (optimizer.zero_grad(False))."""
        idx, val, _ = self._coo
        empty_idx = zeros((idx._shape[0], 0), dtype=D.int64, device=self.device)
        self._coo = (empty_idx, zeros((0,) + tuple(val._shape[1:]), dtype=val.dtype, device=self.device), True)
        return self

    def numel(self) -> int:
        """The number of elements of the dense shape."""
        return int(np.prod(self._shape, dtype=np.int64))

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
        from .shape import cat

        idx = cat([self._coo[0], other._coo[0]], 1)
        val = cat([self._coo[1], other._coo[1].to(self.dtype)], 0)
        return SparseCOOTensor._make_coo(idx, val, self._shape, False)

    def __radd__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        self._check_size(other)
        return other + self.to_dense()

    def __neg__(self) -> SparseCOOTensor:
        return SparseCOOTensor._make_coo(self._coo[0], -self._coo[1], self._shape, self._coo[2])

    def __mul__(self, other) -> SparseCOOTensor:
        if isinstance(other, Tensor):
            return NotImplemented
        return SparseCOOTensor._make_coo(self._coo[0], self._coo[1] * other, self._shape, self._coo[2])

    __rmul__ = __mul__

    def __eq__(self, other):  # identity, as the Tensor hash (a sparse tensor is not compared elementwise here)
        return self is other

    __hash__ = Tensor.__hash__


def _as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    return _tensor(data, dtype=dtype, device=device)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad: bool = False,
                      check_invariants=None, is_coalesced=None) -> SparseCOOTensor:
    """A sparse COO tensor with the given `indices` (sparse_dim, nnz) and `values` (nnz, *dense sizes); `size`
    defaults to the smallest that holds every index (sparse dims) and values' trailing sizes (dense dims)."""
    values = _as_tensor(values, dtype, device)
    indices = _as_tensor(indices, None, values.device)
    if indices.dtype is not D.int64:
        if indices.dtype.is_floating_point or indices.dtype is D.bool:
            raise RuntimeError(f"indices must be an int64 tensor, got {indices.dtype}")
        indices = indices.to(D.int64)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    if values.ndim == 0:
        values = values.reshape(1)
    if indices._shape[1] != values._shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {indices._shape[1]}, "
                           f"nnz from values: {values._shape[0]}")
    sd = indices._shape[0]
    host = _host(indices)
    if host.size and host.min() < 0:
        raise RuntimeError(f"found negative index {int(host.min())} for dim {int(np.argmin(host.min(1)))}")
    if size is None:
        sizes = tuple(int(host[k].max()) + 1 if host.shape[1] else 0 for k in range(sd)) + tuple(values._shape[1:])
    else:
        sizes = tuple(int(n) for n in size)
        if len(sizes) != sd + values.ndim - 1:
            raise RuntimeError(f"number of dimensions must be sparse_dim ({sd}) + dense_dim ({values.ndim - 1}), but "
                               f"got {len(sizes)}")
        for k in range(sd):
            if host.shape[1] and int(host[k].max()) >= sizes[k]:
                raise RuntimeError(f"size is inconsistent with indices: for dim {k}, size is {sizes[k]} but found "
                                   f"index {int(host[k].max())}")
        if tuple(values._shape[1:]) != sizes[sd:]:
            raise RuntimeError(f"values has incorrect size, expected {list((values._shape[0],) + sizes[sd:])}, got "
                               f"{list(values.shape)}")
    if requires_grad:
        raise NotImplementedError("sparse_coo_tensor(requires_grad=True): autograd through sparse tensors is not "
                                  "supported yet")
    out = SparseCOOTensor._make_coo(indices, values.detach(), sizes, bool(is_coalesced))
    return out if device is None else out.to(_device(device))


__all__ = ["sparse_coo_tensor"]
