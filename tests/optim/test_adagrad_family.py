"""Adagrad, RMSprop and Adadelta (tritensor/optim over kernels/optim_adagrad.py) against independent float64
NumPy transcriptions of PyTorch's documented algorithms: 20-step trajectories on cpu (float64 and float32) and
shorter ones on interpreted cuda, cuda against cpu for 16-bit and mixed-dtype groups, the kernels against the
NumPy references on the same inputs, and NaN propagation. tests/optim/test_adagrad_family_api.py covers the
state_dict, resuming, errors and sparse gradients."""

import numpy as np
import pytest
from tritensor.kernels import optim_adagrad, optim_multi

import tritensor as tt
from tritensor.ops.optim import fused_step_
from tritensor.optim.adadelta import Adadelta
from tritensor.optim.adagrad import Adagrad
from tritensor.optim.rmsprop import RMSprop

SHAPES = ((3, 4), (5,))
# documented float64 algorithm vs tritensor in the parameter's dtype
TOL = {tt.float64: (1e-10, 1e-12), tt.float32: (1e-5, 1e-6)}
# cuda kernel vs cpu reference on the same inputs (both compute in fp32; FMA and 16-bit roundings differ)
SAME_TOL = {tt.float32: (2e-6, 1e-7), tt.float16: (2e-3, 1e-4), tt.bfloat16: (1.6e-2, 1e-3),
            tt.float64: (1e-12, 1e-14)}


# ---------------------------------------------------------------- the documented algorithms, float64
def adagrad_documented(p, g, st, t, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                       eps=1e-10, maximize=False):
    """torch.optim.Adagrad's documented step t (1-based) on float64 arrays; st: the state dict, updated."""
    if "sum" not in st:
        st["sum"] = np.full_like(p, initial_accumulator_value)
    g = -g if maximize else g
    clr = lr / (1 + (t - 1) * lr_decay)
    if weight_decay:
        g = g + weight_decay * p
    st["sum"] = st["sum"] + g * g
    return p - clr * g / (np.sqrt(st["sum"]) + eps)


def rmsprop_documented(p, g, st, t, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                       centered=False, maximize=False):
    """torch.optim.RMSprop's documented step."""
    zero = np.zeros_like(p)
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    v = st["square_avg"] = alpha * st.get("square_avg", zero) + (1 - alpha) * g * g
    if centered:
        st["grad_avg"] = alpha * st.get("grad_avg", zero) + (1 - alpha) * g
        v = v - st["grad_avg"] ** 2
    if momentum > 0:
        st["momentum_buffer"] = momentum * st.get("momentum_buffer", zero) + g / (np.sqrt(v) + eps)
        return p - lr * st["momentum_buffer"]
    return p - lr * g / (np.sqrt(v) + eps)


def adadelta_documented(p, g, st, t, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """torch.optim.Adadelta's documented step."""
    zero = np.zeros_like(p)
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    st["square_avg"] = rho * st.get("square_avg", zero) + (1 - rho) * g * g
    delta = np.sqrt(st.get("acc_delta", zero) + eps) / np.sqrt(st["square_avg"] + eps) * g
    st["acc_delta"] = rho * st.get("acc_delta", zero) + (1 - rho) * delta * delta
    return p - lr * delta


DOCUMENTED = {Adagrad: adagrad_documented, RMSprop: rmsprop_documented, Adadelta: adadelta_documented}

# every option that changes the math, per optimizer
CASES = [
    (Adagrad, dict()),
    (Adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5)),
    (Adagrad, dict(lr=0.05, eps=1e-3, maximize=True)),
    (RMSprop, dict()),
    (RMSprop, dict(lr=0.01, momentum=0.9)),
    (RMSprop, dict(lr=0.01, centered=True)),
    (RMSprop, dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    (RMSprop, dict(lr=0.02, alpha=0.6, weight_decay=0.05, eps=1e-3)),
    (Adadelta, dict()),
    (Adadelta, dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True)),
]
CASE_IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(CASES)]


