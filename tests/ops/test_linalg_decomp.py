"""tt.linalg.qr / eigh / eigvalsh / svd / svdvals / pinv / matrix_rank / lstsq, tt.pinverse: cpu values against NumPy,
float64 gradcheck, and the NotImplementedError every one of them raises on cuda."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

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
