"""linear + activation as one op: `tt.nn.functional.linear(input, weight, bias, activation=...)` (the keyword is a
tritensor extension; without it this is ops/matmul.py's `linear`).

Forward: cuda runs one matmul launch whose epilogue adds the bias and applies the activation
(kernels/matmul_epilogue.py); when a gradient will be needed and the activation is not relu, the same
epilogue also stores the pre-activation z (STORE_Z), which act'(z) needs. cpu runs np.matmul with the bias
added in place, then the activation: relu in place, gelu/silu through the activation family's NumPy
references (so values equal F.gelu(F.linear(...)) on cpu exactly).

Backward (no graph requested): kernels/linear_act.py computes dz = grad * act'(saved) and the bias's column
sums in one pass (relu reads the saved output, the others the saved z), then dx = dz @ W and dW = dz^T @ x
are two matmul launches (on cpu, float32/float64: dz, its column sums and both products straight from NumPy).
With create_graph=True the tensor-op backward recomputes z from the saved inputs with differentiable ops, so
second derivatives are exact.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes as D
from ..autograd.function import Function
from ..grad_state import state as grad_state
from ..kernels import activations as KA
from ..kernels import linear_act as KL
from ..kernels import norm_rows as KN
from ..tensor import Tensor
from .linear import host_linear_grads, host_product
from .matmul import _cpu_batch_rows, _forward_cuda, _plain_cpu_rows, _product
from .matmul import linear as _linear

ACTIVATIONS = (None, "relu", "gelu", "gelu_tanh", "silu")
_CPU_REFS = {"gelu": lambda z: KA.gelu_ref(z), "gelu_tanh": lambda z: KA.gelu_ref(z, "tanh"), "silu": KA.silu_ref}
# dz = grad * act'(saved) on cpu: the activation family's own backward references (the unfused graph's numbers
# and speed; relu from the saved output).
_CPU_GRADS = {"relu": lambda g, y: KL.act_grad_ref(g, y, "relu"), "gelu": lambda g, z: KA.gelu_backward_ref(g, z)[0],
              "gelu_tanh": lambda g, z: KA.gelu_backward_ref(g, z, "tanh")[0],
              "silu": lambda g, z: KA.silu_backward_ref(g, z)[0]}


def activation_grad(grad: Tensor, saved: Tensor, activation: str, recompute) -> Tensor:
    """dz = grad * act'(z) in tensor ops (differentiable), for the backward of an op with a fused activation:
    relu from its saved output (its sign is the mask); the others from z = `recompute()`, the op's product
    recomputed inside the graph, so that second derivatives reach the op's inputs."""
    if activation == "relu":
        return grad * saved.sign()
    from . import activations as A

    if activation == "silu":
        return A._silu_derivative(grad, recompute())
    return A._gelu_derivative(grad, recompute(), "tanh" if activation == "gelu_tanh" else "none")


def fusion_enabled() -> bool:
    """False while tt.onnx.export traces a model: modules that would call a fused op (nn.Sequential's
    Linear + activation, GPT's residual add + LayerNorm) then make the unfused F.* calls the exporter lowers."""
    from .autocast import op_hook

    return op_hook.trace is None


