"""Graph nodes: `Function` is both the base of every built-in op and PyTorch's custom autograd.Function.

An op's forward runs once; when any input requires grad (and grad mode is on) the instance that
ran it becomes the output's `grad_fn`, holding what `save_for_backward` kept and the edges to the
inputs' nodes (`next_functions`). Leaves get an `AccumulateGrad` node, created once per leaf and
kept by the leaf.

The graph has no reference cycles: nodes point to their inputs' nodes and to saved tensors, tensors
point to their grad_fn; a node that saves one of its own outputs keeps a detached alias of it (as
PyTorch's SavedVariable does), so dropping the outputs frees a whole graph by reference counting (a
leaf with hooks and its AccumulateGrad are the one cycle: see there).
"""

from __future__ import annotations

import functools
import itertools
import traceback
import weakref

import numpy as np

from ..grad_state import state
from ..tensor import RemovableHandle, Tensor
from ..view_meta import IN_CUSTOM_FUNCTION
from .grad_mode import no_grad

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward."
)
_INFERENCE_SAVE_MSG = ("Inference tensors cannot be saved for backward. To work around you can make a clone to get "
                       "a normal tensor and use it in autograd.")

# One edge per forward argument. A tensor that needs no gradient has no node; a non-tensor argument has no
# edge at all in `next_functions` (PyTorch lists tensor arguments only) but keeps its slot here, so that
# `backward`'s results line up with forward's arguments.
_NO_EDGE = (None, 0)
_NOT_TENSOR = (None, -1)
# needs_input_grad and the non-tensor edges of a two-tensor op with 0-2 trailing parameters, by
# [n_params][a requires grad][b requires grad]: built once, not per recorded node.
_PAIR_NEEDS = tuple(tuple(tuple((na, nb) + (False,) * n for nb in (False, True)) for na in (False, True))
                    for n in range(3))
_PAIR_PARAM_EDGES = tuple((_NOT_TENSOR,) * n for n in range(3))

# Per-node bookkeeping that never holds tensors (skipped when freeing a node's saved state).
_ENGINE_KEYS = frozenset(("_edges", "needs_input_grad", "_saved_versions", "_input_shapes", "_output_meta"))
# Attributes `_free` finds nothing to drop in, once `_saved` is None: a node holding only these has no walk to do.
_NOTHING_TO_FREE = _ENGINE_KEYS | {"_saved", "_saved_outputs", "_freed", "_num_outputs", "_materialize_grads"}


# Non-leaf tensors that asked for retain_grad(), by id. Resolved at backward time against each tensor's
# *current* grad_fn, so .grad follows the tensor through in-place ops, as in PyTorch.
retaining: dict[int, weakref.ref] = {}
# Keys of hooks registered on tensors and graph nodes.
hook_ids = itertools.count()


def register_retain(t) -> None:
    """Record that non-leaf `t` asked for retain_grad(); the entry goes away with the tensor."""
    key = id(t)
    retaining[key] = weakref.ref(t, lambda _ref, key=key: retaining.pop(key, None))


def _edge_of(a) -> tuple:
    """The edge a recorded node keeps for forward argument `a` (see _NO_EDGE, _NOT_TENSOR)."""
    if type(a) is not Tensor:
        return _NOT_TENSOR
    if not a._requires_grad:
        return _NO_EDGE
    fn = a.grad_fn
    return (fn, a._output_nr) if fn is not None else (a._grad_acc or a._grad_node(), 0)


