"""RNNCell, LSTMCell and GRUCell, as torch.nn.modules.rnn lays them out (weight_ih, weight_hh, bias_ih, bias_hh).

One time step each: gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (one matmul each, the gates of all units),
then ONE fused gate kernel (tritensor/ops/rnn.py's cell step over kernels/rnn_gates.py) for the nonlinearities
and the state update, forward and backward. The multi-layer nn.RNN/LSTM/GRU (rnn_layers.py) use the same
parameter names and initialisation.
"""

from __future__ import annotations

import math

from ...creation import empty, zeros
from ...ops.api import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module
from .rnn_layers import GRU, LSTM, RNN, RNNBase  # noqa: F401 - also at torch.nn.modules.rnn's path

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """Parameters of a cell with `num_chunks` gates: weight_ih (chunks * hidden, input), weight_hh (chunks *
    hidden, hidden), bias_ih and bias_hh (chunks * hidden,), all U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(rows, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(rows, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(rows, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        """input_size, hidden_size, and bias / nonlinearity when not the defaults."""
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def _prepare(self, input: Tensor, hx: Tensor | None, name: str) -> tuple[Tensor, Tensor | None, bool]:
        """(batched input, batched hx or None, whether the input was unbatched), checking shapes as PyTorch."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if hx is not None and hx.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        if hx is not None:
            if hx.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden batch size "
                                   f"{hx.shape[0]}")
            if hx.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden has inconsistent hidden_size: got {hx.shape[1]}, expected "
                                   f"{self.hidden_size}")
        return input, hx, unbatched

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _zeros(self, input: Tensor) -> Tensor:
        return zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (nonlinearity='relu': relu instead of tanh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the next hidden state, (B, hidden) or (hidden,) for an unbatched input."""
        input, hx, unbatched = self._prepare(input, hx, "RNNCell")
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        h = cell(input, self._zeros(input) if hx is None else hx, *self._weights())
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """Gates i, f, g, o (in that order in the weights): c' = f * c + i * g, h' = o * tanh(c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One step: (h', c'), each (B, hidden) or (hidden,) for an unbatched input."""
        h0, c0 = (None, None) if hx is None else hx
        input, h0, unbatched = self._prepare(input, h0, "LSTMCell")
        if c0 is not None:
            c0 = c0.unsqueeze(0) if unbatched else c0
            if tuple(c0.shape) != (input.shape[0], self.hidden_size):
                raise RuntimeError(f"cell state has shape {tuple(c0.shape)}, expected "
                                   f"{(input.shape[0], self.hidden_size)}")
        h0 = self._zeros(input) if h0 is None else h0
        c0 = self._zeros(input) if c0 is None else c0
        h, c = lstm_cell(input, (h0, c0), *self._weights())
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """Gates r, z, n: n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the next hidden state, (B, hidden) or (hidden,) for an unbatched input."""
        input, hx, unbatched = self._prepare(input, hx, "GRUCell")
        h0 = self._zeros(input) if hx is None else hx
        h = gru_cell(input, h0, *self._weights())
        return h.squeeze(0) if unbatched else h