def check_activation(activation) -> None:
    """ValueError unless `activation` is one of ACTIVATIONS."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear(): activation must be one of None, 'relu', 'gelu', 'gelu_tanh' or 'silu', "
                         f"got {activation!r}")


def apply_activation(t: Tensor, activation: str | None) -> Tensor:
    """F.relu / F.gelu / F.gelu(approximate='tanh') / F.silu of t: the unfused form of the activations."""
    from . import activations as A

    if activation is None:
        return t
    if activation == "relu":
        return A.relu(t)
    if activation == "silu":
        return A.silu(t)
    return A.gelu(t, approximate="tanh" if activation == "gelu_tanh" else "none")


class LinearActivation(Function):
    """act(x @ weight.T + bias) for x (M, K), weight (N, K), bias (N,) or None."""

    differentiable_forward = False
    _state_in_saved = True  # besides _saved: the activation's name and derivative_host (dropped by _release)
    derivative_host = None  # gelu's act'(z) from a cpu forward (a host array), until a backward uses it

    def _release(self) -> None:
        """Drop the kept derivative with the saved tensors."""
        self.derivative_host = None

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
        need = any(ctx.needs_input_grad)
        ctx.activation = activation
        keep_z = need and activation != "relu"
        if x.device.type == "cpu":
            y, z, ctx.derivative_host = _cpu_forward(x, weight, bias, activation, need)
        else:
            M, N = x._shape[0], weight._shape[0]
            z = Tensor._empty((M, N), x.dtype, x.device) if keep_z else None
            y = _forward_cuda(x, weight.t(), bias, None, 1, 0, activation, z)
        if need:
            ctx.save_for_backward(x, weight, bias, y if activation == "relu" else z)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias, saved = ctx.saved_tensors
        dz = activation_grad(grad, saved, ctx.activation, lambda: _linear(x, weight, bias))
        return _grads(ctx.needs_input_grad, dz, x, weight, dz.sum(0) if ctx.needs_input_grad[2] else None)

    def backward_fused(self, grad):
        x, weight, bias, saved = self.saved_tensors
        need = self.needs_input_grad
        M, N = grad._shape
        if x.device.type == "cpu":
            g, kept = grad._host(), self.derivative_host
            self.derivative_host = None  # used up (it becomes dz): a second backward recomputes z
            if kept is not None and g.shape == kept.shape:
                dzf = KA.gelu_backward_ref(g, None, derivative=kept)[0]
            else:
                # z was not saved where the forward kept the derivative: the same product again, the same bits
                z = saved if saved is not None else host_product(x._host(), weight._host().T, x.dtype, bias)
                dzf = _CPU_GRADS[self.activation](g, z._host())
            db = Tensor._wrap(np.add.reduce(dzf, axis=0).astype(bias.dtype.np, copy=False)) if need[2] else None
            if x.dtype is D.float32 or x.dtype is D.float64:  # dx = dz @ W, dW = dz^T @ x straight from NumPy
                return (*host_linear_grads(dzf, x, weight, x.dtype, need), db, None)
            dz = Tensor._wrap(dzf.astype(x.dtype.np, copy=False))
        else:
            dz = Tensor._empty((M, N), x.dtype, x.device)
            db = part = None
            if need[2]:
                rows = KL.partial_rows(M, N)
                db = Tensor._empty((N,), bias.dtype, x.device)
                part = db if rows == 1 else Tensor._empty((rows, N), D.float32, x.device)
            KL.act_grad(dz._dev(), grad._dev(), saved._dev(), None if part is None else part._dev(), self.activation)
            if part is not None and part is not db:
                KN.col_sum(db._dev(), part._dev())
        return _grads(need, dz, x, weight, db)


def _cpu_forward(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str, need: bool) -> tuple:
    """(act(x @ weight.T + bias), the pre-activation z or None, act'(z) or None) on the cpu. With `need` (a
    backward will run), exact gelu in fp32 computes act'(z) on the same passes as act(z) (what unary F.gelu keeps
    too): z is then not kept (None), and the backward's dz is one product instead of the erfc fit again. relu
    keeps neither (its backward reads the output)."""
    # The weight's transposed host view, not weight.t(): inside apply a view op would record a node.
    out = host_product(x._host(), weight._host().T, x.dtype, bias)
    if activation == "relu":
        arr = out._np
        np.maximum(arr, 0, out=arr)  # NaN passes through, as F.relu
        return out, None, None
    if need and activation == "gelu":
        y, kept = KA.gelu_derivative_ref(out._host())
        if kept is not None:
            return Tensor._wrap(y), None, kept
    return Tensor._wrap(_CPU_REFS[activation](out._host())), out, None


def _cpu_rows(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    """LinearActivation.apply(x, weight, bias, activation) for a call `_plain_cpu_rows` accepts, apply's steps
    written out (a model's forward makes this call per layer; apply's generic loops cost as much as a small
    layer's product)."""
    need = grad_state.enabled and (x._requires_grad or weight._requires_grad
                                   or (bias is not None and bias._requires_grad))
    y, z, kept = _cpu_forward(x, weight, bias, activation, need)
    if not need:
        return y
    node = LinearActivation._record_node((x, weight, bias, activation))
    node.activation = activation
    node.derivative_host = kept
    if activation == "relu":
        node.save_for_backward(x, weight, bias, y)
        node._alias_saved_outputs((y,))  # as apply's _link_outputs: the saved output becomes a detached alias
    else:
        node.save_for_backward(x, weight, bias, z)
    return node._link_result(y)


def _grads(need: tuple, dz: Tensor, x: Tensor, weight: Tensor, db: Tensor | None) -> tuple:
    """(dx, dW, db, None) from dz: dx = dz @ W, dW = dz^T @ x (each only where needed)."""
    gx = _product(dz, weight) if need[0] else None
    gw = _product(dz.mT, x) if need[1] else None
    return gx, gw, db, None


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None, *, activation: str | None = None) -> Tensor:
    """input @ weight.T + bias (nn.functional.linear); on cuda the bias is added in the matmul kernel's epilogue.

    activation (a tritensor extension, keyword-only): None, "relu", "gelu", "gelu_tanh" (gelu's tanh
    approximation) or "silu": the result as F.relu / F.gelu / F.silu of linear's would be, with the activation
    fused into the same matmul launch on cuda and its backward into one dz kernel; nn.Sequential(Linear, ReLU)
    uses it.

    >>> tt.nn.functional.linear(tt.tensor([[1.0, -2.0]]), tt.eye(2), activation="relu")
    tensor([[1., 0.]])
    """
    if activation is None:
        return _linear(input, weight, bias)
    if type(activation) is str and activation in _CPU_GRADS:  # (_plain_cpu_rows first: it checks the types)
        if _plain_cpu_rows(input, weight, bias) and input.dtype.is_floating_point:
            return _cpu_rows(input, weight, bias, activation)
        if _plain_cpu_rows(input, weight, bias, batch=True) and input.dtype.is_floating_point:
            # linear_activation's fold of the leading dims into rows and back, without its checks (these passed)
            out = _cpu_batch_rows(input, weight, bias, lambda x, w, b: _cpu_rows(x, w, b, activation))
            if out is not None:
                return out
    return linear_activation(input, weight, bias, activation)


