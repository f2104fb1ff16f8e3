"""Layers on cpu and interpreted cuda against NumPy, forward and backward; loss modules; and the vertical
slice: an MLP trained end to end (full-batch SGD) to a stated accuracy, with cpu and cuda agreeing step by step."""

import numpy as np
import pytest
from tritensor.kernels import loss as KL
from tritensor.kernels import softmax as KS

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, tol=1e-5):
    np.testing.assert_allclose(_np(got), np.asarray(want, np.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_linear_forward_backward(rng, device):
    layer = nn.Linear(5, 3, device=device)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,) and layer.weight.device.type == device
    w, b = _np(layer.weight), _np(layer.bias)
    a = rng.standard_normal((2, 4, 5)).astype(np.float32)  # extra leading dims broadcast
    x = tt.tensor(a, device=device, requires_grad=True)
    y = layer(x)
    _close(y, a @ w.T + b)
    g = rng.standard_normal((2, 4, 3)).astype(np.float32)
    y.backward(tt.tensor(g, device=device))
    _close(x.grad, g @ w)
    _close(layer.weight.grad, g.reshape(-1, 3).T @ a.reshape(-1, 5))
    _close(layer.bias.grad, g.reshape(-1, 3).sum(0))
    dtype = tt.float64 if device == "cpu" else tt.float16  # the Triton matmul has no fp64 path
    nobias = nn.Linear(5, 3, bias=False, device=device, dtype=dtype)
    assert nobias.weight.dtype is dtype and [n for n, _ in nobias.named_parameters()] == ["weight"]
    _close(nobias(x.to(dtype)), a.astype(dtype.np).astype(np.float64) @ _np(nobias.weight).T,
           1e-12 if device == "cpu" else 5e-3)


def test_linear_gradcheck(rng):
    layer = nn.Linear(3, 2).double()
    x = tt.tensor(rng.standard_normal((4, 3)), dtype=tt.float64, requires_grad=True)
    assert tt.autograd.gradcheck(lambda v, w, b: F.linear(v, w, b), (x, layer.weight, layer.bias))


@pytest.mark.parametrize("device", DEVICES)
def test_identity_flatten_unflatten(rng, device):
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    assert nn.Identity(7, key="ignored")(x) is x
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    _close(y, a.reshape(2, 60))
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    z = nn.Unflatten(1, (6, 10))(y)
    assert z.shape == (2, 6, 10)
    z.sum().backward()
    _close(x.grad, np.ones_like(a))
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, 6)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_module_train_and_eval(rng, device):
    layer = nn.Dropout(0.5)
    x = tt.tensor(rng.standard_normal((8, 16)).astype(np.float32), device=device, requires_grad=True)
    tt.manual_seed(1)
    y = layer(x)
    keep = _np(y) != 0
    _close(y, np.where(keep, _np(x) * 2, 0))
    y.sum().backward()
    _close(x.grad, keep * 2.0)
    layer.eval()
    assert layer(x) is x
    assert repr(nn.Dropout(0.1, inplace=True)) == "Dropout(p=0.1, inplace=True)"
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        nn.Dropout(-0.1)


