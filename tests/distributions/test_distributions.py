"""tt.distributions against scipy.stats: log_prob, entropy, cdf/icdf and KL in float64, sample moments
(seeded), rsample gradients (gradcheck), shapes, argument validation errors, and kl_divergence's registry."""

import math

import numpy as np
import pytest
from scipy import special as sp
from scipy import stats

import tritensor as tt
from tritensor import distributions as D
from tritensor.autograd import gradcheck


def t(values):
    return tt.tensor(np.asarray(values, np.float64))


def test_normal_against_scipy():
    loc, scale = np.array([0.0, 1.5]), np.array([1.0, 0.5])
    d = D.Normal(t(loc), t(scale))
    x = np.array([0.3, 2.0])
    ref = stats.norm(loc, scale)
    np.testing.assert_allclose(d.log_prob(t(x)).numpy(), ref.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-12)
    np.testing.assert_allclose(d.cdf(t(x)).numpy(), ref.cdf(x), rtol=1e-12)
    np.testing.assert_allclose(d.icdf(t([0.1, 0.8])).numpy(), ref.ppf([0.1, 0.8]), rtol=1e-12)
    assert d.batch_shape == (2,) and d.event_shape == () and d.has_rsample
    np.testing.assert_allclose(d.variance.numpy(), scale ** 2)


def test_discrete_against_scipy():
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    c = D.Categorical(probs=t(p))
    np.testing.assert_allclose(c.log_prob(tt.tensor([2, 0])).numpy(), np.log([0.3, 0.6]), rtol=1e-12)
    np.testing.assert_allclose(c.entropy().numpy(), stats.entropy(p, axis=-1), rtol=1e-12)
    c2 = D.Categorical(logits=t(np.log(p) + 3.0))
    np.testing.assert_allclose(c2.probs.numpy(), p, rtol=1e-12)
    assert c.mode.tolist() == [1, 0] and c.support.upper_bound == 2
    b = D.Bernoulli(probs=t([0.3, 0.9]))
    np.testing.assert_allclose(b.log_prob(t([1.0, 0.0])).numpy(), stats.bernoulli([0.3, 0.9]).logpmf([1, 0]),
                               rtol=1e-6)
    np.testing.assert_allclose(b.entropy().numpy(), stats.bernoulli([0.3, 0.9]).entropy(), rtol=1e-6)
    np.testing.assert_allclose(D.Bernoulli(logits=t([0.0, 2.0])).probs.numpy(), [0.5, 1 / (1 + math.exp(-2))])


