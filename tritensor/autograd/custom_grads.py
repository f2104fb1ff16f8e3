"""The engine's checks of a custom autograd.Function's gradients: one per input, each of that input's shape (a
gradient that broadcasts to it is summed down, as PyTorch's engine does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tensor import Tensor

if TYPE_CHECKING:
    from .function import Function


def _expands_to(shape: tuple, target: tuple) -> bool:
    """Whether a tensor of `shape` broadcasts to exactly `target` (so a gradient of `target` sums back to it)."""
    if len(shape) > len(target):
        return False
    lead = len(target) - len(shape)
    return all(n == m or n == 1 for n, m in zip(shape, target[lead:]))


def _sum_to(grad, shape: tuple):
    """Sum a broadcast gradient back to an input's shape (the inverse of broadcasting)."""
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad._shape[i + lead] != 1)
    out = grad.sum(dims, keepdim=True) if dims else grad
    return out.reshape(shape) if out._shape != shape else out


def check_custom_grads(node: Function, result: tuple) -> tuple:
    """A custom backward's gradients (as the engine checks them) must match its inputs' shapes; broadcastable ones
    are summed down."""
    fixed = None
    for i, (g, shape) in enumerate(zip(result, node._input_shapes)):
        if g is None or shape is None:
            continue
        if type(g) is not Tensor:
            raise TypeError(f"function {node.name()} returned a gradient of type {type(g).__name__} at index {i}; "
                            "expected a Tensor or None")
        if g._shape != shape:
            if not _expands_to(shape, g._shape):
                raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(g._shape)} but expected shape compatible with {list(shape)}")
            if fixed is None:
                fixed = list(result)
            fixed[i] = _sum_to(g, shape)
    return result if fixed is None else tuple(fixed)
