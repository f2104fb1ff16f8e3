"""Lowering of the recurrent layers: `_rnn_layer` (one layer-direction of nn.RNN/LSTM/GRU) to ONNX's own
LSTM / GRU / RNN ops, one node per layer-direction, with PyTorch's gate order converted."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import GraphContext
from ..trace import Node
from ._common import unsupported
from .shape import size_formula

# PyTorch's gate blocks, in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h.
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _constant(g: GraphContext, t: Any, what: str, node: Node) -> np.ndarray:
    """A weight's values (the export folds weights in: a weight computed from the inputs is refused)."""
    name = g.values.get(id(t))
    if name is not None and name not in {i.name for i in g.initializers}:
        raise unsupported(node, f"with a {what} computed from the graph's inputs has no ONNX lowering")
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _gates(w: np.ndarray, order: list[int]) -> np.ndarray:
    """The gate blocks (rows) of a PyTorch weight or bias, in ONNX's order."""
    blocks = np.split(w, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _state(g: GraphContext, t: Any) -> str:
    """A (B, H) initial state as ONNX's (1, B, H); "" (ONNX's zeros) for a constant zero state, which keeps the
    batch dim dynamic when the layer made its own zeros."""
    if id(t) not in g.values and not np.any(t.detach().cpu().numpy()):
        return ""
    return g.op("Unsqueeze", [g.tensor(t), g.ints([0])])


def _time_major(g: GraphContext, x: Any, h0: Any, steps: int, node: Node) -> str:
    """Reshape's target taking the rows (T*B, In) to (T, B, In). T is the traced one unless the probe run (a
    dynamic axis) saw it move (rows / the initial state's batch); then B is read from a graph input and T is
    inferred."""
    if id(x) not in g.probe or id(h0) not in g.probe:
        return g.ints([steps, -1, x.shape[1]])
    (batch, _), (other_batch, _) = g.probe[id(h0)]
    if g.probe[id(x)][1][0] // other_batch == steps:
        return g.ints([steps, -1, x.shape[1]])
    formula = size_formula(g, list(g.probed_inputs), batch, other_batch)
    if formula is None:
        raise unsupported(node, "over a dynamic sequence length with a batch size no graph input holds")
    return g.op("Concat", [g.ints([-1]), formula, g.ints([x.shape[1]])], axis=0)


def _rnn_layer(g: GraphContext, a: dict[str, Any], node: Node) -> list[str]:
    """One layer-direction over time-major rows (T*B, In) -> (rows (T*B, H), h_n (B, H)[, c_n (B, H)])."""
    mode, x, h0, c0 = a["mode"], a["x"], a["h0"], a["c0"]
    sizes = [int(b) for b in a["batch_sizes"]]
    if a.get("w_hr") is not None:
        raise unsupported(node, "with proj_size > 0 (LSTM projections) has no ONNX lowering")
    if mode not in _ORDER:
        raise unsupported(node, f"in mode {mode!r} has no ONNX lowering")
    if not sizes or any(b != sizes[0] for b in sizes):
        raise unsupported(node, "over a packed sequence (unequal batch_sizes) has no ONNX lowering: pad the batch")
    order, steps, dtype = _ORDER[mode], len(sizes), x.dtype.np
    w_ih = _gates(_constant(g, a["w_ih"], "weight", node), order)
    w_hh = _gates(_constant(g, a["w_hh"], "weight", node), order)
    hidden = w_hh.shape[1]
    inputs = [g.op("Reshape", [g.tensor(x), _time_major(g, x, h0, steps, node)]),
              g.const(w_ih[None].astype(dtype)), g.const(w_hh[None].astype(dtype))]
    b_ih, b_hh = a.get("b_ih"), a.get("b_hh")
    if b_ih is not None or b_hh is not None:
        zero = np.zeros(w_ih.shape[0], dtype)
        parts = [zero if b is None else _gates(_constant(g, b, "bias", node), order) for b in (b_ih, b_hh)]
        inputs.append(g.const(np.concatenate(parts)[None].astype(dtype)))
    else:
        inputs.append("")
    inputs += ["", _state(g, h0)]  # no sequence_lens: every sequence runs all T steps
    attrs: dict[str, Any] = {"hidden_size": hidden, "direction": "reverse" if a["reverse"] else "forward"}
    if mode == "LSTM":
        inputs.append(_state(g, c0))
    elif mode == "GRU":
        attrs["linear_before_reset"] = 1  # PyTorch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    else:
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"]
    while inputs and inputs[-1] == "":
        inputs.pop()
    n_out = 3 if mode == "LSTM" else 2
    outs = g.op(_OP[mode], inputs, n_out=n_out, **attrs)
    y = g.op("Squeeze", [outs[0], g.ints([1])])  # (T, 1, B, H) -> (T, B, H)
    rows = g.op("Reshape", [y, g.ints([-1, hidden])])
    g.leading[rows] = steps
    states = [g.op("Squeeze", [s, g.ints([0])]) for s in outs[1:]]
    return [rows, *states]


LOWERINGS = {"_rnn_layer": _rnn_layer}
