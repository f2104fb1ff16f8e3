"""tt.linalg.qr / eigh / eigvalsh / svd / svdvals / pinv / matrix_rank / lstsq, and tt.pinverse.

These decompositions have no Triton formulation here (iterative or Householder-blocked algorithms): they run
NumPy/LAPACK on cpu and raise NotImplementedError on cuda, naming the op and suggesting `.cpu()`. Their backwards
are PyTorch's formulas (QR in every mode but 'r' and tall 'complete'; eigh with the 1 / (lambda_j - lambda_i)
matrix; SVD for distinct singular values and gauge-invariant losses; pinv through A+ itself), written with
differentiable tensor ops. Eigenvalues and singular values alone never divide by their differences, so repeated
ones are fine there.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from . import linalg_common as C
from .linalg_lu import return_type, solve_triangular
from .shape import cat

QRResult = return_type("linalg_qr", ["Q", "R"])
EighResult = return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
SVDResult = return_type("linalg_svd", ["U", "S", "Vh"])
LstsqResult = return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _wrap(arr: np.ndarray, dtype) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(arr, dtype=dtype.np))


def _skew(X: Tensor) -> Tensor:
    return X - X.mT


# ================================================================ QR
class LinalgQr(Function):
    """Householder QR (LAPACK geqrf/orgqr through NumPy)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, mode: str) -> tuple[Tensor, Tensor]:
        ctx.mode = mode
        q, r = np.linalg.qr(A.detach()._host(), mode="complete" if mode == "complete" else "reduced")
        Q, R = _wrap(q, A.dtype), _wrap(r, A.dtype)
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        m, n = Q._shape[-2], R._shape[-1]
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                               "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
        if ctx.mode == "complete" and m > n:  # Q's last m - n columns are any orthonormal completion
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR), None
        # A = [X | Y] with X = Q R1 square and Y = Q R2: Q depends on X alone, and R2 = Q^T Y feeds Y's gradient
        # (Q gR2) and Q's (Y gR2^T = Q R2 gR2^T).
        R1, R2, gR1, gR2 = R[..., :m], R[..., m:], gR[..., :m], gR[..., m:]
        gX = _qr_backward_tall(Q, R1, gQ + C.mm(Q, C.mm(R2, gR2.mT)), gR1)
        return cat([gX, C.mm(Q, gR2)], -1), None


def _qr_backward_tall(Q: Tensor, R: Tensor, gQ: Tensor, gR: Tensor) -> Tensor:
    """PyTorch's QR backward for m >= n: gA = [gQ + Q copyltu(gR R^T - Q^T gQ)] R^-T, copyltu(M) mirroring M's upper
    triangle below the diagonal."""
    D = C.mm(gR, R.mT) - C.mm(Q.mT, gQ)
    sym = D.triu() + D.triu(1).mT
    return solve_triangular(R.mT, gQ + C.mm(Q, sym), upper=False, left=False)


@C.out_arg
def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """(Q, R) with A = Q R, Q orthonormal columns, R upper triangular; mode 'reduced', 'complete' or 'r' (Q empty)."""
    C.check_input("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or "
                           "'complete'")
    C.cpu_only("linalg.qr", A)
    Q, R = LinalgQr.apply(A, mode)
    if mode == "r":
        Q = Tensor._wrap(np.empty((0,), A.dtype.np))
    return QRResult(Q, R)


# ================================================================ eigh
class LinalgEigh(Function):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices (LAPACK syevd)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, uplo: str) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        w, v = np.linalg.eigh(A.detach()._host(), UPLO=uplo)
        L, V = _wrap(w, A.dtype), _wrap(v, A.dtype)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        # gA = V (diag(gL) + skew(V^T gV) / 2 / E) V^T with E_ij = lambda_j - lambda_i (PyTorch's formula); without
        # gV (eigvalsh) no E is formed, so repeated eigenvalues give V diag(gL) V^T rather than NaN.
        L, V = ctx.saved_tensors
        n = L._shape[-1]
        inner = C.diag_embed(gL) if gL is not None else None
        if gV is not None:
            eye = C.eye(n, L)
            E = L.unsqueeze(-2) - L.unsqueeze(-1) + eye
            off = (0.5 * _skew(C.mm(V.mT, gV))) / E * (1.0 - eye)
            inner = off if inner is None else inner + off
        if inner is None:
            return None, None
        return C.mm(C.mm(V, inner), V.mT), None


def _check_uplo(UPLO: str) -> None:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


@C.out_arg
def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """(eigenvalues, eigenvectors) of every symmetric matrix of A (its UPLO triangle read), ascending."""
    C.check_input("linalg.eigh", A)
    _check_uplo(UPLO)
    C.cpu_only("linalg.eigh", A)
    return EighResult(*LinalgEigh.apply(A, UPLO))


