"""What the tt.linalg modules share: PyTorch's argument checks and error messages, and the device primitives.

The primitives (Cholesky, LU, triangular and LU solves) run SciPy/LAPACK on cpu and the one-program-per-matrix
Triton kernels of kernels/linalg.py on cuda; both return LAPACK's `info` per matrix as a NumPy array, which
`check_errors` turns into PyTorch's message. This module declares no public names.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import dtypes as D
from ..kernels import linalg as K
from ..tensor import Tensor
from .elementwise import _into
from .reduction import torch_name


class LinAlgError(RuntimeError):
    """A linear algebra failure (singular or non positive-definite input), as torch.linalg.LinAlgError."""


# ================================================================ argument checks
def check_tensor(name: str, value, arg: str = "A") -> None:
    """PyTorch's TypeError for a non-tensor argument."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(value).__name__}")


def check_float(name: str, A: Tensor) -> None:
    """linalg accepts float32/float64 only (half types have no LAPACK routine), as PyTorch's checkFloatingOrComplex."""
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {torch_name(A.dtype)}")
    if A.dtype not in (D.float32, D.float64):
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got {torch_name(A.dtype)}")


def check_matrix(name: str, A: Tensor, arg: str = "A") -> None:
    """At least 2 dims, as PyTorch's checkIsMatrix."""
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")


def check_square(name: str, A: Tensor, arg: str = "A") -> None:
    """A batch of square matrices, as PyTorch's squareCheckInputs."""
    check_matrix(name, A, arg)
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{name}: {arg} must be batches of square matrices, but they are {A._shape[-2]} by "
                           f"{A._shape[-1]} matrices")


def check_input(name: str, A: Tensor, square: bool = True) -> None:
    """The usual checks of a linalg function's matrix argument: a tensor, float32/float64, (square) matrices."""
    check_tensor(name.removeprefix("torch.").removeprefix("linalg."), A)
    (check_square if square else check_matrix)(name, A)
    check_float(name, A)


def check_same(name: str, A: Tensor, B: Tensor) -> None:
    """Same dtype and device for two operands, with PyTorch's messages."""
    if A.dtype is not B.dtype:
        raise RuntimeError(f"{name}: Expected A and B to have the same dtype, but found A of type "
                           f"{torch_name(A.dtype)} and B of type {torch_name(B.dtype)} instead")
    if A.device != B.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{A.device} and {B.device}!")


def cpu_only(name: str, A: Tensor) -> None:
    """Decompositions without a Triton formulation here (QR, eigh, SVD) refuse cuda inputs."""
    if A.device.type != "cpu":
        raise NotImplementedError(f"{name} is not implemented for cuda tensors in tritensor (no Triton kernel for "
                                  f"this decomposition); call it on A.cpu() and move the result back with .cuda()")


def check_kernel_size(name: str, A: Tensor) -> None:
    """The cuda kernels hold one matrix per program in registers: at most kernels.linalg.MAX_N rows/columns."""
    if A.device.type != "cpu" and max(A._shape[-2:]) > K.MAX_N:
        raise NotImplementedError(f"{name} on cuda supports matrices up to {K.MAX_N} x {K.MAX_N} (one Triton program "
                                  f"per matrix); got {A._shape[-2]} x {A._shape[-1]}. Use A.cpu() for larger ones")


def out_arg(fn):
    """PyTorch's `out=` for a linalg function: the result (each tensor of a result tuple) is written into out."""

    @functools.wraps(fn)
    def with_out(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{fn.__name__}(): argument 'out' must be tuple of {len(result)} Tensors")
            return type(result)(*(_into(o, r) for o, r in zip(out, result)))
        return _into(out, result)

    return with_out


# ================================================================ errors from LAPACK's info
def check_errors(info: np.ndarray, api: str, is_matrix: bool) -> None:
    """Raise PyTorch's error for the first nonzero info (at::_linalg_check_errors), naming the batch element."""
    flat = np.asarray(info).reshape(-1)
    bad = np.flatnonzero(flat)
    if not bad.size:
        return
    code = int(flat[bad[0]])
    where = "" if is_matrix else f": (Batch element {int(bad[0])})"
    if "inv" in api:
        raise LinAlgError(f"{api}{where}: The diagonal element {code} is zero, the inversion could not be completed "
                          "because the input matrix is singular.")
    if "solve" in api:
        raise LinAlgError(f"{api}{where}: The solver failed because the input matrix is singular.")
    if "cholesky" in api:
        raise LinAlgError(f"{api}{where}: The factorization could not be completed because the input is not "
                          f"positive-definite (the leading minor of order {code} is not positive-definite).")
    raise RuntimeError(f"{api}{where}: U[{code},{code}] is zero and using it on lu_solve would result in a division "
                       "by zero. If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
                       "or linalg.lu_factor_ex(A, pivot)")


# ================================================================ small tensor helpers
def batch_of(A: Tensor) -> tuple:
    return tuple(A._shape[:-2])


def eye(n: int, like: Tensor) -> Tensor:
    """The (n, n) identity in like's dtype and device."""
    return Tensor._from_host(np.eye(n, dtype=like.dtype.np), like.device)


def diagonal(A: Tensor) -> Tensor:
    """The main diagonal of each (n, n) matrix, differentiably (A * I summed; small matrices only)."""
    return (A * eye(A._shape[-1], A)).sum(-1)


def diag_embed(v: Tensor) -> Tensor:
    """Diagonal matrices from the last dim of v, differentiably."""
    return v.unsqueeze(-1) * eye(v._shape[-1], v)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """a @ b, batched, differentiably; cuda's matmul kernel has no float64 path, so float64 there is a broadcast
    multiply and sum (the matrices of these kernels are at most 64 x 64)."""
    if a.device.type != "cpu" and a.dtype.itemsize == 8:
        return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)
    return a.matmul(b)


