"""optim.ASGD and optim.Rprop (fused multi-tensor rules of kernels/optim_asgd_rprop.py) against independent
float64 NumPy transcriptions of PyTorch's `_single_tensor_asgd` / `_single_tensor_rprop`: 20-step trajectories
on cpu (float64 to 1e-10, float32 at float32 tolerance) and cuda (interpreter), cuda against cpu for 16-bit
parameters, mixed-dtype groups, state_dict layout and resume, NaN handling, construction and step errors."""

import copy

import numpy as np
import pytest
from tritensor.kernels import optim_asgd_rprop, optim_multi

import tritensor as tt
import tritensor.io as tio
from tritensor.optim.asgd import ASGD
from tritensor.optim.rprop import Rprop

SHAPES = [(3, 4), (5,)]
# cuda (kernel) against cpu (reference) on the same inputs: fp32 math in both, only fused multiply-adds and
# the final rounding to a 16-bit type (1 ulp) differ
TOL16 = {tt.float16: (2e-3, 1e-4), tt.bfloat16: (1.6e-2, 1e-3)}


# ---------------------------------------------------------------- the documented algorithms, float64
def asgd_documented(params, grads, *, lr, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    """torch.optim.ASGD (single tensor) on a list of float64 arrays over a sequence of gradient lists.
    eta and mu live in float32 tensors: each step reads back their float32 values."""
    ps = [p.astype(np.float64) for p in params]
    axs = [np.zeros_like(p) for p in ps]
    eta, mu = float(np.float32(lr)), 1.0
    for t, step_grads in enumerate(grads, 1):
        for i, g in enumerate(step_grads):
            g = -g if maximize else g
            if weight_decay:
                g = g + weight_decay * ps[i]
            ps[i] = ps[i] * (1 - lambd * eta) - eta * g
            axs[i] = ps[i].copy() if mu == 1 else axs[i] + (ps[i] - axs[i]) * mu
        eta = float(np.float32(lr / (1 + lambd * lr * t) ** alpha))
        mu = float(np.float32(1 / max(1, t - t0)))
    return ps, axs


def rprop_documented(params, grads, *, lr, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False, dtype=np.float64):
    """torch.optim.Rprop (single tensor) over a sequence of gradient lists; the sign factors are stored in
    the parameter's dtype (`dtype`), as PyTorch's sign tensor holds them."""
    ps = [p.astype(np.float64) for p in params]
    prevs = [np.zeros_like(p) for p in ps]
    sizes = [np.full_like(p, float(dtype(lr))) for p in ps]
    etaminus, etaplus = (float(dtype(e)) for e in etas)
    lo, hi = (float(dtype(s)) for s in step_sizes)
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            g = -g if maximize else g.copy()
            s = np.sign(g * prevs[i])
            sizes[i] = np.minimum(np.maximum(sizes[i] * np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0)),
                                             lo), hi)
            g[s < 0] = 0
            ps[i] = ps[i] - np.sign(g) * sizes[i]
            prevs[i] = g
    return ps, prevs, sizes