@C.out_arg
def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """The eigenvalues (ascending) of every symmetric matrix of A."""
    C.check_input("linalg.eigvalsh", A)
    _check_uplo(UPLO)
    C.cpu_only("linalg.eigvalsh", A)
    return LinalgEigh.apply(A, UPLO)[0]


# ================================================================ SVD
class LinalgSvd(Function):
    """U, S, Vh with A = U diag(S) Vh (LAPACK gesdd through NumPy)."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, full_matrices: bool) -> tuple[Tensor, Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        u, s, vh = np.linalg.svd(A.detach()._host(), full_matrices=full_matrices)
        U, S, Vh = _wrap(u, A.dtype), _wrap(s, A.dtype), _wrap(vh, A.dtype)
        ctx.save_for_backward(U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        k = S._shape[-1]
        # As PyTorch, full_matrices=True differentiates through the first k columns of U and rows of Vh only: the
        # others are any orthonormal completion, so a loss that reads them has no well-defined gradient.
        U, Vh = U[..., :k], Vh[..., :k, :]
        gU = None if gU is None else gU[..., :k]
        gVh = None if gVh is None else gVh[..., :k, :]
        if gU is None and gVh is None:
            if gS is None:
                return None, None
            return C.mm(U * gS.unsqueeze(-2), Vh), None  # no 1 / (s_j^2 - s_i^2): repeated values are fine
        gU = gU if gU is not None else U * 0.0
        gVh = gVh if gVh is not None else Vh * 0.0
        gS = gS if gS is not None else S * 0.0
        return _svd_backward(U, S, Vh, gU, gS, gVh, U._shape[-2], Vh._shape[-1], k), None


def _svd_backward(U, S, Vh, gU, gS, gVh, m, n, k) -> Tensor:
    """PyTorch's svd_backward for real matrices (distinct singular values; the loss gauge-invariant)."""
    V, gV = Vh.mT, gVh.mT
    eye = C.eye(k, S)
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye
    inner = (_skew(C.mm(U.mT, gU)) * S.unsqueeze(-2) + S.unsqueeze(-1) * _skew(C.mm(V.mT, gV))) / E * (1.0 - eye)
    inner = inner + C.diag_embed(gS)
    if m > k:
        gA = C.mm(U, inner)
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - C.mm(U, C.mm(U.mT, gUSinv))
        return C.mm(gA, Vh)
    if n > k:
        gA = C.mm(inner, Vh)
        gVSinv = gV / S.unsqueeze(-2)
        gA = gA + gVSinv.mT - C.mm(C.mm(gVSinv.mT, V), Vh)
        return C.mm(U, gA)
    return C.mm(C.mm(U, inner), Vh)