def int_tensor(arr: np.ndarray, device) -> Tensor:
    return Tensor._from_host(np.ascontiguousarray(arr), device)


def host(t: Tensor) -> np.ndarray:
    return t._host()


def _as3(t: Tensor):
    """t (contiguous copy when needed) as a (B, m, n) DeviceArray."""
    t = t.contiguous()
    m, n = t._shape[-2:]
    B = int(np.prod(t._shape[:-2], dtype=np.int64))
    return t._dev().view_as((B, m, n), (m * n, n, 1))


def piv_rows(piv: Tensor) -> np.ndarray:
    """Pivots (*, k) as a host (B, k) int array."""
    return np.asarray(piv._host()).reshape(int(np.prod(piv._shape[:-1], dtype=np.int64)), piv._shape[-1])


def _np3(t: Tensor) -> np.ndarray:
    m, n = t._shape[-2:]
    return np.ascontiguousarray(t._host()).reshape(int(np.prod(t._shape[:-2], dtype=np.int64)), m, n)


# ================================================================ device primitives (no autograd)
def _zero_info(batch: tuple, device) -> Tensor:
    # Zeroed: the kernels launch nothing for empty (0 x 0) matrices, whose info is 0.
    return Tensor._from_host(np.zeros(batch, np.int32), device)


def cholesky_lower(A: Tensor) -> tuple[Tensor, np.ndarray]:
    """(L, info) for every matrix of A (lower triangle read); info has A's batch shape."""
    batch = batch_of(A)
    if A.device.type == "cpu":
        L, info = K.cholesky_ref(_np3(A))
        return Tensor._wrap(L.reshape(A._shape)), info.reshape(batch)
    out = Tensor._empty(A._shape, A.dtype, A.device)
    info = _zero_info(batch, A.device)
    K.cholesky(_as3(out), _as3(A), info._dev().view_as((info.numel(),), (1,)))
    return out, info._host()


def lu(A: Tensor) -> tuple[Tensor, Tensor, np.ndarray]:
    """(LU, 1-based int32 pivots, info) of every (m, n) matrix of A."""
    batch, (m, n) = batch_of(A), A._shape[-2:]
    k = min(m, n)
    if A.device.type == "cpu":
        lu_, piv, info = K.lu_factor_ref(_np3(A))
        return Tensor._wrap(lu_.reshape(A._shape)), Tensor._wrap(piv.reshape(batch + (k,))), info.reshape(batch)
    out = Tensor._empty(A._shape, A.dtype, A.device)
    piv = Tensor._empty(batch + (k,), D.int32, A.device)
    info = _zero_info(batch, A.device)
    B = info.numel()
    K.lu_factor(_as3(out), _as3(A), piv._dev().view_as((B, k), (k, 1)), info._dev().view_as((B,), (1,)))
    return out, piv, info._host()


def tri_solve(A: Tensor, B: Tensor, piv: Tensor | None, mode: int, unit: bool = False) -> Tensor:
    """X with A X = B per matrix: A triangular (K.MODE_LOWER / MODE_UPPER) or getrf's LU with pivots (MODE_LU).
    A and B share their batch shape."""
    if B.device.type == "cpu":
        p = None if piv is None else piv_rows(piv)
        x = K.tri_solve_ref(_np3(A), _np3(B), p, mode, unit)
        return Tensor._wrap(x.reshape(B._shape))
    out = Tensor._empty(B._shape, B.dtype, B.device)
    n = A._shape[-1]
    nb = int(np.prod(B._shape[:-2], dtype=np.int64))
    if piv is None:
        piv_dev = Tensor._empty((1,), D.int32, B.device)._dev()  # never read outside MODE_LU
    else:
        piv_dev = piv.contiguous()._dev().view_as((nb, n), (n, 1))
    K.tri_solve(_as3(out), _as3(A), _as3(B), piv_dev, mode, unit)
    return out
