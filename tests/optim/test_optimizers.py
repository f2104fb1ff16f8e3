"""tt.optim's SGD, Adam and AdamW on cpu (NumPy reference) and interpreted cuda (fused kernels) against a
plain NumPy transcription of PyTorch's documented algorithms over several steps; the Optimizer base
(param groups, zero_grad, closures, hooks, state_dict / load_state_dict, resuming) and its errors."""

import copy
import warnings

import ml_dtypes
import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tests.optim.test_sgd_adam_kernels import adam_documented, sgd_documented
from tritensor import optim

DEVICES = ["cpu", "cuda"]
STEPS = 4
# documented float64 algorithm vs tritensor in the parameter's dtype, after STEPS steps
TOL = {tt.float32: (2e-5, 2e-6), tt.float64: (1e-7, 1e-9), tt.float16: (5e-3, 2e-3), tt.bfloat16: (4e-2, 2e-2)}


def _run(opt_cls, options, device, dtype, rng, shapes=((3, 5), (7,)), steps=STEPS):
    """Drive an optimizer with given gradients (set directly on .grad); returns the per-step parameters,
    the gradients used and the optimizer."""
    params0 = [rng.standard_normal(s) for s in shapes]
    params = [tt.tensor(p.astype(dtype.np), device=device, requires_grad=True) for p in params0]
    opt = opt_cls(params, **options)
    grads_seq, history = [], []
    for _ in range(steps):
        grads = [rng.standard_normal(s) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = tt.tensor(g.astype(dtype.np), device=device)
        opt.step()
        grads_seq.append([g.astype(dtype.np).astype(np.float64) for g in grads])
        history.append([p.detach().cpu().numpy().astype(np.float64) for p in params])
    return [p.astype(dtype.np).astype(np.float64) for p in params0], grads_seq, history, opt, params


SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02),
    dict(lr=0.05, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", range(len(SGD_OPTIONS)))
def test_sgd_follows_documented_algorithm(rng, device, case):
    options = SGD_OPTIONS[case]
    p0, grads_seq, history, opt, params = _run(optim.SGD, options, device, tt.float32, rng)
    full = {**dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False), **options}
    lr = full.pop("lr")
    expected, bufs = list(p0), [None] * len(p0)
    for step, (grads, actual) in enumerate(zip(grads_seq, history)):
        for i, g in enumerate(grads):
            expected[i], bufs[i] = sgd_documented(expected[i], g, bufs[i], lr=lr, first=step == 0, **full)
            np.testing.assert_allclose(actual[i], expected[i], rtol=TOL[tt.float32][0], atol=TOL[tt.float32][1])
    if full["momentum"]:
        for p, b in zip(params, bufs):
            buf = opt.state[p]["momentum_buffer"]
            assert buf.device == p.device and buf.dtype is p.dtype
            np.testing.assert_allclose(buf.cpu().numpy(), b, rtol=2e-5, atol=2e-6)
    else:
        assert len(opt.state) == 0


