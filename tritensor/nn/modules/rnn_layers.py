"""nn.RNN, nn.LSTM and nn.GRU: multi-layer, optionally bidirectional recurrent layers, as torch.nn.modules.rnn.

Each layer-direction is one autograd node of tritensor/ops/rnn.py: the input projection of all steps as one
matmul, then per step one hidden matmul and one fused gate kernel (kernels/rnn_gates.py); backward through
time is one gate-gradient kernel and one matmul per step, the weight gradients one matmul each at the end.
Parameters, their names and order, shapes, initialisation, argument checks and messages follow PyTorch.
A PackedSequence runs as it is packed (each step only over the sequences still running); padded input runs
every step at full batch.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ...creation import empty, zeros
from ...ops.api import _rnn_layer, cat, stack  # the bound ops (autocast, export tracing)
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_sizes(dropout, hidden_size, num_layers, proj_size) -> None:
    """PyTorch's constructor checks, in its order."""
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                         "being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                      f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                      stacklevel=3)
    if not isinstance(hidden_size, int):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


def _is_packed(input) -> bool:
    """A PackedSequence (nn.utils.rnn), recognised by its fields: nn.utils imports nn.modules, not the reverse."""
    return isinstance(input, tuple) and hasattr(input, "batch_sizes") and hasattr(input, "unsorted_indices")


def _apply_permutation(t: Tensor, permutation: Tensor) -> Tensor:
    return t.index_select(1, permutation)