def _trajectory(cls, options, device, dtype, steps, seed=0):
    """Drive the optimizer with gradients set directly on .grad; returns (tritensor params, documented params)
    after `steps` steps, both float64 arrays."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype.np).astype(np.float64) for s in SHAPES]
    params = [tt.tensor(p.astype(dtype.np), device=device, requires_grad=True) for p in start]
    opt = cls(params, **options)
    expected, states = [p.copy() for p in start], [{} for _ in SHAPES]
    for t in range(1, steps + 1):
        grads = [rng.standard_normal(s).astype(dtype.np) for s in SHAPES]
        for p, g in zip(params, grads):
            p.grad = tt.tensor(g, device=device)
        opt.step()
        expected = [DOCUMENTED[cls](p, g.astype(np.float64), st, t, **options)
                    for p, g, st in zip(expected, grads, states)]
    return [p.detach().cpu().numpy().astype(np.float64) for p in params], expected


@pytest.mark.parametrize("dtype", [tt.float64, tt.float32])
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_cpu_follows_documented_algorithm(case, dtype):
    cls, options = CASES[case]
    actual, expected = _trajectory(cls, options, "cpu", dtype, 20)
    rtol, atol = TOL[dtype]
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_cuda_follows_documented_algorithm(case):
    cls, options = CASES[case]
    actual, expected = _trajectory(cls, options, "cuda", tt.float32, 5)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_autograd_gradients_and_closure():
    """Gradients from autograd through a closure; step returns the closure's loss."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    w0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    w, b = tt.tensor(w0, requires_grad=True), tt.tensor(b0, requires_grad=True)
    opt = RMSprop([w, b], lr=0.01, momentum=0.9, centered=True)
    xt = tt.tensor(x)

    def closure():
        opt.zero_grad()
        loss = ((xt @ w + b).tanh() ** 2).sum()
        loss.backward()
        return loss

    st_w, st_b = {}, {}
    for t in range(1, 11):
        y = np.tanh(x @ w0 + b0)
        dz = 2 * y * (1 - y * y)
        loss = opt.step(closure)
        assert float(loss.item()) == pytest.approx(float((y ** 2).sum()), rel=1e-12)
        w0 = rmsprop_documented(w0, x.T @ dz, st_w, t, lr=0.01, momentum=0.9, centered=True)
        b0 = rmsprop_documented(b0, dz.sum(0), st_b, t, lr=0.01, momentum=0.9, centered=True)
    np.testing.assert_allclose(w.detach().numpy(), w0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), b0, rtol=1e-10, atol=1e-12)


