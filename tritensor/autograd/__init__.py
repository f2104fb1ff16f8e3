"""tt.autograd: backward, grad, Function, grad modes."""

from __future__ import annotations

from collections.abc import Sequence

from .engine import run_backward
from .function import Function, FunctionCtx
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


def _as_list(x) -> list:
    if x is None:
        return []
    from ..tensor import Tensor

    return [x] if isinstance(x, Tensor) else list(x)


def _default_grads(outputs: list, grads: list | None, create_graph: bool) -> list:
    from ..creation import ones_like

    if grads is None or len(grads) == 0:
        grads = [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got {len(grads)} gradients "
                           f"for {len(outputs)} outputs")
    result = []
    for out, g in zip(outputs, grads):
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                   f"{out.dtype}")
            g = ones_like(out)
        elif g._shape != out._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(g.shape)} and output[0] "
                               f"has a shape of {tuple(out.shape)}.")
        result.append(g)
    return result


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs=None) -> None:
    """Accumulate d(tensors)/d(leaves) into the leaves' .grad."""
    outputs = _as_list(tensors)
    grads = _default_grads(outputs, _as_list(grad_tensors) or None, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_list(inputs) if inputs is not None else None
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """The gradients of outputs with respect to inputs, returned instead of accumulated into .grad."""
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    grads = _default_grads(outs, _as_list(grad_outputs) or None, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    allow_unused = bool(allow_unused) or materialize_grads
    result = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False,
                          allow_unused=allow_unused)
    if materialize_grads:
        from ..creation import zeros_like

        result = tuple(zeros_like(i) if g is None else g for g, i in zip(result, ins))
    return result


__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "Sequence"]
