"""tt.linalg.qr / eigh / eigvalsh / svd / svdvals / pinv / matrix_rank / lstsq, tt.pinverse: cpu values against NumPy,
float64 gradcheck, and the NotImplementedError every one of them raises on cuda."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)


def _t(a, **kw):
    return tt.tensor(a, **kw)


def test_qr_modes():
    a = RNG.standard_normal((2, 5, 3))
    Q, R = tt.linalg.qr(_t(a))
    assert Q.shape == (2, 5, 3) and R.shape == (2, 3, 3)
    np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(np.abs(R.numpy()), np.abs(np.linalg.qr(a)[1]), atol=1e-12)
    Q, R = tt.linalg.qr(_t(a), mode="complete")
    assert Q.shape == (2, 5, 5) and R.shape == (2, 5, 3)
    np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=1e-12)
    Q, R = tt.linalg.qr(_t(a), mode="r")
    assert Q.shape == (0,) and R.shape == (2, 3, 3)
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'full' but expected one of 'reduced' "
                       r"\(default\), 'r', or 'complete'"):
        tt.linalg.qr(_t(a), mode="full")


def test_eigh_and_eigvalsh():
    x = RNG.standard_normal((2, 4, 4))
    s = x + np.swapaxes(x, -1, -2)
    w, v = tt.linalg.eigh(_t(s))
    ref_w, ref_v = np.linalg.eigh(s)
    np.testing.assert_allclose(w.numpy(), ref_w, atol=1e-12)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(ref_v), atol=1e-10)
    np.testing.assert_allclose(tt.linalg.eigvalsh(_t(np.tril(s)), UPLO="L").numpy(), ref_w, atol=1e-12)
    np.testing.assert_allclose(tt.linalg.eigvalsh(_t(np.triu(s)), UPLO="U").numpy(), ref_w, atol=1e-12)
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        tt.linalg.eigh(_t(s), UPLO="X")


def test_svd_svdvals_pinv_rank():
    a = RNG.standard_normal((2, 4, 3))
    U, S, Vh = tt.linalg.svd(_t(a))
    assert U.shape == (2, 4, 4) and S.shape == (2, 3) and Vh.shape == (2, 3, 3)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    U, S, Vh = tt.linalg.svd(_t(a), full_matrices=False)
    np.testing.assert_allclose((U.numpy() * S.numpy()[:, None, :]) @ Vh.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(tt.linalg.svdvals(_t(a)).numpy(), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    np.testing.assert_allclose(tt.linalg.pinv(_t(a)).numpy(), np.linalg.pinv(a), atol=1e-12)
    np.testing.assert_allclose(tt.pinverse(_t(a[0])).numpy(), np.linalg.pinv(a[0]), atol=1e-12)
    np.testing.assert_allclose(_t(a[0]).pinverse().numpy(), np.linalg.pinv(a[0]), atol=1e-12)
    low = a[0] @ np.diag([1.0, 1.0, 0.0]) @ RNG.standard_normal((3, 3))  # rank 2
    assert tt.linalg.matrix_rank(_t(low)).item() == 2 == np.linalg.matrix_rank(low)
    assert tt.linalg.matrix_rank(_t(a)).tolist() == [3, 3]
    assert tt.linalg.matrix_rank(_t(a[0]), atol=10.0).item() == int((np.linalg.svd(a[0])[1] > 10.0).sum())
    np.testing.assert_allclose(tt.linalg.pinv(_t(low)).numpy(), np.linalg.pinv(low), atol=1e-10)


def test_lstsq():
    a, b = RNG.standard_normal((2, 5, 3)), RNG.standard_normal((2, 5, 2))
    sol, res, rank, sv = tt.linalg.lstsq(_t(a), _t(b))
    for i in range(2):
        x, r, k, s = np.linalg.lstsq(a[i], b[i], rcond=None)
        np.testing.assert_allclose(sol.numpy()[i], x, atol=1e-12)
        np.testing.assert_allclose(res.numpy()[i], r, atol=1e-12)
        assert rank.tolist()[i] == k
    assert sv.shape == (0,)
    sv = tt.linalg.lstsq(_t(a), _t(b), driver="gelsd").singular_values
    np.testing.assert_allclose(sv.numpy(), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    v = tt.linalg.lstsq(_t(a[0]), _t(b[0, :, 0])).solution
    np.testing.assert_allclose(v.numpy(), np.linalg.lstsq(a[0], b[0, :, 0], rcond=None)[0], atol=1e-12)
    under = tt.linalg.lstsq(_t(a[0].T), _t(b[0, :3]))  # m < n: the minimum-norm solution, no residuals
    np.testing.assert_allclose(under.solution.numpy(), np.linalg.lstsq(a[0].T, b[0, :3], rcond=None)[0], atol=1e-12)
    assert under.residuals.shape == (0,)
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        tt.linalg.lstsq(_t(a), _t(b), driver="bad")


def test_gradcheck_decompositions():
    a = RNG.standard_normal((4, 3))
    A = _t(a, requires_grad=True)
    assert gradcheck(lambda x: tuple(tt.linalg.qr(x)), (A,))
    assert gradcheck(lambda x: tuple(tt.linalg.qr(x[:3])), (A,))
    assert gradcheck(lambda x: tt.linalg.eigvalsh(x.mT @ x), (A,))
    shifted = _t(a[:3] + np.diag([0.0, 4.0, 8.0]), requires_grad=True)  # distinct eigenvalues
    assert gradcheck(lambda x: tt.linalg.eigh(x + x.mT).eigenvectors.abs(), (shifted,))
    assert gradcheck(tt.linalg.svdvals, (A,))

    def invariant(x, full=False):  # U V^H and S do not depend on the SVD's sign choice
        U, S, Vh = tt.linalg.svd(x, full_matrices=full)
        return U @ Vh, S

    assert gradcheck(invariant, (A,))
    assert gradcheck(lambda x: invariant(x.mT), (A,))
    assert gradcheck(lambda x: invariant(x[:3], True), (A,))
    assert gradcheck(tt.linalg.pinv, (A,))
    B = _t(RNG.standard_normal((4, 2)), requires_grad=True)
    assert gradcheck(lambda x, y: tt.linalg.lstsq(x, y).solution, (A, B))
    with pytest.raises(RuntimeError, match="The derivative of linalg.qr depends on Q"):
        tt.linalg.qr(A, mode="r").R.sum().backward()


@pytest.mark.parametrize("name,args", [("qr", ()), ("eigh", ()), ("eigvalsh", ()), ("svd", ()), ("svdvals", ()),
                                       ("pinv", ()), ("matrix_rank", ()), ("lstsq", ("B",))])
def test_cuda_raises_not_implemented(name, args):
    A = tt.ones(3, 3, device="cuda")
    extra = [tt.ones(3, 1, device="cuda") for _ in args]
    with pytest.raises(NotImplementedError, match=rf"^linalg.{name} is not implemented for cuda tensors .* A.cpu\(\)"):
        getattr(tt.linalg, name)(A, *extra)


@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_backward_wide_matrices(mode):
    # m < n: Q is square and both modes agree; A = [X | Y] with only X deciding Q.
    A = _t(RNG.standard_normal((2, 3, 5)), requires_grad=True)
    assert gradcheck(lambda x: tuple(tt.linalg.qr(x, mode=mode)), (A,))
    assert gradgradcheck(lambda x: tt.linalg.qr(x, mode=mode).Q.sin().sum(-1) + tt.linalg.qr(x, mode=mode).R[..., 0],
                         (A,))
    Q, R = tt.linalg.qr(A, mode=mode)
    (Q.sum() + R.sum()).backward()
    assert A.grad.shape == (2, 3, 5) and np.isfinite(A.grad.numpy()).all()
    B = _t(RNG.standard_normal((3, 3)), requires_grad=True)  # square: complete = reduced
    assert gradcheck(lambda x: tuple(tt.linalg.qr(x, mode=mode)), (B,))


def test_qr_backward_refusals():
    A = _t(RNG.standard_normal((4, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^The QR decomposition is not differentiable when mode='complete' and "
                       r"nrows > ncols\.$"):
        tt.linalg.qr(A, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match=r"^The derivative of linalg.qr depends on Q, which is not computed when "
                       r"mode='r'\. Please use linalg.qr\(A, mode='reduced'\) if you are going to differentiate "
                       r"through linalg.qr\.$"):
        tt.linalg.qr(A.mT, mode="r").R.sum().backward()
    Q, R = tt.linalg.qr(A, mode="complete")  # forward alone is fine, as in PyTorch
    assert Q.shape == (4, 4) and R.requires_grad


def test_svd_backward_full_matrices_rectangular():
    # As PyTorch: full_matrices=True differentiates through the first k = min(m, n) singular vectors only.
    for shape in [(2, 4, 3), (2, 3, 4)]:
        A = _t(RNG.standard_normal(shape), requires_grad=True)

        def first_k(x):
            U, S, Vh = tt.linalg.svd(x, full_matrices=True)
            k = S.shape[-1]
            return tt.cat([(U[..., :k] @ Vh[..., :k, :]).flatten(-2), S], -1)

        assert gradcheck(first_k, (A,))
        assert gradgradcheck(first_k, (A,))
        U, S, Vh = tt.linalg.svd(A, full_matrices=True)
        (U.sum() + Vh.sum()).backward()  # the completion's columns/rows are ignored, not an error
        assert np.isfinite(A.grad.numpy()).all()


def test_values_only_backward_with_repeated_values():
    # svdvals / eigvalsh / the nuclear norm need no 1 / (s_i - s_j): repeated values give U V^T, V V^T, not NaN.
    q1, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    q2, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    a = q1 @ np.diag([3.0, 3.0, 1.0]) @ q2.T
    A = _t(a, requires_grad=True)
    tt.linalg.svdvals(A).sum().backward()
    np.testing.assert_allclose(A.grad.numpy(), q1 @ q2.T, atol=1e-12)
    A = _t(a, requires_grad=True)
    tt.linalg.matrix_norm(A, "nuc").backward()
    np.testing.assert_allclose(A.grad.numpy(), q1 @ q2.T, atol=1e-12)
    S = _t(q1 @ np.diag([2.0, 2.0, 5.0]) @ q1.T, requires_grad=True)
    (tt.linalg.eigvalsh(S) * _t([1.0, 1.0, 3.0])).sum().backward()
    np.testing.assert_allclose(S.grad.numpy(), q1 @ np.diag([1.0, 1.0, 3.0]) @ q1.T, atol=1e-12)
    E = tt.eye(3, dtype=tt.float64, requires_grad=True)
    tt.linalg.eigh(E).eigenvalues.sum().backward()
    np.testing.assert_allclose(E.grad.numpy(), np.eye(3), atol=1e-12)


def test_pinv_backward():
    # PyTorch's pinv_backward: finite where the SVD's backward would divide by s_i^2 - s_j^2 = 0.
    E = tt.eye(3, dtype=tt.float64, requires_grad=True)
    tt.linalg.pinv(E).sum().backward()
    np.testing.assert_allclose(E.grad.numpy(), -np.ones((3, 3)), atol=1e-12)
    D = _t(np.diag([1.0, 2.0, 0.0]), requires_grad=True)  # rank 2: the (I - A A+) terms count
    tt.linalg.pinv(D).sum().backward()
    np.testing.assert_allclose(D.grad.numpy(), [[-1.0, -0.5, 1.0], [-0.5, -0.25, 0.25], [1.0, 0.25, 0.0]],
                               atol=1e-12)
    for shape in [(2, 4, 3), (2, 3, 4)]:
        A = _t(RNG.standard_normal(shape), requires_grad=True)
        assert gradcheck(tt.linalg.pinv, (A,))
        assert gradgradcheck(tt.linalg.pinv, (A,))
    assert tt.linalg.pinv(A).grad_fn.name() == "LinalgPinvBackward0"


def test_pinv_hermitian_reads_lower_triangle():
    a = RNG.standard_normal((2, 3, 3))
    sym = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)
    np.testing.assert_allclose(tt.linalg.pinv(_t(a), hermitian=True).numpy(), np.linalg.pinv(sym), atol=1e-12)
    A = _t(a, requires_grad=True)
    assert gradcheck(lambda x: tt.linalg.pinv(x + x.mT, hermitian=True), (A,))


def test_svd_backward_one_sided():
    # Only Vh (or only U) reaches the loss: the missing gradients count as zeros. Projections onto the row (column)
    # space do not depend on the singular vectors' signs.
    A = _t(RNG.standard_normal((2, 3, 5)), requires_grad=True)
    def rows(x):
        Vh = tt.linalg.svd(x, full_matrices=False).Vh
        return Vh.mT @ Vh

    def cols(x):
        U = tt.linalg.svd(x.mT, full_matrices=False).U
        return U @ U.mT

    for f in (rows, cols):
        assert gradcheck(f, (A,))
        assert gradgradcheck(f, (A,))
