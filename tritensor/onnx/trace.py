"""Recording a model's run for export: every public op call, seen at the one place ops are bound.

`tritensor.ops.autocast.autocast_op` wraps every `tt.*` function, Tensor method and `nn.functional` function as
it is bound, and hands each call to `op_hook.trace` while one is installed. `Tracer` is that hook: it runs the
op, and when the op is the outermost one (ops called inside another op are its implementation, not the
model's) and reads a tensor computed from the graph's inputs, appends a `Node`. Ops on constants only
(parameters, `arange`, ...) are not recorded: their results are constants of the exported graph.

Decomposition: an outermost op that has no lowering (`lowerable(name)` is False) is traced through instead:
the public ops it calls are recorded as if the model called them (and so on down, for a composite inside a
composite). The op itself is recorded (and then fails by name when lowered) only when none of its results
came out of recorded calls: a leaf op, or a composite whose result is computed outside the public ops.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..ops.autocast import op_hook
from ..tensor import Tensor

__all__ = ["Node", "Tracer", "tracing", "flat_tensors"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Node:
    """One recorded op call: its bound name ("F.<name>" for nn.functional), the function that ran (its
    signature binds `args`/`kwargs`), the outputs it returned and where the model called it."""

    op: str
    fn: Callable
    args: tuple
    kwargs: dict
    outputs: list[Tensor]
    where: str
    result: Any = field(default=None, repr=False)

    def bound_arguments(self) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied (a `*shape` parameter is a tuple)."""
        try:
            bound = inspect.signature(self.fn).bind(*self.args, **self.kwargs)
        except (TypeError, ValueError):  # no introspectable signature: positional order only
            return {f"arg{i}": v for i, v in enumerate(self.args)} | dict(self.kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)


def flat_tensors(value: Any) -> list[Tensor]:
    """The tensors in a value, in order, through (nested) tuples, lists and dict values."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flat_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in flat_tensors(v)]
    return []


def _caller(depth: int) -> str:
    """file:line of the first frame outside the tritensor package (the model's code), else the nearest one."""
    frame = sys._getframe(depth)
    first = frame
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep) or os.sep + "models" + os.sep in path:
            break
        frame = frame.f_back
    frame = frame or first
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


class Tracer:
    """The op hook that records a run: `nodes` in call order; `live` holds the ids of tensors computed from
    the graph inputs (a tensor recorded here stays referenced by its node, so its id is not reused)."""

    def __init__(self, inputs: list[Tensor], lowerable: Callable[[str], bool] = lambda name: True) -> None:
        self.nodes: list[Node] = []
        self.inputs = list(inputs)
        self.live: set[int] = {id(t) for t in inputs}
        self.lowerable = lowerable
        self.below: Callable | None = None  # the op hook installed before this one (a profiler), or None
        self._depth = 0

    def _invoke(self, name: str, call: Callable, args: tuple, kwargs: dict) -> Any:
        # An export inside a tt.profiler.profile still lets the profiler see every call.
        return call(*args, **kwargs) if self.below is None else self.below(name, call, args, kwargs)

    def __call__(self, name: str, call: Callable, args: tuple, kwargs: dict) -> Any:
        if self._depth:
            return self._invoke(name, call, args, kwargs)
        if not self.lowerable(name):
            return self._decompose(name, call, args, kwargs)
        self._depth += 1
        try:
            result = self._invoke(name, call, args, kwargs)
        finally:
            self._depth -= 1
        self._record(name, call, args, kwargs, result)
        return result

    def _decompose(self, name: str, call: Callable, args: tuple, kwargs: dict) -> Any:
        """Run an op without a lowering with the public ops it calls recorded in its place; record the op
        itself when its tensor results did not come out of those calls (a leaf, or an op computing them
        outside the public ops), so that the export fails naming it."""
        before = len(self.nodes)
        result = self._invoke(name, call, args, kwargs)
        outputs = flat_tensors(result)
        reads_live = any(id(t) in self.live for t in flat_tensors((args, kwargs)))
        if not outputs or (reads_live and (len(self.nodes) == before
                                           or not all(id(t) in self.live for t in outputs))):
            # no tensor result (x.size(0), x.tolist()): a constant of the trace, as in PyTorch's tracer
            for node in self.nodes[before:]:
                self.live.difference_update(id(t) for t in node.outputs)
            del self.nodes[before:]
            self._record(name, call, args, kwargs, result)
        return result

    def _record(self, name: str, call: Callable, args: tuple, kwargs: dict, result: Any) -> None:
        if any(id(t) in self.live for t in flat_tensors((args, kwargs))):
            outputs = flat_tensors(result)
            # A call with no tensor result (x.size(0), x.dim()) is a constant of the trace, as in PyTorch's
            # tracer; __setitem__ writes into a traced tensor, so it is recorded (and has no lowering).
            if outputs or name.endswith("__setitem__"):
                fn = getattr(call, "__wrapped__", call)
                self.nodes.append(Node(name, fn, args, dict(kwargs), outputs, _caller(3), result))
                self.live.update(id(t) for t in outputs)


@contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    """Install `tracer` as the op hook for the block, chained to the hook already installed (a profiler's);
    nested tracing is an error."""
    if isinstance(op_hook.trace, Tracer):
        raise RuntimeError("tt.onnx.export: a trace is already running")
    tracer.below = op_hook.install(tracer)
    try:
        yield tracer
    finally:
        op_hook.restore(tracer, tracer.below)
