"""Gamma.cdf: the regularised lower incomplete gamma function of (concentration, rate * value), as PyTorch's."""

import numpy as np
import pytest
from scipy import special as sp

import tritensor as tt
from tritensor import distributions as D
from tritensor.autograd import gradcheck


def test_cdf_matches_scipy_and_broadcasts():
    a = np.array([0.5, 2.0, 7.5])
    rate = np.array([2.0, 0.5, 1.0])
    value = np.array([[0.1], [1.0], [9.0]])
    got = D.Gamma(tt.tensor(a), tt.tensor(rate)).cdf(tt.tensor(value))
    assert tuple(got.shape) == (3, 3)
    np.testing.assert_allclose(got.numpy(), sp.gammainc(a, rate * value), rtol=1e-12)
    assert got.dtype == tt.float64


def test_cdf_known_values_float32():
    # Gamma(1, rate) is Exponential(rate): cdf = 1 - exp(-rate x)
    got = D.Gamma(tt.tensor([1.0, 1.0]), tt.tensor([1.0, 3.0])).cdf(tt.tensor([2.0, 0.5]))
    assert got.dtype == tt.float32
    np.testing.assert_allclose(got.numpy(), [1 - np.exp(-2.0), 1 - np.exp(-1.5)], rtol=1e-6)
    assert D.Gamma(tt.tensor(3.0), tt.tensor(1.0)).cdf(tt.tensor(0.0)).item() == 0.0


def test_cdf_gradient_in_rate_and_value():
    a = tt.tensor([0.7, 2.5, 4.0], dtype=tt.float64)
    rate = tt.tensor([1.5, 0.8, 2.0], dtype=tt.float64, requires_grad=True)
    value = tt.tensor([0.3, 2.0, 1.7], dtype=tt.float64, requires_grad=True)
    assert gradcheck(lambda r, v: D.Gamma(a, r).cdf(v), (rate, value))
    D.Gamma(a, rate).cdf(value).sum().backward()
    x = rate.detach().numpy() * value.detach().numpy()
    density = np.exp((a.numpy() - 1) * np.log(x) - x - sp.gammaln(a.numpy()))  # d/dx P(a, x)
    np.testing.assert_allclose(value.grad.numpy(), density * rate.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(rate.grad.numpy(), density * value.detach().numpy(), rtol=1e-10)


def test_cdf_gradient_in_concentration_is_not_implemented():
    a = tt.tensor([2.0], requires_grad=True)
    out = D.Gamma(a, tt.tensor([1.0])).cdf(tt.tensor([1.0]))
    assert out.requires_grad
    with pytest.raises(NotImplementedError, match="the derivative for 'igamma: input' is not implemented"):
        out.sum().backward()


def test_cdf_validate_args():
    g = D.Gamma(tt.tensor([2.0]), tt.tensor([1.0]), validate_args=True)
    with pytest.raises(ValueError, match="within the support"):
        g.cdf(tt.tensor([-1.0]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        g.cdf(1.0)
    free = D.Gamma(tt.tensor([2.0]), tt.tensor([1.0]), validate_args=False)
    assert np.isnan(free.cdf(tt.tensor([-1.0])).item())  # as PyTorch's igamma off its domain


def test_cdf_on_cuda():
    if not tt.cuda.is_available():
        pytest.skip("no cuda device (nor Triton's interpreter)")
    a, rate, value = [2.0, 0.5], [1.0, 4.0], [1.5, 0.2]
    got = D.Gamma(tt.tensor(a, device="cuda"), tt.tensor(rate, device="cuda")).cdf(tt.tensor(value, device="cuda"))
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.cpu().numpy(), sp.gammainc(a, np.multiply(rate, value)), rtol=1e-6)