ADAM_OPTIONS = [
    (optim.Adam, dict(lr=0.01)),
    (optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    (optim.Adam, dict(lr=0.02, maximize=True, eps=1e-6)),
    (optim.Adam, dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
]


def _adam_expected(opt_cls, options, p0, grads_seq):
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, amsgrad=False, maximize=False,
                weight_decay=1e-2 if opt_cls is optim.AdamW else 0.0,
                decoupled=opt_cls is optim.AdamW or options.get("decoupled_weight_decay", False))
    full.update({k: v for k, v in options.items() if k != "decoupled_weight_decay"})
    beta1, beta2 = full.pop("betas")
    state = [[p, np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)] for p in p0]
    out = []
    for step, grads in enumerate(grads_seq, 1):
        for s, g in zip(state, grads):
            s[:] = adam_documented(s[0], g, s[1], s[2], s[3], step=step, beta1=beta1, beta2=beta2, **full)
        out.append([[a.copy() for a in s] for s in state])
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", range(len(ADAM_OPTIONS)))
def test_adam_follows_documented_algorithm(rng, device, case):
    opt_cls, options = ADAM_OPTIONS[case]
    p0, grads_seq, history, opt, params = _run(opt_cls, options, device, tt.float32, rng)
    expected = _adam_expected(opt_cls, options, p0, grads_seq)
    rtol, atol = TOL[tt.float32]
    for actual, exp in zip(history, expected):
        for a, e in zip(actual, exp):
            np.testing.assert_allclose(a, e[0], rtol=rtol, atol=atol)
    amsgrad = options.get("amsgrad", False)
    for p, e in zip(params, expected[-1]):
        state = opt.state[p]
        assert list(state) == ["step", "exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
        assert state["step"].device == tt.device("cpu") and state["step"].dtype is tt.float32
        assert state["step"].item() == STEPS
        np.testing.assert_allclose(state["exp_avg"].cpu().numpy(), e[1], rtol=rtol, atol=atol)
        np.testing.assert_allclose(state["exp_avg_sq"].cpu().numpy(), e[2], rtol=rtol, atol=atol)
        if amsgrad:
            np.testing.assert_allclose(state["max_exp_avg_sq"].cpu().numpy(), e[3], rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
def test_low_and_double_precision_parameters(rng, device, dtype):
    """16-bit parameters and state (fp32 math inside), and float64 (fp32 hyper-parameters on cuda)."""
    p0, grads_seq, history, opt, params = _run(optim.AdamW, dict(lr=0.01, amsgrad=True), device, dtype, rng)
    expected = _adam_expected(optim.AdamW, dict(lr=0.01, amsgrad=True), p0, grads_seq)
    rtol, atol = TOL[dtype]
    for a, e in zip(history[-1], expected[-1]):
        np.testing.assert_allclose(a, e[0], rtol=rtol, atol=atol)
    assert all(opt.state[p]["exp_avg"].dtype is dtype for p in params)
    p0, grads_seq, history, _, _ = _run(optim.SGD, dict(lr=0.05, momentum=0.9), device, dtype, rng)
    expected, bufs = list(p0), [None] * len(p0)
    for step, grads in enumerate(grads_seq):
        for i, g in enumerate(grads):
            expected[i], bufs[i] = sgd_documented(expected[i], g, bufs[i], lr=0.05, momentum=0.9, dampening=0.0,
                                                  weight_decay=0.0, nesterov=False, maximize=False, first=step == 0)
    for a, e in zip(history[-1], expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("device", DEVICES)
def test_step_updates_in_place_and_bumps_version(device):
    p = tt.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    storage_ptr = p.data_ptr()
    y = (p * p).sum()  # the graph saved p
    p.grad = tt.ones(3, device=device)
    version = p._version
    optim.SGD([p], lr=0.5).step()
    assert p.data_ptr() == storage_ptr and p._version > version
    assert p.tolist() == [0.5, 1.5, 2.5] and p.is_leaf and p.requires_grad
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("device", DEVICES)
def test_non_contiguous_parameter(device):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = tt.tensor(base, device=device).t().detach().requires_grad_()  # a (4, 3) leaf with transposed strides
    assert not p.is_contiguous()
    p.grad = tt.ones(4, 3, device=device)
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), base.T - 0.1, rtol=1e-6)
    optim.SGD([p], lr=1.0).step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), base.T - 1.1, rtol=1e-6)


def test_param_groups_options_and_defaults():
    a, b = tt.zeros(2, requires_grad=True), tt.zeros(3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    assert opt.param_groups[1]["params"] == [b] and set(opt.defaults) >= {"lr", "momentum", "nesterov"}
    a.grad, b.grad = tt.ones(2), tt.ones(3)
    opt.step()
    assert a.tolist() == pytest.approx([-0.1, -0.1]) and b.tolist() == pytest.approx([-0.5] * 3)
    c = tt.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 2.0})
    assert opt.param_groups[2]["momentum"] == 0 and opt.param_groups[2]["lr"] == 2.0
    assert "Parameter Group 2" in repr(opt) and "lr: 2.0" in repr(opt)