class Node:
    """Base of graph nodes: edges to the nodes of the inputs, hooks, a name."""

    _edges: tuple = ()
    _num_outputs = 1
    _hooks = None  # {output_nr: {hook_id: fn(grad) -> grad | None}}: Tensor.register_hook on non-leaves
    _pre_hooks = None  # [fn(grad_outputs) -> grad_outputs | None]: Node.register_prehook
    _post_hooks = None  # [fn(grad_inputs, grad_outputs) -> grad_inputs | None]: Node.register_hook
    _trace = None  # the forward stack, recorded in anomaly mode
    # Whether the engine may run this node inline: a built-in op's node (see Function.__init_subclass__) with one
    # output that has never had a hook registered.
    _inline = False

    @property
    def next_functions(self) -> tuple:
        """((node, output_nr), ...) for each tensor input; node is None where that input needs no gradient."""
        return tuple([e for e in self._edges if e is not _NOT_TENSOR])

    def name(self) -> str:
        """The node's name as `grad_fn` prints it, e.g. 'MulBackward0'."""
        return type(self).__name__

    @property
    def metadata(self) -> dict:
        """A dict for the user's own annotations of this node; under anomaly mode it holds 'traceback_'."""
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self.__dict__["_metadata"] = {}
        if self._trace is not None:
            d.setdefault("traceback_", self._trace)
        return d

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def _tensor_hooks(self, output_nr: int) -> dict:
        self._inline = False
        if self._hooks is None:
            self._hooks = {}
        return self._hooks.setdefault(output_nr, {})

    def register_prehook(self, fn):
        """fn(grad_outputs) -> new grad_outputs or None, run before this node's backward."""
        if self._pre_hooks is None:
            self._pre_hooks = []
            self._inline = False
        hooks = self._pre_hooks
        hooks.append(fn)
        return RemovableHandle(lambda: hooks.remove(fn))

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) -> new grad_inputs or None, run after this node's backward."""
        if self._post_hooks is None:
            self._post_hooks = []
            self._inline = False
        hooks = self._post_hooks
        hooks.append(fn)
        return RemovableHandle(lambda: hooks.remove(fn))


class AccumulateGrad(Node):
    """The node of a leaf tensor: sums incoming gradients into `variable.grad`.

    The leaf holds its node for its whole life (one per leaf, not one per recorded graph); the node refers back
    weakly, so the two make no reference cycle. A leaf the program has dropped cannot have its .grad read, so
    backward skips it, unless it has hooks to run: then the node keeps it (`keep`, a cycle the garbage
    collector frees), as PyTorch's node keeps its variable.
    """

    keep = None

    def __init__(self, variable):
        self._variable = weakref.ref(variable)
        if variable._hooks or variable._post_acc_hooks:
            self.keep = variable

    @property
    def variable(self):
        """The leaf tensor this node accumulates into (None once the program has dropped a leaf without hooks)."""
        return self._variable()


class FunctionCtx:
    """What forward and backward share: saved tensors, needs_input_grad, non-differentiable outputs."""

    needs_input_grad: tuple = ()