def linear_activation(input: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    """act(input @ weight.T + bias): `linear(..., activation=...)`, fused where the op allows it (a 2-D weight,
    a (out_features,) bias or none, a floating dtype), else linear followed by the activation."""
    check_activation(activation)
    plain = _linear(input, weight, bias) if _unfusable(input, weight, bias) else None
    if plain is not None:
        return apply_activation(plain, activation)
    K, N = weight._shape[1], weight._shape[0]
    lead = input._shape[:-1]
    x = input.reshape(math.prod(lead), K) if input.ndim != 2 else input
    return LinearActivation.apply(x, weight, bias, activation).reshape(lead + (N,)) if input.ndim != 2 else \
        LinearActivation.apply(x, weight, bias, activation)


def _unfusable(input: Tensor, weight: Tensor, bias) -> bool:
    """True where linear's own checks or its non-matrix forms apply (errors are then raised by `linear`)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor) or input.ndim == 0 or weight.ndim != 2:
        return True
    if input.dtype is not weight.dtype or not input.dtype.is_floating_point or input.device != weight.device:
        return True
    if input._shape[-1] != weight._shape[1] or (input.device.type == "cuda" and input.dtype is D.float64):
        return True
    if bias is not None and (not isinstance(bias, Tensor) or bias._shape != (weight._shape[0],)
                             or bias.dtype is not input.dtype or bias.device != input.device):
        return True
    return False


__all__: list[str] = []
