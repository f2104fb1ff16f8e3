"""Linear-algebra composites: trace, kron, inner, tensordot, addmv, addr, addbmm and chain_matmul.

Each is a few views (permute/reshape) around one matmul-family op or an elementwise product, so cpu runs
NumPy and cuda the Triton matmul kernel, and the gradient comes from those ops.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..tensor import Tensor, wrap_dim
from . import views as V
from .composite_shape import Diagonal
from .copy import to_out
from .elementwise import inplace
from .matmul import matmul, mm, require_tensor


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a matrix (integer inputs sum to int64, like `sum`)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return Diagonal.apply(input, 0, 0, 1).sum()


def kron(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The Kronecker product: blocks input[i, j, ...] * other, the shorter shape padded with leading ones."""
    require_tensor("kron", input, "input", 1)
    require_tensor("kron", other, "other", 2)
    n = max(input.ndim, other.ndim)
    a_shape = (1,) * (n - input.ndim) + tuple(input._shape)
    b_shape = (1,) * (n - other.ndim) + tuple(other._shape)
    # Interleave the dims: a as (a0, 1, a1, 1, ...), b as (1, b0, 1, b1, ...); their product merges pairwise.
    a = V.reshape(input, tuple(s for d in a_shape for s in (d, 1)))
    b = V.reshape(other, tuple(s for d in b_shape for s in (1, d)))
    result = V.reshape(a * b, tuple(x * y for x, y in zip(a_shape, b_shape)))
    return to_out(result, out)


def _dims_lists(a: Tensor, b: Tensor, dims) -> tuple[list, list]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        k = int(dims)
        if k < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={k}")
        if k > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={k}")
        return list(range(a.ndim - k, a.ndim)), list(range(k))
    dims_a, dims_b = dims
    dims_a = [dims_a] if isinstance(dims_a, (int, np.integer)) else list(dims_a)
    dims_b = [dims_b] if isinstance(dims_b, (int, np.integer)) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    return [wrap_dim(int(d), a.ndim) for d in dims_a], [wrap_dim(int(d), b.ndim) for d in dims_b]


def tensordot(a: Tensor, b: Tensor, dims=2, out: Tensor | None = None) -> Tensor:
    """Contract `a`'s dims with `b`'s: `dims` = k (a's last k with b's first k) or ([a dims], [b dims]).

    The result has a's free dims then b's; a contracted dim of size 1 on one side is summed out of the other.
    """
    require_tensor("tensordot", a, "a", 1)
    require_tensor("tensordot", b, "b", 2)
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    dims_a, dims_b = _dims_lists(a, b, dims)
    for da, db in zip(dims_a, dims_b):
        na, nb = a._shape[da], b._shape[db]
        if na == nb:
            continue
        if nb == 1:
            a = a.sum(da, keepdim=True)
        elif na == 1:
            b = b.sum(db, keepdim=True)
        else:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {na} in dim {da} and "
                               f"second has size {nb} in dim {db}")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = math.prod(a._shape[d] for d in dims_a)
    left = V.reshape(V.permute(a, free_a + dims_a), (-1, k))
    right = V.reshape(V.permute(b, dims_b + free_b), (k, -1))
    shape = tuple(a._shape[d] for d in free_a) + tuple(b._shape[d] for d in free_b)
    return to_out(V.reshape(mm(left, right), shape), out)


