"""tt.linalg.cholesky / inv / solve (and their _ex forms), det, slogdet; tt.det, tt.logdet, tt.slogdet, tt.inverse.

cpu runs NumPy/LAPACK; cuda runs the batched Triton kernels of kernels/linalg.py (Cholesky, LU with partial
pivoting, LU solve), one program per matrix, for matrices up to 64 x 64. Errors (singular, not
positive-definite) are PyTorch's, naming the batch element. Backwards follow PyTorch's formulas, written with
differentiable tensor ops.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels import linalg as K
from ..tensor import Tensor
from . import linalg_common as C
from .dispatch import broadcast_shapes
from .linalg_decomp import svd
from .linalg_lu import return_type, solve_triangular

CholeskyExResult = return_type("linalg_cholesky_ex", ["L", "info"])
InvExResult = return_type("linalg_inv_ex", ["inverse", "info"])
SolveExResult = return_type("linalg_solve_ex", ["result", "info"])
SlogdetResult = return_type("linalg_slogdet", ["sign", "logabsdet"])


# ================================================================ Cholesky
class LinalgCholeskyEx(Function):
    """The lower Cholesky factor (and LAPACK's info); the op transposes for upper=True."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor) -> tuple[Tensor, Tensor]:
        L, info = C.cholesky_lower(A.detach())
        info = C.int_tensor(np.asarray(info, np.int32), A.device)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(L)
        return L, info

    @staticmethod
    def backward(ctx, gL, ginfo=None):
        # PyTorch's cholesky_backward: gA = L^-T Phi(L^T gL) L^-1 with Phi symmetrising the lower triangle.
        (L,) = ctx.saved_tensors
        gA = C.mm(L.mT, gL).tril()
        gA = 0.5 * (gA + gA.tril(-1).mT)
        gA = solve_triangular(L.mT, gA, upper=True)
        return solve_triangular(L, gA, upper=False, left=False)


@C.out_arg
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """(L, info): the Cholesky factor of every symmetric positive-definite matrix of A (only its lower triangle
    is read; the upper one, and U with A = U^T U is returned, when `upper`); info is 0 or the order of the first
    leading minor that is not positive-definite."""
    name = "linalg.cholesky"  # PyTorch's argument checks name linalg.cholesky for the _ex form too
    C.check_input(name, A)
    C.check_kernel_size(name, A)
    L, info = LinalgCholeskyEx.apply(A.mT if upper else A)
    if check_errors:
        C.check_errors(info._host(), "linalg.cholesky_ex", A.ndim == 2)
    return CholeskyExResult(L.mT if upper else L, info)


@C.out_arg
def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The Cholesky factor L (A = L L^T) of every symmetric positive-definite matrix of A; U (A = U^T U) when
    `upper`. Raises if a matrix is not positive-definite."""
    C.check_input("linalg.cholesky", A)
    L, info = cholesky_ex(A, upper=upper)
    C.check_errors(info._host(), "linalg.cholesky", A.ndim == 2)
    return L


# ================================================================ solve / inv
def _solve_raw(A: Tensor, B: Tensor, api: str, check: bool) -> tuple[Tensor, np.ndarray]:
    """X = A^-1 B for A (*, n, n) and B (*, n, k) sharing their batch; info per matrix (getrf's)."""
    if A.device.type == "cpu":
        try:
            return Tensor._wrap(np.linalg.solve(C._np3(A), C._np3(B)).reshape(B._shape)), np.zeros(C.batch_of(A),
                                                                                                      np.int32)
        except np.linalg.LinAlgError:
            pass  # some matrix is singular: LAPACK's getrf names which (below)
    LU, piv, info = C.lu(A)
    if check:
        C.check_errors(info, api, A.ndim == 2)
    return C.tri_solve(LU, B, piv, K.MODE_LU), info


class LinalgSolveEx(Function):
    """X = A^-1 B; A and B share their batch shape (the op broadcasts)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, B: Tensor, check: bool) -> tuple[Tensor, Tensor]:
        X, info = _solve_raw(A.detach(), B.detach(), "torch.linalg.solve_ex", check)
        info = C.int_tensor(np.asarray(info, np.int32), A.device)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(A, X)
        return X, info

    @staticmethod
    def backward(ctx, gX, ginfo=None):
        A, X = ctx.saved_tensors
        gB = solve(A.mT, gX)
        gA = -C.mm(gB, X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB, None


class LinalgInvEx(Function):
    """A^-1 per matrix."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, check: bool, api: str) -> tuple[Tensor, Tensor]:
        A_ = A.detach()
        X, info = None, None
        if A.device.type == "cpu":
            try:
                X, info = Tensor._wrap(np.linalg.inv(C._np3(A_)).reshape(A._shape)), np.zeros(C.batch_of(A), np.int32)
            except np.linalg.LinAlgError:
                pass
        if X is None:
            identity = C.eye(A._shape[-1], A_).expand(A._shape)
            X, info = _solve_raw(A_, identity, api, check)
        info = C.int_tensor(np.asarray(info, np.int32), A.device)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(X)
        return X, info

    @staticmethod
    def backward(ctx, gX, ginfo=None):
        (X,) = ctx.saved_tensors
        Xt = X.mT
        return -C.mm(C.mm(Xt, gX), Xt), None, None


@C.out_arg
def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """(inverse, info): A^-1 of every square matrix of A; info is getrf's (k: U[k, k] is zero, A is singular)."""
    C.check_input("linalg.inv", A)
    C.check_kernel_size("linalg.inv_ex", A)
    return InvExResult(*LinalgInvEx.apply(A, check_errors, "linalg.inv_ex"))


@C.out_arg
def inv(A: Tensor, *, out=None) -> Tensor:
    """The inverse of every square matrix of A (batched); raises for a singular matrix, as PyTorch."""
    C.check_input("linalg.inv", A)
    C.check_kernel_size("linalg.inv", A)
    return LinalgInvEx.apply(A, True, "linalg.inv")[0]  # raises before solving when a matrix is singular


@C.out_arg
def inverse(input: Tensor, *, out=None) -> Tensor:
    """torch.inverse: an alias of tt.linalg.inv."""
    return inv(input)


def _vector_rhs(A: Tensor, B: Tensor) -> bool:
    # PyTorch's linalg_solve_is_vector_rhs: B is a (batch of) vector(s) when 1-D or shaped like A's batch + (n,).
    return B.ndim == 1 or (A.ndim - 1 == B.ndim and tuple(B._shape) == tuple(A._shape[:-1]))


@C.out_arg
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out=None):
    """(result, info): X with A X = B (X A = B when not left) for square A; batch dims broadcast, B may be a
    vector (or a batch of vectors shaped like A's batch + (n,))."""
    name = "linalg.solve"
    C.check_input(name, A)
    C.check_tensor("solve", B, "B")
    C.check_same(name, A, B)
    n = A._shape[-1]
    vector = _vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vector else B
    if not left:
        Bm = Bm.mT
        A = A.mT
    if Bm.ndim < 2 or Bm._shape[-2] != n:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({n}x{n} and {'x'.join(str(s) for s in B._shape[-2:])})")
    C.check_kernel_size(name, A)
    batch = broadcast_shapes(C.batch_of(A), C.batch_of(Bm))
    X, info = LinalgSolveEx.apply(A.expand(batch + (n, n)), Bm.expand(batch + tuple(Bm._shape[-2:])), check_errors)
    if not left:
        X = X.mT
    return SolveExResult(X.squeeze(-1) if vector else X, info)


@C.out_arg
def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """X with A X = B (X A = B when not left), batched and broadcast; raises for a singular A, as PyTorch."""
    return solve_ex(A, B, left=left, check_errors=True).result


# ================================================================ determinants
def _lu_det(A: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(diagonal of U, the permutation's sign, sign of det) of every matrix from its LU factors (cuda)."""
    LU, piv, _ = C.lu(A)
    n = A._shape[-1]
    d = C.diagonal(LU)
    swaps = np.asarray(piv._host()) != np.arange(1, n + 1, dtype=np.int32)
    perm_sign = Tensor._from_host(np.asarray(1.0 - 2.0 * (swaps.sum(-1) % 2), A.dtype.np), A.device)
    return d, perm_sign, d.sign().prod(-1) * perm_sign


class LinalgSlogdet(Function):
    """(sign, log|det A|); the sign is not differentiable."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor) -> tuple[Tensor, Tensor]:
        A_ = A.detach()
        if A.device.type == "cpu":
            s, la = np.linalg.slogdet(A_._host())
            sign, logabs = Tensor._wrap(np.asarray(s, A.dtype.np)), Tensor._wrap(np.asarray(la, A.dtype.np))
        else:
            d, _, sign = _lu_det(A_)
            logabs = d.abs().log().sum(-1)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx, gsign, glogabs):
        # g A^-T with the inverse unchecked, as PyTorch's lu_solve: a singular A (logabsdet -inf) gives inf/NaN
        # gradients, not an error.
        (A,) = ctx.saved_tensors
        return glogabs.unsqueeze(-1).unsqueeze(-1) * inv_ex(A).inverse.mT


class LinalgDet(Function):
    """det A; its gradient g det(A) A^-T (invertible A)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor) -> Tensor:
        A_ = A.detach()
        if A.device.type == "cpu":
            out = Tensor._wrap(np.asarray(np.linalg.det(A_._host()), A.dtype.np))
        else:
            d, perm_sign, _ = _lu_det(A_)
            out = d.prod(-1) * perm_sign
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, out = ctx.saved_tensors
        return _det_backward(A, out, g)


def _det_backward(A: Tensor, det_A: Tensor, g: Tensor) -> Tensor:
    """g times the cofactor matrix of A: det(A) A^-T where A is invertible; where |det A| < 100 eps (PyTorch's
    threshold) A^-T is missing or inaccurate, so the cofactors come from A = U S Vh instead: det(U) det(Vh)
    U diag(prod_{j != i} S_j) Vh, a product with no division."""
    n = A._shape[-1]
    singular = np.abs(np.asarray(det_A.detach()._host())) < 100 * np.finfo(A.dtype.np).eps
    if n == 0 or not singular.any():
        return (g * det_A).unsqueeze(-1).unsqueeze(-1) * inv(A).mT
    mask = Tensor._from_host(singular.reshape(singular.shape + (1, 1)), A.device)
    eye = C.eye(n, A)
    # Each path gets a well-conditioned stand-in for the matrices the other one owns: the identity (invertible)
    # and diag(1..n) (distinct singular values).
    distinct = C.diag_embed(Tensor._from_host(np.arange(1.0, n + 1.0, dtype=A.dtype.np), A.device))
    A_sing = A.where(mask, distinct).to("cpu")
    U, S, Vh = svd(A_sing)
    others = (S.unsqueeze(-2) * (1.0 - C.eye(n, S)) + C.eye(n, S)).prod(-1)  # prod_{j != i} S_j
    alpha = det(U) * det(Vh) * g.to("cpu")
    cof = C.mm(U * (alpha.unsqueeze(-1) * others).unsqueeze(-2), Vh).to(A.device)
    regular = (g * det_A).unsqueeze(-1).unsqueeze(-1) * inv(eye.where(mask, A)).mT
    return cof.where(mask, regular)


@C.out_arg
def det(A: Tensor, *, out=None) -> Tensor:
    """The determinant of every square matrix of A (batched); differentiable for invertible matrices."""
    C.check_input("linalg.det", A)
    C.check_kernel_size("linalg.det", A)
    return LinalgDet.apply(A)


@C.out_arg
def slogdet(A: Tensor, *, out=None):
    """(sign, logabsdet): the sign of det A and log|det A| (-inf for a singular matrix), computed stably."""
    C.check_input("linalg.slogdet", A)
    C.check_kernel_size("linalg.slogdet", A)
    return SlogdetResult(*LinalgSlogdet.apply(A))


def logdet(input: Tensor) -> Tensor:
    """log det A: NaN where det A < 0, -inf where it is 0 (torch.logdet)."""
    C.check_input("logdet", input)
    sign, logabs = slogdet(input)
    nan = Tensor._from_host(np.asarray(np.nan, input.dtype.np), input.device)
    return logabs.where(sign >= 0, nan)


__all__ = ["det", "logdet", "slogdet", "inverse"]
METHODS: dict = {"det": det, "logdet": logdet, "slogdet": slogdet, "inverse": inverse}
NAMESPACES = {"linalg": ["cholesky", "cholesky_ex", "inv", "inv_ex", "solve", "solve_ex", "det", "slogdet"]}
