"""nn padding layers against np.pad (constant, zeros, reflect, edge, wrap), their reprs, errors and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn

# PyTorch's layer kind -> np.pad's mode
_NP_MODE = {"Constant": "constant", "Zero": "constant", "Reflection": "reflect", "Replication": "edge",
            "Circular": "wrap"}


def _np_pad(x: np.ndarray, padding: tuple, mode: str, value: float = 0.0) -> np.ndarray:
    pairs = [(0, 0)] * (x.ndim - len(padding) // 2)
    pairs += [(padding[2 * k], padding[2 * k + 1]) for k in reversed(range(len(padding) // 2))]
    return np.pad(x, pairs, mode=mode, constant_values=value) if mode == "constant" else np.pad(x, pairs, mode=mode)


def _layer(kind: str, n: int, padding):
    cls = getattr(nn, f"{kind}Pad{n}d")
    return cls(padding, 2.5) if kind == "Constant" else cls(padding)


@pytest.mark.parametrize("kind", list(_NP_MODE))
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_padding_layers_match_numpy(kind, n, device):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, 3, *([4] * n))).astype(np.float32)
    padding = (1, 2, 2, 0, 0, 3)[: 2 * n]
    got = _layer(kind, n, padding)(tt.tensor(x, device=device)).cpu().numpy()
    want = _np_pad(x, padding, _NP_MODE[kind], 2.5 if kind == "Constant" else 0.0)
    np.testing.assert_array_equal(got, want)


def test_an_int_pads_every_side_and_reprs_are_pytorchs():
    assert nn.ReflectionPad2d(1).padding == (1, 1, 1, 1)
    assert nn.ReplicationPad3d(2).padding == (2,) * 6
    assert repr(nn.ZeroPad2d((1, 0, 2, 0))) == "ZeroPad2d((1, 0, 2, 0))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    assert repr(nn.ReflectionPad1d(1)) == "ReflectionPad1d((1, 1))"
    x = tt.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(nn.ZeroPad1d((-1, 1))(x).numpy(), [[[1, 2, 0], [4, 5, 0]]])  # a negative pad crops


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        nn.ReflectionPad1d(3)(tt.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(tt.zeros(4, 4))
    with pytest.raises(NotImplementedError, match="Only 2D, 3D, 4D, 5D padding"):
        nn.ReplicationPad2d(1)(tt.zeros(4, 4, 4, 4, 4, 4))


@pytest.mark.parametrize("kind", ["Reflection", "Replication", "Circular", "Constant"])
def test_padding_gradients(kind):
    x = tt.randn(1, 2, 4, 3, dtype=tt.float64, requires_grad=True)
    layer = _layer(kind, 2, (1, 2, 2, 1))
    assert tt.autograd.gradcheck(layer, (x,))


def test_module_paths_pytorch_scripts_name():
    # word_language_model passes these to torch.serialization.safe_globals by their torch.nn.modules paths
    from tritensor.nn.modules import activation, linear, rnn
    assert (rnn.LSTM, rnn.GRU, rnn.RNN, rnn.LSTMCell) == (nn.LSTM, nn.GRU, nn.RNN, nn.LSTMCell)
    assert activation.MultiheadAttention is nn.MultiheadAttention
    assert type(nn.MultiheadAttention(4, 2).out_proj) is linear.NonDynamicallyQuantizableLinear