@C.out_arg
def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; U (m, m) and Vh (n, n) when full_matrices, else reduced."""
    C.check_input("linalg.svd", A, square=False)
    C.cpu_only("linalg.svd", A)
    return SVDResult(*LinalgSvd.apply(A, bool(full_matrices)))


@C.out_arg
def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """The singular values of every matrix of A, descending."""
    C.check_input("linalg.svdvals", A, square=False)
    C.cpu_only("linalg.svdvals", A)
    return LinalgSvd.apply(A, False)[1]


# ================================================================ pinv / matrix_rank / lstsq
def _tolerance(S: Tensor, m: int, n: int, atol, rtol, name: str) -> Tensor:
    """max(atol, rtol * S.max) per matrix (PyTorch's rule: rtol defaults to eps * max(m, n) unless atol > 0)."""
    if atol is not None and rtol is None:
        atol_pos = np.any(np.asarray(atol._host() if isinstance(atol, Tensor) else atol) > 0)
        rtol = 0.0 if atol_pos else None
    if rtol is None:
        rtol = np.finfo(S.dtype.np).eps * max(m, n)
    smax = S.amax(-1, keepdim=True) if S._shape[-1] else S.sum(-1, keepdim=True)
    tol = smax * (rtol if not isinstance(rtol, Tensor) else rtol.unsqueeze(-1))
    if atol is not None:
        a = atol.unsqueeze(-1) if isinstance(atol, Tensor) else atol
        tol = tol.clamp_min(a) if not isinstance(a, Tensor) else tol.maximum(a.to(S.dtype).expand(tol._shape))
    return tol


class LinalgPinv(Function):
    """The pseudo-inverse through the SVD; its backward is PyTorch's pinv_backward (the derivative of A+ for a
    locally constant rank), so repeated singular values do not give NaN as the SVD's own backward would."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, A: Tensor, atol, rtol, hermitian: bool) -> Tensor:
        A_ = A.detach()
        if hermitian:  # as PyTorch's eigh-based path, only the lower triangle is read
            A_ = A_.tril() + A_.tril(-1).mT
        m, n = A._shape[-2:]
        U, S, Vh = LinalgSvd.apply(A_, False)
        tol = _tolerance(S, m, n, atol, rtol, "linalg.pinv")
        keep = S > tol
        zero = Tensor._wrap(np.zeros((), A.dtype.np))
        s_inv = (1.0 / S.where(keep, Tensor._wrap(np.ones((), A.dtype.np)))).where(keep, zero)
        P = C.mm(Vh.mT * s_inv.unsqueeze(-2), U.mT)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx, gP):
        # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, transposed term by term; the products are
        # grouped so that every intermediate is (min(m, n), .)-sized where it can be.
        A, P = ctx.saved_tensors
        m, n = A._shape[-2:]
        Pt, gPt = P.mT, gP.mT
        if m <= n:
            K = C.mm(gPt, P)  # (m, m)
            KPt = C.mm(K, Pt)
            gA = -C.mm(P, K).mT + KPt - C.mm(C.mm(A, P), KPt) + C.mm(C.mm(Pt, P), gPt - C.mm(K, A))
        else:
            K = C.mm(P, gPt)  # (n, n)
            PtK = C.mm(Pt, K)
            gA = -C.mm(K, P).mT + C.mm(C.mm(gPt - C.mm(A, K), P), Pt) + PtK - C.mm(C.mm(PtK, P), A)
        return gA, None, None, None


@C.out_arg
def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None, rcond=None) -> Tensor:
    """The Moore-Penrose pseudo-inverse of every matrix of A (through the SVD); singular values at or below
    max(atol, rtol * sigma_max) are treated as zero. `rcond` is the older name of rtol; with `hermitian` only the
    lower triangle of A is read."""
    C.check_input("linalg.pinv", A, square=hermitian)
    C.cpu_only("linalg.pinv", A)
    rtol = rcond if rcond is not None else rtol
    return LinalgPinv.apply(A, atol, rtol, bool(hermitian))


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: `linalg.pinv(input, rcond=rcond)`."""
    return pinv(input, rcond=rcond)


@C.out_arg
def matrix_rank(A: Tensor, tol=None, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """The number of singular values above max(atol, rtol * sigma_max) for every matrix of A (int64)."""
    C.check_input("linalg.matrix_rank", A, square=False)
    C.cpu_only("linalg.matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    m, n = A._shape[-2:]
    S = LinalgSvd.apply(A.detach(), False)[1]
    tol_ = _tolerance(S, m, n, atol, rtol, "linalg.matrix_rank")
    return Tensor._wrap(np.asarray((S._host() > tol_._host()).sum(-1), np.int64))


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None):
    """(solution, residuals, rank, singular_values): the least-squares solution of A X = B per matrix (through the
    pseudo-inverse, so its gradient is pinv's). residuals (||A X - B||^2 per column) are given when m > n and
    every A has full rank; rank for the gelsy/gelsd/gelss drivers, singular_values for gelsd/gelss."""
    C.check_input("linalg.lstsq", A, square=False)
    C.check_tensor("lstsq", B, "B")
    C.check_same("linalg.lstsq", A, B)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"parameter `driver` should be one of (gels, gelsy, gelsd, gelss), but got {driver}")
    C.cpu_only("linalg.lstsq", A)
    m, n = A._shape[-2:]
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    if Bm._shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). Got {m} and "
                           f"{Bm._shape[-2]}")
    rcond = np.finfo(A.dtype.np).eps * max(m, n) if rcond is None else rcond
    X = C.mm(pinv(A, rtol=rcond), Bm)
    S = LinalgSvd.apply(A.detach(), False)[1]
    rank = Tensor._wrap(np.asarray((S._host() > S._host()[..., :1] * rcond).sum(-1), np.int64))
    full = m > n and bool(np.all(rank._host() == n))
    empty = Tensor._wrap(np.empty((0,), A.dtype.np))
    residuals = ((C.mm(A, X) - Bm) ** 2).sum(-2) if full else empty
    return LstsqResult(X.squeeze(-1) if vector else X, residuals,
                       rank if driver != "gels" else Tensor._wrap(np.empty((0,), np.int64)),
                       S if driver in ("gelsd", "gelss") else empty)


__all__ = ["pinverse"]
METHODS: dict = {"pinverse": pinverse}
NAMESPACES = {"linalg": ["qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank", "lstsq"]}
