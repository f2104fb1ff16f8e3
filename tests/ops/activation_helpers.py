"""The fused-activation tests' shared pieces (test_fused_linear.py, test_fused_conv.py): the activations an op
can fuse, each applied unfused with tritensor's own op, and its NumPy reference."""

import numpy as np

import tritensor as tt

F = tt.nn.functional
ACTS = ["relu", "gelu", "gelu_tanh", "silu"]


def apply_act(t, act: str):
    """The activation `act` as its own tritensor op (the unfused form the fused op must equal)."""
    if act == "relu":
        return F.relu(t)
    if act == "silu":
        return F.silu(t)
    return F.gelu(t, approximate="tanh" if act == "gelu_tanh" else "none")


def act_np(z, act: str):
    """NumPy reference of the activation `act` (float64 in, float64 out)."""
    from scipy.special import erf

    if act == "relu":
        return np.maximum(z, 0)
    if act == "gelu":
        return 0.5 * z * (1 + erf(z / np.sqrt(2)))
    if act == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    return z / (1 + np.exp(-z))
