"""nn.utils (torch.nn.utils): clip_grad_norm_ / clip_grad_value_ / get_total_norm / clip_grads_with_norm_ against
NumPy on cpu and interpreted cuda (one multi-tensor launch per stage on cuda),
parameters_to_vector / vector_to_parameters round trips, and their edge cases and errors."""

import math

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
import tritensor.nn as nn
from tritensor.nn.utils import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
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


def _many(rng, device, dtype=np.float32):
    sizes = [(3, 5), (0,), (4100,), (1,), (7, 1), (33,)]
    ps = [nn.Parameter(tt.tensor(rng.standard_normal(s).astype(dtype), device=device)) for s in sizes]
    for p in ps:
        p.grad = tt.tensor((rng.standard_normal(tuple(p.shape)) * 3).astype(dtype), device=device)
    return ps


def _np_norm(arrays, p):
    flat = np.concatenate([a.ravel().astype(np.float64) for a in arrays])
    if p == math.inf:
        return np.abs(flat).max()
    if p == -math.inf:
        return np.abs(flat).min()
    return (np.abs(flat) ** p).sum() ** (1 / p)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
def test_clip_grad_norm_many_tensors(rng, device, norm_type):
    ps = _many(rng, device)
    g = [p.grad.cpu().numpy().copy() for p in ps]
    want = _np_norm(g, norm_type)
    total = clip_grad_norm_(ps, 2.0, norm_type)
    np.testing.assert_allclose(total.item(), want, rtol=2e-6)
    coef = np.float32(2.0) / (np.float32(total.item()) + np.float32(1e-6))
    for p, before in zip(ps, g):
        np.testing.assert_allclose(p.grad.cpu().numpy(), before * coef, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_get_total_norm_zero_and_neg_inf(rng, device):
    ps = _many(rng, device)
    grads = [p.grad for p in ps]
    grads[3].zero_()
    # PyTorch: the 0-norm of the per-tensor norms, i.e. how many gradients hold a nonzero (not the element count)
    assert get_total_norm(grads, 0).item() == 4.0
    with pytest.raises(RuntimeError, match="cannot compute the -inf norm on an empty tensor"):
        get_total_norm(grads, -math.inf)
    nonempty = [g for g in grads if g.numel()]
    assert get_total_norm(nonempty, -math.inf).item() == 0.0
    assert get_total_norm([], 2.0).item() == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_get_total_norm_and_clip_grads_with_norm(rng, device):
    ps = _many(rng, device)
    g = [p.grad.cpu().numpy().copy() for p in ps]
    total = get_total_norm([p.grad for p in ps], 2.0)
    assert total.shape == () and total.dtype is tt.float32 and total.device == ps[0].device
    np.testing.assert_allclose(total.item(), _np_norm(g, 2.0), rtol=2e-6)
    assert clip_grads_with_norm_(ps, 1.0, total) is None
    coef = min(1.0, 1.0 / (total.item() + 1e-6))
    for p, before in zip(ps, g):
        np.testing.assert_allclose(p.grad.cpu().numpy(), before * np.float32(coef), rtol=2e-6, atol=1e-7)
    # foreach=False takes the per-tensor path on every device, to the same values
    again = get_total_norm([p.grad for p in ps], 2.0, foreach=False)
    np.testing.assert_allclose(again.item(), _np_norm([p.grad.cpu().numpy() for p in ps], 2.0), rtol=2e-6)


def test_foreach_true_on_cpu_is_refused(rng):
    ps = _many(rng, "cpu")
    msg = "foreach=True was passed, but can't use the foreach API on cpu tensors"
    with pytest.raises(RuntimeError, match=msg):
        clip_grad_norm_(ps, 1.0, foreach=True)
    with pytest.raises(RuntimeError, match=msg):
        clip_grad_value_(ps, 1.0, foreach=True)
    with pytest.raises(RuntimeError, match=msg):
        get_total_norm([p.grad for p in ps], foreach=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_total_norm(rng, device, bad):
    ps = _many(rng, device)
    host = ps[2].grad.cpu().numpy()
    host[4099] = bad
    ps[2].grad = tt.tensor(host, device=device)
    before = [p.grad.cpu().numpy().copy() for p in ps]
    with pytest.raises(RuntimeError, match=r"The total norm of order 2.0 for gradients from `parameters` is "
                                           r"non-finite, so it cannot be clipped. To disable this error and scale "
                                           r"the gradients by the non-finite norm anyway, set "
                                           r"`error_if_nonfinite=False`"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for p, b in zip(ps, before):  # nothing scaled before the error
        np.testing.assert_array_equal(p.grad.cpu().numpy(), b)
    with np.errstate(invalid="ignore"):  # inf * 0 (the interpreter computes in NumPy, which would warn)
        total = clip_grad_norm_(ps, 1.0)  # without the flag: scaled by the non-finite norm, as PyTorch
    assert math.isnan(total.item()) if bad != bad else total.item() == math.inf
    first = ps[0].grad.cpu().numpy()
    assert np.all(np.isnan(first)) if bad != bad else np.all(first == 0)


def test_clip_grad_norm_cuda_is_three_launches(rng):
    ps = _many(rng, "cuda") + _many(rng, "cuda")
    clip_grad_norm_(ps, 1.0)  # builds and caches the table
    seen = []

    def observer(record):
        seen.append(record.tunable.name)

    tuning.add_observer(observer)
    try:
        clip_grad_norm_(ps, 1.0)
        clip_grad_value_(ps, 0.1)
    finally:
        tuning.remove_observer(observer)
    # one reduction over every gradient, one combine (norm + clip coefficient), one scaling; one clamp
    assert seen == ["multi_tensor.norm", "multi_tensor.combine", "multi_tensor.apply", "multi_tensor.apply"]


def test_clip_grad_norm_fp16_cuda_matches_cpu(rng):
    cuda, cpu = _many(rng, "cuda", np.float16), None
    cpu = [nn.Parameter(p.detach().cpu()) for p in cuda]
    for a, b in zip(cpu, cuda):
        a.grad = b.grad.cpu()
    t_cuda, t_cpu = clip_grad_norm_(cuda, 1.0), clip_grad_norm_(cpu, 1.0)
    assert t_cuda.dtype is tt.float16 and t_cpu.dtype is tt.float16
    np.testing.assert_allclose(t_cuda.item(), t_cpu.item(), rtol=1e-3)
    for a, b in zip(cpu, cuda):
        np.testing.assert_allclose(b.grad.cpu().numpy().astype(np.float32), a.grad.numpy().astype(np.float32),
                                   rtol=2e-3, atol=1e-4)
