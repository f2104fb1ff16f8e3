"""Conv*/ConvTranspose* modules: state_dict keys and shapes, init bounds, padding modes, repr, errors."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn


@pytest.mark.parametrize("cls,k", [(nn.Conv1d, 1), (nn.Conv2d, 2), (nn.Conv3d, 3)])
def test_conv_state_dict_and_init(cls, k):
    m = cls(4, 6, 3, groups=2)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert tuple(sd["weight"].shape) == (6, 2) + (3,) * k and tuple(sd["bias"].shape) == (6,)
    bound = 1 / math.sqrt(2 * 3 ** k)
    assert float(m.bias.abs().max()) <= bound and float(m.weight.abs().max()) <= bound
    assert list(cls(4, 6, 3, bias=False).state_dict()) == ["weight"]


@pytest.mark.parametrize("cls,k", [(nn.ConvTranspose1d, 1), (nn.ConvTranspose2d, 2), (nn.ConvTranspose3d, 3)])
def test_conv_transpose_state_dict(cls, k):
    m = cls(4, 6, 2, groups=2)
    assert tuple(m.weight.shape) == (4, 3) + (2,) * k and tuple(m.bias.shape) == (6,)
    x = tt.randn(1, 4, *(3,) * k)
    assert tuple(m(x).shape) == (1, 6) + (4,) * k


def test_repr():
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert (repr(nn.Conv1d(4, 8, 3, stride=2, padding=1, dilation=2, groups=4, bias=False, padding_mode="circular"))
            == "Conv1d(4, 8, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=4, bias=False, "
               "padding_mode=circular)")
    assert repr(nn.Conv2d(3, 4, 3, padding="same")) == "Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    assert (repr(nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1))
            == "ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes(mode):
    m = nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode)
    x = tt.randn(1, 2, 4, 5)
    want = tt.conv2d(tt.nn.functional.pad(x, (1, 1, 1, 1), mode=mode), m.weight, m.bias)
    np.testing.assert_allclose(m(x).detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_output_size():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = tt.randn(1, 2, 4, 4)
    assert tuple(m(x, output_size=[8, 8]).shape) == (1, 2, 8, 8)
    assert tuple(m(x).shape) == (1, 2, 7, 7)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(x, output_size=[10, 10])


def test_module_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="wrap")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
