"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm) and the legacy
nn.utils.weight_norm / spectral_norm: PyTorch's state_dict keys, values against NumPy, right_inverse,
caching, removal, training vs eval, gradients."""

import copy
import pickle

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
from tritensor.nn.utils import parametrizations as P
from tritensor.nn.utils import parametrize

DEVICES = ["cpu", "cuda"]


class Double(nn.Module):
    def forward(self, x):
        return x * 2

    def right_inverse(self, x):
        return x / 2


class AddOne(nn.Module):
    def forward(self, x):
        return x + 1


def _linear(rng, device="cpu", i=4, o=3):
    m = nn.Linear(i, o).to(device)
    with tt.no_grad():
        m.weight.copy_(tt.tensor(rng.standard_normal((o, i)).astype(np.float32), device=device))
    return m


@pytest.mark.parametrize("device", DEVICES)
def test_register_parametrization_keys_values_and_grad(rng, device):
    m = _linear(rng, device)
    w0 = m.weight.detach().cpu().numpy().copy()
    weight_param = m.weight
    assert parametrize.register_parametrization(m, "weight", Double()) is m
    assert type(m).__name__ == "ParametrizedLinear" and isinstance(m, nn.Linear)
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert m.parametrizations.weight.original is weight_param  # the same Parameter, now holding w0 / 2
    np.testing.assert_allclose(m.parametrizations.weight.original.detach().cpu().numpy(), w0 / 2, rtol=1e-7)
    np.testing.assert_allclose(m.weight.detach().cpu().numpy(), w0, rtol=1e-7)
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    m(tt.ones(2, 4, device=device)).sum().backward()
    np.testing.assert_allclose(m.parametrizations.weight.original.grad.cpu().numpy(), np.full((3, 4), 4.0))
    other = nn.Linear(4, 3)
    assert type(other) is nn.Linear and not hasattr(type(other), "weight")  # only this instance's class changed


def test_right_inverse_assignment_and_stacking(rng):
    m = _linear(rng)
    parametrize.register_parametrization(m, "weight", Double())
    m.weight = tt.ones(3, 4)
    np.testing.assert_allclose(m.parametrizations.weight.original.detach().numpy(), np.full((3, 4), 0.5))
    np.testing.assert_allclose(m.weight.detach().numpy(), np.ones((3, 4)))
    parametrize.register_parametrization(m, "weight", AddOne())
    np.testing.assert_allclose(m.weight.detach().numpy(), np.full((3, 4), 2.0))  # AddOne(Double(original))
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    with pytest.raises(RuntimeError, match="parametrization AddOne does not implement right_inverse."):
        m.weight = tt.ones(3, 4)


def test_cached_and_errors(rng):
    m = _linear(rng)
    parametrize.register_parametrization(m, "weight", Double())
    assert m.weight is not m.weight
    with parametrize.cached():
        assert m.weight is m.weight
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with name "
                                         "'nope'"):
        parametrize.register_parametrization(m, "nope", Double())

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="may not change the shape of the tensor"):
        parametrize.register_parametrization(_linear(rng), "weight", Shrink())
    parametrize.register_parametrization(_linear(rng), "weight", Shrink(), unsafe=True)
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        parametrize.remove_parametrizations(m, "bias")


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(rng, leave):
    m = _linear(rng)
    w0 = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Double())
    m.weight = tt.full((3, 4), 3.0)
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=leave)
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")
    # re-registered after bias, as PyTorch's register_parameter appends it
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), np.full((3, 4), 3.0 if leave else 1.5))
    assert w0.shape == (3, 4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm(rng, device, dim):
    m = _linear(rng, device)
    w0 = m.weight.detach().cpu().numpy().astype(np.float64)
    P.weight_norm(m, dim=dim)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    g = m.parametrizations.weight.original0.detach().cpu().numpy()
    v = m.parametrizations.weight.original1.detach().cpu().numpy()
    if dim is None:
        want_g = np.linalg.norm(w0)
    else:
        want_g = np.linalg.norm(w0, axis=1 - dim, keepdims=True)
    np.testing.assert_allclose(g, want_g, rtol=1e-6)
    np.testing.assert_allclose(v, w0, rtol=1e-7)
    np.testing.assert_allclose(m.weight.detach().cpu().numpy(), w0, rtol=1e-6)
    with tt.no_grad():
        m.parametrizations.weight.original0.mul_(2.0)
    np.testing.assert_allclose(m.weight.detach().cpu().numpy(), 2 * w0, rtol=1e-6)
    m(tt.ones(1, 4, device=device)).sum().backward()
    assert m.parametrizations.weight.original0.grad is not None
    assert m.parametrizations.weight.original1.grad is not None


def test_weight_norm_gradcheck(rng):
    g = tt.tensor(rng.uniform(0.5, 1.5, (3, 1)), requires_grad=True)
    v = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    fn = P._WeightNorm(0)
    assert tt.autograd.gradcheck(lambda a, b: fn(a, b), (g, v))


def _known_spectrum(rng, o=5, i=6, sigmas=(3.0, 1.0, 0.8, 0.5, 0.2)):
    """A (o, i) matrix with the given singular values (a clear gap: power iteration converges fast)."""
    u, _ = np.linalg.qr(rng.standard_normal((o, o)))
    v, _ = np.linalg.qr(rng.standard_normal((i, i)))
    return (u[:, :len(sigmas)] * np.array(sigmas)) @ v[:, :len(sigmas)].T


@pytest.mark.parametrize("device", DEVICES)
def test_spectral_norm(rng, device):
    tt.manual_seed(0)
    m = nn.Linear(6, 5).to(device)
    w0 = _known_spectrum(rng)
    with tt.no_grad():
        m.weight.copy_(tt.tensor(w0.astype(np.float32), device=device))
    P.spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
                                    "parametrizations.weight.0._v"]
    sn = m.parametrizations.weight[0]
    assert sn._u.shape == (5,) and sn._v.shape == (6,)
    w = m.weight.detach().cpu().numpy().astype(np.float64)  # 15 + 1 + 1 power iterations so far
    assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(w, w0 / 3.0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.abs(sn._u.cpu().numpy()), np.abs(np.linalg.svd(w0)[0][:, 0]), atol=1e-5)
    m.eval()
    u = sn._u.cpu().numpy().copy()
    _ = m.weight
    np.testing.assert_array_equal(sn._u.cpu().numpy(), u)  # frozen in eval mode
    m.train()
    with tt.no_grad():
        m.parametrizations.weight.original.add_(tt.tensor(rng.standard_normal((5, 6)).astype(np.float32),
                                                          device=device))
    _ = m.weight
    assert not np.array_equal(sn._u.cpu().numpy(), u)  # advanced in training mode
    m(tt.ones(2, 6, device=device)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None


def test_spectral_norm_errors_and_dims(rng):
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        P.spectral_norm(nn.Linear(2, 2), "nope")
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\] but got 2\)"):
        P.spectral_norm(nn.Linear(2, 2), dim=2)
    m = _linear(rng, "cpu", 4, 3)
    P.spectral_norm(m, dim=1, n_power_iterations=50)
    assert m.parametrizations.weight[0]._u.shape == (4,) and m.parametrizations.weight[0]._v.shape == (3,)
    sigma = np.linalg.svd(m.weight.detach().numpy().astype(np.float64), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-4)


def test_legacy_weight_norm(rng):
    m = _linear(rng)
    w0 = m.weight.detach().numpy().copy()
    with pytest.warns(FutureWarning, match="torch.nn.utils.weight_norm` is deprecated"):
        nn.utils.weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(m.weight_g.detach().numpy(), np.linalg.norm(w0, axis=1, keepdims=True), rtol=1e-6)
    with tt.no_grad():
        m.weight_g.mul_(2.0)
    out = m(tt.ones(1, 4))
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w0, rtol=1e-6)
    np.testing.assert_allclose(out.detach().numpy(), (2 * w0).sum(1)[None] + m.bias.detach().numpy(), rtol=1e-5)
    with pytest.warns(FutureWarning), pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on "
                                                                        "the same parameter weight"):
        nn.utils.weight_norm(m)
    nn.utils.remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w0, rtol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(m)


def test_legacy_spectral_norm(rng):
    tt.manual_seed(0)
    m = _linear(rng, "cpu", 6, 5)
    nn.utils.spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    for _ in range(40):
        m(tt.ones(1, 6))
    sigma = np.linalg.svd(m.weight.detach().numpy().astype(np.float64), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-3)
    m.eval()
    u = m.weight_u.numpy().copy()
    m(tt.ones(1, 6))
    np.testing.assert_array_equal(m.weight_u.numpy(), u)
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    assert np.linalg.svd(m.weight.detach().numpy().astype(np.float64), compute_uv=False)[0] == pytest.approx(1.0,
                                                                                                           rel=1e-3)


def test_deepcopy_and_pickle(rng):
    m = _linear(rng)
    P.weight_norm(m)
    c = copy.deepcopy(m)
    assert type(c) is type(m) and list(c.state_dict()) == list(m.state_dict())
    np.testing.assert_allclose(c.weight.detach().numpy(), m.weight.detach().numpy(), rtol=1e-7)
    with tt.no_grad():
        c.parametrizations.weight.original0.mul_(2.0)
    assert not np.allclose(c.weight.detach().numpy(), m.weight.detach().numpy())  # independent originals
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only supported through "
                                           "state_dict()"):
        pickle.dumps(m)
    loaded = P.weight_norm(_linear(rng))
    loaded.load_state_dict(m.state_dict())
    np.testing.assert_allclose(loaded.weight.detach().numpy(), m.weight.detach().numpy(), rtol=1e-7)