class RNNBase(Module):
    """The parameters and the layer loop shared by RNN, LSTM and GRU (mode 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU').

    For each layer k and direction (suffix '' or '_reverse'): weight_ih_l{k} (G*H, input or H*dirs or P*dirs),
    weight_hh_l{k} (G*H, H or P), bias_ih_l{k}, bias_hh_l{k} (G*H,) when bias, weight_hr_l{k} (P, H) when
    proj_size > 0; all U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        _check_sizes(dropout, hidden_size, num_layers, proj_size)
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(dirs):
                layer_input = input_size if layer == 0 else real_hidden * dirs
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih_l{}{}", (gate_size, layer_input)), ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(empty(*shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer-direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op: the parameters are used as they are (cuDNN's single flat buffer does not exist here)."""

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        """input_size, hidden_size and every option that is not its default, as PyTorch."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- checks (PyTorch's, in its order)
    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """The input's dtype (the weights'), dimensions and feature size."""
        if input.dtype is not self._flat_weights[0].dtype:
            raise ValueError(f"input must have the type {self._flat_weights[0].dtype}, got type {input.dtype}")
        expected = 2 if batch_sizes is not None else 3
        if input.ndim != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.ndim}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:
        """(num_layers * directions, batch, proj_size or hidden_size)."""
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        dirs = 2 if self.bidirectional else 1
        return (self.num_layers * dirs, mini_batch, self.proj_size if self.proj_size > 0 else self.hidden_size)

    def check_hidden_size(self, hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, got {}") -> None:
        """hx's shape against `expected`, with PyTorch's message."""
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Tensor | None) -> None:
        """check_input, then the hidden state's shape."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Tensor | None) -> Tensor:
        """hx with its batch dim reordered by `permutation` (a packed batch's sorting)."""
        return hx if permutation is None else _apply_permutation(hx, permutation)

    # -- the layers
    def _run(self, input: Tensor, hx: Tensor, cx: Tensor | None, batch_sizes: Tensor | None) -> tuple:
        """(output, h_n, c_n or None) of the stacked layers; input time-major (T, B, In) or packed data (N, In)."""
        if batch_sizes is None:
            T, B = input.shape[0], input.shape[1]
            sizes = (B,) * T
            rows = input.reshape(T * B, input.shape[2])
        else:
            sizes = tuple(int(v) for v in batch_sizes.tolist())
            rows = input
        dirs = 2 if self.bidirectional else 1
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                params = dict(zip(self._all_weights[k], self.all_weights[k]))
                sfx = f"l{layer}" + ("_reverse" if d else "")
                res = _rnn_layer(self.mode, rows, hx[k], None if cx is None else cx[k], params[f"weight_ih_{sfx}"],
                                 params[f"weight_hh_{sfx}"], params.get(f"bias_ih_{sfx}"),
                                 params.get(f"bias_hh_{sfx}"), params.get(f"weight_hr_{sfx}"), d == 1, sizes)
                outs.append(res[0])
                hs.append(res[1])
                if cx is not None:
                    cs.append(res[2])
            rows = outs[0] if dirs == 1 else cat(outs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                rows = F.dropout(rows, self.dropout, True)
        out = rows if batch_sizes is not None else rows.reshape(T, B, rows.shape[1])
        return out, stack(hs, 0), stack(cs, 0) if cx is not None else None

    def _zeros(self, input: Tensor, batch: int, size: int) -> Tensor:
        dirs = 2 if self.bidirectional else 1
        return zeros(self.num_layers * dirs, batch, size, dtype=input.dtype, device=input.device)

    def _unpack(self, input, name: str, tensor_word: str):
        """(data, batch_sizes, sorted_indices, unsorted_indices, batched, batch_dim) with the input's dim
        checks; data is time-major for padded input."""
        if _is_packed(input):
            return input.data, input.batch_sizes, input.sorted_indices, input.unsorted_indices, True, None
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D {tensor_word}instead")
        batched = input.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        return input, None, None, None, batched, batch_dim

    def _time_major(self, input: Tensor, batch_sizes) -> Tensor:
        return input.transpose(0, 1) if batch_sizes is None and self.batch_first else input

    def _finish(self, orig, output: Tensor, batch_sizes, sorted_indices, unsorted_indices, batched: bool,
                batch_dim):
        """The output as the input came: a PackedSequence, batch_first, or unbatched."""
        if _is_packed(orig):
            return type(orig)(output, batch_sizes, sorted_indices, unsorted_indices)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output if batched else output.squeeze(batch_dim)


    def _forward_one_state(self, input, hx: Tensor | None, name: str, word: str):
        """RNN's and GRU's forward: one hidden state."""
        data, batch_sizes, sorted_idx, unsorted_idx, batched, batch_dim = self._unpack(input, name, word)
        if batch_sizes is None and hx is not None:
            if not batched and hx.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.ndim}-D tensor")
            if batched and hx.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.ndim}-D tensor")
            if not batched:
                hx = hx.unsqueeze(1)
        if hx is None:
            batch = int(batch_sizes[0]) if batch_sizes is not None else data.shape[0 if self.batch_first else 1]
            hx = self._zeros(data, batch, self.hidden_size)
        else:
            hx = self.permute_hidden(hx, sorted_idx)
        self.check_forward_args(data, hx, batch_sizes)
        output, hidden, _ = self._run(self._time_major(data, batch_sizes), hx, None, batch_sizes)
        output = self._finish(input, output, batch_sizes, sorted_idx, unsorted_idx, batched, batch_dim)
        if not _is_packed(input) and not batched:
            hidden = hidden.squeeze(1)
        return output, self.permute_hidden(hidden, unsorted_idx)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (nonlinearity='relu': relu).

    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, device=None, dtype=None); forward(input, hx=None) -> (output, h_n).
    """

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        """(output, h_n): output (L, N, D*H) (batch_first: (N, L, D*H); unbatched (L, D*H); or a
        PackedSequence), h_n (num_layers*D, N, H) ((num_layers*D, H) unbatched)."""
        return self._forward_one_state(input, hx, "RNN", "tensor ")


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n (in that order in the weights):
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)), h' = (1 - z) * n + z * h.

    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    device=None, dtype=None); forward(input, hx=None) -> (output, h_n).
    """

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        """(output, h_n): output (L, N, D*H) (batch_first: (N, L, D*H); unbatched (L, D*H); or a
        PackedSequence), h_n (num_layers*D, N, H) ((num_layers*D, H) unbatched)."""
        return self._forward_one_state(input, hx, "GRU", "input ")


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o (in that order in the weights): c' = f * c + i * g,
    h' = o * tanh(c') (with proj_size: h' = (o * tanh(c')) W_hr^T).

    LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    proj_size=0, device=None, dtype=None); forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n)).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:
        """(num_layers * directions, batch, hidden_size)."""
        size = self.get_expected_hidden_size(input, batch_sizes)
        return size[0], size[1], self.hidden_size

    def check_forward_args(self, input: Tensor, hidden: tuple, batch_sizes: Tensor | None) -> None:
        """check_input, then h_0's and c_0's shapes."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: tuple, permutation: Tensor | None) -> tuple:
        """(h, c) with their batch dim reordered by `permutation`."""
        if permutation is None:
            return hx
        return _apply_permutation(hx[0], permutation), _apply_permutation(hx[1], permutation)

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None):
        """(output, (h_n, c_n)): output (L, N, D*(P or H)) (batch_first, unbatched or PackedSequence as
        the input), h_n (num_layers*D, N, P or H), c_n (num_layers*D, N, H)."""
        data, batch_sizes, sorted_idx, unsorted_idx, batched, batch_dim = self._unpack(input, "LSTM", "input ")
        if batch_sizes is None and hx is not None:
            if batched and (hx[0].ndim != 3 or hx[1].ndim != 3):
                raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                   f"({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
            if not batched:
                if hx[0].ndim != 2 or hx[1].ndim != 2:
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                       f"({hx[0].ndim}-D, {hx[1].ndim}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        if hx is None:
            batch = int(batch_sizes[0]) if batch_sizes is not None else data.shape[0 if self.batch_first else 1]
            hx = (self._zeros(data, batch, self.proj_size if self.proj_size > 0 else self.hidden_size),
                  self._zeros(data, batch, self.hidden_size))
        else:
            hx = self.permute_hidden(hx, sorted_idx)
        self.check_forward_args(data, hx, batch_sizes)
        output, h_n, c_n = self._run(self._time_major(data, batch_sizes), hx[0], hx[1], batch_sizes)
        output = self._finish(input, output, batch_sizes, sorted_idx, unsorted_idx, batched, batch_dim)
        if not _is_packed(input) and not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return output, self.permute_hidden((h_n, c_n), unsorted_idx)
