"""tt.sparse.mm and tt.sparse.addmm, and tt.mm / tt.matmul / tt.addmm / `@` with a sparse first operand.

Every sparse x dense product is one autograd Function, `SparseAddmm`: the CSR SpMM of kernels/sparse.py
(SciPy's product on the cpu) on the matrix's row pointers, columns and values. A COO operand is coalesced
first (differentiably: the values' gradient flows back through the summing of duplicates). Its backward is

  grad_dense  = A^T @ grad       (the same SpMM on the transposed pattern, built on the host once)
  grad_values = (grad[row] * dense[col]).sum(1)   per stored entry (a sampled dense-dense product)

so the gradient w.r.t. the sparse operand has the operand's sparsity pattern, as PyTorch's. ops/matmul.py
hands a sparse first operand to the sparse types' `_sparse_mm` / `_sparse_addmm` (ops/sparse_coo.py), which
call this module. It reads the sparse tensors through their layout and methods only (`coalesce`, `_csr`,
`_rows`, `t`, `to_sparse`), so that the types' own module can import it.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..kernels import sparse as K
from ..tensor import Tensor, sparse_coo, sparse_csr, strided
from .dispatch import check_same_device
from .matmul import _C10_NAMES
from .matmul import mm as _dense_mm


def _host(t: Tensor) -> np.ndarray:
    return t.detach().cpu()._host()


class _Pattern:
    """The CSR structure of an (M, K) sparse matrix on its device: row pointers, the column and the row of each
    stored entry; its transpose's is built on the host when backward first needs it."""

    def __init__(self, crow: Tensor, col: Tensor, rows: Tensor, shape: tuple) -> None:
        self.crow, self.col, self.rows, self.shape = crow, col, rows, shape
        self._transposed = None

    def transposed(self) -> tuple[_Pattern, Tensor]:
        """(A^T's pattern, perm): A^T's values are A's values[perm] (a stable sort by column keeps each
        transposed row's columns, A's rows, sorted)."""
        if self._transposed is None:
            col, rows = _host(self.col), _host(self.rows)
            order = np.argsort(col, kind="stable")
            crow = np.zeros(self.shape[1] + 1, np.int64)
            np.cumsum(np.bincount(col, minlength=self.shape[1]), out=crow[1:])
            device = self.col.device
            pattern = _Pattern(Tensor._from_host(crow, device), Tensor._from_host(rows[order], device),
                               Tensor._from_host(col[order], device), self.shape[::-1])
            self._transposed = (pattern, Tensor._from_host(order.astype(np.int64), device))
        return self._transposed


def _spmm(p: _Pattern, values: Tensor, dense: Tensor) -> Tensor:
    """The (M, K) matrix of pattern `p` and `values` times dense (K, N): (M, N) in dense's dtype."""
    M, N = p.shape[0], dense._shape[1]
    if dense.device.type == "cpu":
        return Tensor._wrap(K.spmm_ref(_host(p.crow), _host(p.col), _host(values), _host(dense), p.shape[1]))
    b = dense if dense._shape[1] <= 1 or dense.stride(1) == 1 else dense.contiguous()
    out = Tensor._empty((M, N), dense.dtype, dense.device)
    K.csr_spmm(out._dev(), p.crow._dev(), p.col._dev(), values.contiguous()._dev(), b._dev())
    return out


