"""`tt.autograd.backward` and `tt.autograd.grad`: the user's arguments checked, then the engine run."""

from __future__ import annotations

import numpy as np

from ..creation import ones_like, zeros_like
from ..tensor import Tensor
from .engine import run_backward


def _as_list(x, what: str) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return list(x)
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


# (shape, NumPy dtype) -> a template of the implicit seed on cpu, copied per backward: a copy of a small array
# costs a fraction of np.ones (the templates are never handed out, so nothing can write to them).
_ONES: dict[tuple, np.ndarray] = {}


def implicit_grad(out: Tensor) -> Tensor:
    """The seed of a backward from scalar output `out` that got no gradient: ones, fresh (a hook, a custom backward
    or the leaf that takes it as .grad may write to it)."""
    if out.numel() != 1:
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    dtype = out.dtype
    if not dtype.is_floating_point:
        raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {dtype}")
    if out.device.type != "cpu":
        return ones_like(out)
    key = (out._shape, dtype.np)
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = np.ones(out._shape, dtype.np)
    return Tensor._fresh(one.copy(), dtype)


def _make_grads(outputs: list, grads: list) -> list:
    """grad_outputs with the implicit ones for scalar outputs filled in; shapes checked."""
    if not grads:
        grads = [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad_tensors/grad_outputs has {len(grads)} entries but there are {len(outputs)} "
                           "output tensors; they must match one to one")
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not isinstance(out, Tensor):
            raise TypeError(f"element {i} of tensors is a {type(out).__name__}, not a Tensor")
        if g is None:
            if not out._requires_grad:
                result.append(None)  # the engine reports that this output does not require grad
                continue
            g = implicit_grad(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients must be Tensors or None, got {type(g).__name__} at index {i}")
        elif g._shape != out._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {out.shape}.")
        elif g.dtype is not out.dtype:
            if not g.dtype.is_floating_point:
                raise RuntimeError(f"grad_output[{i}] must be a floating point tensor for an output of {out.dtype}, "
                                   f"got {g.dtype}")
            g = g.to(out.dtype)  # as PyTorch's engine does for every gradient it passes on
        result.append(g)
    return result


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaves) into the leaves' .grad (with `inputs`: into those tensors' .grad only)."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    outputs = _as_list(tensors, "tensors")
    grads = _make_grads(outputs, _as_list(grad_tensors, "grad_tensors"))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_list(inputs, "inputs")
        if len(inputs) == 0:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """The gradients of outputs with respect to inputs, returned (no .grad anywhere is touched)."""
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    if not ins:
        raise RuntimeError("grad requires non-empty inputs.")
    grads = _make_grads(outs, _as_list(grad_outputs, "grad_outputs"))
    if retain_graph is None:
        retain_graph = create_graph
    allow_unused = bool(allow_unused) or materialize_grads
    result = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False,
                          allow_unused=allow_unused)
    if materialize_grads:
        result = tuple(zeros_like(i) if g is None else g for g, i in zip(result, ins))
    return result