# ---------------------------------------------------------------- helpers
def _inputs(seed, steps, zeros=True):
    """Initial parameters and `steps` gradient lists (some exact zeros: Rprop's sign-0 branch)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = []
    for _ in range(steps):
        gs = [rng.standard_normal(s) for s in SHAPES]
        if zeros:
            for g in gs:
                g[rng.random(g.shape) < 0.15] = 0.0
        grads.append(gs)
    return params, grads


def _run(cls, params, grads, device, dtype, **opts):
    """The optimizer stepping `params` (tritensor copies) with the given gradients; returns (tensors, opt)."""
    ts = [tt.tensor(p, dtype=dtype, device=device, requires_grad=True) for p in params]
    opt = cls(ts, **opts)
    for gs in grads:
        for t, g in zip(ts, gs):
            t.grad = tt.tensor(g, dtype=dtype, device=device)
        opt.step()
    return ts, opt


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


ASGD_CASES = [dict(lr=0.05, lambd=0.05, t0=5.0), dict(lr=0.02, lambd=0.01, alpha=0.6, t0=3.0, weight_decay=0.1),
              dict(lr=0.05, lambd=0.02, t0=8.0, maximize=True, weight_decay=0.05), dict(lr=0.01)]
RPROP_CASES = [dict(lr=0.01), dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.02, 0.15)),
               dict(lr=0.05, maximize=True, step_sizes=(1e-3, 0.2))]


def _expected(name, opts, params, grads, dtype=np.float64):
    if name == "asgd":
        ps, axs = asgd_documented(params, grads, **opts)
        return ps, {"ax": axs}
    ps, prevs, sizes = rprop_documented(params, grads, dtype=dtype, **opts)
    return ps, {"prev": prevs, "step_size": sizes}


CASES = [("asgd", ASGD, i) for i in range(len(ASGD_CASES))] + [("rprop", Rprop, i) for i in range(len(RPROP_CASES))]


def _opts(name, i):
    return dict((ASGD_CASES if name == "asgd" else RPROP_CASES)[i])


# ---------------------------------------------------------------- trajectories
@pytest.mark.parametrize("dtype", [tt.float64, tt.float32])
@pytest.mark.parametrize("name,cls,case", CASES)
def test_cpu_trajectory_matches_documented_algorithm(name, cls, case, dtype):
    opts = _opts(name, case)
    params, grads = _inputs(case, 20)
    if dtype == tt.float32:  # the reference starts from the same (rounded) inputs
        params = [p.astype(np.float32).astype(np.float64) for p in params]
        grads = [[g.astype(np.float32).astype(np.float64) for g in gs] for gs in grads]
    ts, opt = _run(cls, params, grads, "cpu", dtype, **opts)
    ps, states = _expected(name, opts, params, grads, np.float64 if dtype == tt.float64 else np.float32)
    rtol, atol = (1e-10, 1e-12) if dtype == tt.float64 else (1e-5, 1e-6)
    for i, (t, p) in enumerate(zip(ts, ps)):
        np.testing.assert_allclose(_np(t), p, rtol=rtol, atol=atol)
        for key, values in states.items():
            np.testing.assert_allclose(_np(opt.state[t][key]), values[i], rtol=rtol, atol=atol)
        np.testing.assert_array_equal(_np(t.grad), grads[-1][i])  # the reference never writes the gradient
    assert opt.state[ts[0]]["step"].item() == 20


@pytest.mark.parametrize("name,cls,case", [CASES[0], CASES[1], CASES[2], CASES[5], CASES[6]])
def test_cuda_trajectory_matches_documented_algorithm(name, cls, case):
    opts = _opts(name, case)
    params, grads = _inputs(case, 20)
    params = [p.astype(np.float32).astype(np.float64) for p in params]
    grads = [[g.astype(np.float32).astype(np.float64) for g in gs] for gs in grads]
    ts, opt = _run(cls, params, grads, "cuda", tt.float32, **opts)
    ps, states = _expected(name, opts, params, grads, np.float32)
    for i, (t, p) in enumerate(zip(ts, ps)):
        np.testing.assert_allclose(_np(t), p, rtol=1e-5, atol=1e-6)
        for key, values in states.items():
            np.testing.assert_allclose(_np(opt.state[t][key]), values[i], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
@pytest.mark.parametrize("name,cls,case", [CASES[1], CASES[2], CASES[5], CASES[6]])
def test_cuda_matches_cpu_for_16bit_parameters(name, cls, case, dtype):
    # Triton's interpreter rounds fp32 -> bf16 toward zero (a GPU rounds to nearest): each bf16 step may lose
    # an ulp against the cpu, so bf16 runs two steps, fp16 four
    params, grads = _inputs(case, 2 if dtype == tt.bfloat16 else 4)
    cpu, cpu_opt = _run(cls, params, grads, "cpu", dtype, **_opts(name, case))
    gpu, gpu_opt = _run(cls, params, grads, "cuda", dtype, **_opts(name, case))
    rtol, atol = TOL16[dtype]
    for tc, tg in zip(cpu, gpu):
        np.testing.assert_allclose(_np(tg), _np(tc), rtol=rtol, atol=atol)
        for key in ["ax"] if name == "asgd" else ["prev", "step_size"]:
            np.testing.assert_allclose(_np(gpu_opt.state[tg][key]), _np(cpu_opt.state[tc][key]), rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name,cls,case", [CASES[1], CASES[5]])
def test_group_with_two_dtypes(name, cls, case, device):
    opts = _opts(name, case)
    params, grads = _inputs(case, 4)
    params = [params[0].astype(np.float32).astype(np.float64), params[1]]
    grads = [[gs[0].astype(np.float32).astype(np.float64), gs[1]] for gs in grads]
    ts = [tt.tensor(params[0], dtype=tt.float32, device=device, requires_grad=True),
          tt.tensor(params[1], dtype=tt.float64, device=device, requires_grad=True)]
    opt = cls(ts, **opts)
    for gs in grads:
        for t, g in zip(ts, gs):
            t.grad = tt.tensor(g, dtype=t.dtype, device=device)
        opt.step()
    ps32, _ = _expected(name, opts, params[:1], [gs[:1] for gs in grads], np.float32)
    ps64, _ = _expected(name, opts, params[1:], [gs[1:] for gs in grads], np.float64)
    np.testing.assert_allclose(_np(ts[0]), ps32[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(ts[1]), ps64[0], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- rule details
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_asgd_copies_the_parameter_while_mu_is_one(device):
    params, grads = _inputs(0, 3)
    # lambd * eta near 1 on step 2 shrinks p a hundredfold: ax + (p - ax) * 1 would round away from p
    grads = [[g * 0.01 for g in gs] for gs in grads]
    ts, opt = _run(ASGD, params, grads, device, tt.float32, lr=1.0, lambd=2.6)  # t0 = 1e6: mu stays 1
    for t in ts:
        np.testing.assert_array_equal(_np(opt.state[t]["ax"]), _np(t))
        assert opt.state[t]["mu"].item() == 1.0
    eta = opt.state[ts[0]]["eta"]
    assert eta.dtype == tt.float32 and eta.item() == float(np.float32(1.0 / (1 + 2.6 * 1.0 * 3) ** 0.75))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_rprop_nan_propagates_as_in_pytorch(device):
    p = tt.tensor([1.0, 2.0, 3.0, 4.0], device=device, requires_grad=True)
    opt = Rprop([p], lr=0.1)
    p.grad = tt.tensor([1.0, -1.0, 1.0, 0.0], device=device)
    opt.step()
    p.grad = tt.tensor([float("nan"), -1.0, -1.0, 2.0], device=device)
    opt.step()
    state = opt.state[p]
    np.testing.assert_array_equal(np.isnan(_np(p)), [True, False, False, False])
    np.testing.assert_array_equal(np.isnan(_np(state["step_size"])), [True, False, False, False])
    np.testing.assert_allclose(_np(p)[1:], [2.1 + 0.12, 2.9, 3.9], rtol=1e-6)
    np.testing.assert_allclose(_np(state["step_size"])[1:], [0.12, 0.05, 0.1], rtol=1e-6)
    np.testing.assert_array_equal(_np(state["prev"])[1:], [-1.0, 0.0, 2.0])


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_rprop_clamp_with_min_above_max_takes_max(device):
    p = tt.zeros(3, device=device, requires_grad=True)
    opt = Rprop([p], lr=0.5, step_sizes=(1.0, 0.25))
    p.grad = tt.tensor([1.0, -1.0, 0.0], device=device)
    opt.step()
    np.testing.assert_allclose(_np(opt.state[p]["step_size"]), [0.25] * 3)
    np.testing.assert_allclose(_np(p), [-0.25, 0.25, 0.0])


def test_specs():
    names = [s.name for s in optim_asgd_rprop.SPECS]
    assert len(names) == len(set(names)) == 9
    assert {"optim.asgd[fp32:plain]", "optim.asgd[bf16:wd]", "optim.rprop[fp16:plain]"} <= set(names)
    assert {s.kernel for s in optim_asgd_rprop.SPECS} == {optim_multi.multi_tensor_step_kernel}
    assert optim_multi.step_rule("asgd") is optim_asgd_rprop.ASGD
    assert optim_multi.step_rule("rprop") is optim_asgd_rprop.RPROP


# ---------------------------------------------------------------- state_dict, resume
@pytest.mark.parametrize("cls,keys", [(ASGD, {"step", "eta", "mu", "ax"}), (Rprop, {"step", "prev", "step_size"})])
def test_state_dict_layout_is_pytorchs(cls, keys):
    params, grads = _inputs(0, 1)
    ts, opt = _run(cls, params, grads, "cpu", tt.float32)
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1} and sd["param_groups"][0]["params"] == [0, 1]
    for i, t in enumerate(ts):
        state = sd["state"][i]
        assert set(state) == keys
        for key, value in state.items():
            assert value.dtype == tt.float32
            assert tuple(value.shape) == (() if key in ("step", "eta", "mu") else tuple(t.shape))
    group = sd["param_groups"][0]
    expected = {"lr", "lambd", "alpha", "t0", "weight_decay", "foreach", "maximize", "differentiable", "capturable"} \
        if cls is ASGD else {"lr", "etas", "step_sizes", "foreach", "maximize", "differentiable", "capturable"}
    assert set(group) == expected | {"params"}


@pytest.mark.parametrize("name,cls,case", [CASES[1], CASES[2], CASES[5]])
@pytest.mark.parametrize("via", ["file", "deepcopy"])
def test_resume_is_bit_identical(name, cls, case, via, tmp_path):
    opts = _opts(name, case)
    params, grads = _inputs(case, 20)
    straight, _ = _run(cls, params, grads, "cpu", tt.float32, **opts)
    first, opt = _run(cls, params, grads[:10], "cpu", tt.float32, **opts)
    if via == "file":
        tio.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt.safetensors")
        saved = tio.load(tmp_path / "ckpt.safetensors")["optimizer"]
    else:
        saved = copy.deepcopy(opt.state_dict())
    resumed = [tt.tensor(t.detach().numpy(), requires_grad=True) for t in first]
    opt = cls(resumed, **opts)
    opt.load_state_dict(saved)
    for gs in grads[10:]:
        for t, g in zip(resumed, gs):
            t.grad = tt.tensor(g, dtype=tt.float32)
        opt.step()
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_asgd_loaded_scalars_follow_pytorchs_policy():
    p = tt.ones(3, dtype=tt.float64, requires_grad=True)
    opt = ASGD([p])
    p.grad = tt.ones(3, dtype=tt.float64)
    opt.step()
    fresh = ASGD([p])
    fresh.load_state_dict(opt.state_dict())
    state = fresh.state[p]
    assert state["step"].dtype == tt.float32 and state["eta"].dtype == tt.float64 and state["mu"].dtype == tt.float64
    assert state["eta"].device.type == "cpu" and state["eta"] is not opt.state[p]["eta"]
    fresh.step()  # steps on with the converted scalars


# ---------------------------------------------------------------- errors and options
def test_construction_errors():
    p = tt.ones(2, requires_grad=True)
    for cls in (ASGD, Rprop):
        with pytest.raises(ValueError, match="^Invalid learning rate: -0.5$"):
            cls([p], lr=-0.5)
        with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
            cls([p], lr=tt.tensor([0.1, 0.2]))
        with pytest.raises(NotImplementedError):
            cls([p], differentiable=True)
        with pytest.raises(ValueError, match="empty parameter list"):
            cls([])
    with pytest.raises(ValueError, match="^Invalid weight_decay value: -0.1$"):
        ASGD([p], weight_decay=-0.1)
    with pytest.raises(ValueError, match="^Capturable not supported with single tensor ASGD$"):
        ASGD([p], foreach=False, capturable=True)
    for etas in ((0.5, 0.9), (1.0, 1.2), (0.0, 1.2), (0.5, 1.0)):
        with pytest.raises(ValueError, match=f"^Invalid eta values: {etas[0]}, {etas[1]}$"):
            Rprop([p], etas=etas)
    Rprop([p], capturable=True, foreach=True, maximize=True)
    assert ASGD([p], lr=tt.tensor(0.5)).defaults["lr"] == 0.5


def test_asgd_capturable_needs_foreach_at_step():
    p = tt.ones(2, requires_grad=True)
    opt = ASGD([p], capturable=True)  # foreach=None: the cpu default is the single-tensor loop
    p.grad = tt.ones(2)
    with pytest.raises(RuntimeError, match="^Capturable not supported with single tensor ASGD$"):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), 1.0)


@pytest.mark.parametrize("cls,name", [(ASGD, "ASGD"), (Rprop, "Rprop")])
def test_sparse_gradients_are_refused_before_any_update(cls, name):
    dense = tt.ones(3, requires_grad=True)
    weight = tt.ones(4, 3, requires_grad=True)
    opt = cls([dense, weight])
    dense.grad = tt.ones(3)
    tt.nn.functional.embedding(tt.tensor([0, 2]), weight, sparse=True).sum().backward()
    with pytest.raises(RuntimeError, match=f"^{name} does not support sparse gradients$"):
        opt.step()
    np.testing.assert_array_equal(dense.detach().numpy(), 1.0)
    np.testing.assert_array_equal(weight.detach().numpy(), 1.0)
    assert not opt.state


@pytest.mark.parametrize("cls", [ASGD, Rprop])
def test_step_returns_closure_loss_and_skips_params_without_grad(cls):
    w, unused = tt.tensor([1.0, -2.0], requires_grad=True), tt.ones(2, requires_grad=True)
    opt = cls([w, unused], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 5.0
    assert unused not in opt.state
    np.testing.assert_array_equal(unused.detach().numpy(), 1.0)
    assert np.all(np.abs(w.detach().numpy()) < [1.0, 2.0])
