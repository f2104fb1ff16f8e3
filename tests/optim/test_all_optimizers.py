"""What every tt.optim optimizer shares with PyTorch's: construction checks, the state_dict layout (state keys
per parameter), resuming bit for bit through a saved state_dict, the sparse-gradient rules, foreach/fused
accepted, and on cuda one fused launch per parameter group and dtype for every elementwise optimizer."""

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
import tritensor.io as tio
from tritensor import optim

# PyTorch's per-parameter state keys after one step with default options (SGD with momentum)
STATE_KEYS = {
    "SGD": {"momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq"},
    "Adagrad": {"step", "sum"},
    "RMSprop": {"step", "square_avg"},
    "Adadelta": {"step", "square_avg", "acc_delta"},
    "Adamax": {"step", "exp_avg", "exp_inf"},
    "NAdam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
    "RAdam": {"step", "exp_avg", "exp_avg_sq"},
    "ASGD": {"step", "eta", "mu", "ax"},
    "Rprop": {"step", "prev", "step_size"},
    "Adafactor": {"step", "row_var", "col_var"},  # of the 2-D parameter
}
ELEMENTWISE = [name for name in STATE_KEYS if name != "Adafactor"]
OPTIONS = {"SGD": dict(lr=0.05, momentum=0.9)}
SPARSE_OK = {"SGD", "Adagrad"}


def _make(name, params, **extra):
    return getattr(optim, name)(params, **{**OPTIONS.get(name, {}), **extra})


def _problem(device="cpu", dtype=tt.float32):
    rng = np.random.default_rng(0)
    w = tt.tensor(rng.standard_normal((3, 4)).astype(dtype.np), device=device, requires_grad=True)
    b = tt.tensor(rng.standard_normal(4).astype(dtype.np), device=device, requires_grad=True)
    x = tt.tensor(rng.standard_normal((5, 3)).astype(dtype.np), device=device)
    return [w, b], lambda: ((x @ w + b).tanh() ** 2).sum()


def _steps(opt, params, loss_fn, n):
    for _ in range(n):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    return [p.detach().numpy().copy() for p in params]


@pytest.mark.parametrize("name", list(STATE_KEYS))
def test_state_keys_are_pytorchs(name):
    params, loss_fn = _problem()
    opt = _make(name, params)
    _steps(opt, params, loss_fn, 1)
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][0]) == STATE_KEYS[name]
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["lr"] == opt.defaults["lr"]


@pytest.mark.parametrize("name", list(STATE_KEYS) + ["LBFGS"])
def test_resume_through_a_saved_state_dict_is_bit_identical(name, tmp_path):
    def make(params):
        return _make(name, params)

    def run(opt, params, loss_fn, n):
        if name != "LBFGS":
            return _steps(opt, params, loss_fn, n)
        for _ in range(n):
            def closure():
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                return loss
            opt.step(closure)
        return [p.detach().numpy().copy() for p in params]

    params, loss_fn = _problem()
    straight = run(make(params), params, loss_fn, 6)
    params, loss_fn = _problem()
    opt = make(params)
    run(opt, params, loss_fn, 3)
    tio.save({"optimizer": opt.state_dict(), "params": {str(i): p.detach() for i, p in enumerate(params)}},
             tmp_path / "ckpt.safetensors")
    saved = tio.load(tmp_path / "ckpt.safetensors")
    params, loss_fn = _problem()
    for i, p in enumerate(params):
        with tt.no_grad():
            p.copy_(saved["params"][str(i)])
    opt = make(params)
    opt.load_state_dict(saved["optimizer"])
    resumed = run(opt, params, loss_fn, 3)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(STATE_KEYS) + ["LBFGS"])
def test_construction_checks(name):
    params, _ = _problem()
    # PyTorch's Adafactor words its check differently from every other optimizer.
    lr_message = "Learning rate should be >= 0 but is: -1" if name == "Adafactor" else "Invalid learning rate: -1"
    with pytest.raises(ValueError, match=lr_message):
        _make(name, params, lr=-1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        _make(name, [])
    leaf = tt.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        _make(name, [leaf * 2])
    if name != "LBFGS":
        with pytest.raises(ValueError, match="more than one parameter group"):
            _make(name, [{"params": [leaf]}, {"params": [leaf]}])
    if name not in ("LBFGS", "Adafactor"):
        _make(name, params, foreach=False)
    if "fused" in getattr(optim, name).__init__.__code__.co_varnames:
        _make(name, params, fused=None)


@pytest.mark.parametrize("name", ELEMENTWISE + ["Adafactor"])
def test_sparse_gradients(name):
    weight = tt.ones(4, 3, requires_grad=True)
    opt = _make(name, [weight])
    tt.nn.functional.embedding(tt.tensor([0, 2, 0]), weight, sparse=True).sum().backward()
    assert weight.grad.is_sparse
    if name in SPARSE_OK:
        opt.step()
        assert not np.allclose(weight.detach().numpy()[0], 1.0)  # rows 0 and 2 moved
        np.testing.assert_array_equal(weight.detach().numpy()[1], 1.0)  # row 1 had no gradient
    else:
        with pytest.raises(RuntimeError, match="does not support sparse gradients"):
            opt.step()
        np.testing.assert_array_equal(weight.detach().numpy(), 1.0)


def _launches(opt):
    seen = []
    tuning.add_observer(seen.append)
    try:
        opt.step()
    finally:
        tuning.remove_observer(seen.append)
    return [r.tunable.name for r in seen]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_one_fused_launch_per_group_and_dtype_on_cuda(name):
    params32, _ = _problem("cuda")
    params16 = [tt.ones(5, device="cuda", dtype=tt.float16, requires_grad=True),
                tt.ones(2, 2, device="cuda", dtype=tt.float16, requires_grad=True)]
    other = [tt.ones(3, device="cuda", requires_grad=True)]
    opt = _make(name, [{"params": params32 + params16}, {"params": other}])
    for p in params32 + params16 + other:
        p.grad = tt.full(p.shape, 0.5, device="cuda", dtype=p.dtype)
    opt.step()  # creates the state
    for p in params32 + params16 + other:
        p.grad = tt.full(p.shape, -0.25, device="cuda", dtype=p.dtype)
    # group 0: an fp32 and an fp16 launch; group 1: one fp32 launch
    assert _launches(opt) == ["optim.step"] * 3
