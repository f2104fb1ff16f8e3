"""Adamax, NAdam and RAdam's API as PyTorch's: constructor signatures and defaults, argument errors (type and
message), state_dict layout (keys, dtypes, devices, group options), resuming bit for bit through a saved
state_dict, old state dicts upgraded by __setstate__, sparse gradients refused before any update, closures.
The numerics are in test_adam_variants.py."""

import copy
import inspect

import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tritensor.optim.adamax import Adamax
from tritensor.optim.nadam import NAdam
from tritensor.optim.radam import RAdam

P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
# PyTorch's constructor signatures: (name, kind, default) after `params`
SIGNATURES = {
    Adamax: [("lr", P, 2e-3), ("betas", P, (0.9, 0.999)), ("eps", P, 1e-8), ("weight_decay", P, 0),
             ("foreach", P, None), ("maximize", K, False), ("differentiable", K, False), ("capturable", K, False)],
    NAdam: [("lr", P, 2e-3), ("betas", P, (0.9, 0.999)), ("eps", P, 1e-8), ("weight_decay", P, 0),
            ("momentum_decay", P, 4e-3), ("decoupled_weight_decay", P, False), ("foreach", K, None),
            ("maximize", K, False), ("capturable", K, False), ("differentiable", K, False)],
    RAdam: [("lr", P, 1e-3), ("betas", P, (0.9, 0.999)), ("eps", P, 1e-8), ("weight_decay", P, 0),
            ("decoupled_weight_decay", P, False), ("foreach", K, None), ("maximize", K, False),
            ("capturable", K, False), ("differentiable", K, False)],
}
# per-parameter state keys, and the option keys of a param group, as PyTorch's state_dict() has them
STATE_KEYS = {Adamax: ["step", "exp_avg", "exp_inf"], NAdam: ["step", "mu_product", "exp_avg", "exp_avg_sq"],
              RAdam: ["step", "exp_avg", "exp_avg_sq"]}
GROUP_KEYS = {
    Adamax: {"lr", "betas", "eps", "weight_decay", "foreach", "maximize", "differentiable", "capturable"},
    NAdam: {"lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize", "foreach",
            "capturable", "differentiable"},
    RAdam: {"lr", "betas", "eps", "weight_decay", "maximize", "foreach", "capturable", "decoupled_weight_decay",
            "differentiable"},
}
CLASSES = [Adamax, NAdam, RAdam]
OPTIONS = {Adamax: dict(lr=0.05, weight_decay=0.01),
           NAdam: dict(lr=0.05, weight_decay=0.01, decoupled_weight_decay=True, momentum_decay=0.1),
           RAdam: dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.01)}  # rectified from step 6


def _problem(device="cpu", dtype=tt.float32):
    """Two parameters (2-D and 1-D) and a fixed loss whose gradients autograd computes."""
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
    return [p.detach().cpu().numpy().copy() for p in params]


@pytest.mark.parametrize("cls", CLASSES)
def test_signature_is_pytorchs(cls):
    params = list(inspect.signature(cls.__init__).parameters.values())[2:]
    assert [(p.name, p.kind, p.default) for p in params] == SIGNATURES[cls]


@pytest.mark.parametrize("cls", CLASSES)
def test_state_dict_layout(cls):
    params, loss_fn = _problem()
    opt = cls(params)
    _steps(opt, params, loss_fn, 2)
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1}
    for i, p in enumerate(params):
        state = sd["state"][i]
        assert list(state) == STATE_KEYS[cls]
        for key in ("step", "mu_product"):
            if key in state:  # float32 scalars on the cpu, as PyTorch keeps them without capturable
                assert state[key].shape == () and state[key].dtype is tt.float32
                assert state[key].device == tt.device("cpu")
        assert state["step"].item() == 2.0
        for key in STATE_KEYS[cls][1 + (cls is NAdam):]:
            assert state[key].shape == p.shape and state[key].dtype is p.dtype
    (group,) = sd["param_groups"]
    assert set(group) == GROUP_KEYS[cls] | {"params"} and group["params"] == [0, 1]
    assert group["lr"] == SIGNATURES[cls][0][2]


