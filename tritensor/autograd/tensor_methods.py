"""The Tensor methods of the autograd layer: backward, retain_grad, detach_ and the graph edges of a tensor.

The Tensor sits below autograd and knows nothing of graph nodes; these methods are declared here, next to
the graph they work on, and bound with every op's methods (tritensor/ops/api.py).
"""

from __future__ import annotations

import weakref

from ..tensor import Tensor
from . import function
from .differentiate import backward as autograd_backward


def _grad_node(self: Tensor):
    """The graph node gradients for this tensor flow into: its grad_fn, or its leaf accumulator."""
    if self.grad_fn is not None:
        return self.grad_fn
    acc = self._grad_acc() if self._grad_acc is not None else None
    if acc is None:
        acc = function.AccumulateGrad(self)
        self._grad_acc = weakref.ref(acc)
    return acc


def _edge(self: Tensor) -> tuple:
    if self.grad_fn is not None:
        return (self.grad_fn, self._output_nr)
    return (_grad_node(self), 0)


def retain_grad(self: Tensor) -> None:
    """Populate .grad for this non-leaf during backward (a no-op on leaves, which always do)."""
    if not self._requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is None or self._retains_grad:
        return
    self._retains_grad = True
    function.register_retain(self)


def backward(self: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradient of this tensor into the graph's leaves (see tt.autograd.backward)."""
    autograd_backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                      inputs=inputs)


def detach_(self: Tensor) -> Tensor:
    """Detach this tensor from its graph in place (it becomes a leaf that does not require grad)."""
    if self._base is not None and self.grad_fn is not None:
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    self.grad_fn = None
    self._requires_grad = False
    if self._retains_grad:
        self._retains_grad = False
        function.retaining.pop(id(self), None)
    return self


METHODS: dict = {"_grad_node": _grad_node, "_edge": _edge, "retain_grad": retain_grad, "backward": backward,
                 "detach_": detach_}
