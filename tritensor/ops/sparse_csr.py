"""The sparse CSR tensor: tt.sparse_csr_tensor(crow_indices, col_indices, values, size), torch's sparse_csr layout.

A SparseCSRTensor is a 2-D matrix held as `crow_indices` (nrows + 1,) int64 row pointers, `col_indices`
(nnz,) int64 columns and `values` (nnz,): row r's entries are values[crow[r]:crow[r + 1]] at those columns.
(PyTorch's batched and hybrid CSR tensors are not supported.) Autograd runs on the values, as for COO
(ops/sparse_coo.py's SparseAutograd); `csr @ dense` is the SpMM of kernels/sparse.py (ops/sparse_mm.py).

The conversions live here, with the Tensor methods that make them (to_sparse, to_sparse_coo, to_sparse_csr,
to_dense): dense -> COO finds the nonzero rows on the host and gathers them (differentiably); CSR -> COO
expands the row pointers into row indices; COO -> CSR coalesces (sorted rows, then columns) and counts each
row's entries.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..device import device as _device
from ..tensor import Tensor, sparse_coo, sparse_csr
from .sparse_coo import SparseAutograd, SparseCOOTensor, _as_tensor, _host, sparse_repr, suffixes

_CHECKS = (
    "`crow_indices[..., 0] == 0` is not satisfied.",
    "`crow_indices[..., -1] == nnz` is not satisfied.",
    "`0 <= crow_indices[..., 1:] - crow_indices[..., :-1] <= ncols` is not satisfied.",
    "`0 <= col_indices < ncols` is not satisfied.",
    "`col_indices[..., crow_indices[..., i - 1]:crow_indices[..., i]] for all i = 1, ..., nrows are sorted and "
    "distinct along the last dimension values` is not satisfied.",
)


class SparseCSRTensor(SparseAutograd):
    """A 2-D sparse CSR tensor (see the module docstring); build one with tt.sparse_csr_tensor or
    Tensor.to_sparse_csr."""

    @staticmethod
    def _make_csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple) -> SparseCSRTensor:
        t = object.__new__(SparseCSRTensor)
        t._storage, t._np, t._offset = None, None, 0
        t._shape = tuple(int(n) for n in size)
        t._stride = ()
        t.dtype, t.device, t._requires_grad = values.dtype, values.device, False
        t._csr = (crow, col, values)
        return t

    def _with_values(self, values: Tensor) -> SparseCSRTensor:
        crow, col, _ = self._csr
        return SparseCSRTensor._make_csr(crow, col, values, self._shape)

    @property
    def is_sparse(self) -> bool:
        """False: PyTorch's is_sparse means the COO layout."""
        return False

    @property
    def is_sparse_csr(self) -> bool:
        """True: a sparse CSR tensor."""
        return True

    @property
    def layout(self):
        """tt.sparse_csr."""
        return sparse_csr

    def crow_indices(self) -> Tensor:
        """The (nrows + 1,) int64 row pointers."""
        return self._csr[0]

    def col_indices(self) -> Tensor:
        """The (nnz,) int64 column of each stored value."""
        return self._csr[1]

    def values(self) -> Tensor:
        """The (nnz,) stored values, row by row."""
        return self._csr[2]

    _values = values

    def _nnz(self) -> int:
        """The number of stored values."""
        return self._csr[2]._shape[0]

    def sparse_dim(self) -> int:
        """2: rows and columns are sparse."""
        return 2

    def dense_dim(self) -> int:
        """0: the values are scalars."""
        return 0

    def _rows(self) -> Tensor:
        """The row of each stored value, int64 (nnz,)."""
        counts = np.diff(_host(self._csr[0]))
        rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        return Tensor._from_host(rows, self.device)

    def to_sparse_coo(self, sparse_dim=None) -> SparseCOOTensor:
        """The COO tensor with the same entries (coalesced: CSR's rows and columns are sorted)."""
        from .shape import stack

        idx = stack([self._rows(), self._csr[1]])
        return SparseCOOTensor._make_coo(idx, self._csr[2], self._shape, True)

    def to_dense(self, dtype=None, *, masked_grad=None) -> Tensor:
        """The dense matrix; differentiable in the values."""
        return self.to_sparse_coo().to_dense(dtype)

    def detach(self) -> SparseCSRTensor:
        """This tensor without autograd history (values detached)."""
        return self._with_values(self._csr[2].detach())

    def clone(self, *, memory_format=None) -> SparseCSRTensor:
        """A copy with its own indices and values."""
        crow, col, val = self._csr
        return SparseCSRTensor._make_csr(crow.clone(), col.clone(), val.clone(), self._shape)

    def to(self, *args, **kwargs) -> SparseCSRTensor:
        """The same tensor with values converted (dtype and/or device, as Tensor.to)."""
        crow, col, val = self._csr
        val = val.to(*args, **kwargs)
        return SparseCSRTensor._make_csr(crow.to(val.device), col.to(val.device), val, self._shape)

    def cpu(self) -> SparseCSRTensor:
        """The tensor on the cpu."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> SparseCSRTensor:
        """The tensor on a cuda device."""
        return self.to("cuda" if device is None else device)

    def __repr__(self) -> str:
        crow, col, val = self._csr
        return sparse_repr([("crow_indices", crow), ("col_indices", col), ("values", val)],
                           suffixes(self, self._nnz(), sparse_csr), False)

    __str__ = __repr__


def coo_to_csr(s: SparseCOOTensor) -> SparseCSRTensor:
    """The CSR form of a 2-D COO tensor with scalar values (coalesced first)."""
    if s.sparse_dim() != 2 or s.dense_dim():
        raise RuntimeError(f"to_sparse_csr: conversion from Sparse to SparseCsr for input tensors with sparse_dim()!=2 "
                           f"is not supported (got sparse_dim {s.sparse_dim()}, dense_dim {s.dense_dim()})")
    c = s.coalesce()
    idx = c._indices()
    rows = _host(idx[0])
    crow = np.zeros(s._shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=s._shape[0]), out=crow[1:])
    return SparseCSRTensor._make_csr(Tensor._from_host(crow, s.device), idx[1].contiguous(), c._values(), s._shape)


def _vector(t: Tensor, name: str) -> Tensor:
    if t.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{name} must be an int64 or int32 tensor, but got {t.dtype}")
    if t.ndim != 1:
        raise RuntimeError(f"{name} must have dim 1 (batched CSR tensors are not supported), but got {t.ndim}")
    return t.to(D.int64)


def _check_invariants(crow: np.ndarray, col: np.ndarray, ncols: int, sorted_rows: bool) -> None:
    """PyTorch's _validate_compressed_sparse_indices checks, in its order and words. The bounds are always
    checked (the SpMM kernel reads through them); sorted, distinct rows only with check_invariants."""
    steps = np.diff(crow)
    bad = [crow[0] != 0, crow[-1] != len(col), np.any((steps < 0) | (steps > ncols)),
           bool(col.size) and (col.min() < 0 or col.max() >= ncols)]
    if sorted_rows:
        ok = np.diff(col) > 0
        starts = crow[1:-1]
        ok[starts[(starts > 0) & (starts < len(col))] - 1] = True  # a new row may start lower
        bad.append(not np.all(ok))
    for failed, message in zip(bad, _CHECKS):
        if failed:
            raise RuntimeError(message)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      requires_grad: bool = False, check_invariants=None) -> SparseCSRTensor:
    """A 2-D sparse CSR tensor from row pointers `crow_indices` (nrows + 1,), columns `col_indices` (nnz,) and
    `values` (nnz,); `size` defaults to (len(crow_indices) - 1, max(col_indices) + 1). The indices are checked
    as PyTorch's check_invariants does (pointers start at 0, end at nnz, never decrease; columns in range:
    always, as the kernels read through them; columns sorted and distinct within each row: with
    `check_invariants=True`)."""
    values = _as_tensor(values, dtype, None if device is None else _device(device))
    crow = _vector(_as_tensor(crow_indices, None, values.device), "crow_indices")
    col = _vector(_as_tensor(col_indices, None, values.device), "col_indices")
    if values.ndim != 1:
        raise RuntimeError(f"values must have dim 1 (hybrid CSR tensors are not supported), but got {values.ndim}")
    if col._shape[0] != values._shape[0]:
        raise RuntimeError(f"col_indices and values must have the same number of elements, but got "
                           f"col_indices.numel(): {col._shape[0]}, values.numel(): {values._shape[0]}")
    host_col = _host(col)
    if size is None:
        size = (crow._shape[0] - 1, int(host_col.max()) + 1 if host_col.size else 0)
    size = tuple(int(n) for n in size)
    if len(size) != 2:
        raise RuntimeError(f"sparse_csr_tensor: size must have 2 dims (batched and hybrid CSR tensors are not "
                           f"supported), but got {len(size)}")
    if crow._shape[0] != size[0] + 1:
        raise RuntimeError(f"crow_indices.size(-1) must be equal to size[-2] + 1 (that is {size[0] + 1}), but got: "
                           f"{crow._shape[0]}")
    _check_invariants(_host(crow), host_col, size[1], bool(check_invariants))
    if requires_grad:
        values = values.detach().requires_grad_()
    elif not values.requires_grad:
        values = values.detach()
    return SparseCSRTensor._make_csr(crow.contiguous(), col.contiguous(), values, size)


# ---------------------------------------------------------------- conversions (Tensor methods)
def _dense_to_coo(x: Tensor, sd: int) -> SparseCOOTensor:
    if sd > x.ndim:
        raise RuntimeError("sparse_dim must be less than or equal to self.dim()")
    if sd < 0:
        raise RuntimeError(f"sparse_dim must be non-negative, got {sd}")
    sizes = x._shape[:sd]
    rows = int(np.prod(sizes, dtype=np.int64))
    flat = x.reshape((rows,) + tuple(x._shape[sd:]))
    if sd == 0:
        lin = np.zeros(1, np.int64)
    else:
        lin = np.flatnonzero((_host(flat).reshape(rows, -1) != 0).any(1)).astype(np.int64)
    idx = np.stack(np.unravel_index(lin, sizes)).astype(np.int64) if sd else np.zeros((0, 1), np.int64)
    values = flat.index_select(0, Tensor._from_host(lin, x.device))
    return SparseCOOTensor._make_coo(Tensor._from_host(np.ascontiguousarray(idx), x.device), values, x._shape, True)


def to_sparse(self: Tensor, sparse_dim: int | None = None, *, layout=None, blocksize=None,
              dense_dim=None) -> Tensor:
    """This tensor in a sparse layout: COO (default; `sparse_dim` leading dims sparse, all by default) or
    `layout=tt.sparse_csr`. Differentiable: the gradient of a dense input is the dense gradient."""
    if blocksize is not None or (layout is not None and layout not in (sparse_coo, sparse_csr)):
        raise NotImplementedError(f"to_sparse: layout {layout!r} with blocksize {blocksize} is not supported")
    if layout is sparse_csr:
        return to_sparse_csr(self)
    if isinstance(self, SparseCOOTensor):
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise RuntimeError("to_sparse: conversion from Sparse to Sparse with sparse_dim argument "
                               "!=self.sparse_dim() is not supported")
        return self
    if isinstance(self, SparseCSRTensor):
        return self.to_sparse_coo()
    if dense_dim is not None and sparse_dim is None:
        sparse_dim = self.ndim - dense_dim
    return _dense_to_coo(self, self.ndim if sparse_dim is None else int(sparse_dim))


def to_sparse_coo(self: Tensor) -> Tensor:
    """This tensor as a COO tensor (tt.sparse_coo layout), as Tensor.to_sparse()."""
    return to_sparse(self)


def to_sparse_csr(self: Tensor, dense_dim=None) -> SparseCSRTensor:
    """This 2-D tensor (dense or COO) as a CSR tensor; differentiable in the values."""
    if isinstance(self, SparseCSRTensor):
        return self
    if isinstance(self, SparseCOOTensor):
        return coo_to_csr(self)
    if self.ndim != 2:
        raise RuntimeError(f"to_sparse_csr: only 2-D tensors can be converted to the SparseCsr layout (batched CSR "
                           f"tensors are not supported), got self with {self.ndim} dimensions.")
    return coo_to_csr(_dense_to_coo(self, 2))


def to_dense(self: Tensor, dtype=None, *, masked_grad=None) -> Tensor:
    """A dense tensor is already dense: itself (or converted to `dtype`), as PyTorch's."""
    return self if dtype is None else self.to(dtype)


__all__ = ["sparse_csr_tensor"]
METHODS: dict = {
    "to_sparse": to_sparse, "to_sparse_coo": to_sparse_coo, "to_sparse_csr": to_sparse_csr, "to_dense": to_dense,
    "is_sparse_csr": property(lambda self: False, doc="False for a dense tensor (True for a CSR one)."),
}