def inner(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The inner product over the last dims (a 0-D operand multiplies); result: input's other dims, then other's."""
    require_tensor("inner", input, "input", 1)
    require_tensor("inner", other, "other", 2)
    if input.ndim == 0 or other.ndim == 0:
        return to_out(input * other, out)
    if input._shape[-1] != other._shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input._shape)} and {list(other._shape)}")
    return tensordot(input, other, ([-1], [-1]), out=out)


def _check_scalars(t: Tensor, beta, alpha) -> None:
    if not (t.dtype.is_floating_point or t.dtype.is_complex):
        for arg, value in (("beta", beta), ("alpha", alpha)):
            if isinstance(value, float):
                raise RuntimeError(f"For integral input tensors, argument {arg} must not be a floating point number.")


def _scaled_sum(input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product, with PyTorch's rule that beta == 0 ignores input (even its nan/inf)."""
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        return scaled
    return scaled + (input if beta == 1 else input * beta)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1,  # noqa: A002
          out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * (mat @ vec); input broadcasts to mat's rows and is ignored when beta == 0."""
    for i, (name, t) in enumerate((("input", input), ("mat", mat), ("vec", vec)), 1):
        require_tensor("addmv", t, name, i)
    if mat.ndim != 2 or vec.ndim != 1 or input.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, {vec.ndim}")
    n, m = mat._shape
    if vec._shape[0] != m or (input.ndim == 1 and input._shape[0] not in (1, n)):
        given = "x".join(str(s) for s in input._shape)
        raise RuntimeError(f"size mismatch, got input ({given}), mat ({n}x{m}), vec ({vec._shape[0]})")
    _check_scalars(input, beta, alpha)
    return to_out(_scaled_sum(input, matmul(mat, vec), beta, alpha), out)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1,  # noqa: A002
         out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2); input broadcasts to (len(vec1), len(vec2))."""
    for i, (name, t) in enumerate((("input", input), ("vec1", vec1), ("vec2", vec2)), 1):
        require_tensor("addr", t, name, i)
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {t.ndim}-D")
    _check_scalars(input, beta, alpha)
    product = V.unsqueeze(vec1, 1) * vec2
    V.expand(input, product._shape)  # raises PyTorch's broadcast error for an input of the wrong shape
    return to_out(_scaled_sum(input, product, beta, alpha), out)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,  # noqa: A002
           out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * sum_b(batch1[b] @ batch2[b]): one (n, B*m) @ (B*m, p) product."""
    for i, (name, t) in enumerate((("input", input), ("batch1", batch1), ("batch2", batch2)), 1):
        require_tensor("addbmm", t, name, i)
    if batch1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if batch2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    nb, n, m = batch1._shape
    if batch2._shape[0] != nb:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {nb} and {batch2._shape[0]}")
    if batch2._shape[1] != m:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{m} and {batch2._shape[1]}x{batch2._shape[2]})")
    _check_scalars(input, beta, alpha)
    left = V.reshape(V.permute(batch1, (1, 0, 2)), (n, nb * m))
    product = mm(left, V.reshape(batch2, (nb * m, batch2._shape[2])))
    V.expand(input, product._shape)  # raises PyTorch's broadcast error for an input of the wrong shape
    return to_out(_scaled_sum(input, product, beta, alpha), out)


def chain_matmul(*matrices: Tensor, out: Tensor | None = None) -> Tensor:
    """The product of 2-D matrices, left to right (deprecated in PyTorch for `tt.linalg.multi_dot`)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
                  "parameters.", UserWarning, stacklevel=2)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for t in matrices:
        if t.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t.ndim}, expected 2 instead.")
    result = matrices[0].clone() if len(matrices) == 1 else matrices[0]
    for t in matrices[1:]:
        result = mm(result, t)
    return to_out(result, out)


__all__ = ["addbmm", "addmv", "addr", "chain_matmul", "inner", "kron", "tensordot", "trace"]


def _inplace(op):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return inplace(op, self, *args, **kwargs)

    method.__name__ = op.__name__ + "_"
    method.__doc__ = f"In-place `tt.{op.__name__}`: the result is written into self."
    return method


METHODS: dict = {
    "trace": trace, "kron": kron, "inner": inner, "addmv": addmv, "addr": addr, "addbmm": addbmm,
    "addmv_": _inplace(addmv), "addr_": _inplace(addr), "addbmm_": _inplace(addbmm),
}