@pytest.mark.parametrize("device", DEVICES)
def test_activation_modules(rng, device):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    sig = 1 / (1 + np.exp(-a))
    cases = [
        (nn.ReLU(), np.maximum(a, 0), "ReLU()"),
        (nn.GELU(approximate="tanh"), _np(F.gelu(tt.tensor(a), approximate="tanh")), "GELU(approximate='tanh')"),
        (nn.SiLU(), a * sig, "SiLU()"),
        (nn.Tanh(), np.tanh(a), "Tanh()"),
        (nn.Sigmoid(), sig, "Sigmoid()"),
        (nn.Softmax(dim=1), KS.softmax_ref(a, 1), "Softmax(dim=1)"),
        (nn.LogSoftmax(dim=0), KS.softmax_ref(a, 0, True), "LogSoftmax(dim=0)"),
        (nn.LeakyReLU(0.2), np.where(a > 0, a, 0.2 * a), "LeakyReLU(negative_slope=0.2)"),
        (nn.ELU(), np.where(a > 0, a, np.expm1(a)), "ELU(alpha=1.0)"),
        (nn.ReLU6(), np.clip(a, 0, 6), "ReLU6()"),
        (nn.Softplus(), np.log1p(np.exp(a)), "Softplus(beta=1.0, threshold=20.0)"),
        (nn.Mish(), a * np.tanh(np.log1p(np.exp(a))), "Mish()"),
    ]
    for module, want, text in cases:
        x = tt.tensor(a, device=device, requires_grad=True)
        y = module(x)
        _close(y, want)
        assert repr(module) == text
        y.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape
    x = tt.tensor(a, device=device)
    r = nn.ReLU(inplace=True)(x)
    assert r is x and (_np(x) >= 0).all() and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        nn.Softmax()(tt.ones(2, 3, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_loss_modules(rng, device):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.integers(0, 4, 6)
    w = (rng.random(4) + 0.5).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    target = tt.tensor(t, device=device)
    ce = nn.CrossEntropyLoss(weight=tt.tensor(w, device=device), label_smoothing=0.1, ignore_index=3)
    assert [n for n, _ in ce.named_buffers()] == ["weight"] and "weight" in ce.state_dict()
    _close(ce(x, target), KL.cross_entropy_ref(a, t, w, 3, "mean", 0.1))
    assert "weight" not in nn.CrossEntropyLoss().state_dict()
    nll = nn.NLLLoss(reduction="sum")
    _close(nll(x, target), KL.cross_entropy_ref(a, t, None, -100, "sum", nll=True))
    b = rng.standard_normal((6, 4)).astype(np.float32)
    y = tt.tensor(b, device=device)
    _close(nn.MSELoss()(x, y), ((a - b) ** 2).mean())
    _close(nn.L1Loss(reduction="none")(x, y), np.abs(a - b))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    ce(x, target).backward()
    assert x.grad.shape == (6, 4)


# ---------------------------------------------------------------- the vertical slice: training an MLP
def _blobs(n_per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-1.0, 1.8], [-1.0, -1.8]])
    x = np.concatenate([c + 0.6 * rng.standard_normal((n_per_class, 2)) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


def _mlp():
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 32), nn.GELU(),
                         nn.Linear(32, 3))


def _sgd_step(model, lr):
    with tt.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-lr)
    model.zero_grad()


def test_mlp_trains_to_high_accuracy_on_cpu():
    x_np, y_np = _blobs()
    x, y = tt.tensor(x_np), tt.tensor(y_np)
    tt.manual_seed(0)
    model = _mlp()
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        loss = loss_fn(model(x), y)
        first = loss.item() if first is None else first
        loss.backward()
        _sgd_step(model, 0.3)
    model.eval()
    with tt.no_grad():
        logits = model(x)
    accuracy = (_np(logits).argmax(1) == y_np).mean()
    assert loss.item() < first / 4 and accuracy >= 0.97


def test_mlp_training_steps_agree_on_cpu_and_cuda():
    """Same initial weights, data and dropout seed: the cuda path (Triton kernels) tracks the cpu path."""
    x_np, y_np = _blobs(8)
    tt.manual_seed(3)
    cpu_model = _mlp()
    cuda_model = _mlp().cuda()
    cuda_model.load_state_dict(cpu_model.state_dict())
    histories = []
    for model, device in ((cpu_model, "cpu"), (cuda_model, "cuda")):
        x, y = tt.tensor(x_np, device=device), tt.tensor(y_np, device=device)
        tt.manual_seed(42)  # the same dropout masks on both devices
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
            losses.append(loss.item())
            loss.backward()
            _sgd_step(model, 0.5)
        histories.append(losses)
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)
    assert histories[0][2] < histories[0][0]
    for (_name, p), q in zip(cpu_model.named_parameters(), cuda_model.parameters()):
        _close(q, _np(p), 1e-4)