def test_constructor_and_group_errors():
    p = tt.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        optim.SGD([p], momentum=-1)
    with pytest.raises(ValueError, match="Invalid weight_decay value: -1"):
        optim.SGD([p], weight_decay=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid epsilon value: -1"):
        optim.Adam([p], eps=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.0"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: -0.1"):
        optim.AdamW([p], betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="Invalid weight_decay value: -0.5"):
        optim.AdamW([p], weight_decay=-0.5)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([p, 3.0])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p])
    opt = optim.SGD([p])
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([p])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": p})
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        class Custom(optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, {"lr": optim.required})
        Custom([p])
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([p], differentiable=True)


def test_zero_grad():
    p = tt.ones(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0, 0.0] and not p.grad.requires_grad
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad()  # no gradients: nothing to do
    opt.step()  # parameters without gradients are skipped
    assert p.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
def test_closure_runs_with_grad_enabled_and_returns_loss(opt_cls):
    p = tt.tensor([2.0, -1.0], requires_grad=True)
    opt = opt_cls([p], lr=0.1)
    calls = []

    def closure():
        calls.append(tt.is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tt.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and loss.item() == pytest.approx(5.0)
    assert p.tolist() != [2.0, -1.0]


def test_step_hooks():
    p = tt.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre", p.tolist())))
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", p.tolist())))
    g = optim.register_optimizer_step_pre_hook(lambda o, args, kwargs: seen.append(("global", o is opt)))
    p.grad = tt.ones(2)
    opt.step()
    assert seen == [("global", True), ("pre", [1.0, 1.0]), ("post", [0.0, 0.0])]
    h1.remove()
    g.remove()
    seen.clear()
    opt.step()
    assert seen == [("post", [-1.0, -1.0])]

    class Scaled(optim.SGD):  # a subclass's step calling super().step(): hooks run once
        def step(self, closure=None):
            return super().step(closure)

    q = tt.ones(1, requires_grad=True)
    sub = Scaled([q], lr=1.0)
    count = []
    sub.register_step_post_hook(lambda *a: count.append(1))
    q.grad = tt.ones(1)
    sub.step()
    assert count == [1] and q.tolist() == [0.0]


def test_state_dict_format():
    a, b, c = (tt.zeros(2, requires_grad=True) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, amsgrad=True)
    a.grad, c.grad = tt.ones(2), tt.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 2]  # b had no gradient: no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"].item() == 1.0
    assert opt.param_groups[0]["params"] == [a, b]  # state_dict() does not touch the optimizer


