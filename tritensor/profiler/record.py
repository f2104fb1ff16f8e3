"""The recorder: what runs while a profile records, at the three points every piece of work passes.

- Op calls: `tritensor.ops.autocast.autocast_op` binds every `tt.*` function, Tensor method and
  `nn.functional` function through one wrapper, which hands each call to `op_hook.trace` while a hook is
  installed. The recorder installs `Recorder.op` there (chaining to a hook already installed, such as an
  export trace), so every public op call is an event, an op called inside another op included (nested
  under it). Names: "tt.<name>" for `tt.*` functions and Tensor methods, under the name the function was
  first bound by (one function serves both: `a + b`, `a.add(b)` and `tt.add(a, b)` are all "tt.add"),
  "tt.<namespace>.<name>" for `tt.linalg` and the like, "F.<name>" for nn.functional.
- Backward: the autograd engine hands every node it runs to `engine.node_observer.fn`, recorded as PyTorch's
  "autograd::engine::evaluate_function: <node name>" (e.g. MmBackward0, AccumulateGrad).
- Kernel launches (CUDA activity): every launch goes through `tritensor.kernels.tuning.launch`, which tells its
  observers before it runs the kernel; each launch is a "kernel" event named by its Tunable
  ("reduction.reduce"), with the bytes and FLOPs its cost model gives. A kernel's end is the next point the
  recorder sees (the next launch, op call or op end): under the interpreter that is host time, on a GPU a
  pair of CUDA events around it (see device_time).

Memory (profile_memory): an op's CUDA memory is the change of `tt.cuda.memory_allocated()` across the call
(its self part: less its children's); its CPU memory is the size of the cpu tensors it returns (a view at its
own size), its self part those not returned by one of its children (a NumPy reference allocates outside any
allocator the profiler could ask).
"""

from __future__ import annotations

import os
import sys
import threading
import time

from ..autograd import engine
from ..kernels import tuning
from ..ops.autocast import op_hook
from ..tensor import Tensor
from .device_time import KernelClock
from .events import FunctionEvent, Interval
from .kinds import CPU_OP, KERNEL, USER_ANNOTATION

