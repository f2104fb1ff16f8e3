"""Adagrad, RMSprop and Adadelta beyond the math (tests/optim/test_adagrad_family.py): PyTorch's state and
param_group layout, resuming bit for bit through a saved state_dict, older checkpoints, construction errors
(type and message as PyTorch's), and sparse gradients (Adagrad steps them, the others refuse)."""

import copy

import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tests.optim.test_adagrad_family import adagrad_documented
from tritensor.optim.adadelta import Adadelta
from tritensor.optim.adagrad import Adagrad
from tritensor.optim.rmsprop import RMSprop

SHAPES = ((3, 4), (5,))

# PyTorch's param_group keys (besides "params")
GROUP_KEYS = {
    Adagrad: {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "foreach", "maximize",
              "differentiable", "fused"},
    RMSprop: {"lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable", "foreach", "maximize",
              "differentiable"},
    Adadelta: {"lr", "rho", "eps", "weight_decay", "maximize", "capturable", "foreach", "differentiable"},
}


def _params(device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    return [tt.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True) for s in SHAPES]


def _feed(params, rng):
    for p in params:
        p.grad = tt.tensor(rng.standard_normal(p.shape).astype(np.float32), device=p.device)


@pytest.mark.parametrize("cls,options,keys", [
    (Adagrad, {}, {"step", "sum"}),
    (RMSprop, {}, {"step", "square_avg"}),
    (RMSprop, dict(momentum=0.9), {"step", "square_avg", "momentum_buffer"}),
    (RMSprop, dict(centered=True), {"step", "square_avg", "grad_avg"}),
    (RMSprop, dict(momentum=0.1, centered=True), {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (Adadelta, {}, {"step", "square_avg", "acc_delta"}),
])
def test_state_dict_layout_is_pytorchs(cls, options, keys):
    params = _params()
    opt = cls(params, **options)
    _feed(params, np.random.default_rng(1))
    opt.step()
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1}
    for i, p in enumerate(params):
        st = sd["state"][i]
        assert set(st) == keys
        assert st["step"].shape == () and st["step"].dtype is tt.float32 and st["step"].device.type == "cpu"
        assert st["step"].item() == 1.0
        for k in keys - {"step"}:
            assert st[k].shape == p.shape and st[k].dtype is p.dtype
    (group,) = sd["param_groups"]
    assert set(group) == GROUP_KEYS[cls] | {"params"} and group["params"] == [0, 1]
    assert {k: group[k] for k in options} == options


def test_adagrad_state_exists_from_construction():
    """PyTorch's Adagrad creates every parameter's state in __init__: the sum full of
    initial_accumulator_value, step 0 (also for a parameter that never gets a gradient)."""
    params = _params()
    opt = Adagrad(params, initial_accumulator_value=0.25)
    for p in params:
        assert opt.state[p]["step"].item() == 0.0 and opt.state[p]["step"].dtype is tt.float32
        np.testing.assert_array_equal(opt.state[p]["sum"].numpy(), np.full(p.shape, 0.25, np.float32))
    params[0].grad = tt.ones(3, 4)
    opt.step()
    assert opt.state[params[0]]["step"].item() == 1.0 and opt.state[params[1]]["step"].item() == 0.0
    np.testing.assert_array_equal(opt.state[params[1]]["sum"].numpy(), np.full(5, 0.25, np.float32))
    assert set(opt.state_dict()["state"]) == {0, 1}


def test_fused_adagrad_keeps_its_step_on_the_parameters_device():
    params = _params("cuda")
    opt = Adagrad(params, fused=True)
    assert opt.state[params[0]]["step"].device.type == "cuda"
    _feed(params, np.random.default_rng(0))
    opt.step()
    assert opt.state[params[0]]["step"].item() == 1.0


RESUME = [(Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1), True),
          (RMSprop, dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01), True),
          (RMSprop, dict(lr=0.01), False),
          (Adadelta, dict(lr=0.5, weight_decay=0.01, maximize=True), False)]


