"""nn.Sequential runs Linear + ReLU / GELU / SiLU as one fused F.linear(..., activation=) call, and GPT fuses each
residual add with the LayerNorm that reads it: same values and gradients as module-by-module, and no fusion where
hooks must see the intermediate result; state_dict and printing unchanged."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.models.gpt import GPT

nn = tt.nn


def _mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.GELU(approximate="tanh"), nn.Linear(8, 5),
                         nn.SiLU(), nn.Linear(5, 4), nn.GELU())


def _by_module(model, x):
    for m in model:
        x = m(x)
    return x


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_sequential_fuses_linear_activation(device):
    model = _mlp().to(device)
    x = tt.tensor(np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32), device=device)
    y = model(x)
    assert type(y.grad_fn).__name__ == "LinearActivation"  # the last pair ran fused
    want = _by_module(model, x)
    np.testing.assert_allclose(y.detach().cpu().numpy(), want.detach().cpu().numpy(), atol=1e-6)
    y.sum().backward()
    fused = [p.grad.cpu().numpy() for p in model.parameters()]
    model.zero_grad()
    want.sum().backward()
    for g, p in zip(fused, model.parameters()):
        np.testing.assert_allclose(g, p.grad.cpu().numpy(), atol=2e-5)


def test_hooks_keep_modules_apart():
    model = _mlp()
    x = tt.randn(2, 6)
    seen = []
    handle = model[1].register_forward_hook(lambda m, args, out: seen.append(out.detach().numpy().copy()))
    y = model(x)
    assert len(seen) == 1 and (seen[0] >= 0).all()  # the ReLU ran on its own and its hook saw its output
    np.testing.assert_allclose(y.detach().numpy(), _by_module(model, x).detach().numpy(), atol=1e-6)
    handle.remove()
    pre = model[2].register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    np.testing.assert_allclose(model(x).detach().numpy(), _by_module(model, x).detach().numpy(), atol=1e-6)
    pre.remove()


def test_state_dict_and_repr_unchanged():
    model = _mlp()
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "6.weight",
                                        "6.bias"]
    assert "(1): ReLU()" in repr(model) and "(3): GELU(approximate='tanh')" in repr(model)


class _Relu(nn.ReLU):
    def forward(self, input):
        return super().forward(input) * 2


def test_subclasses_are_not_fused():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), _Relu())
    x = tt.randn(2, 3)
    np.testing.assert_allclose(model(x).detach().numpy(), _by_module(model, x).detach().numpy(), atol=1e-6)
    assert type(model(x).grad_fn).__name__ != "LinearActivation"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_gpt_fused_residual_norm_matches_blockwise(device):
    tt.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16).to(device)
    idx = tt.randint(0, 11, (2, 8), device=device)
    y = model(idx)
    handle = model.blocks[0].register_forward_hook(lambda m, args, out: None)  # forces the block-by-block loop
    want = model(idx)
    np.testing.assert_allclose(y.detach().cpu().numpy(), want.detach().cpu().numpy(), atol=2e-5)
    y.square().mean().backward()
    fused = [p.grad.cpu().numpy() for p in model.parameters()]
    model.zero_grad()
    want.square().mean().backward()
    for g, p in zip(fused, model.parameters()):
        np.testing.assert_allclose(g, p.grad.cpu().numpy(), atol=2e-5)
    handle.remove()
    assert "blocks.0.ln2.weight" in model.state_dict() and "ln_f.bias" in model.state_dict()


def _cnn(padding_mode="zeros"):
    tt.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, stride=2, groups=4), nn.GELU(approximate="tanh"),
                         nn.Conv2d(4, 3, 1), nn.SiLU())


def _node_names(y):
    seen, todo = set(), [y.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and type(node).__name__ not in seen:
            seen.add(type(node).__name__)
            todo += [n for n, _ in node.next_functions]
    return seen


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_sequential_fuses_conv_activation(device):
    model = _cnn().to(device)
    x = tt.tensor(np.random.default_rng(0).standard_normal((2, 2, 7, 7)).astype(np.float32), device=device)
    y = model(x)
    assert "ConvActivation" in _node_names(y)
    want = _by_module(model, x)
    assert "ConvActivation" not in _node_names(want)
    np.testing.assert_allclose(y.detach().cpu().numpy(), want.detach().cpu().numpy(), atol=1e-6)
    y.square().sum().backward()
    fused = [p.grad.cpu().numpy() for p in model.parameters()]
    model.zero_grad()
    want.square().sum().backward()
    for g, p in zip(fused, model.parameters()):
        np.testing.assert_allclose(g, p.grad.cpu().numpy(), atol=2e-5)


def test_conv_fusion_rules():
    x = tt.randn(1, 2, 5, 5)
    reflect = _cnn("reflect")  # the first conv pads with F.pad first: it runs on its own
    assert "ConvActivation" in _node_names(reflect(x))  # the later pairs still fuse
    np.testing.assert_allclose(reflect(x).detach().numpy(), _by_module(reflect, x).detach().numpy(), atol=1e-6)
    only_first = nn.Sequential(reflect[0], reflect[1])
    assert "ConvActivation" not in _node_names(only_first(x))
    model = _cnn()
    seen = []
    model[0].register_forward_hook(lambda m, args, out: seen.append(out.detach().numpy().min()))
    y = model(x)
    assert len(seen) == 1 and seen[0] < 0  # the hooked conv ran on its own: its hook saw the pre-activation
    np.testing.assert_allclose(y.detach().numpy(), _by_module(model, x).detach().numpy(), atol=1e-6)


def test_conv_relu_one_forward_launch():
    from tritensor.kernels import tuning

    tt.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()).to("cuda")
    x = tt.randn(1, 3, 4, 4, device="cuda")
    seen = []

    def observe(record):
        seen.append(record.tunable.name)

    tuning.add_observer(observe)
    try:
        y = model(x)
    finally:
        tuning.remove_observer(observe)
    assert seen == ["conv.fwd"]  # bias and relu in the conv kernel's epilogue
    np.testing.assert_allclose(y.cpu().detach().numpy(), _by_module(model, x).cpu().detach().numpy(), atol=1e-6)