def _pair(cls, options, dtypes, steps=3, seed=1):
    """The same optimizer run on cpu and cuda from the same inputs; params of the given dtypes in ONE group.
    Returns {device: (params, states)} as float64 arrays."""
    out = {}
    for device in ("cpu", "cuda"):
        rng = np.random.default_rng(seed)
        params = [tt.tensor(rng.standard_normal(s).astype(d.np), device=device, requires_grad=True)
                  for s, d in zip(SHAPES, dtypes)]
        opt = cls(params, **options)
        for _ in range(steps):
            for p in params:
                p.grad = tt.tensor(rng.standard_normal(p.shape).astype(p.dtype.np), device=device)
            opt.step()
        for p, d in zip(params, dtypes):
            assert p.dtype is d
            assert all(v.dtype is d for k, v in opt.state[p].items() if k != "step")
        out[device] = ([p.detach().cpu().numpy().astype(np.float64) for p in params],
                       [v.cpu().numpy().astype(np.float64) for p in params for k, v in sorted(opt.state[p].items())
                        if k != "step"])
    return out


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
# (case 6's centered variance with alpha=0.3 cancels to a few 16-bit ulps: one ulp of FMA apart, the
# trajectories part; the kernel tests check its single step in 16 bits)
@pytest.mark.parametrize("case", [1, 2, 4, 5, 7, 9], ids=[CASE_IDS[i] for i in (1, 2, 4, 5, 7, 9)])
def test_cuda_matches_cpu_in_other_dtypes(case, dtype):
    cls, options = CASES[case]
    # Triton's interpreter rounds fp32 -> bf16 toward zero (the GPU rounds to nearest): one ulp per step
    # against the cpu's rounding, so bf16 compares one step at its one-step tolerance.
    out = _pair(cls, options, (dtype, dtype), steps=1 if dtype is tt.bfloat16 else 3)
    rtol, atol = SAME_TOL[dtype]
    for a, b in zip(out["cuda"][0] + out["cuda"][1], out["cpu"][0] + out["cpu"][1]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", [1, 6, 9], ids=[CASE_IDS[i] for i in (1, 6, 9)])
def test_group_with_two_dtypes(case):
    """A float32 and a float16 parameter in one group: one launch each on cuda, each against the cpu."""
    cls, options = CASES[case]
    out = _pair(cls, options, (tt.float32, tt.float16))
    tols = [SAME_TOL[tt.float32], SAME_TOL[tt.float16]]
    cuda_p, cuda_s = out["cuda"]
    cpu_p, cpu_s = out["cpu"]
    for i in range(2):
        np.testing.assert_allclose(cuda_p[i], cpu_p[i], rtol=tols[i][0], atol=tols[i][1])
    half = len(cuda_s) // 2
    for j, (a, b) in enumerate(zip(cuda_s, cpu_s)):
        rtol, atol = tols[j // half]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- the kernels against the references
MAX, WD, MOM, CEN = (optim_adagrad.MAXIMIZE, optim_adagrad.WEIGHT_DECAY, optim_adagrad.MOMENTUM,
                     optim_adagrad.CENTERED)
# (rule, FLAGS, states, scalars)
KERNEL_CASES = [
    ("adagrad", 0, 1, (0.0, 0.01, 1e-10)),
    ("adagrad", MAX | WD, 1, (0.1, 0.05, 1e-3)),
    ("rmsprop", 0, 1, (0.0, 0.99, 0.01, 1e-8, 0.01, 0.0)),
    ("rmsprop", MOM | MAX, 2, (0.0, 0.9, 0.1, 1e-8, 0.01, 0.9)),
    ("rmsprop", CEN | WD, 2, (0.05, 0.3, 0.7, 1e-8, 0.01, 0.0)),  # lerp's far side
    ("rmsprop", CEN | MOM | WD | MAX, 3, (0.05, 0.9, 0.1, 1e-8, 0.01, 0.5)),
    ("adadelta", 0, 2, (0.0, 0.9, 0.1, 1e-6, 1.0)),
    ("adadelta", MAX | WD, 2, (0.1, 0.5, 0.5, 1e-4, 0.5)),
]
KERNEL_SIZES = [(1,), (37,), (3, 5), (4100,)]  # a partial block, and a tensor of two chunks


def _flags(rule, bits):
    names = optim_multi.step_rule(rule).flag_names
    return {name: bool(bits & (1 << i)) for i, name in enumerate(names)}


def _states(rng, rule, n_state, shape):
    """Plausible states: square averages / sums >= 1, the others in (-0.3, 0.3) (so a centered variance
    v - grad_avg^2 stays positive), Adadelta's acc_delta >= 0."""
    out = [np.abs(rng.standard_normal(shape)) + 1.0]
    for _ in range(n_state - 1):
        s = 0.3 * np.tanh(rng.standard_normal(shape))
        out.append(np.abs(s) if rule == "adadelta" else s)
    return out


def _operands(seed, rule, device, dtype, n_state, sizes=KERNEL_SIZES):
    rng = np.random.default_rng(seed)
    params = [tt.tensor(rng.standard_normal(s).astype(dtype.np), device=device) for s in sizes]
    grads = [tt.tensor(rng.standard_normal(s).astype(dtype.np), device=device) for s in sizes]
    states = [[tt.tensor(a.astype(dtype.np), device=device) for a in _states(rng, rule, n_state, s)] for s in sizes]
    return params, grads, states


@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
def test_kernel_matches_reference(case, dtype):
    rule, bits, n_state, scalars = KERNEL_CASES[case]
    results = {}
    for device in ("cpu", "cuda"):
        params, grads, states = _operands(case, rule, device, dtype, n_state)
        fused_step_(rule, params, grads, states, [scalars] * len(params), _flags(rule, bits))
        results[device] = [t.cpu().numpy().astype(np.float64) for t in params + [s for st in states for s in st]]
    rtol, atol = SAME_TOL[dtype]
    for a, b in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
def test_reference_is_the_documented_step(case):
    """The rule's reference, called as the optimizer calls it, is one documented step (float64)."""
    rule, bits, n_state, c = KERNEL_CASES[case]
    rng = np.random.default_rng(case)
    p, g = rng.standard_normal(50), rng.standard_normal(50)
    states = _states(rng, rule, n_state, 50)
    st = {"sum" if rule == "adagrad" else "square_avg": states[0].copy()}
    maximize, wd = bool(bits & MAX), c[0] if bits & WD else 0.0
    if rule == "adagrad":
        expected = adagrad_documented(p, g, st, 1, lr=c[1], weight_decay=wd, eps=c[2], maximize=maximize)
    elif rule == "rmsprop":
        extra = ["momentum_buffer"] if bits & MOM else []
        extra += ["grad_avg"] if bits & CEN else []
        st.update({k: s.copy() for k, s in zip(extra, states[1:])})
        expected = rmsprop_documented(p, g, st, 1, lr=c[4], alpha=c[1], eps=c[3], weight_decay=wd,
                                      momentum=c[5] if bits & MOM else 0.0, centered=bool(bits & CEN),
                                      maximize=maximize)
    else:
        st["acc_delta"] = states[1].copy()
        expected = adadelta_documented(p, g, st, 1, lr=c[4], rho=c[1], eps=c[3], weight_decay=wd, maximize=maximize)
    optim_multi.step_rule(rule).ref(p, g, states, c + (0.0,) * (8 - len(c)), bits)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
    keys = {"adagrad": ["sum"], "adadelta": ["square_avg", "acc_delta"],
            "rmsprop": ["square_avg"] + (["momentum_buffer"] if bits & MOM else []) + (["grad_avg"] if bits & CEN
                                                                                         else [])}[rule]
    for key, s in zip(keys, states):
        np.testing.assert_allclose(s, st[key], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", [0, 5, 6])
def test_nan_propagates(case):
    """A NaN gradient element makes that parameter element NaN (the others stay finite), on cpu and cuda."""
    rule, bits, n_state, scalars = KERNEL_CASES[case]
    for device in ("cpu", "cuda"):
        params, grads, states = _operands(case, rule, device, tt.float32, n_state, sizes=[(6,)])
        g = grads[0].cpu().numpy()
        g[2] = np.nan
        grads = [tt.tensor(g, device=device)]
        fused_step_(rule, params, grads, states, [scalars], _flags(rule, bits))
        out = params[0].cpu().numpy()
        assert np.isnan(out[2]) and np.isfinite(np.delete(out, 2)).all()


def test_specs_cover_every_rule():
    names = [s.name for s in optim_adagrad.SPECS]
    assert len(names) == len(set(names)) == 3 * (2 + 3 + 2)
    assert {s.kernel for s in optim_adagrad.SPECS} == {optim_multi.multi_tensor_step_kernel}
    assert {"optim.adagrad[fp32:wd]", "optim.rmsprop[bf16:centered]", "optim.adadelta[fp16:plain]"} <= set(names)
    for name in ("adagrad", "rmsprop", "adadelta"):
        assert optim_multi.step_rule(name).name == name
