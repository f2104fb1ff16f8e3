"""Adamax, NAdam and RAdam (tt.optim over kernels/optim_adam_variants.py) against an independent float64 NumPy
transcription of PyTorch's documented algorithms: 20-step trajectories on cpu (float64 to 1e-10, float32 at
float32 tolerance) and shorter ones on interpreted cuda; cuda against cpu for 16-bit parameters; a group of two
dtypes; RAdam's rectification decided per tensor inside one launch; Adamax keeping NaN. The optimizers' API
(signatures, errors, state_dict, resume) is in test_adam_variants_api.py."""

import numpy as np
import pytest
from tritensor.kernels import optim_adam_variants as K

import tritensor as tt
from tritensor.ops.optim import fused_step_
from tritensor.optim.adamax import Adamax, adamax_scalars
from tritensor.optim.nadam import NAdam, momentum_cache, nadam_scalars
from tritensor.optim.radam import RAdam, radam_scalars


# ---------------------------------------------------------------- the documented algorithms, float64
def _descent_direction(p, g, lr, weight_decay, decoupled, maximize):
    """maximize and weight decay as PyTorch's pseudo-code: returns (p, g)."""
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
    return p, g


def adamax_documented(p, g, s, *, t, lr, betas, eps, weight_decay, maximize):
    """One Adamax step; s = {"m", "u"} updated in place; returns the new p."""
    beta1, beta2 = betas
    p, g = _descent_direction(p, g, lr, weight_decay, False, maximize)
    s["m"] = beta1 * s["m"] + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s["u"], np.abs(g) + eps)
    return p - lr * s["m"] / ((1 - beta1 ** t) * s["u"])


def nadam_documented(p, g, s, *, t, lr, betas, eps, weight_decay, momentum_decay, decoupled, maximize):
    """One NAdam step; s = {"m", "v", "prod"}; prod (the running product of mu) is a float32 scalar in
    PyTorch's state, so it is rounded to float32 after each multiplication, as PyTorch's is."""
    beta1, beta2 = betas
    p, g = _descent_direction(p, g, lr, weight_decay, decoupled, maximize)
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["prod"] = float(np.float32(s["prod"]) * np.float32(mu))
    s["m"] = beta1 * s["m"] + (1 - beta1) * g
    s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
    m_hat = mu_next * s["m"] / (1 - s["prod"] * mu_next) + (1 - mu) * g / (1 - s["prod"])
    v_hat = s["v"] / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def radam_documented(p, g, s, *, t, lr, betas, eps, weight_decay, decoupled, maximize):
    """One RAdam step; s = {"m", "v"}; the rectified update only where rho_t > 5."""
    beta1, beta2 = betas
    p, g = _descent_direction(p, g, lr, weight_decay, decoupled, maximize)
    s["m"] = beta1 * s["m"] + (1 - beta1) * g
    s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t > 5:
        adaptive = np.sqrt(1 - beta2 ** t) / (np.sqrt(s["v"]) + eps)
        r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return p - lr * m_hat * r * adaptive
    return p - lr * m_hat


DEFAULTS = {
    Adamax: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False),
    NAdam: dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3, decoupled=False,
                maximize=False),
    RAdam: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, maximize=False),
}
DOCUMENTED = {Adamax: adamax_documented, NAdam: nadam_documented, RAdam: radam_documented}
STATE = {Adamax: ("m", "u"), NAdam: ("m", "v"), RAdam: ("m", "v")}
STATE_KEYS = {Adamax: ("exp_avg", "exp_inf"), NAdam: ("exp_avg", "exp_avg_sq"), RAdam: ("exp_avg", "exp_avg_sq")}

# every option that changes the math; RAdam's beta2 = 0.8 rectifies from step 7, NAdam's large
# momentum_decay makes mu move within 20 steps
CASES = [
    (Adamax, dict(lr=0.02)),
    (Adamax, dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, maximize=True)),  # lerp's far side
    (NAdam, dict(lr=0.01)),
    (NAdam, dict(lr=0.01, weight_decay=0.1, momentum_decay=0.3, maximize=True)),
    (NAdam, dict(lr=0.01, betas=(0.4, 0.95), weight_decay=0.05, decoupled_weight_decay=True)),
    (RAdam, dict(lr=0.01, betas=(0.9, 0.8))),
    (RAdam, dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.1, maximize=True)),
    (RAdam, dict(lr=0.01, betas=(0.6, 0.9), weight_decay=0.05, decoupled_weight_decay=True)),
]
SHAPES = ((3, 4), (5,))
# steps each parameter sits out at the start (no .grad): their step counts differ, so RAdam rectifies one
# tensor and not the other within the same fused step
LATE = (0, 3)