def test_load_state_dict_errors_and_copies():
    a, b = tt.zeros(2, requires_grad=True), tt.zeros(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = tt.ones(2)
    opt.step()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD([a]).load_state_dict(opt.state_dict())
    x = tt.zeros(2, dtype=tt.float64, requires_grad=True)
    y = tt.zeros(2, dtype=tt.float64, requires_grad=True)
    other = optim.SGD([x, y], lr=1.0)
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["lr"] == 0.1 and other.param_groups[0]["params"] == [x, y]
    buf = other.state[x]["momentum_buffer"]
    assert buf.dtype is tt.float64 and buf.tolist() == [1.0, 1.0]  # cast to the parameter's dtype
    assert buf is not opt.state[a]["momentum_buffer"]


def _model(device, seed=0):
    g = np.random.default_rng(seed)
    w = tt.tensor(g.standard_normal((3, 4)).astype(np.float32), device=device, requires_grad=True)
    b = tt.tensor(g.standard_normal(4).astype(np.float32), device=device, requires_grad=True)
    return [w, b]


def _train(params, opt, batches):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        w, b = params
        if w.device.type == "cpu":
            err = (x * w).sum(1) + b - y
            loss = (err * err).mean()
            loss.backward()
            losses.append(loss.item())
        else:
            # Interpreted kernels are slow: the same loss's gradients from NumPy, so only the optimizer
            # kernels run on the device.
            xn, yn, wn, bn = (t.detach().cpu().numpy() for t in (x, y, w, b))
            err = (xn * wn).sum(1) + bn - yn
            grad_w = np.broadcast_to((2 / err.size) * (err[:, None, :] * xn).sum(0), wn.shape)
            w.grad = tt.tensor(grad_w.astype(np.float32), device=w.device)
            b.grad = tt.tensor(((2 / err.size) * err.sum(0)).astype(np.float32), device=b.device)
            losses.append(float((err * err).mean()))
        opt.step()
    return losses


OPTIMIZERS = {"sgd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
              "adam": lambda p: optim.Adam(p, lr=0.05, amsgrad=True),
              "adamw": lambda p: optim.AdamW(p, lr=0.05)}


@pytest.mark.parametrize("device,name,via_file", [
    ("cpu", "sgd", False), ("cpu", "sgd", True), ("cpu", "adam", False), ("cpu", "adam", True),
    ("cpu", "adamw", True), ("cuda", "sgd", False), ("cuda", "adam", True), ("cuda", "adamw", False)])
def test_resume_gives_the_same_trajectory(device, name, via_file, tmp_path):
    """k steps, checkpoint, a fresh model and optimizer loaded from it, the remaining steps: bit for bit the
    trajectory of never stopping."""
    make = OPTIMIZERS[name]
    g = np.random.default_rng(1)
    batches = [(tt.tensor(g.standard_normal((5, 1, 4)).astype(np.float32), device=device),
                tt.tensor(g.standard_normal((5, 4)).astype(np.float32), device=device)) for _ in range(5)]
    params = _model(device)
    opt = make(params)
    straight = _train(params, opt, batches)
    final = [p.detach().cpu().numpy() for p in params]

    params = _model(device)
    opt = make(params)
    first = _train(params, opt, batches[:2])
    checkpoint = {"params": [p.detach() for p in params], "optimizer": opt.state_dict()}
    if via_file:
        tio.save(checkpoint, tmp_path / "ckpt.safetensors")
        checkpoint = tio.load(tmp_path / "ckpt.safetensors")
    else:
        checkpoint = copy.deepcopy(checkpoint)
    del params, opt
    resumed = _model(device, seed=99)  # a fresh model, different values until loaded
    with tt.no_grad():
        for p, saved in zip(resumed, checkpoint["params"]):
            p.copy_(saved)
    opt = make(resumed)
    opt.load_state_dict(checkpoint["optimizer"])
    rest = _train(resumed, opt, batches[2:])
    assert first + rest == straight
    for p, f in zip(resumed, final):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), f)


def test_bf16_state_is_bf16():
    p = tt.zeros(4, dtype=tt.bfloat16, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = tt.ones(4, dtype=tt.bfloat16)
    opt.step()
    assert opt.state[p]["exp_avg"].dtype is tt.bfloat16
    np.testing.assert_allclose(p.detach().numpy().astype(np.float32), np.full(4, -0.1, np.float32), rtol=1e-2)
    assert p.detach().numpy().dtype == ml_dtypes.bfloat16


def test_adam_state_from_older_checkpoints():
    """A checkpoint whose step is a plain number, or whose groups lack newer options, still loads."""
    p = tt.zeros(2, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = tt.ones(2)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["step"] = 1
    for key in ("decoupled_weight_decay", "maximize", "amsgrad"):
        del sd["param_groups"][0][key]
    q = tt.zeros(2, requires_grad=True)
    fresh = optim.Adam([q])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["maximize"] is False and fresh.param_groups[0]["amsgrad"] is False
    assert isinstance(fresh.state[q]["step"], tt.Tensor) and fresh.state[q]["step"].item() == 1.0
    q.grad = tt.ones(2)
    fresh.step()
    assert fresh.state[q]["step"].item() == 2.0
