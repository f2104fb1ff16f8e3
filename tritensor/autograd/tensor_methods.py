"""The Tensor methods of the autograd layer: backward, hooks, retain_grad, detach_, gradient accumulation into
leaves and a tensor's edges in the graph.

The Tensor sits below autograd and knows nothing of graph nodes; these methods are declared here, next to
the graph they work on, and bound with every op's methods (tritensor/ops/api.py).
"""

from __future__ import annotations

import sys

import numpy as np

from ..kernels.quiet_numpy import quiet_call
from ..tensor import RemovableHandle, Tensor
from . import function
from .differentiate import backward as autograd_backward
from .differentiate import implicit_grad
from .engine import run_backward


def _grad_node(self: Tensor):
    """The graph node gradients for this tensor flow into: its grad_fn, or its leaf accumulator (made once and
    kept by the leaf, so a graph recorded every step does not rebuild it: see AccumulateGrad)."""
    if self.grad_fn is not None:
        return self.grad_fn
    acc = self._grad_acc
    if acc is None:
        acc = self._grad_acc = function.AccumulateGrad(self)
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
    if gradient is None and inputs is None and self._requires_grad:
        # loss.backward(): what autograd.backward does for one output and its implicit seed, without its lists
        run_backward([self], [implicit_grad(self)], create_graph if retain_graph is None else retain_graph,
                     create_graph)
        return
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


def _accumulate_grad(self: Tensor, grad: Tensor, create_graph: bool, owned: bool = False) -> None:
    """AccumulateGrad: a leaf's .grad is the first gradient (a copy of it unless `owned`: the engine's only
    reference), summed in place afterwards (so a reference to .grad stays valid across backward calls); under
    create_graph the sum is out of place and keeps its graph, as in PyTorch."""
    if grad._shape != self._shape:
        raise RuntimeError(f"Function AccumulateGrad received an invalid gradient - got {list(grad._shape)} but "
                           f"expected shape compatible with {list(self._shape)}")
    if grad.dtype is not self.dtype:
        grad = grad.to(self.dtype)
    g = self._grad
    if g is None:
        if create_graph:
            self._grad = grad.clone()
        elif owned and _sole_cpu_array(grad):
            self._grad = grad  # as PyTorch steals a gradient no one else holds: no copy of every weight per step
        elif grad.device.type == "cpu":
            # The engine may hand one gradient to several leaves (a + b): each gets its own memory. A NumPy copy
            # makes no view of `grad` (detach would), so the last leaf may still take it as it is.
            self._grad = Tensor._wrap(grad._host().copy())
        else:
            self._grad = grad.detach().clone()
    elif create_graph or g._requires_grad:
        self._grad = g + grad
    elif g.device.type == "cpu" and g._stride is None and g._np is not None and g.dtype is grad.dtype:
        # .grad as the first accumulation made it (a fresh contiguous array): summed in place by NumPy
        quiet_call(np.add, g._np, grad._host(), g._np)  # into g._np (the ufunc's positional out), inf/NaN silently
        (g._storage or g._get_storage()).version += 1  # (g._bump_version(), inlined)
    else:
        g.add_(grad.detach())
    if self._post_acc_hooks:
        for hook in list(self._post_acc_hooks.values()):
            hook(self)

def _sole_cpu_array(t: Tensor) -> bool:
    """A cpu tensor whose memory nothing else can reach: no view of it exists (no storage made, no base), only
    the tensor holds its NumPy array, and where that array views another (a reshape of an op's result), only it
    holds that one, and so on down. (getrefcount counts its own argument, and `a` here.)"""
    a = t._np
    if (a is None or t.device.type != "cpu" or t._storage is not None or t._base is not None
            or t.grad_fn is not None or sys.getrefcount(a) != 3):
        return False
    while a.base is not None:
        if type(a.base) is not np.ndarray or sys.getrefcount(a.base) != 2:
            return False
        a = a.base
    return True


def _keep_for_graph(leaf: Tensor) -> None:
    """A leaf with hooks is kept alive by its graphs, as PyTorch's AccumulateGrad keeps its variable: the hooks
    run in backward even when the program has dropped the tensor itself."""
    if leaf._grad_acc is not None:
        leaf._grad_acc.keep = leaf


def register_hook(self: Tensor, hook) -> RemovableHandle:
    """hook(grad) -> Tensor or None, run once per backward with this tensor's summed gradient; a returned
    tensor replaces the gradient. Returns a handle whose remove() unregisters it."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        hooks = self.grad_fn._tensor_hooks(self._output_nr)
    else:
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks
        _keep_for_graph(self)
    key = next(function.hook_ids)
    hooks[key] = hook
    return RemovableHandle(lambda: hooks.pop(key, None))

def register_post_accumulate_grad_hook(self: Tensor, hook) -> RemovableHandle:
    """hook(tensor), run on a leaf after its .grad has been accumulated."""
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._post_acc_hooks is None:
        self._post_acc_hooks = {}
    hooks = self._post_acc_hooks
    _keep_for_graph(self)
    key = next(function.hook_ids)
    hooks[key] = hook
    return RemovableHandle(lambda: hooks.pop(key, None))


METHODS: dict = {"_grad_node": _grad_node, "_edge": _edge, "_accumulate_grad": _accumulate_grad,
                 "retain_grad": retain_grad, "register_hook": register_hook,
                 "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook, "backward": backward,
                 "detach_": detach_}