__all__ = ["Recorder", "Options", "current"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NAMES: dict[str, str] = {}
current = None  # the Recorder of the profile that is recording, or None


class Options:
    """What a recording captures (the profile's arguments)."""

    __slots__ = ("cpu", "cuda", "record_shapes", "profile_memory", "with_stack", "with_flops")

    def __init__(self, cpu: bool, cuda: bool, record_shapes: bool, profile_memory: bool, with_stack: bool,
                 with_flops: bool) -> None:
        self.cpu, self.cuda, self.record_shapes = cpu, cuda, record_shapes
        self.profile_memory, self.with_stack, self.with_flops = profile_memory, with_stack, with_flops


def op_key(name: str) -> str:
    """The event name of a bound op: "tt.add", "tt.linalg.solve", "F.linear"."""
    key = _NAMES.get(name)
    if key is None:
        key = _NAMES[name] = name if name.startswith("F.") else "tt." + name
    return key


def _shape_of(value):
    if isinstance(value, Tensor):
        return list(value._shape), value.dtype.name
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
        return [list(v._shape) for v in value], [v.dtype.name for v in value]
    return [], ""


def _tensors(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _user_stack() -> list[str]:
    """The calling frames outside the tritensor package, innermost first, as "file(line): function"."""
    frames, frame = [], sys._getframe(3)
    while frame is not None and len(frames) < 16:
        path = frame.f_code.co_filename
        if not os.path.abspath(path).startswith(_PACKAGE_DIR):
            frames.append(f"{path}({frame.f_lineno}): {frame.f_code.co_name}")
        frame = frame.f_back
    return frames


class Recorder:
    """The events of one trace, and the hooks that make them (`install` / `uninstall`)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.events: list[FunctionEvent] = []
        self.open: list[tuple] = []  # (event, cuda bytes allocated at its start), innermost last
        self.kernel = None  # the launch whose end is the next point the recorder sees
        self.timed: list[tuple] = []  # (kernel event, start mark, end mark)
        self.origin = time.perf_counter_ns()
        self.clock = KernelClock() if options.cuda else None
        self.track_cuda_memory = options.profile_memory and options.cuda
        self.device_index = 0
        self._chained = None
        self._hooks = (None, None)
        self._installed = False

    # ------------------------------------------------------------------ installing
    def install(self) -> None:
        """Start seeing op calls and backward nodes (CPU activity) and kernel launches (CUDA activity)."""
        global current
        if self.options.cuda:
            self.device_index = _current_device()
            tuning.add_observer(self.launch)
        if self.options.cpu:
            self._hooks = (self.op, self.node)  # bound once: `restore` knows its hook by identity
            self._chained = op_hook.install(self._hooks[0])
            engine.node_observer.fn = self._hooks[1]
        current, self._installed = self, True

    def uninstall(self) -> None:
        """Stop recording: the hooks are removed, a kernel still open is closed, and ranges still open end now."""
        global current
        if not self._installed:
            return
        self._installed = False
        if current is self:
            current = None
        if self.options.cuda:
            tuning.remove_observer(self.launch)
        if self.options.cpu:
            op_hook.restore(self._hooks[0], self._chained)
            if engine.node_observer.fn is self._hooks[1]:
                engine.node_observer.fn = None
        if self.kernel is not None:
            self._close_kernel()
        while self.open:
            self.close(self.open[-1][0])

    # ------------------------------------------------------------------ events
    def _now(self) -> float:
        return (time.perf_counter_ns() - self.origin) / 1000.0

    def begin(self, name: str, cat: str, args=None, kwargs=None) -> FunctionEvent:
        """Open an event (an op when args is given); it nests under the innermost open one."""
        if self.kernel is not None:
            self._close_kernel()
        parent = self.open[-1][0] if self.open else None
        ev = FunctionEvent(len(self.events), name, cat, threading.get_ident(), Interval(0.0, 0.0), cpu_parent=parent)
        options = self.options
        if args is not None and options.record_shapes:
            pairs = [_shape_of(v) for v in (*args, *kwargs.values())]
            ev.input_shapes = [p[0] for p in pairs]
            ev.input_dtypes = [p[1] for p in pairs]
        if options.with_stack:
            ev.stack = _user_stack()
        if parent is not None:
            parent.cpu_children.append(ev)
        self.events.append(ev)
        self.open.append((ev, _allocated(self.device_index) if self.track_cuda_memory else 0))
        ev.time_range.start = self._now()
        return ev

    def close(self, ev: FunctionEvent, result=None) -> None:
        """End `ev` (and any event opened inside it and left open, as an exception leaves them)."""
        if self.kernel is not None:
            self._close_kernel()
        end = self._now()
        while self.open:
            top, before = self.open.pop()
            top.time_range.end = end
            if self.options.profile_memory:
                self._memory(top, before, result if top is ev else None)
            if top is ev:
                return

    def _memory(self, ev: FunctionEvent, before: int, result) -> None:
        children = ev.cpu_children
        if self.track_cuda_memory:
            ev.device_memory_usage = _allocated(self.device_index) - before
            ev.self_device_memory_usage = ev.device_memory_usage - sum(c.device_memory_usage for c in children)
        outputs = [t for t in _tensors(result) if t.device.type == "cpu"]
        if outputs:
            made_below = {id(t) for c in children for t in getattr(c, "_outputs", ())}
            ev.self_cpu_memory_usage = sum(_nbytes(t) for t in outputs if id(t) not in made_below)
            ev._outputs = outputs
        ev.cpu_memory_usage = ev.self_cpu_memory_usage + sum(c.cpu_memory_usage for c in children)

    # ------------------------------------------------------------------ the hooks
    def op(self, name: str, call, args: tuple, kwargs: dict):
        """The op hook: the call, recorded (chained to the hook installed before, if any)."""
        ev = self.begin(op_key(name), CPU_OP, args, kwargs)
        chained = self._chained
        try:
            result = call(*args, **kwargs) if chained is None else chained(name, call, args, kwargs)
        except BaseException:
            self.close(ev)
            raise
        self.close(ev, result)
        return result

    def node(self, run_node, node, grads: list, observe: bool) -> None:
        """The autograd engine's node observer: the node's run, recorded."""
        ev = self.begin(f"autograd::engine::evaluate_function: {node.name()}", CPU_OP)
        try:
            run_node(node, grads, observe)
        finally:
            self.close(ev)

    def launch(self, record: tuning.LaunchRecord) -> None:
        """The tuning observer: a kernel event, attributed to the innermost open event."""
        if self.kernel is not None:
            self._close_kernel()
        parent = self.open[-1][0] if self.open else None
        cost = record.tunable.cost(**record.sizes)
        ev = FunctionEvent(len(self.events), record.tunable.name, KERNEL, threading.get_ident(),
                           Interval(0.0, 0.0), device_type="cuda", device_index=self.device_index,
                           kernels=1, bytes=float(cost.bytes), flops=float(cost.flops), cpu_parent=parent,
                           args={"key": repr(record.key), "config": dict(record.config)})
        if parent is not None:
            parent.kernels += 1
            parent.bytes += ev.bytes
            parent.flops += ev.flops
        self.events.append(ev)
        self.kernel = (ev, self.clock.mark())
        ev.time_range.start = self._now()

    def _close_kernel(self) -> None:
        ev, start = self.kernel
        self.kernel = None
        ev.time_range.end = self._now()
        self.timed.append((ev, start, self.clock.mark()))

    # ------------------------------------------------------------------ the result
    def finish(self) -> list[FunctionEvent]:
        """The events, with each kernel's time added to the device times of the events around it."""
        for ev, start, end in self.timed:
            device_us = self.clock.elapsed_us(start, end)
            took = ev.time_range.elapsed_us() if device_us is None else device_us
            ev.device_time_total = ev.self_device_time_total = took
            parent = ev.cpu_parent
            if parent is not None:
                parent.self_device_time_total += took
            while parent is not None:
                parent.device_time_total += took
                parent = parent.cpu_parent
        self.timed.clear()
        for ev in self.events:
            ev.__dict__.pop("_outputs", None)
        return self.events


def _nbytes(t: Tensor) -> int:
    n = 1
    for s in t._shape:
        n *= s
    return n * t.dtype.itemsize


def _current_device() -> int:
    from ..cuda import devices

    try:
        return devices.current_device()
    except (RuntimeError, AssertionError):  # no cuda at all: kernels never launch
        return 0


def _allocated(index: int) -> int:
    from ..cuda import memory

    return memory.memory_allocated(index)


def range_begin(name: str, args=None):
    """Open a `record_function` range in the recording profile: (recorder, event), or None when none records."""
    recorder = current
    if recorder is None or not recorder.options.cpu:
        return None
    ev = recorder.begin(name, USER_ANNOTATION)
    if args is not None:
        ev.args["args"] = str(args)
    return recorder, ev


def range_end(token) -> None:
    """Close a range `range_begin` opened (nothing once its recorder has stopped)."""
    if token is not None:
        recorder, ev = token
        if recorder._installed:
            recorder.close(ev)
