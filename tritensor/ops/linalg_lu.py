"""tt.linalg.lu_factor / lu_factor_ex / lu_solve / solve_triangular and tt.cholesky_solve.

LU with partial pivoting and the triangular solves are the primitives the rest of tt.linalg builds on (solve,
inv, det, slogdet on cuda; the Cholesky and QR backwards). Every backward is written with these public,
differentiable functions, so create_graph=True works through them.
"""

from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function
from ..kernels import linalg as K
from ..tensor import Tensor
from . import linalg_common as C
from .dispatch import broadcast_shapes
from .shape import cat


def return_type(name: str, fields: list[str]):
    """A named tuple like torch.return_types.<name>."""
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "tritensor.return_types"
    cls.__repr__ = lambda self: (f"tritensor.return_types.{name}(\n"
                                 + ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self)) + ")")
    return cls


LUFactorResult = return_type("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = return_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])


# ================================================================ permutations of getrf's pivots
def permutation_matrix(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """P with A = P L U for getrf's 1-based pivots (read on the host: backward and adjoint solves only)."""
    piv = C.piv_rows(pivots).astype(np.int64) - 1
    P = np.zeros((piv.shape[0], m, m), like.dtype.np)
    for b, row in enumerate(piv):
        perm = np.arange(m)
        for k, p in enumerate(row):
            perm[k], perm[p] = perm[p], perm[k]
        P[b, perm, np.arange(m)] = 1.0  # the swaps applied to A give L U: (swapped A)[i] = A[perm[i]]
    return Tensor._from_host(P.reshape(tuple(pivots._shape[:-1]) + (m, m)), like.device)


def _unpack(LU: Tensor) -> tuple[Tensor, Tensor]:
    """(L, U) of getrf's packed (m, n) LU: L (m, k) unit lower, U (k, n) upper, k = min(m, n)."""
    m, n = LU._shape[-2:]
    k = min(m, n)
    eye = Tensor._from_host(np.eye(m, k, dtype=LU.dtype.np), LU.device)
    return LU[..., :k].tril(-1) + eye, LU[..., :k, :].triu()


# ================================================================ autograd Functions
class LinalgLuFactorEx(Function):
    """getrf: (LU, pivots); the gradient flows to A through LU (square matrices)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        LU, piv, info = C.lu(A.detach())
        info = C.int_tensor(np.asarray(info, np.int32), A.device)
        ctx.mark_non_differentiable(piv, info)
        ctx.save_for_backward(LU, piv)
        return LU, piv, info

    @staticmethod
    def backward(ctx, gLU, gpiv=None, ginfo=None):
        LU, piv = ctx.saved_tensors
        m, n = LU._shape[-2:]
        k = min(m, n)
        L, U = _unpack(LU)
        gL, gU = gLU[..., :k].tril(-1), gLU[..., :k, :].triu()
        if m == n:
            g = _lu_backward_core(L, U, C.mm(L.mT, gL), C.mm(gU, U.mT))
        elif m < n:
            # A = P L [U1 | U2] with U1 square: L and U1 come from P L U1 = A1 alone, and U2 = L^-1 P^T A2 adds
            # -L^-T gU2 U2^T to L's gradient; A2's gradient is P L^-T gU2.
            U1, U2, gU1, gU2 = U[..., :m], U[..., m:], gU[..., :m], gU[..., m:]
            g1 = _lu_backward_core(L, U1, C.mm(L.mT, gL) - C.mm(gU2, U2.mT), C.mm(gU1, U1.mT))
            g = cat([g1, solve_triangular(L.mT, gU2, upper=True, unitriangular=True)], -1)
        else:
            # P^T A = [L1; L2] U with L1 square: L2 = A2 U^-1 adds -L2^T gL2 U^-T to U's gradient; A2's is gL2 U^-T.
            L1, L2, gL1, gL2 = L[..., :n, :], L[..., n:, :], gL[..., :n, :], gL[..., n:, :]
            g1 = _lu_backward_core(L1, U, C.mm(L1.mT, gL1), C.mm(gU, U.mT) - C.mm(L2.mT, gL2))
            g = cat([g1, solve_triangular(U.mT, gL2, upper=False, left=False)], -2)
        return C.mm(permutation_matrix(piv, m, LU), g)


def _lu_backward_core(L: Tensor, U: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """P^T gA of a square block A = P L U: L^-T (tril(lower, -1) + triu(upper)) U^-T, where lower = L^T gL and
    upper = gU U^T plus what the rectangular part adds (PyTorch's linalg_lu_backward)."""
    g = solve_triangular(L.mT, lower.tril(-1) + upper.triu(), upper=True, unitriangular=True)
    return solve_triangular(U.mT, g, upper=False, left=False)


class LinalgLuSolve(Function):
    """X = A^-1 B (or A^-T B when adjoint) from A's LU factors; left solves only (the op transposes the rest)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, LU: Tensor, piv: Tensor, B: Tensor, adjoint: bool) -> Tensor:
        ctx.adjoint = adjoint
        LU_, B_ = LU.detach(), B.detach()
        if not adjoint:
            X = C.tri_solve(LU_, B_, piv, K.MODE_LU)
        elif B.device.type == "cpu":
            mats = zip(C._np3(LU_), C.piv_rows(piv), C._np3(B_)) if B.numel() else ()
            rows = [_getrs_t(lu, p, b) for lu, p, b in mats]
            X = Tensor._wrap(np.stack(rows).reshape(B._shape) if rows else np.zeros(B._shape, B.dtype.np))
        else:  # A^T = U^T L^T P^T: U^T (lower) first, then L^T (unit upper), then P
            LUt = LU_.mT
            Y = C.tri_solve(LUt, C.tri_solve(LUt, B_, None, K.MODE_LOWER), None, K.MODE_UPPER, True)
            X = C.mm(permutation_matrix(piv, LU._shape[-1], LU_), Y)
        ctx.save_for_backward(LU, piv, X)
        return X

    @staticmethod
    def backward(ctx, gX):
        LU, piv, X = ctx.saved_tensors
        gB = LinalgLuSolve.apply(LU, piv, gX, not ctx.adjoint)
        gA = -(C.mm(X, gB.mT) if ctx.adjoint else C.mm(gB, X.mT))
        gLU = None
        if ctx.needs_input_grad[0]:  # A = P L U
            L, U = _unpack(LU)
            PtgA = C.mm(permutation_matrix(piv, LU._shape[-1], LU).mT, gA)
            gLU = C.mm(PtgA, U.mT).tril(-1) + C.mm(L.mT, PtgA).triu()
        return gLU, None, gB, None


def _getrs_t(lu: np.ndarray, piv: np.ndarray, b: np.ndarray) -> np.ndarray:
    getrs = C.K._lapack("getrs", lu)
    return getrs(lu, piv - 1, b, trans=1)[0]


class LinalgSolveTriangular(Function):
    """X = A^-1 B for triangular A, left solves (the op transposes right ones)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, B: Tensor, upper: bool, unit: bool) -> Tensor:
        ctx.upper, ctx.unit = upper, unit
        X = C.tri_solve(A.detach(), B.detach(), None, K.MODE_UPPER if upper else K.MODE_LOWER, unit)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, gX):
        A, X = ctx.saved_tensors
        upper, unit = ctx.upper, ctx.unit
        gB = solve_triangular(A.mT, gX, upper=not upper, unitriangular=unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -C.mm(gB, X.mT)
            gA = (gA.triu(1 if unit else 0)) if upper else gA.tril(-1 if unit else 0)
        return gA, gB, None, None


# ================================================================ public functions
@C.out_arg
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """(LU, pivots, info): the LU decomposition with partial pivoting of every (m, n) matrix of A, packed as
    LAPACK's getrf (unit L below the diagonal, U on and above it), with 1-based int32 pivots and int32 info."""
    name = "torch.linalg.lu_factor_ex"
    C.check_input(name, A, square=False)
    if not pivot:
        raise NotImplementedError("linalg.lu_factor: LU without pivoting is not implemented in tritensor")
    C.check_kernel_size("linalg.lu_factor_ex", A)
    LU, piv, info = LinalgLuFactorEx.apply(A)
    if check_errors:
        C.check_errors(info._host(), name, A.ndim == 2)
    return LUFactorExResult(LU, piv, info)


@C.out_arg
def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """(LU, pivots) of every matrix of A, as `lu_factor_ex`; raises if some U[k, k] is exactly zero."""
    C.check_input("torch.linalg.lu_factor", A, square=False)
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    C.check_errors(info._host(), "torch.linalg.lu_factor", A.ndim == 2)
    return LUFactorResult(LU, piv)


@C.out_arg
def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False,
             out=None) -> Tensor:
    """X with A X = B (A^T X = B when adjoint; X A = B when not left) from `lu_factor`'s (LU, pivots)."""
    name = "linalg.lu_solve"
    C.check_input(name, LU)
    C.check_tensor("lu_solve", B, "B")
    C.check_matrix(name, B, "B")
    C.check_same(name, LU, B)
    n = LU._shape[-1]
    if (B._shape[-2] if left else B._shape[-1]) != n:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {B._shape[-2]}x{B._shape[-1]})")
    if tuple(pivots._shape) != tuple(LU._shape[:-1]):
        raise RuntimeError(f"{name}: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots._shape)} instead")
    C.check_kernel_size(name, LU)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    batch = broadcast_shapes(C.batch_of(LU), C.batch_of(B))
    LU_ = LU.expand(batch + (n, n))
    piv = pivots.expand(batch + (n,)).contiguous()
    return LinalgLuSolve.apply(LU_, piv, B.expand(batch + tuple(B._shape[-2:])), adjoint)


