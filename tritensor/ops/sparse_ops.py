"""tt.sparse.sum, tt.sparse.softmax and tt.sparse.log_softmax over COO (and CSR, through COO) tensors.

All are written with differentiable ops on the values, so a sparse tensor whose values require grad passes
gradients back through them; their results keep the input's pattern (softmax) or are coalesced (sum).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..tensor import Tensor, wrap_dim
from .sparse_coo import SparseCOOTensor, _host, sparse_sum
from .sparse_csr import SparseCSRTensor


def sum(input: Tensor, dim=None, dtype=None) -> Tensor:  # noqa: A001, A002
    """The sum of a sparse tensor's entries over `dim` (all dims when None), as torch.sparse.sum: a dense 0-d
    tensor for a full reduction, dense when every sparse dim is reduced, otherwise a coalesced COO tensor."""
    if isinstance(input, SparseCSRTensor):
        input = input.to_sparse_coo()  # noqa: A001
    if not isinstance(input, SparseCOOTensor):
        return input.sum() if dim is None else input.sum(dim)
    return sparse_sum(input, dim, dtype)


def _groups(s: SparseCOOTensor, d: int) -> np.ndarray:
    """For each stored entry of coalesced s, the id of its line along sparse dim d (the other sparse indices)."""
    idx = _host(s._indices())
    if idx.shape[1] == 0:
        return np.zeros(0, np.int64)
    others = np.delete(idx, d, axis=0)
    if others.shape[0] == 0:
        return np.zeros(idx.shape[1], np.int64)
    return np.unique(others, axis=1, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _softmax(input: Tensor, dim: int, dtype, log: bool) -> SparseCOOTensor:
    name = "log_softmax" if log else "softmax"
    if not isinstance(input, SparseCOOTensor):
        raise RuntimeError(f"sparse.{name}: expected a sparse COO tensor, got layout {input.layout!r}")
    s = input.coalesce()
    values = s._values() if dtype is None else s._values().to(dtype)
    if not values.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{D.scalar_type_name(values.dtype)}'")
    d = wrap_dim(dim, s.ndim)
    sd = s.sparse_dim()
    if d >= sd:  # a dense dim: an ordinary softmax of every stored entry's values
        out = values.log_softmax(d - sd + 1) if log else values.softmax(d - sd + 1)
        return SparseCOOTensor._make_coo(s._indices(), out, s._shape, True)
    groups = _groups(s, d)
    n = int(groups.max()) + 1 if groups.size else 0
    # The max of each line (a constant shift: it changes neither the result nor its gradient) on the host.
    host = _host(values)
    peak = np.full((n,) + host.shape[1:], -np.inf, host.dtype)
    np.maximum.at(peak, groups, host)
    g = Tensor._from_host(groups, s.device)
    shifted = values - Tensor._from_host(peak[groups], s.device)
    e = shifted.exp()
    total = e.new_zeros((n,) + tuple(e._shape[1:])).index_add(0, g, e).index_select(0, g)
    out = shifted - total.log() if log else e / total
    return SparseCOOTensor._make_coo(s._indices(), out, s._shape, True)


def softmax(input: Tensor, dim: int, *, dtype=None) -> SparseCOOTensor:  # noqa: A002
    """Softmax of a COO tensor along `dim` over its stored entries only (unstored ones count as -inf), as
    torch.sparse.softmax: a coalesced COO tensor with the input's pattern."""
    return _softmax(input, dim, dtype, False)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> SparseCOOTensor:  # noqa: A002
    """log of tt.sparse.softmax, computed stably."""
    return _softmax(input, dim, dtype, True)


NAMESPACES = {"sparse": ["sum", "softmax", "log_softmax"]}