@pytest.mark.parametrize("cls,options,via_file", RESUME)
def test_resume_is_bit_identical(cls, options, via_file, tmp_path):
    """10 steps, state_dict -> (file or deep copy) -> a fresh optimizer -> 10 more == 20 straight steps."""
    grads = np.random.default_rng(5)
    seq = [[grads.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(20)]

    def run(params, opt, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                p.grad = tt.tensor(g)
            opt.step()

    params = _params()
    run(params, cls(params, **options), seq)
    straight = [p.detach().numpy().copy() for p in params]

    params = _params()
    opt = cls(params, **options)
    run(params, opt, seq[:10])
    ckpt = {"params": {str(i): p.detach() for i, p in enumerate(params)}, "optimizer": opt.state_dict()}
    if via_file:
        tio.save(ckpt, tmp_path / "ckpt.safetensors")
        ckpt = tio.load(tmp_path / "ckpt.safetensors")
    else:
        ckpt = copy.deepcopy(ckpt)
    del opt
    params = _params(seed=7)
    with tt.no_grad():
        for i, p in enumerate(params):
            p.copy_(ckpt["params"][str(i)])
    opt = cls(params, **options)
    opt.load_state_dict(ckpt["optimizer"])
    assert opt.state[params[0]]["step"].item() == 10.0
    run(params, opt, seq[10:])
    for p, s in zip(params, straight):
        np.testing.assert_array_equal(p.detach().numpy(), s)


@pytest.mark.parametrize("cls,missing", [
    (Adagrad, ("foreach", "maximize", "differentiable", "fused")),
    (RMSprop, ("momentum", "centered", "foreach", "maximize", "differentiable", "capturable")),
    (Adadelta, ("foreach", "maximize", "differentiable", "capturable")),
])
def test_older_state_dicts_load(cls, missing):
    """A checkpoint whose step is a plain number, or whose groups lack newer options, gets PyTorch's defaults."""
    params = _params()
    opt = cls(params)
    _feed(params, np.random.default_rng(2))
    opt.step()
    sd = opt.state_dict()
    for st in sd["state"].values():
        st["step"] = 1
    for key in missing:
        del sd["param_groups"][0][key]
    fresh = cls(_params())
    fresh.load_state_dict(sd)
    group = fresh.param_groups[0]
    defaults = dict(foreach=None, maximize=False, differentiable=False, fused=None, capturable=False, momentum=0,
                    centered=False)
    assert {k: group[k] for k in missing} == {k: defaults[k] for k in missing}
    for st in fresh.state.values():
        assert isinstance(st["step"], tt.Tensor) and st["step"].dtype is tt.float32 and st["step"].item() == 1.0
    for p in fresh.param_groups[0]["params"]:
        p.grad = tt.ones(p.shape)
    fresh.step()


@pytest.mark.parametrize("cls,kwargs,exc,message", [
    (Adagrad, dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    (Adagrad, dict(lr_decay=-0.1), ValueError, "Invalid lr_decay value: -0.1"),
    (Adagrad, dict(weight_decay=-0.1), ValueError, "Invalid weight_decay value: -0.1"),
    (Adagrad, dict(initial_accumulator_value=-1), ValueError, "Invalid initial_accumulator_value value: -1"),
    (Adagrad, dict(eps=-1e-3), ValueError, "Invalid epsilon value: -0.001"),
    (Adagrad, dict(fused=True, foreach=True), RuntimeError, "`fused` and `foreach` cannot be `True` together."),
    (Adagrad, dict(fused=True, differentiable=True), RuntimeError, "`fused` does not support `differentiable`"),
    (RMSprop, dict(lr=-0.5), ValueError, "Invalid learning rate: -0.5"),
    (RMSprop, dict(eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (RMSprop, dict(momentum=-0.9), ValueError, "Invalid momentum value: -0.9"),
    (RMSprop, dict(weight_decay=-1e-2), ValueError, "Invalid weight_decay value: -0.01"),
    (RMSprop, dict(alpha=-0.99), ValueError, "Invalid alpha value: -0.99"),
    (Adadelta, dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    (Adadelta, dict(rho=1.5), ValueError, "Invalid rho value: 1.5"),
    (Adadelta, dict(rho=-0.1), ValueError, "Invalid rho value: -0.1"),
    (Adadelta, dict(eps=-1e-6), ValueError, "Invalid epsilon value: -1e-06"),
    (Adadelta, dict(weight_decay=-2), ValueError, "Invalid weight_decay value: -2"),
])
def test_construction_errors(cls, kwargs, exc, message):
    with pytest.raises(exc) as info:
        cls(_params(), **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("cls", [Adagrad, RMSprop, Adadelta])
def test_construction_options(cls):
    with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
        cls(_params(), lr=tt.tensor([0.1, 0.2]))
    assert cls(_params(), lr=tt.tensor(0.5)).defaults["lr"] == 0.5
    with pytest.raises(NotImplementedError):
        cls(_params(), differentiable=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    cls(_params(), foreach=False)
    cls(_params(), foreach=True, maximize=True)


def _embedding_grad(weight, device):
    """embedding(sparse=True)'s gradient: rows 0 (twice, so the coalesced gradient sums them) and 2."""
    idx = tt.tensor([0, 2, 0], device=device)
    up = tt.tensor(np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0], [2.0, 1.0, 1.5]], np.float32), device=device)
    weight.grad = None
    (tt.nn.functional.embedding(idx, weight, sparse=True) * up).sum().backward()
    assert weight.grad.is_sparse
    dense = np.zeros((4, 3))
    dense[0] = [3.0, -1.0, 2.0]
    dense[2] = [0.25, 3.0, -1.0]
    return dense


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("maximize", [False, True])
def test_adagrad_steps_sparse_gradients(device, maximize):
    """PyTorch's sparse Adagrad: the coalesced rows are updated as the dense formula says, other rows (and
    their sums) stay as they were."""
    w0 = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    weight = tt.tensor(w0, device=device, requires_grad=True)
    opt = Adagrad([weight], lr=0.1, lr_decay=0.5, initial_accumulator_value=0.1, maximize=maximize)
    expected, st = w0.astype(np.float64), {}
    for t in (1, 2):
        g = _embedding_grad(weight, device)
        opt.step()
        expected = adagrad_documented(expected, g, st, t, lr=0.1, lr_decay=0.5, initial_accumulator_value=0.1,
                                      maximize=maximize)
    out = weight.detach().cpu().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[[1, 3]], w0[[1, 3]])
    np.testing.assert_array_equal(opt.state[weight]["sum"].cpu().numpy()[[1, 3]], np.float32(0.1))


def test_adagrad_sparse_gradient_with_weight_decay_raises_before_any_update():
    other = tt.ones(2, requires_grad=True)
    weight = tt.ones(4, 3, requires_grad=True)
    opt = Adagrad([{"params": [other]}, {"params": [weight], "weight_decay": 0.1}])
    other.grad = tt.ones(2)
    _embedding_grad(weight, "cpu")
    with pytest.raises(RuntimeError, match="^weight_decay option is not compatible with sparse gradients$"):
        opt.step()
    np.testing.assert_array_equal(other.detach().numpy(), 1.0)
    np.testing.assert_array_equal(weight.detach().numpy(), 1.0)
    assert opt.state[other]["step"].item() == 0.0 and opt.state[weight]["step"].item() == 0.0


@pytest.mark.parametrize("cls", [RMSprop, Adadelta])
def test_dense_only_optimizers_refuse_sparse_gradients(cls):
    other = tt.ones(2, requires_grad=True)
    weight = tt.ones(4, 3, requires_grad=True)
    opt = cls([{"params": [other]}, {"params": [weight]}])  # nothing moves, not even the earlier group
    other.grad = tt.ones(2)
    _embedding_grad(weight, "cpu")
    with pytest.raises(RuntimeError, match=f"^{cls.__name__} does not support sparse gradients$"):
        opt.step()
    np.testing.assert_array_equal(other.detach().numpy(), 1.0)
    np.testing.assert_array_equal(weight.detach().numpy(), 1.0)
    assert len(opt.state) == 0


@pytest.mark.parametrize("cls", [Adagrad, RMSprop, Adadelta])
def test_step_returns_the_closure_loss_and_skips_params_without_grad(cls):
    w, frozen = tt.tensor([1.0, -2.0], requires_grad=True), tt.tensor([3.0], requires_grad=True)
    opt = cls([w, frozen], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 5.0
    assert opt.step() is None
    assert frozen.grad is None and frozen.detach().numpy()[0] == 3.0
    assert np.all(np.abs(w.detach().numpy()) < [1.0, 2.0])
