"""tt.optim Adafactor against a NumPy transcription of torch.optim.Adafactor's documented algorithm: 20-step
trajectories for 0-D, 1-D, 2-D and 3-D parameters (cpu float64 to 1e-10, cpu and cuda float32 at float32
tolerance), resume through a saved state_dict bit for bit, PyTorch's state layout and errors."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tritensor.optim.adafactor import Adafactor

SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
CASES = [
    dict(),
    dict(maximize=True, weight_decay=0.1),
    # eps1 clamps mean(R) and V, eps2 exceeds RMS(p), rho_t = 1/sqrt(t) from step 12, d clips
    dict(lr=0.3, beta2_decay=-0.5, eps=(0.3, 2.0), d=1.2),
]


def _lerp(a, b, w):
    """PyTorch's two-sided lerp (exact at both ends)."""
    return a + w * (b - a) if w < 0.5 else b - (b - a) * (1 - w)


def adafactor_documented(p, g, st, *, step, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                         maximize=False):
    """One Adafactor step of the docs' algorithm (PyTorch's lr/eps1 variant) on NumPy arrays; returns the new p
    and updates the state dict st ("R", "C" or "V") in place."""
    eps1 = np.finfo(p.dtype).eps if eps[0] is None else eps[0]
    g = -g if maximize else g
    w = step ** beta2_decay                          # 1 - beta2_t
    rho = min(lr, 1 / np.sqrt(step))
    alpha = max(eps[1], np.sqrt(np.mean(p.astype(np.float64) ** 2))) * rho
    p = p * (1 - lr * weight_decay)
    if g.ndim > 1:
        st["R"] = _lerp(st["R"], np.mean(g * g, axis=-1, keepdims=True), w)
        st["C"] = _lerp(st["C"], np.mean(g * g, axis=-2, keepdims=True), w)
        v = (st["R"] @ st["C"]) / np.maximum(np.mean(st["R"], axis=-2, keepdims=True), eps1)
    else:
        st["V"] = _lerp(st["V"], g * g, w)
        v = st["V"]
    u = g / np.sqrt(np.maximum(v, eps1 * eps1))
    rms_u = np.sqrt(np.mean(u.astype(np.float64) ** 2))
    return (p - alpha / max(1.0, rms_u / d) * u).astype(p.dtype)


def _inputs(dtype):
    rng = np.random.default_rng(1)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * 0.05).astype(dtype) for s in SHAPES] for _ in range(20)]
    return params, grads


def _grad(p, fed, module):
    """The gradient at step k: a fixed random part plus 0.5 p (so the parameters feed back)."""
    return fed + 0.5 * p if module is np else fed + p.detach() * 0.5


def _reference(dtype, steps, opts):
    params, grads = _inputs(dtype)
    states = [dict(R=np.zeros(p.shape[:-1] + (1,), dtype), C=np.zeros(p.shape[:-2] + (1,) + p.shape[-1:], dtype))
              if p.ndim > 1 else dict(V=np.zeros(p.shape, dtype)) for p in params]
    out = []
    for k in range(steps):
        params = [adafactor_documented(p, _grad(p, g, np), st, step=k + 1, **opts)
                  for p, g, st in zip(params, grads[k], states)]
        out.append([p.copy() for p in params])
    return out


def _run(device, dtype, steps, opts, opt=None, params=None, start=0):
    np_params, grads = _inputs(dtype.np)
    if params is None:
        params = [tt.tensor(p, device=device, requires_grad=True) for p in np_params]
    opt = opt or Adafactor(params, **opts)
    out = []
    for k in range(start, start + steps):
        for p, g in zip(params, grads[k]):
            p.grad = _grad(p, tt.tensor(g, device=device), tt)
        opt.step()
        out.append([p.detach().cpu().numpy().copy() for p in params])
    return out, opt, params


