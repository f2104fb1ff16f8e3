"""nn.utils (torch.nn.utils): clip_grad_norm_ / clip_grad_value_ against NumPy on cpu and interpreted cuda,
parameters_to_vector / vector_to_parameters round trips, and their edge cases and errors."""

import math

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
from tritensor.nn.utils import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

DEVICES = ["cpu", "cuda"]


def _params(rng, device, grads=True):
    ps = [nn.Parameter(tt.tensor(rng.standard_normal(s).astype(np.float32), device=device)) for s in ((3, 4), (5,))]
    if grads:
        for p in ps:
            p.grad = tt.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 3, device=device)
    return ps


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
def test_clip_grad_norm_scales_to_max_norm(rng, device, norm_type):
    ps = _params(rng, device)
    g = [p.grad.cpu().numpy().astype(np.float64) for p in ps]
    flat = np.concatenate([x.ravel() for x in g])
    want = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    total = clip_grad_norm_(ps, 1.0, norm_type)
    assert total.device == ps[0].device and total.shape == ()
    np.testing.assert_allclose(total.item(), want, rtol=1e-5)
    coef = min(1.0, 1.0 / (want + 1e-6))
    for p, before in zip(ps, g):
        np.testing.assert_allclose(p.grad.cpu().numpy(), before * coef, rtol=1e-5, atol=1e-7)
    # Already within the bound: the gradients are left as they are (coefficient clamped to 1).
    kept = [p.grad.cpu().numpy().copy() for p in ps]
    clip_grad_norm_(ps, 100.0, norm_type)
    for p, before in zip(ps, kept):
        np.testing.assert_allclose(p.grad.cpu().numpy(), before, rtol=1e-6)


def test_clip_grad_norm_edge_cases(rng):
    ps = _params(rng, "cpu", grads=False)
    assert clip_grad_norm_(ps, 1.0).item() == 0.0  # no gradients
    single = nn.Parameter(tt.ones(4))
    single.grad = tt.full((4,), 2.0)
    assert clip_grad_norm_(single, 2.0).item() == pytest.approx(4.0)  # a lone tensor is accepted
    np.testing.assert_allclose(single.grad.numpy(), np.full(4, 2.0 * 2.0 / (4.0 + 1e-6)), rtol=1e-6)
    single.grad = tt.tensor([1.0, float("nan"), 0.0, 0.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        clip_grad_norm_([single], 1.0, error_if_nonfinite=True)
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
        clip_grad_norm([nn.Parameter(tt.ones(2))], 1.0)


@pytest.mark.parametrize("device", DEVICES)
def test_clip_grad_value_clamps_in_place(rng, device):
    ps = _params(rng, device)
    before = [p.grad.cpu().numpy().copy() for p in ps]
    grads = [p.grad for p in ps]
    assert clip_grad_value_(ps, 0.5) is None
    for p, g, b in zip(ps, grads, before):
        assert p.grad is g  # in place
        np.testing.assert_array_equal(p.grad.cpu().numpy(), np.clip(b, -0.5, 0.5))


@pytest.mark.parametrize("device", DEVICES)
def test_parameters_to_vector_and_back(rng, device):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).to(device)
    vec = parameters_to_vector(model.parameters())
    want = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.detach().cpu().numpy(), want)
    assert vec.requires_grad and vec.device == model[0].weight.device
    new = tt.tensor(np.arange(want.size, dtype=np.float32), device=device)
    params = list(model.parameters())
    vector_to_parameters(new, model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # same Parameters, new data
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).detach().cpu().numpy(), new.cpu().numpy())
    np.testing.assert_array_equal(model[0].weight.detach().cpu().numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        vector_to_parameters([1.0], model.parameters())


def test_parameters_on_two_devices_are_refused():
    ps = [nn.Parameter(tt.ones(2)), nn.Parameter(tt.ones(2, device="cuda"))]
    with pytest.raises(TypeError, match="Found two parameters on different devices"):
        parameters_to_vector(ps)
