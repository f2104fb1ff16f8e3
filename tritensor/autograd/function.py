"""Graph nodes: `Function` is both the base of every built-in op and PyTorch's custom autograd.Function.

An op's forward runs once; when any input requires grad (and grad mode is on) the instance that
ran it becomes the output's `grad_fn`, holding what `save_for_backward` kept and the edges to the
inputs' nodes (`next_functions`). Leaves get an `AccumulateGrad` node, created once per leaf.
"""

from __future__ import annotations

from .grad_mode import state

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward."
)


# tensor.py imports this module and then registers its Tensor class here (no import cycle at call time).
Tensor = None


class Node:
    """Base of graph nodes: edges to the nodes of the inputs, hooks, a name."""

    next_functions: tuple = ()
    _hooks = None  # {output_nr: [fn(grad) -> grad | None]} from Tensor.register_hook on non-leaves

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def register_prehook(self, output_nr: int, fn) -> None:
        if self._hooks is None:
            self._hooks = {}
        self._hooks.setdefault(output_nr, []).append(fn)


class AccumulateGrad(Node):
    """The node of a leaf tensor: sums incoming gradients into `variable.grad`."""

    __slots__ = ("variable", "_hooks")

    def __init__(self, variable):
        self.variable = variable
        self._hooks = None


class FunctionCtx:
    """What forward and backward share: saved tensors, needs_input_grad, non-differentiable outputs."""

    needs_input_grad: tuple = ()


class Function(Node, FunctionCtx):
    """Subclass with `forward(ctx, *args)` and `backward(ctx, *grads)` static methods, call `.apply`.

    Built-in ops set `differentiable_forward = False`: their forward launches kernels directly and
    needs no grad-mode switch. Their `backward` is written with tensor ops, so it is itself
    differentiable (create_graph=True); `backward_fused`, when an op has it, runs instead when no graph
    is requested.
    """

    differentiable_forward = True
    backward_fused = None
    _saved = None
    _saved_versions = None
    _freed = False
    _non_differentiable = None
    _materialize_grads = True
    _num_outputs = 1

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls.__new__(cls)
        record = False
        if state.enabled:
            for a in args:
                if type(a) is Tensor and a._requires_grad:
                    record = True
                    break
        if record:
            ctx.needs_input_grad = tuple([type(a) is Tensor and a._requires_grad for a in args])
        if cls.differentiable_forward and state.enabled:
            state.enabled = False
            try:
                out = cls.forward(ctx, *args, **kwargs)
            finally:
                state.enabled = True
        else:
            out = cls.forward(ctx, *args, **kwargs)
        if record:
            ctx.next_functions = tuple([a._edge() if type(a) is Tensor and a._requires_grad else (None, 0)
                                        for a in args])
            ctx._link_outputs(out)
        return out

    def name(self) -> str:
        suffix = "Backward" if self.differentiable_forward else "Backward0"
        return type(self).__name__ + suffix

    def _link_outputs(self, out) -> None:
        outputs = out if isinstance(out, tuple) else (out,)
        self._num_outputs = len(outputs)
        if len(outputs) > 1:
            self._output_meta = [None if t is None else (t.shape, t.dtype, t.device) for t in outputs]
        non_diff = self._non_differentiable
        for i, t in enumerate(outputs):
            if t is None or not hasattr(t, "_output_nr"):
                continue
            if non_diff is not None and id(t) in non_diff:
                continue
            if not t.dtype.is_floating_point:
                continue
            t.grad_fn = self
            t._output_nr = i
            t._requires_grad = True

    # -- the ctx API of PyTorch's custom functions
    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        saved = self._saved
        if saved is None:
            return ()
        for t, v in zip(saved, self._saved_versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type_name()} {list(t.shape)}] is at version {t._version}; expected "
                    f"version {v} instead. (Saved by {self.name()}.)"
                )
        return saved

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        for t in tensors:
            t._bump_version()

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = value

    def _free(self) -> None:
        self._saved = None
        self._freed = True
        self._release()

    def _release(self) -> None:
        """Drop op-specific saved state (built-in ops keep some values as attributes)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")