@pytest.mark.parametrize("opts", CASES)
def test_trajectory_float64_matches_the_documented_algorithm(opts):
    ref = _reference(np.float64, 20, opts)
    got, _, _ = _run("cpu", tt.float64, 20, opts)
    for k, (a, b) in enumerate(zip(got, ref)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")


@pytest.mark.parametrize("device,steps", [("cpu", 20), ("cuda", 3)])
@pytest.mark.parametrize("opts", CASES[:2])
def test_trajectory_float32(device, steps, opts):
    ref = _reference(np.float32, steps, opts)
    got, _, _ = _run(device, tt.float32, steps, opts)
    for a, b in zip(got, ref):
        for x, y in zip(a, b):
            assert x.dtype == np.float32
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_cuda_matches_cpu_in_half_precision():
    opts = dict(weight_decay=0.1)
    for dtype, tol in ((tt.float16, 2e-3), (tt.bfloat16, 2e-2)):
        cpu, _, _ = _run("cpu", dtype, 2, opts)
        cuda, _, _ = _run("cuda", dtype, 2, opts)
        for a, b in zip(cpu, cuda):
            for x, y in zip(a, b):
                np.testing.assert_allclose(np.asarray(x, np.float32), np.asarray(y, np.float32), rtol=tol, atol=tol)


def test_state_layout_is_pytorchs():
    _, opt, params = _run("cpu", tt.float32, 1, {})
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1, 2, 3}
    for i, p in enumerate(params):
        st = sd["state"][i]
        assert st["step"].dtype == tt.float32 and st["step"].device.type == "cpu" and st["step"].item() == 1.0
        if p.dim() > 1:
            assert set(st) == {"step", "row_var", "col_var"}
            assert tuple(st["row_var"].shape) == tuple(p.shape[:-1]) + (1,)
            assert tuple(st["col_var"].shape) == tuple(p.shape[:-2]) + (1, p.shape[-1])
        else:
            assert set(st) == {"step", "variance"}
            assert tuple(st["variance"].shape) == tuple(p.shape)
    group = sd["param_groups"][0]
    assert {k: v for k, v in group.items() if k != "params"} == dict(
        lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, foreach=None, maximize=False)


def test_resume_through_a_saved_state_dict_is_bit_identical(tmp_path):
    opts = dict(maximize=True, weight_decay=0.1)
    straight, _, _ = _run("cpu", tt.float32, 20, opts)
    first, opt, params = _run("cpu", tt.float32, 10, opts)
    tio.save(opt.state_dict(), tmp_path / "opt.safetensors")
    fresh = Adafactor(params, **opts)
    fresh.load_state_dict(tio.load(tmp_path / "opt.safetensors"))
    assert fresh.state[params[0]]["step"].dtype == tt.float32
    resumed, _, _ = _run("cpu", tt.float32, 10, opts, opt=fresh, params=params, start=10)
    for a, b in zip(first + resumed, straight):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    (dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    (dict(eps=(-1e-3, 1e-3)), "epsilon1 should be >= 0 but is: -0.001"),
    (dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    (dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    (dict(weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
    (dict(lr=tt.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        Adafactor([tt.ones(2, requires_grad=True)], **kwargs)


def test_sparse_gradient_is_refused_before_any_update():
    dense = tt.ones(3, requires_grad=True)
    weight = tt.ones(4, 3, requires_grad=True)
    opt = Adafactor([dense, weight])
    dense.grad = tt.full((3,), 0.5)
    tt.nn.functional.embedding(tt.tensor([0, 2]), weight, sparse=True).sum().backward()
    with pytest.raises(RuntimeError, match="^Adafactor does not support sparse gradients$"):
        opt.step()
    np.testing.assert_array_equal(dense.detach().numpy(), 1.0)
    np.testing.assert_array_equal(weight.detach().numpy(), 1.0)


def test_tensor_lr_and_closure_loss():
    w = tt.tensor([1.0, -2.0], dtype=tt.float64, requires_grad=True)
    opt = Adafactor([w], lr=tt.tensor(0.5, dtype=tt.float64))

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 5.0
    p = adafactor_documented(np.array([1.0, -2.0]), np.array([2.0, -4.0]), dict(V=np.zeros(2)), step=1, lr=0.5)
    np.testing.assert_allclose(w.detach().numpy(), p, rtol=1e-12)


def test_two_dtypes_in_one_group_share_the_first_parameters_eps1():
    # PyTorch's loop fixes eps1 = finfo(dtype).eps at the group's first parameter with a gradient
    rng = np.random.default_rng(5)
    a64, a32 = rng.standard_normal((3, 2)), rng.standard_normal(4).astype(np.float32)
    g64, g32 = rng.standard_normal((3, 2)) * 1e-9, (rng.standard_normal(4) * 1e-9).astype(np.float32)
    p64, p32 = tt.tensor(a64, requires_grad=True), tt.tensor(a32, requires_grad=True)
    opt = Adafactor([p64, p32])
    p64.grad, p32.grad = tt.tensor(g64), tt.tensor(g32)
    opt.step()
    eps = (np.finfo(np.float64).eps, 1e-3)
    st64 = dict(R=np.zeros((3, 1)), C=np.zeros((1, 2)))
    np.testing.assert_allclose(p64.detach().numpy(), adafactor_documented(a64, g64, st64, step=1, eps=eps),
                               rtol=1e-10)
    want = adafactor_documented(a32, g32, dict(V=np.zeros(4, np.float32)), step=1, eps=eps)
    np.testing.assert_allclose(p32.detach().numpy(), want, rtol=1e-5, atol=1e-7)
    # with float32's own eps1 (1.2e-7 > |g|) the update would be clamped: a visibly different step
    other = adafactor_documented(a32, g32, dict(V=np.zeros(4, np.float32)), step=1)
    assert not np.allclose(other, want, rtol=1e-6, atol=0)