class Function(Node, FunctionCtx):
    """Subclass with `forward(ctx, *args)` and `backward(ctx, *grads)` static methods, call `.apply`.

    Built-in ops set `differentiable_forward = False`: their forward launches kernels directly and
    needs no grad-mode switch. Their `backward` is written with tensor ops, so it is itself
    differentiable (create_graph=True); `backward_fused`, when an op has it, runs instead when no graph
    is requested. Custom functions (the default, `differentiable_forward = True`) run forward with grad
    mode off and get PyTorch's ctx API: save_for_backward, saved_tensors, needs_input_grad,
    mark_non_differentiable, mark_dirty, set_materialize_grads, and the optional setup_context.
    """

    differentiable_forward = True
    backward_fused = None
    _saved = None
    _saved_versions = None
    _saved_outputs = None  # {index in _saved: output_nr} for saved tensors that are this node's outputs
    _freed = False
    _freed_names = frozenset()
    _non_differentiable = None
    _dirty = None
    _materialize_grads = True
    _output_meta = None
    _input_shapes = None
    # True on a built-in op whose backward state is all in `_saved` (its other attributes hold no tensors or
    # arrays): `_free` then has no attributes to walk.
    _state_in_saved = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._inline = not cls.differentiable_forward  # a custom Function's node always takes the engine's full path

    @classmethod
    def apply(cls, *args, **kwargs):
        """Runs the Function on `args`, recording a graph node when grad mode is on and an input requires grad.

        Call it on the class (`MyFn.apply(x)`), never `forward` directly; returns forward's output(s).

        >>> class Double(tt.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         return grad * 2
        >>> x = tt.ones(2, requires_grad=True)
        >>> Double.apply(x).sum().backward(); x.grad
        tensor([2., 2.])
        """
        if cls.differentiable_forward:
            return cls._apply_custom(args, kwargs)
        ctx = cls()  # built-in ops define no __init__ (a custom Function's may take arguments: see _apply_custom)
        if state.enabled:
            for a in args:
                if type(a) is Tensor and a._requires_grad:
                    break
            else:
                return cls.forward(ctx, *args, **kwargs)
            ctx.needs_input_grad = tuple([type(a) is Tensor and a._requires_grad for a in args])
            out = cls.forward(ctx, *args, **kwargs)
            ctx._edges = tuple([_edge_of(a) for a in args])
            ctx._link_outputs(out)
            return out
        return cls.forward(ctx, *args, **kwargs)

    @classmethod
    def _pair_node(cls, a: Tensor, b: Tensor, n_params: int = 0) -> Function:
        """A node of this built-in op for forward arguments (a, b, and n_params non-tensors), a or b requiring
        grad, wired to their nodes: what `apply` records, for an op's hot path that computes its result itself.
        The op sets what its backward reads, then links its one floating-point result with `_link_result`."""
        node = cls()  # built-ins have no __init__: the type's own call is the cheapest way to make an instance
        need_a, need_b = a._requires_grad, b._requires_grad
        node.needs_input_grad = _PAIR_NEEDS[n_params][need_a][need_b]
        node._edges = (_edge_of(a), _edge_of(b)) + _PAIR_PARAM_EDGES[n_params]
        return node

    @classmethod
    def _record_node(cls, args: tuple) -> Function:
        """A node of this built-in op for forward arguments `args`, wired as `apply` wires it (needs_input_grad,
        edges): for an op's hot path that computes its result itself while recording. The op sets what its
        backward reads, then links its result with `_link_result`."""
        node = cls()
        node.needs_input_grad = tuple([type(a) is Tensor and a._requires_grad for a in args])
        node._edges = tuple([_edge_of(a) for a in args])
        return node

    @classmethod
    def _scalar_node(cls, a: Tensor, n_params: int = 0) -> Function:
        """`_pair_node` for (a, a Python scalar, n_params non-tensors), a requiring grad: the scalar's edge is the
        one the general path's 0-d operand tensor (which needs no grad) gets."""
        node = cls()
        node.needs_input_grad = _PAIR_NEEDS[n_params][True][False]
        node._edges = (_edge_of(a), _NO_EDGE) + _PAIR_PARAM_EDGES[n_params]
        return node

    def _link_result(self, out: Tensor) -> Tensor:
        """Make this node the grad_fn of `out`, the op's only output, fresh and floating point (no saved tensors)."""
        if state.anomaly:
            self._trace = traceback.format_stack()[:-2]
        out.grad_fn = self
        out._requires_grad = True
        return out

    @classmethod
    def _apply_custom(cls, args: tuple, kwargs: dict):
        """apply() for user-defined Functions: forward without grad mode, then the outputs are wired up."""
        ctx = cls.__new__(cls)
        needs = tuple([type(a) is Tensor and a._requires_grad for a in args])
        record = state.enabled and True in needs
        ctx.needs_input_grad = needs if state.enabled else (False,) * len(args)
        setup = cls.setup_context is not Function.setup_context
        prev = state.enabled
        state.enabled = False
        try:
            if setup:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            state.enabled = prev
        dirty = ctx._dirty
        if dirty:
            for t in dirty:
                if record and t._requires_grad and t.grad_fn is None:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
                t._bump_version()
                t._output_nr = 0  # set again below when it is not the first output
        if not record:
            _mark_views(out, dirty, args)
            return out
        out = ctx._alias_returned_inputs(out, args)
        ctx._edges = tuple([_edge_of(a) for a in args])
        ctx._input_shapes = tuple([a._shape if type(a) is Tensor else None for a in args])
        ctx._link_outputs(out)
        _mark_views(out, dirty, ())
        if ctx._saved is not None and dirty:
            # PyTorch records saved versions after forward, once dirty inputs have been bumped.
            ctx._saved_versions = tuple([None if t is None else t._version for t in ctx._saved])
        return out

    def _alias_returned_inputs(self, out, args: tuple):
        """An input returned unchanged (and not marked dirty) comes back as a new tensor sharing its memory,
        so that the input itself keeps its own history (PyTorch returns input.view_as(input))."""
        single = not isinstance(out, tuple)
        outputs = (out,) if single else out
        dirty = self._dirty or ()
        replaced = None
        for i, t in enumerate(outputs):
            if type(t) is not Tensor or any(t is d for d in dirty):
                continue
            if any(t is a for a in args):
                alias = t.detach()
                alias._base = t if t._base is None else t._base
                if self._non_differentiable is not None and id(t) in self._non_differentiable:
                    self._non_differentiable.add(id(alias))
                if replaced is None:
                    replaced = list(outputs)
                replaced[i] = alias
        if replaced is None:
            return out
        return replaced[0] if single else tuple(replaced)

    def name(self) -> str:
        """The grad_fn name: '<Class>Backward' for custom Functions, PyTorch's '<Op>Backward0' for built-in ops."""
        if self.differentiable_forward:  # a user's custom Function: PyTorch appends "Backward"
            return type(self).__name__ + "Backward"
        # A built-in op whose name is also a public class (nn.Softmax) is called SoftmaxFunction; its grad_fn
        # is still PyTorch's SoftmaxBackward0.
        return type(self).__name__.removesuffix("Function") + "Backward0"

    def _link_outputs(self, out) -> None:
        if state.anomaly:
            self._trace = traceback.format_stack()[:-2]
        if type(out) is Tensor and self._non_differentiable is None:
            if self._saved is not None:
                self._alias_saved_outputs((out,))
            if out.dtype.is_floating_point or out.dtype.is_complex:
                out.grad_fn = self
                out._requires_grad = True
            return
        outputs = out if isinstance(out, tuple) else (out,)
        self._num_outputs = len(outputs)
        if len(outputs) != 1:
            self._inline = False
        if len(outputs) > 1:
            self._output_meta = [(t._shape, t.dtype, t.device) if type(t) is Tensor else None for t in outputs]
        if self._saved is not None:
            self._alias_saved_outputs(outputs)
        non_diff = self._non_differentiable
        for i, t in enumerate(outputs):
            if type(t) is not Tensor:
                continue
            if (non_diff is not None and id(t) in non_diff) or not (t.dtype.is_floating_point or t.dtype.is_complex):
                if t.grad_fn is not None and any(t is d for d in (self._dirty or ())):
                    t.grad_fn = None
                    t._requires_grad = False
                continue
            t.grad_fn = self
            t._output_nr = i
            t._requires_grad = True

    def _alias_saved_outputs(self, outputs: tuple) -> None:
        """A saved tensor that is also an output would make output -> node -> output a cycle: keep a detached
        alias instead (same memory and version counter) and rebuild the output-with-history on unpack."""
        saved = self._saved
        found = None
        for k, s in enumerate(saved):
            if s is None:
                continue
            for i, o in enumerate(outputs):
                if s is o:
                    if found is None:
                        found = {}
                        saved = list(saved)
                    found[k] = i
                    saved[k] = o.detach()
                    break
        if found is not None:
            self._saved = tuple(saved)
            self._saved_outputs = found

    # -- the ctx API of PyTorch's custom functions
    def save_for_backward(self, *tensors) -> None:
        """Saves tensors (or None) for backward, read back through `ctx.saved_tensors`.

        Their version counters are recorded: modifying one in place before backward makes backward raise.
        """
        needs = self.needs_input_grad
        if not needs:
            return  # a built-in op that is not recording: nothing will ever run its backward
        recording = True in needs
        versions = []
        for i, t in enumerate(tensors):
            if t is None:
                versions.append(None)
                continue
            if type(t) is not Tensor:
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
            if t._inference and recording:
                raise RuntimeError(_INFERENCE_SAVE_MSG)
            versions.append(t._version)
        self._saved = tensors
        self._saved_versions = tuple(versions)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to `save_for_backward`, after checking none was modified in place since.

        Raises RuntimeError if the graph was already freed by a backward without `retain_graph=True`.
        """
        saved = self._saved_values()
        if self._saved_outputs is not None:
            saved = list(saved)
            for k, nr in self._saved_outputs.items():
                alias = saved[k].detach()
                alias.grad_fn, alias._output_nr, alias._requires_grad = self, nr, True
                saved[k] = alias
            saved = tuple(saved)
        return saved

    def _saved_values(self) -> tuple:
        """`saved_tensors` with its checks, a saved output left as its detached alias (same memory and version, no
        history): for a built-in op's backward_fused, which reads the values only and records no graph."""
        saved = self._saved
        if saved is None:
            if self._freed:
                raise RuntimeError(_FREED_MSG)
            return ()
        for t, v in zip(saved, self._saved_versions):
            # (t._version, inlined: a tensor without a Storage has had no in-place write)
            if t is not None and (0 if t._storage is None else t._storage.version) != v:
                origin = ""
                if t.grad_fn is not None:
                    origin = f", which is output {t._output_nr} of {t.grad_fn.name()},"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type_name()} {list(t.shape)}]{origin} is at version {t._version}; expected "
                    f"version {v} instead. Hint: enable anomaly detection to find the operation that failed to "
                    "compute its gradient, with tt.autograd.set_detect_anomaly(True). "
                    f"(Saved by {self.name()}.)"
                )
        return saved

    @property
    def saved_variables(self) -> tuple:
        """Deprecated alias of `saved_tensors`."""
        return self.saved_tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Marks outputs that have no gradient (e.g. indices): they do not require grad."""
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        """Marks inputs that forward modified in place (and returns), so autograd rebases their history."""
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether None output gradients reach backward as zero tensors (True, the default) or as None."""
        self._materialize_grads = value

    def _free(self) -> None:
        """Drop what backward needed (saved tensors, and tensors or host arrays kept as plain ctx attributes, alone
        or in a tuple or list); the edges stay, so the graph's structure can still be inspected."""
        if self._saved is not None:
            self._saved = None
            self._freed = True
        if self._state_in_saved:
            self._release()
            return
        d = self.__dict__
        if d.keys() <= _NOTHING_TO_FREE:
            self._release()
            return
        dropped = None
        for k, v in d.items():
            kind = type(v)
            if kind is not Tensor and kind is not np.ndarray:
                if (kind is not tuple and kind is not list) or k in _ENGINE_KEYS:
                    continue
                for x in v:
                    if type(x) is Tensor or type(x) is np.ndarray:
                        break
                else:
                    continue
            if dropped is None:
                dropped = []
            dropped.append(k)
        if dropped:
            for k in dropped:
                del d[k]
            self._freed = True
            self._freed_names = frozenset(dropped)
        self._release()

    def _release(self) -> None:
        """Drop op-specific saved state (built-in ops keep some values as attributes)."""

    def __getattr__(self, name: str):
        if name in self._freed_names:
            raise RuntimeError(_FREED_MSG)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Computes the outputs from `args`; a custom Function overrides it (static method).

        Its signature is `forward(ctx, *args)`, or `forward(*args)` when `setup_context` is defined.
        """
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output):
        """Optional: `setup_context(ctx, inputs, output)` saves what backward needs, separately from forward."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Given the gradient of each output, returns the gradient of each forward input (None where none).

        A custom Function overrides it (static method): `backward(ctx, *grad_outputs)`.
        """
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")


def _mark_views(out, dirty, args: tuple) -> None:
    """A custom Function's outputs that are views (an input returned as-is included) refuse in-place writes while
    autograd records (PyTorch's IN_CUSTOM_FUNCTION, view_meta.py): CopySlices would bypass the custom backward.
    Inputs it modified (mark_dirty) and, when nothing was recorded, inputs returned themselves keep their own."""
    for t in out if isinstance(out, tuple) else (out,):
        if type(t) is Tensor and t._base is not None and not any(t is d for d in dirty or ()) \
                and not any(t is a for a in args):
            t._creation_meta = IN_CUSTOM_FUNCTION


class _DelayedError(Function):
    """Stands in the graph for a once_differentiable backward's outputs: differentiating it again raises."""

    differentiable_forward = False

    def name(self) -> str:
        return "DelayedError"

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")


def once_differentiable(fn):
    """Decorator for a custom Function's backward that is not itself differentiable: it runs without recording,
    and a create_graph backward that tries to differentiate through it later raises."""

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        with no_grad():
            outputs = fn(ctx, *grads)
        if not state.enabled:
            return outputs
        # PyTorch looks at the incoming gradients only; a saved tensor that requires grad also means the result
        # depends on something differentiable, so that case is caught too.
        if not any(type(g) is Tensor and g._requires_grad for g in (*grads, *(ctx._saved or ()))):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        node = _DelayedError.__new__(_DelayedError)
        node.needs_input_grad = tuple([type(g) is Tensor and g._requires_grad for g in grads])
        node._edges = tuple([_edge_of(g) for g in grads])
        wrapped = tuple([o.detach() if type(o) is Tensor and (o.dtype.is_floating_point or o.dtype.is_complex) else o
                         for o in outs])
        node._link_outputs(wrapped)
        return wrapped[0] if single else wrapped

    return wrapper