@C.out_arg
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False,
                     out=None) -> Tensor:
    """X with A X = B (X A = B when not left) for triangular A: only its upper (lower) triangle is read, and its
    diagonal is taken as ones when unitriangular. Batch dims broadcast; a zero diagonal gives inf/NaN."""
    name = "linalg.solve_triangular"
    C.check_tensor("solve_triangular", A)
    C.check_tensor("solve_triangular", B, "B")
    C.check_square(name, A)
    C.check_matrix(name, B, "B")
    C.check_float(name, A)
    C.check_same(name, A, B)
    n = A._shape[-1]
    if (B._shape[-2] if left else B._shape[-1]) != n:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {B._shape[-2]}x{B._shape[-1]})")
    C.check_kernel_size(name, A)
    if not left:  # X A = B  <=>  A^T X^T = B^T, and A^T's triangle is the other one
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    batch = broadcast_shapes(C.batch_of(A), C.batch_of(B))
    return LinalgSolveTriangular.apply(A.expand(batch + (n, n)), B.expand(batch + tuple(B._shape[-2:])),
                                       bool(upper), bool(unitriangular))


@C.out_arg
def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """X with A X = input, where input2 is the Cholesky factor of A (lower, or upper when `upper`)."""
    L = input2.mT if upper else input2
    Y = solve_triangular(L, input, upper=False)
    return solve_triangular(L.mT, Y, upper=True)


__all__ = ["cholesky_solve"]
METHODS: dict = {"cholesky_solve": cholesky_solve}
NAMESPACES = {"linalg": ["lu_factor", "lu_factor_ex", "lu_solve", "solve_triangular"]}