class SparseAddmm(Function):
    """A @ dense for A given by (values, pattern); grad_fn SparseAddmmBackward0, as torch.sparse.mm's."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, values: Tensor, dense: Tensor, pattern: _Pattern) -> Tensor:
        ctx.pattern = pattern
        ctx.save_for_backward(values, dense)
        return _spmm(pattern, values, dense)

    @staticmethod
    def backward(ctx, grad):
        values, dense = ctx.saved_tensors
        p = ctx.pattern
        need_values, need_dense = ctx.needs_input_grad[:2]
        grad_values = grad_dense = None
        if need_values:
            grad_values = (grad.index_select(0, p.rows) * dense.index_select(0, p.col)).sum(1)
        if need_dense:
            pt, perm = p.transposed()
            grad_dense = SparseAddmm.apply(values.index_select(0, perm), grad, pt)
        return grad_values, grad_dense, None


# ---------------------------------------------------------------- checks
def _check_operands(s: Tensor, d: Tensor) -> None:
    """PyTorch's sparse addmm checks, before any kernel runs."""
    if s.layout is sparse_coo:
        if s.sparse_dim() != 2:
            raise RuntimeError(f"addmm: matrices expected, got {s.sparse_dim()}D tensor")
        if s.dense_dim():
            raise RuntimeError(f"addmm: scalar values expected, got {s.dense_dim()}D values")
    if not isinstance(d, Tensor):
        raise TypeError(f"mm(): argument 'mat2' (position 2) must be Tensor, not {type(d).__name__}")
    if d.ndim != 2:
        raise RuntimeError(f"addmm: matrices expected, got {d.ndim}D tensor")
    if s._shape[1] != d._shape[0]:
        if s.layout is sparse_csr:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({s._shape[0]}x{s._shape[1]} and "
                               f"{d._shape[0]}x{d._shape[1]})")
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {s._shape[1]}, got {d._shape[0]}")
    if s.dtype is not d.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C10_NAMES[s.dtype.name]} != "
                           f"{_C10_NAMES[d.dtype.name]}")
    check_same_device(s._values(), d)
    if d.device.type == "cuda" and not d.dtype.is_floating_point:
        raise RuntimeError(f"\"addmm_sparse_cuda\" not implemented for '{D.scalar_type_name(d.dtype)}'")


def _pattern(s: Tensor) -> tuple[_Pattern, Tensor]:
    """(the CSR pattern, the values in its order) of a 2-D COO or CSR matrix; COO is coalesced first."""
    if s.layout is sparse_csr:
        crow, col, values = s._csr
        return _Pattern(crow, col, s._rows(), s._shape), values
    c = s.coalesce()
    idx = c._indices()
    crow = np.zeros(s._shape[0] + 1, np.int64)
    np.cumsum(np.bincount(_host(idx[0]), minlength=s._shape[0]), out=crow[1:])
    return _Pattern(Tensor._from_host(crow, s.device), idx[1].contiguous(), idx[0].contiguous(), s._shape), \
        c._values()


def _sparse_dense(s: Tensor, d: Tensor) -> Tensor:
    _check_operands(s, d)
    pattern, values = _pattern(s)
    return SparseAddmm.apply(values, d, pattern)


# ---------------------------------------------------------------- public functions
def mm(mat1: Tensor, mat2: Tensor) -> Tensor:
    """mat1 @ mat2 for a sparse (COO or CSR) mat1 and a dense or sparse mat2, as torch.sparse.mm: dense for a
    dense mat2, sparse of mat1's layout for a sparse one. Differentiable in both: the gradient w.r.t. mat1
    has mat1's sparsity pattern (its values' gradient)."""
    for k, (name, m) in enumerate((("mat1", mat1), ("mat2", mat2))):
        if not isinstance(m, Tensor):
            raise TypeError(f"mm(): argument '{name}' (position {k + 1}) must be Tensor, not {type(m).__name__}")
    if mat1.layout is strided:
        if mat2.layout is sparse_coo:  # dense @ sparse = (sparse^T @ dense^T)^T
            return _sparse_dense(mat2.t(), mat1.t()).t()
        if mat2.layout is sparse_csr:
            return _sparse_dense(mat2.to_sparse_coo().t(), mat1.t()).t()
        return _dense_mm(mat1, mat2)
    if mat2.layout is not strided:
        out = _sparse_dense(mat1, mat2.to_dense())
        return out.to_sparse_csr() if mat1.layout is sparse_csr else out.to_sparse()
    return _sparse_dense(mat1, mat2)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1.0, alpha=1.0) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2) for a sparse mat1 and a dense mat2, as torch.sparse.addmm; input
    (dense, or sparse: densified) broadcasts to the product's shape and is ignored when beta == 0."""
    if mat1.layout is not strided:
        _check_operands(mat1, mat2)
    target = (mat1._shape[0], mat2._shape[1])
    dense_input = input.to_dense() if input.layout is not strided else input
    expanded = dense_input.expand(target)
    prod = mm(mat1, mat2)
    out = prod if alpha == 1 else prod * alpha
    if beta == 0:
        return out
    return out + (expanded if beta == 1 else expanded * beta)


def spmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """torch.spmm: a sparse (or dense) matrix times a dense one; the same product as `tt.sparse.mm`."""
    return mm(input, mat2)


__all__ = ["spmm"]
NAMESPACES = {"sparse": ["mm", "addmm"]}