def _expected(cls, options, p0, grads_seq):
    """The documented algorithm over a sequence of per-step gradient lists (None: the parameter has no grad)."""
    opts = {**DEFAULTS[cls], **options}
    opts["decoupled"] = opts.pop("decoupled_weight_decay", opts.get("decoupled", False))
    if cls is Adamax:
        del opts["decoupled"]
    ps = [p.copy() for p in p0]
    states = [dict({k: np.zeros_like(p) for k in STATE[cls]}, prod=1.0) for p in p0]
    steps = [0] * len(p0)
    history = []
    for grads in grads_seq:
        for i, g in enumerate(grads):
            if g is None:
                continue
            steps[i] += 1
            if cls is not NAdam:
                states[i].pop("prod", None)
            ps[i] = DOCUMENTED[cls](ps[i], g, states[i], t=steps[i], **opts)
        history.append([p.copy() for p in ps])
    return history, states


def _drive(cls, options, device, dtypes, steps, seed=0, late=LATE, shapes=SHAPES):
    """Run the optimizer with gradients set directly; returns (initial params and the gradients used, as
    float64 after rounding to each dtype; the per-step parameters; the optimizer and its parameters)."""
    rng = np.random.default_rng(seed)
    p0 = [rng.standard_normal(s).astype(d.np) for s, d in zip(shapes, dtypes)]
    params = [tt.tensor(p, device=device, requires_grad=True) for p in p0]
    opt = cls(params, **options)
    grads_seq, history = [], []
    for step in range(steps):
        grads = []
        for i, (p, s, d) in enumerate(zip(params, shapes, dtypes)):
            g = (rng.standard_normal(s) * (4.0 if step == 2 else 1.0)).astype(d.np)  # a jump for exp_inf
            if step < late[i]:
                p.grad = None
                grads.append(None)
            else:
                p.grad = tt.tensor(g, device=device)
                grads.append(g.astype(np.float64))
        opt.step()
        grads_seq.append(grads)
        history.append([p.detach().cpu().numpy().astype(np.float64) for p in params])
    return [p.astype(np.float64) for p in p0], grads_seq, history, opt, params


TOL = {tt.float64: (1e-10, 1e-12), tt.float32: (1e-5, 1e-6), tt.float16: (4e-3, 2e-3), tt.bfloat16: (3e-2, 1.5e-2)}


def _check_trajectory(cls, options, device, dtypes, steps):
    p0, grads_seq, history, opt, params = _drive(cls, options, device, dtypes, steps)
    expected, states = _expected(cls, options, p0, grads_seq)
    for actual, exp in zip(history, expected):
        for a, e, d in zip(actual, exp, dtypes):
            np.testing.assert_allclose(a, e, rtol=TOL[d][0], atol=TOL[d][1])
    for p, s, d, late in zip(params, states, dtypes, LATE):
        state = opt.state[p]
        assert state["step"].item() == steps - late
        for key, name in zip(STATE_KEYS[cls], STATE[cls]):
            assert state[key].dtype is d and state[key].device == p.device
            np.testing.assert_allclose(state[key].cpu().numpy(), s[name], rtol=TOL[d][0], atol=TOL[d][1])
        if cls is NAdam:
            assert state["mu_product"].item() == s["prod"]  # float32 rounding each step, as PyTorch


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dtype", [tt.float64, tt.float32])
def test_cpu_follows_documented_algorithm(case, dtype):
    cls, options = CASES[case]
    _check_trajectory(cls, options, "cpu", (dtype, dtype), 20)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_cuda_follows_documented_algorithm(case):
    cls, options = CASES[case]
    _check_trajectory(cls, options, "cuda", (tt.float32, tt.float32), 10 if cls is RAdam else 5)


@pytest.mark.parametrize("cls", [Adamax, NAdam, RAdam])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_group_of_two_dtypes(cls, device):
    """One group holding a float32 and a 16-bit (cuda: two launches) or float64 (cpu) parameter."""
    other = tt.float16 if device == "cuda" else tt.float64
    options = dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.05)
    _check_trajectory(cls, options, device, (tt.float32, other), 8 if cls is RAdam else 5)


@pytest.mark.parametrize("cls", [Adamax, NAdam, RAdam])
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_16bit_parameters_cuda_matches_cpu(cls, dtype):
    """fp32 math inside on both devices; only fused multiply-adds and the final rounding differ. Triton's
    interpreter rounds fp32 -> bf16 toward zero (a GPU rounds to nearest), a drift that grows with the steps, so
    bf16 runs 3 steps (RAdam's rectified branch in bf16: test_kernel_matches_reference)."""
    options = dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.1, maximize=True)
    if cls is not Adamax:
        options["decoupled_weight_decay"] = True
    steps = 8 if cls is RAdam and dtype is tt.float16 else 3
    runs = {d: _drive(cls, options, d, (dtype, dtype), steps, late=(0, 0)) for d in ("cpu", "cuda")}
    eps = {tt.float16: 2.0 ** -10, tt.bfloat16: 2.0 ** -7}[dtype]  # machine epsilon
    for a, b in zip(runs["cuda"][2][-1], runs["cpu"][2][-1]):
        np.testing.assert_allclose(a, b, rtol=4 * eps, atol=4 * eps)
    for pc, pg in zip(runs["cpu"][4], runs["cuda"][4]):
        for key in STATE_KEYS[cls]:
            a = runs["cuda"][3].state[pg][key].cpu().numpy().astype(np.float64)
            b = runs["cpu"][3].state[pc][key].numpy().astype(np.float64)
            np.testing.assert_allclose(a, b, rtol=4 * eps, atol=4 * eps)