@pytest.mark.parametrize("cls", CLASSES)
def test_resume_through_a_saved_state_dict_is_bit_identical(cls, tmp_path):
    params, loss_fn = _problem()
    straight = _steps(cls(params, **OPTIONS[cls]), params, loss_fn, 20)
    params, loss_fn = _problem()
    opt = cls(params, **OPTIONS[cls])
    _steps(opt, params, loss_fn, 10)
    tio.save({"optimizer": opt.state_dict(), "params": {str(i): p.detach() for i, p in enumerate(params)}},
             tmp_path / "ckpt.safetensors")
    saved = tio.load(tmp_path / "ckpt.safetensors")
    params, loss_fn = _problem()
    with tt.no_grad():
        for i, p in enumerate(params):
            p.copy_(saved["params"][str(i)])
    opt = cls(params, **OPTIONS[cls])
    opt.load_state_dict(saved["optimizer"])
    resumed = _steps(opt, params, loss_fn, 10)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


def test_nadam_loaded_mu_product_follows_the_parameter():
    """PyTorch's load_state_dict casts every floating state except "step" to the parameter's dtype and
    device: a float64 parameter's mu_product becomes float64 and keeps being updated in float64."""
    params, loss_fn = _problem(dtype=tt.float64)
    opt = NAdam(params, lr=0.05, momentum_decay=0.1)
    _steps(opt, params, loss_fn, 2)
    product = opt.state[params[0]]["mu_product"].item()
    fresh = NAdam(params, lr=0.05, momentum_decay=0.1)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    state = fresh.state[params[0]]
    assert state["mu_product"].dtype is tt.float64 and state["step"].dtype is tt.float32
    _steps(fresh, params, loss_fn, 1)
    mu = 0.9 * (1 - 0.5 * 0.96 ** (3 * 0.1))
    assert state["mu_product"].item() == product * mu  # a float64 product now


