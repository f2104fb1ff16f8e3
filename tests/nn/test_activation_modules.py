"""Activation modules (nn/modules/activation_extra.py): PyTorch's reprs, attributes, state_dict keys, train/eval."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn


def test_reprs():
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.RReLU()) == "RReLU(lower=0.125, upper=0.3333333333333333)"
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == "RReLU(lower=0.1, upper=0.3, inplace=True)"
    assert repr(nn.CELU()) == "CELU(alpha=1.0)"
    assert repr(nn.CELU(0.5, True)) == "CELU(alpha=0.5, inplace=True)"
    assert repr(nn.GLU()) == "GLU(dim=-1)"
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(nn.Softshrink(0.3)) == "Softshrink(0.3)"
    assert repr(nn.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20)"
    assert repr(nn.Threshold(0.1, 20, True)) == "Threshold(threshold=0.1, value=20, inplace=True)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Hardtanh(-2, 2, True)) == "Hardtanh(min_val=-2, max_val=2, inplace=True)"
    assert repr(nn.SELU()) == "SELU()" and repr(nn.SELU(True)) == "SELU(inplace=True)"
    assert repr(nn.Softmin(1)) == "Softmin(dim=1)"
    for cls in (nn.Softmax2d, nn.Tanhshrink, nn.Softsign, nn.LogSigmoid, nn.Hardsigmoid, nn.Hardswish):
        assert repr(cls()) == f"{cls.__name__}()"


def test_prelu_parameters_and_state_dict():
    m = nn.PReLU(3, init=0.1)
    assert list(m.state_dict()) == ["weight"] and m.weight.shape == (3,)
    np.testing.assert_allclose(m.weight.detach().numpy(), 0.1)
    assert m.num_parameters == 3 and m.init == 0.1
    x = tt.tensor(np.array([[-1.0, 2.0, -3.0]]), dtype=tt.float32)
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), [-1.0, 0.0, -3.0])
    assert nn.PReLU().weight.shape == (1,) and float(nn.PReLU().weight.item()) == 0.25


def test_rrelu_train_eval():
    m = nn.RReLU(0.1, 0.3)
    x = tt.full((200,), -1.0)
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -0.2, rtol=1e-6)
    m.train()
    y = m(x).numpy()
    assert (y >= -0.3).all() and (y <= -0.1).all() and np.std(y) > 0.01


def test_forward_values():
    x = tt.tensor([[-2.0, -0.5, 0.5, 2.0]])
    np.testing.assert_allclose(nn.Hardtanh(-1, 1)(x).numpy(), [[-1, -0.5, 0.5, 1]])
    np.testing.assert_allclose(nn.Threshold(0.0, -9.0)(x).numpy(), [[-9, -9, 0.5, 2]])
    np.testing.assert_allclose(nn.GLU()(x).numpy(), [[-2 / (1 + np.exp(-0.5)), -0.5 / (1 + np.exp(-2))]],
                               rtol=1e-6)
    np.testing.assert_allclose(nn.Softmin(1)(x).numpy(), np.exp(-x.numpy()) / np.exp(-x.numpy()).sum(), rtol=1e-6)
    np.testing.assert_allclose(nn.Softsign()(x).numpy(), x.numpy() / (1 + np.abs(x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(nn.CELU(2.0)(x).numpy(), np.where(x.numpy() > 0, x.numpy(),
                                                                   2 * np.expm1(x.numpy() / 2)), rtol=1e-6)
    y = nn.Softmax2d()(tt.randn(2, 3, 2, 2))
    np.testing.assert_allclose(y.sum(-3).numpy(), 1.0, rtol=1e-6)


def test_softmax2d_checks_dims():
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(tt.randn(2, 3))


def test_hardtanh_deprecated_names():
    with pytest.warns(FutureWarning, match="keyword argument `min_value` is deprecated and rename to `min_val`"):
        m = nn.Hardtanh(min_value=-2.0)
    assert m.min_val == -2.0