# ---------------------------------------------------------------- the rules directly, kernel vs reference
SIZES = [(1,), (37,), (3, 5)]
RULE_CASES = [
    ("adamax", dict(maximize=False, weight_decay=False), adamax_scalars(3, 0.01, 0.9, 0.99, 1e-8, 0.0)),
    ("adamax", dict(maximize=True, weight_decay=True), adamax_scalars(2, 0.01, 0.3, 0.9, 1e-6, 0.1)),
    ("nadam", dict(maximize=False, weight_decay=True, decoupled=False),
     nadam_scalars(3, *momentum_cache(3, 0.9, 0.1), 0.5, 0.01, 0.9, 0.99, 1e-8, 0.1, False)),
    ("nadam", dict(maximize=True, weight_decay=True, decoupled=True),
     nadam_scalars(3, *momentum_cache(3, 0.3, 0.1), 0.1, 0.01, 0.3, 0.99, 1e-8, 0.1, True)),
    ("radam", dict(maximize=False, weight_decay=False, decoupled=False), None),
    ("radam", dict(maximize=True, weight_decay=True, decoupled=False), None),
    ("radam", dict(maximize=False, weight_decay=True, decoupled=True), None),
]
KERNEL_TOL = {tt.float32: (2e-6, 1e-7), tt.float16: (2e-3, 1e-4), tt.bfloat16: (1.6e-2, 1e-3),
              tt.float64: (1e-12, 1e-14)}


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.bfloat16])
@pytest.mark.parametrize("case", range(len(RULE_CASES)))
def test_kernel_matches_reference(rng, case, dtype):
    rule, flags, scalars = RULE_CASES[case]
    if scalars is None:  # RAdam: the unrectified step 3, the rectified step 9, in one launch
        wd = 0.1 if flags["weight_decay"] else 0.0
        scalars = [radam_scalars(t, 0.01, 0.8, 0.9, 1e-8, wd, flags["decoupled"]) for t in (3, 9, 9)]
    else:
        scalars = [scalars] * len(SIZES)
    seed = rng.integers(1 << 30)
    results = {}
    for device in ("cpu", "cuda"):
        r = np.random.default_rng(seed)
        params = [tt.tensor(r.standard_normal(s).astype(dtype.np), device=device) for s in SIZES]
        grads = [tt.tensor(r.standard_normal(s).astype(dtype.np), device=device) for s in SIZES]
        states = [[tt.tensor(np.abs(r.standard_normal(s)).astype(dtype.np), device=device) for _ in range(2)]
                  for s in SIZES]
        fused_step_(rule, params, grads, states, scalars, flags)
        results[device] = [t.cpu().numpy().astype(np.float64) for t in params + [s for st in states for s in st]]
    for a, b in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(a, b, rtol=KERNEL_TOL[dtype][0], atol=KERNEL_TOL[dtype][1])


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_adamax_keeps_nan_in_exp_inf(device):
    """torch.maximum propagates NaN from either operand: a NaN gradient poisons exp_inf, and a NaN exp_inf
    stays NaN under later finite gradients (tl.maximum / np.fmax would drop it)."""
    p = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    opt = Adamax([p], lr=0.1)
    p.grad = tt.tensor([0.5, float("nan"), -0.5], device=device)
    opt.step()
    p.grad = tt.tensor([0.5, 0.5, -0.5], device=device)
    opt.step()
    exp_inf = opt.state[p]["exp_inf"].cpu().numpy()
    assert np.isnan(exp_inf[1]) and np.isfinite(exp_inf[[0, 2]]).all()
    values = p.detach().cpu().numpy()
    assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()


def test_trajectories_take_both_radam_branches_in_one_step():
    """With beta2 = 0.8 rho_t > 5 from step 7: the 10-step cuda run (LATE = (0, 3)) has steps where the first
    parameter is rectified and the second is not, in the same fused launch."""
    rect = [radam_scalars(t, 0.01, 0.9, 0.8, 1e-8, 0.0, False)[7] for t in range(1, 11)]
    assert [t for t, r in enumerate(rect, 1) if r > 0] == list(range(7, 11))
    assert radam_scalars(7, 0.01, 0.9, 0.8, 1e-8, 0.1, True)[6] > 0  # folded into c6 with weight decay
    assert radam_scalars(6, 0.01, 0.9, 0.8, 1e-8, 0.1, True)[6] == 0


def test_specs_cover_every_rule():
    names = [s.name for s in K.SPECS]
    assert len(names) == len(set(names)) == 18
    assert {"optim.adamax[fp32:wd]", "optim.nadam[bf16:nadamw]", "optim.radam[fp16:plain]"} <= set(names)
    assert [r.name for r in K.RULES] == ["adamax", "nadam", "radam"]