def test_nadam_state_loaded_onto_cuda_parameters():
    """A cpu checkpoint loaded for cuda parameters: mu_product moves to the parameter's device (PyTorch's
    rule), "step" stays a cpu float32 scalar, and the run goes on as the cpu one does."""
    params, loss_fn = _problem()
    opt = NAdam(params, lr=0.05, weight_decay=0.01, momentum_decay=0.1)
    _steps(opt, params, loss_fn, 3)
    saved = copy.deepcopy(opt.state_dict())
    cuda_params, cuda_loss = _problem("cuda")
    with tt.no_grad():
        for p, q in zip(cuda_params, params):
            p.copy_(q.detach().to("cuda"))
    cuda_opt = NAdam(cuda_params, lr=0.05, weight_decay=0.01, momentum_decay=0.1)
    cuda_opt.load_state_dict(saved)
    state = cuda_opt.state[cuda_params[0]]
    assert state["mu_product"].device == cuda_params[0].device and state["step"].device == tt.device("cpu")
    expected = _steps(opt, params, loss_fn, 2)
    for a, e in zip(_steps(cuda_opt, cuda_params, cuda_loss, 2), expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    assert state["mu_product"].item() == opt.state[params[0]]["mu_product"].item()


def test_scalar_state_follows_the_default_dtype():
    """PyTorch's _get_scalar_dtype: "step" and "mu_product" are float64 while the default dtype is float64."""
    previous = tt.get_default_dtype()
    tt.set_default_dtype(tt.float64)
    try:
        p = tt.ones(3, requires_grad=True)
        opt = NAdam([p], momentum_decay=0.1)
        p.grad = tt.ones(3)
        opt.step()
    finally:
        tt.set_default_dtype(previous)
    state = opt.state[p]
    assert state["step"].dtype is tt.float64 and state["mu_product"].dtype is tt.float64
    assert state["mu_product"].item() == 0.9 * (1 - 0.5 * 0.96 ** 0.1)  # the product in float64


@pytest.mark.parametrize("cls", CLASSES)
def test_old_state_dict_gets_pytorchs_defaults(cls):
    params, loss_fn = _problem()
    opt = cls(params)
    _steps(opt, params, loss_fn, 1)
    sd = copy.deepcopy(opt.state_dict())
    for group in sd["param_groups"]:
        for key in ("maximize", "foreach", "differentiable", "capturable", "decoupled_weight_decay"):
            group.pop(key, None)
    for state in sd["state"].values():
        state["step"] = 1  # a plain number, as old checkpoints have it
        if cls is NAdam:
            state["mu_product"] = state["mu_product"].item()
    fresh = cls(params)
    fresh.load_state_dict(sd)
    (group,) = fresh.param_groups
    assert set(group) == GROUP_KEYS[cls] | {"params"}
    assert group["foreach"] is None and group["maximize"] is False and group["capturable"] is False
    for p in params:
        assert isinstance(fresh.state[p]["step"], tt.Tensor) and fresh.state[p]["step"].dtype is tt.float32
        if cls is NAdam:
            assert isinstance(fresh.state[p]["mu_product"], tt.Tensor)
    _steps(fresh, params, loss_fn, 1)
    assert fresh.state[params[0]]["step"].item() == 2.0


@pytest.mark.parametrize("cls", CLASSES)
def test_constructor_errors(cls):
    p = tt.zeros(2, requires_grad=True)
    cases = [(dict(lr=-1), ValueError, "Invalid learning rate: -1"),
             (dict(eps=-1e-3), ValueError, "Invalid epsilon value: -0.001"),
             (dict(betas=(1.0, 0.9)), ValueError, r"Invalid beta parameter at index 0: 1.0"),
             (dict(betas=(0.9, -0.1)), ValueError, r"Invalid beta parameter at index 1: -0.1"),
             (dict(weight_decay=-0.5), ValueError, "Invalid weight_decay value: -0.5"),
             (dict(lr=tt.tensor([0.1, 0.2])), ValueError, "Tensor lr must be 1-element"),
             (dict(differentiable=True), NotImplementedError, "differentiable=True")]
    if cls is NAdam:
        cases.append((dict(momentum_decay=-0.1), ValueError, "Invalid momentum_decay value: -0.1"))
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            cls([p], **kwargs)
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    opt = cls([p], lr=tt.tensor(0.5), foreach=False, capturable=False)  # a 1-element Tensor lr is read once
    assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("cls", CLASSES)
def test_sparse_gradient_refused_before_any_update(cls):
    dense = tt.ones(3, requires_grad=True)
    weight = tt.ones(4, 3, requires_grad=True)
    opt = cls([dense, weight], lr=0.1)
    dense.grad = tt.ones(3)
    tt.nn.functional.embedding(tt.tensor([0, 2, 0]), weight, sparse=True).sum().backward()
    assert weight.grad.is_sparse
    with pytest.raises(RuntimeError, match=f"^{cls.__name__} does not support sparse gradients$"):
        opt.step()
    np.testing.assert_array_equal(dense.detach().numpy(), 1.0)  # the dense parameter before it was not updated
    np.testing.assert_array_equal(weight.detach().numpy(), 1.0)


@pytest.mark.parametrize("cls", CLASSES)
def test_closure_loss_and_parameters_without_grad(cls):
    params, loss_fn = _problem()
    frozen = tt.ones(2, requires_grad=True)
    opt = cls([{"params": params}, {"params": [frozen], "lr": 1.0}])

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, tt.Tensor) and loss.item() == pytest.approx(loss_fn().item(), rel=1e-2)
    assert frozen not in opt.state and frozen.tolist() == [1.0, 1.0]
    assert all(opt.state[p]["step"].item() == 1.0 for p in params)


@pytest.mark.parametrize("cls", CLASSES)
def test_positional_options(cls):
    p = tt.zeros(2, requires_grad=True)
    names = [n for n, kind, _ in SIGNATURES[cls] if kind is P]
    values = {"lr": 0.1, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.01, "foreach": False,
              "momentum_decay": 0.01, "decoupled_weight_decay": True}
    opt = cls([p], *[values[n] for n in names])
    assert all(opt.param_groups[0][n] == values[n] for n in names)
