"""tt.linalg.norm / vector_norm / matrix_norm / matrix_power; tt.cross (torch.cross), tt.matrix_power.

All of these are compositions of existing ops (tt.norm's kernel, abs, sum, amax, matmul, mul, narrow, cat), so
they run on cpu and cuda alike and are differentiable through those ops. The matrix norms of order 2, -2 and
'nuc' need singular values (tt.linalg.svdvals), which run on cpu only.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..tensor import Tensor
from . import linalg_common as C
from .dispatch import broadcast_shapes
from .linalg import inv
from .linalg_decomp import svdvals
from .linalg_products import cross as _linalg_cross
from .reduction import torch_name, wrap_dim
from .statistics import norm as _vector_p_norm


# ================================================================ norms
@C.out_arg
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None,
                out=None) -> Tensor:
    """The vector ord-norm of x over `dim` (every element when None): sum(|x|^ord)^(1/ord), max|x| (inf),
    min|x| (-inf), the count of nonzeros (0)."""
    C.check_tensor("linalg_vector_norm", x, "input")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if isinstance(dim, int):
        dim = (dim,)
    return _vector_p_norm(x, float(ord), tuple(dim) if dim is not None else None, keepdim, dtype=dtype)


def _matrix_dims(name: str, A: Tensor, dim) -> tuple[int, int]:
    if len(tuple(dim)) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
    d0, d1 = (wrap_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({d0}, {d1})")
    return d0, d1


@C.out_arg
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype: D.dtype | None = None,
                out=None) -> Tensor:
    """The matrix norm of every matrix of A over the two dims `dim`: 'fro', 'nuc' (cpu), inf / -inf (max / min
    row sum of |A|), 1 / -1 (max / min column sum), 2 / -2 (largest / smallest singular value, cpu)."""
    name = "linalg.matrix_norm"
    C.check_tensor("linalg_matrix_norm", A)
    C.check_matrix(name, A)
    if not (dtype or A.dtype).is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_name(dtype or A.dtype)}")
    d0, d1 = _matrix_dims(name, A, dim)
    x = A if dtype is None else A.to(dtype)
    if ord == "fro":
        return _vector_p_norm(x, 2.0, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2, 2.0, -2.0):
        s = svdvals(x.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord > 0 else s.amin(-1))
        return _keep(r, A.ndim, (d0, d1)) if keepdim else r
    if isinstance(ord, str) or ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    # ord +-1 sums over rows (a column's sum) and reduces over columns; ord +-inf the other way round.
    summed, reduced = (d0, d1) if abs(ord) == 1 else (d1, d0)
    s = x.abs().sum(summed, keepdim=True)
    r = s.amax(reduced, keepdim=True) if ord > 0 else s.amin(reduced, keepdim=True)
    return r if keepdim else r.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def _keep(r: Tensor, ndim: int, dims: tuple) -> Tensor:
    for d in sorted(dims):
        r = r.unsqueeze(d)
    return r


@C.out_arg
def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype: D.dtype | None = None, out=None) -> Tensor:
    """A vector norm (dim an int, or ord None and dim None: over every element) or a matrix norm (dim a 2-tuple,
    or a 2-D A with ord given), as torch.linalg.norm."""
    C.check_tensor("linalg_norm", A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")


# ================================================================ products
@C.out_arg
def cross(input: Tensor, other: Tensor, dim: int | None = None, *, out=None) -> Tensor:
    """torch.cross: the 3-vector cross product along `dim` (the first dim of size 3 when None, as PyTorch's
    deprecated default), broadcast."""
    C.check_tensor("cross", input, "input")
    C.check_tensor("cross", other, "other")
    if dim is None:
        shape = broadcast_shapes(input._shape, other._shape)
        dim = next((d for d, s in enumerate(shape) if s == 3), -1)
    return _linalg_cross(input, other, dim=dim)


@C.out_arg
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """A^n for every square matrix of A by repeated squaring; n = 0 gives the identity, n < 0 powers inv(A)."""
    name = "linalg.matrix_power"
    C.check_tensor("matrix_power", A)
    C.check_square(name, A)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        return C.eye(A._shape[-1], A).expand(A._shape).clone()
    if n < 0:
        C.check_float(name, A)
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else C.mm(result, base)
        n >>= 1
        if n:
            base = C.mm(base, base)
    return result if result is not A else A.clone()


__all__ = ["cross", "matrix_power"]
METHODS: dict = {"cross": cross, "matrix_power": matrix_power}
NAMESPACES = {"linalg": ["norm", "vector_norm", "matrix_norm", "matrix_power"]}
