"""tt.special and the top-level special functions (tt.erfinv, tt.lgamma, tt.xlogy, ...): forward on cpu and cuda
(the interpreter) against SciPy, integer promotion, PyTorch's edge values, gradcheck in float64, cuda's backward
against cpu's, Tensor methods and in-place forms, and every error raised."""

import math

import numpy as np
import pytest
from scipy import special as sp

import tritensor as tt
from tritensor.autograd import gradcheck


@pytest.fixture(autouse=True)
def _interpreter_lanes():
    # The interpreter evaluates every lane of the where-based math, masked lanes (which load 1.0, a pole of
    # logit) and the unused branches included, so NumPy would warn about values that are never stored.
    with np.errstate(all="ignore"):
        yield


# name -> (tt.special function, SciPy reference, sample range)
UNARY = {
    "erfc": (sp.erfc, (-3, 3)), "erfinv": (sp.erfinv, (-0.9, 0.9)), "ndtr": (sp.ndtr, (-3, 3)),
    "ndtri": (sp.ndtri, (0.05, 0.95)), "log_ndtr": (sp.log_ndtr, (-5, 3)), "gammaln": (sp.gammaln, (0.2, 6)),
    "digamma": (sp.psi, (0.2, 6)), "psi": (sp.psi, (0.2, 6)), "i0": (sp.i0, (-4, 4)), "i0e": (sp.i0e, (-4, 4)),
    "i1": (sp.i1, (-4, 4)), "i1e": (sp.i1e, (-4, 4)), "sinc": (np.sinc, (-3, 3)), "entr": (sp.entr, (0.1, 3)),
    "expit": (sp.expit, (-4, 4)), "logit": (sp.logit, (0.05, 0.95)), "erf": (sp.erf, (-2, 2)),
    "bessel_j0": (sp.j0, (0.1, 30)), "bessel_j1": (sp.j1, (0.1, 30)), "bessel_y0": (sp.y0, (0.1, 30)),
    "bessel_y1": (sp.y1, (0.1, 30)),
}
DIFFERENTIABLE = ["erfc", "erfinv", "ndtr", "ndtri", "log_ndtr", "gammaln", "digamma", "i0", "i0e", "i1", "i1e",
                  "sinc", "entr", "logit"]


def _sample(rng, name, n=7):
    lo, hi = UNARY[name][1]
    return rng.uniform(lo, hi, n)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward_matches_scipy(rng, device, name):
    a = _sample(rng, name)
    got = getattr(tt.special, name)(tt.tensor(a, device=device))
    assert got.dtype is tt.float64
    np.testing.assert_allclose(got.cpu().numpy(), UNARY[name][0](a), rtol=1e-12, atol=1e-14)


def test_namespace_and_top_level_aliases():
    assert set(UNARY) | {"polygamma", "multigammaln", "xlogy", "xlog1py", "zeta", "logsumexp", "softmax",
                         "log_softmax", "exp2", "expm1", "log1p", "round"} <= set(tt.special.__all__)
    x = tt.tensor([0.3, 0.6])
    for top, special in [("erfc", "erfc"), ("erfinv", "erfinv"), ("lgamma", "gammaln"), ("digamma", "psi"),
                         ("i0", "i0"), ("logit", "logit"), ("sinc", "sinc"), ("sigmoid", "expit")]:
        np.testing.assert_array_equal(getattr(tt, top)(x).numpy(), getattr(tt.special, special)(x).numpy())
        np.testing.assert_array_equal(getattr(x, top)().numpy(), getattr(tt, top)(x).numpy())
    np.testing.assert_allclose(tt.special.logsumexp(x, 0).item(), np.log(np.exp([0.3, 0.6]).sum()), rtol=1e-6)
    np.testing.assert_allclose(tt.special.softmax(x, 0).numpy(), sp.softmax([0.3, 0.6]), rtol=1e-6)