def test_continuous_against_scipy():
    x = np.array([0.2, 0.7])
    a, b = np.array([2.0, 0.5]), np.array([3.0, 1.5])
    beta = D.Beta(t(a), t(b))
    np.testing.assert_allclose(beta.log_prob(t(x)).numpy(), stats.beta(a, b).logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(beta.entropy().numpy(), stats.beta(a, b).entropy(), rtol=1e-12)
    gamma = D.Gamma(t(a), t(b))
    np.testing.assert_allclose(gamma.log_prob(t(x)).numpy(), stats.gamma(a, scale=1 / b).logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(gamma.entropy().numpy(), stats.gamma(a, scale=1 / b).entropy(), rtol=1e-12)
    alpha = np.array([1.5, 2.0, 3.0])
    dirichlet = D.Dirichlet(t(alpha))
    v = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(dirichlet.log_prob(t(v)).item(), stats.dirichlet(alpha).logpdf(v), rtol=1e-12)
    np.testing.assert_allclose(dirichlet.entropy().item(), stats.dirichlet(alpha).entropy(), rtol=1e-12)
    assert dirichlet.event_shape == (3,) and dirichlet.batch_shape == ()
    u = D.Uniform(t([0.0, -1.0]), t([2.0, 1.0]))
    np.testing.assert_allclose(u.log_prob(t([1.0, 0.5])).numpy(), np.log([0.5, 0.5]), rtol=1e-12)
    np.testing.assert_allclose(u.cdf(t([1.0, 0.5])).numpy(), [0.5, 0.75], rtol=1e-12)
    np.testing.assert_allclose(u.entropy().numpy(), np.log([2.0, 2.0]), rtol=1e-12)


def _kl_numeric(p_logpdf, q_logpdf, sampler, n=400000):
    x = sampler(n)
    return float(np.mean(p_logpdf(x) - q_logpdf(x)))


def test_kl_divergence_closed_forms():
    kl = D.kl_divergence
    # Normal: closed form by hand
    got = kl(D.Normal(t(0.5), t(2.0)), D.Normal(t(-1.0), t(1.5))).item()
    want = math.log(1.5 / 2.0) + (4.0 + 1.5 ** 2) / (2 * 1.5 ** 2) - 0.5
    assert abs(got - want) < 1e-12
    p, q = np.array([0.2, 0.5, 0.3]), np.array([0.4, 0.4, 0.2])
    assert abs(kl(D.Categorical(t(p)), D.Categorical(t(q))).item() - stats.entropy(p, q)) < 1e-12
    bp, bq = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    assert abs(kl(D.Bernoulli(t(0.3)), D.Bernoulli(t(0.6))).item() - stats.entropy(bp, bq)) < 1e-12
    assert abs(kl(D.Uniform(t(0.0), t(1.0)), D.Uniform(t(-1.0), t(3.0))).item() - math.log(4.0)) < 1e-12
    assert kl(D.Uniform(t(0.0), t(1.0)), D.Uniform(t(0.5), t(3.0))).item() == math.inf
    rng = np.random.default_rng(0)
    got = kl(D.Beta(t(2.0), t(3.0)), D.Beta(t(1.5), t(1.0))).item()
    want = _kl_numeric(stats.beta(2, 3).logpdf, stats.beta(1.5, 1).logpdf, lambda n: rng.beta(2, 3, n))
    assert abs(got - want) < 5e-3
    got = kl(D.Gamma(t(2.0), t(3.0)), D.Gamma(t(1.5), t(1.0))).item()
    want = _kl_numeric(stats.gamma(2, scale=1 / 3).logpdf, stats.gamma(1.5).logpdf, lambda n: rng.gamma(2, 1 / 3, n))
    assert abs(got - want) < 5e-3
    a, b = np.array([1.5, 2.0, 3.0]), np.array([1.0, 1.0, 2.0])
    got = kl(D.Dirichlet(t(a)), D.Dirichlet(t(b))).item()
    want = _kl_numeric(stats.dirichlet(a).logpdf, stats.dirichlet(b).logpdf,
                       lambda n: rng.dirichlet(a, 20000).T)
    assert abs(got - want) < 2e-2
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented"):
        kl(D.Normal(t(0.0), t(1.0)), D.Gamma(t(1.0), t(1.0)))


def test_register_kl_dispatches_subclasses():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Gamma)
    def _kl(p, q):
        return p.loc * 0 + 7.0

    assert D.kl_divergence(MyNormal(t(0.0), t(1.0)), D.Gamma(t(1.0), t(1.0))).item() == 7.0
    assert D.kl_divergence(MyNormal(t(0.0), t(1.0)), D.Normal(t(0.0), t(1.0))).item() == 0.0
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        D.register_kl(int, D.Normal)


def test_sample_moments_and_seeding():
    tt.manual_seed(3)
    n = 4000
    dists = [(D.Normal(t([1.0]), t([2.0])), 1.0, 4.0), (D.Uniform(t([0.0]), t([3.0])), 1.5, 0.75),
             (D.Gamma(t([0.5]), t([2.0])), 0.25, 0.125), (D.Beta(t([2.0]), t([3.0])), 0.4, 0.04),
             (D.Bernoulli(t([0.3])), 0.3, 0.21)]
    for d, mean, var in dists:
        s = d.sample((n,)).numpy()
        assert s.shape == (n, 1)
        assert abs(s.mean() - mean) < 4 * math.sqrt(var / n)
        assert abs(s.var() - var) < 0.15 * var
    c = D.Categorical(t([0.1, 0.6, 0.3])).sample((n,)).numpy()
    assert c.shape == (n,) and abs((c == 1).mean() - 0.6) < 0.04
    s = D.Dirichlet(t([1.0, 2.0, 3.0])).sample((n,)).numpy()
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(s.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.02)
    tt.manual_seed(5)
    a = D.Normal(0.0, 1.0).sample((3,)).numpy()
    tt.manual_seed(5)
    np.testing.assert_array_equal(D.Normal(0.0, 1.0).sample((3,)).numpy(), a)


def test_cuda_sampling_and_densities():
    # The same code on cuda tensors (the interpreter): a small sample, so only the mean is checked (4 sigma).
    tt.manual_seed(3)
    n = 256
    g = D.Gamma(tt.tensor([2.0], device="cuda"), tt.tensor([4.0], device="cuda"))
    s = g.sample((n,))
    assert s.device.type == "cuda" and abs(s.cpu().numpy().mean() - 0.5) < 4 * math.sqrt(0.125 / n)
    x = tt.tensor([0.3, 1.2], device="cuda")
    np.testing.assert_allclose(g.log_prob(x).cpu().numpy(), stats.gamma(2.0, scale=0.25).logpdf([0.3, 1.2]),
                               rtol=1e-5)
    nd = D.Normal(tt.tensor([1.0], device="cuda"), tt.tensor([2.0], device="cuda"))
    assert abs(nd.rsample((n,)).cpu().numpy().mean() - 1.0) < 4 * 2 / math.sqrt(n)


def test_rsample_gradients():
    loc = t([0.5, -1.0]).requires_grad_()
    scale = t([1.5, 0.5]).requires_grad_()

    def normal_sample(lo, sc):
        tt.manual_seed(11)
        return D.Normal(lo, sc).rsample((3,))

    assert gradcheck(normal_sample, (loc, scale))

    def uniform_sample(lo, hi):
        tt.manual_seed(11)
        return D.Uniform(lo, hi).rsample((2,))

    assert gradcheck(uniform_sample, (loc, loc.detach() + 3.0))
    assert gradcheck(lambda lo, sc: D.Normal(lo, sc).log_prob(t([0.1, 0.2])), (loc, scale))


def test_gamma_rsample_implicit_gradient_matches_scipy():
    # dx/da = -(dP(a, x)/da) / pdf(x; a), P's derivative by central differences of SciPy's gammainc.
    a_np = np.array([0.05, 0.3, 1.0, 2.5, 7.0, 30.0, 200.0, 800.0])
    a = t(a_np).requires_grad_()
    rate = t(np.full(8, 2.0)).requires_grad_()
    tt.manual_seed(2)
    x = D.Gamma(a, rate).rsample()
    x.sum().backward()
    x1 = x.detach().numpy() * 2.0  # the standard Gamma draw
    h = 1e-6
    dp = (sp.gammainc(a_np + h, x1) - sp.gammainc(a_np - h, x1)) / (2 * h)
    np.testing.assert_allclose(a.grad.numpy(), -dp / stats.gamma.pdf(x1, a_np) / 2.0, rtol=1e-5)
    np.testing.assert_allclose(rate.grad.numpy(), -x1 / 4.0, rtol=1e-12)
    assert D.Gamma(a, rate).has_rsample and not D.Gamma(a, rate).sample().requires_grad


def test_beta_dirichlet_rsample_gradients_are_unbiased():
    # E[dx/da] = d/da E[x]: for Beta(a, b), b / (a + b)^2 (Monte Carlo, 4 sigma).
    a = t([2.0]).requires_grad_()
    b = t([3.0]).requires_grad_()
    tt.manual_seed(4)
    x = D.Beta(a, b).rsample((2000,))
    x.sum().backward()
    assert abs(a.grad.item() / 2000 - 3.0 / 25.0) < 0.01
    assert abs(b.grad.item() / 2000 + 2.0 / 25.0) < 0.01
    c = t([1.0, 2.0, 3.0]).requires_grad_()
    s = D.Dirichlet(c).rsample((2000,))
    s[:, 0].sum().backward()  # d/dc E[x_0] = (c0 - c0 + c1 + c2) / c0^2 ... = (5, -1, -1) / 36
    np.testing.assert_allclose(c.grad.numpy() / 2000, np.array([5.0, -1.0, -1.0]) / 36, atol=0.01)


def test_validate_args_errors():
    message = ("Expected parameter scale \\(Tensor of shape \\(2,\\)\\) of distribution Normal\\(loc: .*\\) "
               "to satisfy the constraint GreaterThan\\(lower_bound=0.0\\)")
    with pytest.raises(ValueError, match=message):
        D.Normal(t([0.0, 0.0]), t([1.0, -1.0]))
    D.Normal(t([0.0]), t([-1.0]), validate_args=False)  # not checked
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli()
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Categorical(probs=t([0.5, 0.5]), logits=t([0.0, 0.0]))
    with pytest.raises(ValueError, match="constraint Interval\\(lower_bound=0.0, upper_bound=1.0\\)"):
        D.Bernoulli(probs=t([1.5]))
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(t(1.0), t(0.0))
    with pytest.raises(ValueError, match="`concentration` parameter must be at least one-dimensional."):
        D.Dirichlet(t(1.0))
    d = D.Normal(t([0.0, 0.0]), t([1.0, 1.0]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        d.log_prob(0.5)
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        d.log_prob(t([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(t([1.0, 1.0])).log_prob(t([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="Expected value argument \\(Tensor of shape \\(1,\\)\\) to be within the "
                                         "support \\(GreaterThanEq\\(lower_bound=0.0\\)\\) of the distribution Gamma"):
        D.Gamma(t([1.0]), t([1.0])).log_prob(t([-1.0]))
    with pytest.raises(ValueError, match="support \\(IntegerInterval\\(lower_bound=0, upper_bound=1\\)\\)"):
        D.Categorical(t([0.5, 0.5])).log_prob(tt.tensor([2]))