def test_integer_inputs_promote_to_default_float():
    x = tt.tensor([1, 2, 3])
    for fn in (tt.lgamma, tt.digamma, tt.erfinv, tt.special.ndtr, tt.special.i1, tt.sinc, tt.logit):
        assert fn(x).dtype is tt.float32
    assert tt.polygamma(1, x).dtype is tt.float32 and tt.xlogy(x, 2).dtype is tt.float32
    np.testing.assert_allclose(tt.lgamma(x).numpy(), sp.gammaln([1, 2, 3]), atol=1e-6)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_pytorch_edge_values(device):
    def t(values):
        return tt.tensor(values, dtype=tt.float64, device=device)

    assert tt.logit(t([0.0])).item() == -math.inf and tt.logit(t([1.0])).item() == math.inf
    got = tt.xlogy(t([0.0, 0.0, 0.0]), t([0.0, math.nan, math.inf])).cpu().numpy()
    assert got[0] == 0 and math.isnan(got[1]) and got[2] == 0
    assert tt.erfinv(t([1.0])).item() == math.inf and tt.erfinv(t([-1.0])).item() == -math.inf
    assert tt.special.entr(t([-1.0])).item() == -math.inf and tt.special.entr(t([0.0])).item() == 0
    assert tt.sinc(t([0.0])).item() == 1.0
    assert tt.digamma(t([0.0])).item() == -math.inf and tt.lgamma(t([-2.0])).item() == math.inf
    assert tt.special.zeta(t([1.0]), t([2.0])).item() == math.inf


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_polygamma_mvlgamma_binary_forward(rng, device):
    a = rng.uniform(0.5, 4, 5)
    x = tt.tensor(a, device=device)
    for n in (0, 1, 3):
        want = sp.polygamma(n, a)
        np.testing.assert_allclose(tt.polygamma(n, x).cpu().numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(x.polygamma(n).cpu().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(tt.mvlgamma(x + 1, 3).cpu().numpy(), sp.multigammaln(a + 1, 3), rtol=1e-12)
    np.testing.assert_allclose(tt.special.multigammaln(x + 1, 2).cpu().numpy(), sp.multigammaln(a + 1, 2), rtol=1e-12)
    b = rng.uniform(0.5, 3, (2, 1, 5))
    y = tt.tensor(b, device=device)
    np.testing.assert_allclose(tt.xlogy(x, y).cpu().numpy(), sp.xlogy(a, b), rtol=1e-12)
    np.testing.assert_allclose(tt.special.xlog1py(x, y).cpu().numpy(), sp.xlog1py(a, b), rtol=1e-12)
    np.testing.assert_allclose(tt.special.zeta(x + 1.5, y).cpu().numpy(), sp.zeta(a + 1.5, b), rtol=1e-12)
    np.testing.assert_allclose(tt.xlogy(2.0, x).cpu().numpy(), 2 * np.log(a), rtol=1e-12)
    np.testing.assert_allclose(tt.special.xlogy(x, 3).cpu().numpy(), a * np.log(3), rtol=1e-12)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_float64(rng, name):
    x = tt.tensor(_sample(rng, name, 4), dtype=tt.float64, requires_grad=True)
    assert gradcheck(getattr(tt.special, name), (x,))


def test_gradcheck_parametrised_and_binary(rng):
    x = tt.tensor(rng.uniform(0.5, 3, 4), requires_grad=True, dtype=tt.float64)
    y = tt.tensor(rng.uniform(0.5, 3, 4), requires_grad=True, dtype=tt.float64)
    assert gradcheck(lambda t: tt.polygamma(2, t), (x,))
    assert gradcheck(lambda t: tt.mvlgamma(t + 2, 3), (x,))
    assert gradcheck(lambda t: tt.logit(t / 4, eps=0.2), (x,))
    assert gradcheck(tt.xlogy, (x, y)) and gradcheck(tt.special.xlog1py, (x, y))
    assert gradcheck(lambda q: tt.special.zeta(x.detach() + 1.5, q), (y,))
    assert gradcheck(tt.lgamma, (x,), ) and gradcheck(tt.digamma, (x,))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_cuda_backward_matches_cpu(rng, name):
    a = _sample(rng, name, 6)
    grads = []
    for device in ("cpu", "cuda"):
        x = tt.tensor(a, device=device, requires_grad=True)
        getattr(tt.special, name)(x).sum().backward()
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-14)


def test_cuda_backward_matches_cpu_parametrised(rng):
    a = rng.uniform(0.2, 0.9, 5)
    for fn in (lambda x: tt.polygamma(2, x), lambda x: tt.logit(x, eps=0.3), lambda x: tt.xlogy(x, x + 1),
               lambda x: tt.special.zeta(x.detach() + 2, x)):
        grads = []
        for device in ("cpu", "cuda"):
            x = tt.tensor(a, device=device, requires_grad=True)
            fn(x).sum().backward()
            grads.append(x.grad.cpu().numpy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_second_derivative_chains_down_the_family(rng):
    x = tt.tensor(rng.uniform(0.5, 3, 3), requires_grad=True)
    (g,) = tt.autograd.grad(tt.lgamma(x).sum(), x, create_graph=True)
    (h,) = tt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), sp.polygamma(1, x.detach().numpy()), rtol=1e-12)


def test_inplace_forms(rng):
    a = rng.uniform(0.1, 0.9, 4)
    for method, ref in [("erfinv_", sp.erfinv), ("lgamma_", sp.gammaln), ("digamma_", sp.psi), ("i0_", sp.i0),
                        ("sinc_", np.sinc), ("logit_", sp.logit), ("erfc_", sp.erfc)]:
        x = tt.tensor(a.copy())
        assert getattr(x, method)() is x
        np.testing.assert_allclose(x.numpy(), ref(a), rtol=1e-12)
    x = tt.tensor(a.copy())
    x.xlogy_(tt.tensor(a))
    np.testing.assert_allclose(x.numpy(), a * np.log(a), rtol=1e-12)
    x = tt.tensor(a.copy()) + 1
    x.polygamma_(1)
    np.testing.assert_allclose(x.numpy(), sp.polygamma(1, a + 1), rtol=1e-12)
    x = tt.tensor(a.copy()) + 1
    x.mvlgamma_(2)
    np.testing.assert_allclose(x.numpy(), sp.multigammaln(a + 1, 2), rtol=1e-12)


def test_errors():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="polygamma\\(n, x\\) does not support negative n."):
        tt.polygamma(-1, x)
    with pytest.raises(TypeError, match="must be int"):
        tt.polygamma(1.5, x)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        tt.mvlgamma(x, 0)
    with pytest.raises(RuntimeError, match="All elements must be greater than \\(p-1\\)/2"):
        tt.mvlgamma(x, 4)
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.erfinv([0.5])
    with pytest.raises(TypeError, match="xlogy\\(\\): argument 'other' must be Tensor or Number, not str"):
        tt.xlogy(x, "a")
    s = tt.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="the derivative for 'zeta' is not implemented."):
        tt.special.zeta(s, tt.tensor([1.0])).sum().backward()
    with pytest.raises(RuntimeError, match="the derivative for 'special_bessel_j0' is not implemented."):
        tt.special.bessel_j0(x).sum().backward()


def test_grad_fn_names():
    x = tt.tensor([0.5], requires_grad=True)
    assert type(tt.lgamma(x).grad_fn).__name__ == "Lgamma"
    assert tt.erfinv(x).grad_fn.name() == "ErfinvBackward0"
    assert tt.polygamma(1, x).grad_fn.name() == "PolygammaBackward0"
    assert tt.xlogy(x, x).grad_fn.name() == "XlogyBackward0"
