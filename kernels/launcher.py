"""The cached launch path: `kernel[grid](...)` without Triton's per-call argument binding.

Triton's `JITFunction.run` binds and specialises every argument on every launch (one native call per
argument, a specialisation list, a string cache key over the options): tens of microseconds of Python
before the driver is reached. A kernel defined with `@fast_jit` in place of `@triton.jit` is a
`FastJITFunction`, a `JITFunction` whose `run` first builds a cheap key from what Triton specialises
on and, once that key has been launched, calls the compiled kernel's launcher directly:

- the key: the current device; per runtime argument its kind and Triton's facts about it (a pointer's
  dtype and 16-byte alignment, an integer's 32/64-bit range, divisibility by 16 and equality to 1,
  nothing for a float or bool); the constexpr values (a `@triton.jit` function by identity, as
  Triton's own key compares it); the launch options (num_warps, num_stages, maxnreg, ...) and the
  knobs Triton folds into them (debug, instrumentation mode, fpsan). `do_not_specialize`,
  `do_not_specialize_on_alignment` and annotated parameters are honoured as Triton honours them.
  The key is built by a function generated per kernel for the argument kinds of its first launch;
  an argument of another kind falls back, for that argument, to Triton's own `native_specialize_impl`.
- a miss (the first launch of a key) goes through Triton's `JITFunction.run`, which compiles (or
  reads its caches) and launches; the compiled kernel it returns is remembered under the key.
- a hit launches as `JITFunction.run` does: the current stream from `driver.active`, the grid (a
  tuple or a callable of the bound arguments), the compiled kernel's function handle and packed
  metadata, the launch hooks of `triton.knobs.runtime`, and every bound argument in order (the
  constexprs too: the launcher drops them, as for Triton's path). The launch metadata that only
  launch hooks read is built only when a hook is installed.

A launch wrapper whose arguments are pointers and scalars with facts it can state itself (the flat map kernel's,
kernels/elementwise_flat.py) goes one step further: `kernel.direct(args, kwargs)` turns a remembered launch into a
`DirectLaunch`, which the wrapper keys by those facts and calls with plain addresses, skipping the binder too.
`DirectLaunch.ready()` makes its checks once for a caller that repeats several launches of one kernel (a flat
launch's bulk and tail) and then calls their launchers itself; elementwise_flat's plans call `launch_state()`, the
checks no token can stand for, and keep `epoch_token` for the rest (the path on, no launches forgotten).

Warm-up calls, pre-run hooks, a stages-inspection hook and async compilation go through Triton's
path unchanged. Under TRITON_INTERPRET=1 `fast_jit` returns Triton's interpreted function itself,
so interpreter runs execute exactly what `@triton.jit` would. TRITENSOR_FAST_LAUNCH=0 (or
`set_enabled(False)`) sends every launch through Triton's path, for comparison.

`stub_driver()` installs a Triton driver with no GPU behind it (an sm_90 target, kernels compiled by
the bundled toolchain, launches recorded instead of run): the tests and bench/test_launch_overhead.py
use it to check and time this path on a machine without a GPU.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

import triton
from triton import knobs
from triton._C.libtriton import getenv_bool, native_specialize_impl
from triton.runtime.driver import driver as _driver
from triton.runtime.jit import JITFunction

__all__ = ["FastJITFunction", "DirectLaunch", "fast_jit", "enabled", "set_enabled", "stub_driver", "StubLauncher"]

_enabled = os.environ.get("TRITENSOR_FAST_LAUNCH", "1") not in ("0", "", "false", "False")
_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_HookChain = type(knobs.runtime.launch_enter_hook)  # triton.knobs.HookChain: an empty chain calls nothing
_MAX_KEYS = 4096  # launches remembered per kernel before the memo starts over (a bound on its memory)
# Replaced by a new object whenever the cached path is turned on or off or any kernel forgets its launches: a caller
# that repeats remembered launches itself (elementwise_flat's plans) keeps the token it saw with them and compares
# identities instead of re-reading the flag and each kernel's memo on every call. Read it, never set it.
epoch_token = object()


def _changed() -> None:
    global epoch_token
    epoch_token = object()


# Triton's fpsan knob reads the environment through a descriptor on every read (a quarter of a microsecond, most
# of a direct launch's checks): read as the descriptor reads it (the value set in Python, else the variable), when
# the knob is still the plain env_bool that does exactly that.
_FPSAN = knobs.compilation_knobs.__dict__.get("fpsan_homomorphic_casts")
_FPSAN_PLAIN = type(_FPSAN) is knobs.env_bool and getattr(_FPSAN, "name", None) == "fpsan_homomorphic_casts"
_FPSAN_KEY, _FPSAN_DEFAULT = (_FPSAN.key, _FPSAN.default) if _FPSAN_PLAIN else ("", False)


def fpsan_knob() -> Any:
    """`knobs.compilation.fpsan_homomorphic_casts`, as Triton reads it, for less."""
    if _FPSAN_PLAIN:
        value = knobs.compilation.__dict__.get("fpsan_homomorphic_casts", _MISSING)
        return getenv_bool(_FPSAN_KEY, _FPSAN_DEFAULT) if value is _MISSING else value
    return knobs.compilation.fpsan_homomorphic_casts


def enabled() -> bool:
    """Whether launches of `fast_jit` kernels take the cached path (TRITENSOR_FAST_LAUNCH, default on)."""
    return _enabled


def set_enabled(on: bool) -> bool:
    """Turn the cached launch path on or off for every `fast_jit` kernel; returns the old setting."""
    global _enabled
    old, _enabled = _enabled, bool(on)
    _changed()
    return old


def fast_jit(fn: Callable | None = None, **options: Any) -> Any:
    """`@triton.jit` for a kernel that is launched (`kernel[grid](...)`): the same arguments (`do_not_specialize`,
    `do_not_specialize_on_alignment`, `debug`, ...), a `FastJITFunction` when kernels are compiled, Triton's
    interpreted function under TRITON_INTERPRET=1. Helper `@triton.jit` functions (called from kernels, passed
    as constexprs) stay `@triton.jit`."""

    def decorator(f: Callable):
        if knobs.runtime.interpret:
            return triton.jit(f, **options)
        return FastJITFunction(f, **options)

    return decorator if fn is None else decorator(fn)


class FastJITFunction(JITFunction):
    """A `JITFunction` whose launches skip Triton's argument binding once their key has been launched (see the
    module docstring). Everything else (the AOT check, `warmup`, the tuner's timing) sees a JITFunction."""

    def __init__(self, fn: Callable, **options: Any) -> None:
        super().__init__(fn, **options)
        # key -> (compiled kernel, its launcher, function handle, packed metadata, the @triton.jit constexprs
        # keyed by identity: held so that their ids stay theirs). An entry is never replaced or removed: forgetting
        # replaces the dict, so a DirectLaunch knows its entry is still remembered by the dict's identity alone.
        self._launches: dict = {}
        # (device, *args, **kwargs) -> (key, bound arguments), generated at the first launch; False: this kernel
        # cannot have one (every launch takes Triton's path)
        self._bind: Callable | None | bool = None

    def clear_launches(self) -> None:
        """Forget every remembered launch (the next launch of each key goes through Triton's path again)."""
        self._launches = {}
        self._bind = None
        _changed()

    def _unsafe_update_src(self, new_src):
        self.clear_launches()  # a new source compiles new kernels: the remembered ones are stale
        return super()._unsafe_update_src(new_src)

    def __getitem__(self, grid):
        if "run" in self.__dict__:  # a patched `run` (the launch-count tests) sees every launch, as on Triton's path
            run = self.run
            return lambda *args, **kwargs: run(*args, grid=grid, warmup=False, **kwargs)
        return lambda *args, **kwargs: self._launch(grid, args, kwargs)

    def run(self, *args, grid, warmup, **kwargs):
        """Launch (or warm up) the kernel; returns the compiled kernel, as `JITFunction.run` does."""
        if warmup:
            return JITFunction.run(self, *args, grid=grid, warmup=warmup, **kwargs)
        return self._launch(grid, args, kwargs)

    def _launch(self, grid, args, kwargs):
        bind = self._bind
        if not bind or not _enabled or self.pre_run_hooks or knobs.runtime.add_stages_inspection_hook is not None:
            if bind is None and _enabled:
                return self._first_launch(None, args, grid, kwargs)
            return JITFunction.run(self, *args, grid=grid, warmup=False, **kwargs)
        active = _driver._active
        if active is None:  # the property makes the default driver active: only until one is
            active = _driver.active
        device = active.get_current_device()
        try:
            key, bound = bind(device, *args, **kwargs)
            entry = self._launches.get(key)
        except Exception:  # arguments Triton rejects (or an unhashable constexpr): its path raises its own error
            return JITFunction.run(self, *args, grid=grid, warmup=False, **kwargs)
        if entry is None:
            return self._first_launch(key, args, grid, kwargs)
        kernel, launch, function, packed, _ = entry
        stream = active.get_current_stream(device)
        if self.used_global_vals:
            for (name, _), (val, globals_dict) in self.used_global_vals.items():
                if globals_dict.get(name, _MISSING) != val:  # JITFunction.run raises, with its message
                    return JITFunction.run(self, *args, grid=grid, warmup=False, **kwargs)
        if callable(grid):
            grid = grid(dict(zip(self.arg_names, bound)))
        size = len(grid)
        enter, leave = knobs.runtime.launch_enter_hook, knobs.runtime.launch_exit_hook
        if enter.__class__ is _HookChain and leave.__class__ is _HookChain and not enter.calls and not leave.calls:
            metadata = None  # only launch hooks read it, and none is installed
        else:
            metadata = kernel.launch_metadata(grid, stream, *bound)
        launch(grid[0], grid[1] if size > 1 else 1, grid[2] if size > 2 else 1, stream, function, packed,
               metadata, enter, leave, *bound)
        return kernel

    def _first_launch(self, key, args, grid, kwargs):
        """Triton's path (compile or cache read, then launch); the kernel it launched is remembered under `key`."""
        kernel = JITFunction.run(self, *args, grid=grid, warmup=False, **kwargs)
        if not isinstance(kernel, _compiled_kernel_class()) or kernel.function is None:
            return kernel  # a jit_cache_hook vetoed it, or an async compile is under way: nothing to remember
        device = _driver.active.get_current_device()
        if self._bind is None:
            try:
                self._bind = make_binder(self, self.device_caches[device][3], args, kwargs)
            except TypeError:
                self._bind = False
                return kernel
        try:
            fresh, bound = self._bind(device, *args, **kwargs)
        except Exception:  # an argument only Triton's binder takes (it launched): this launch is not remembered
            return kernel
        key = fresh if key is None else key
        if len(self._launches) >= _MAX_KEYS:
            self._launches = {}
            _changed()
        held = tuple(v for v in bound if isinstance(v, JITFunction))
        # setdefault: a key launched by two threads at once keeps its first entry (see _launches)
        self._launches.setdefault(key, (kernel, kernel.run, kernel.function, kernel.packed_metadata, held))
        return kernel

    def direct(self, args: tuple, kwargs: dict) -> DirectLaunch | None:
        """The remembered launch of `self[grid](*args, **kwargs)` (a key launched before) as a `DirectLaunch`,
        which repeats it for other runtime values with the same facts; None when there is none (launch once
        first) or when its parameters are not all runtime ones followed by constexprs."""
        bind = self._bind
        if not bind:
            return None
        device = _driver.active.get_current_device()
        try:
            key, bound = bind(device, *args, **kwargs)
        except Exception:
            return None
        launches = self._launches
        entry = launches.get(key)
        n_runtime = sum(1 for p in self.params if not p.is_constexpr)
        if entry is None or any(p.is_constexpr for p in self.params[:n_runtime]):
            return None
        return DirectLaunch(self, device, launches, entry, bound[n_runtime:], key[-4:])

    def __repr__(self) -> str:
        return f"FastJITFunction({self.module}:{self.fn.__qualname__})"


class DirectLaunch:
    """One remembered launch of a FastJITFunction, callable as `direct(grid, *runtime)` with the kernel's runtime
    arguments only (a pointer as an int address or as an object with `data_ptr()`), for a launch wrapper that
    knows the facts Triton specialises on (each pointer's dtype and 16-byte alignment, each integer's range,
    divisibility by 16 and equality to 1) are those of the launch it was made from: the caller keys its
    DirectLaunch by them. Skips the binder and the key. Returns False, launching nothing, whenever the cached
    path would not serve the launch as it was remembered (the path off, a hook or patched `run`, another device,
    changed knobs or globals, launch hooks installed, the kernel's launches forgotten): the caller then launches
    through `kernel[grid](...)`."""

    __slots__ = ("fn", "device", "memo", "entry", "tail", "knobs", "launch", "function", "packed")

    def __init__(self, fn: FastJITFunction, device: int, memo: dict, entry: tuple, tail: tuple,
                 knobs: tuple) -> None:
        # memo: the kernel's dict of remembered launches that holds `entry` (it stays there while the kernel
        # keeps that dict); knobs: the key's last four elements, fn.debug and the three knobs
        self.fn, self.device, self.memo, self.entry, self.tail, self.knobs = fn, device, memo, entry, tail, knobs
        _, self.launch, self.function, self.packed, _ = entry

    def stale(self) -> bool:
        """True once the kernel no longer remembers this launch (its memo started over, or its source changed):
        make a new DirectLaunch after the next launch through `kernel[grid]`."""
        return self.fn._launches is not self.memo

    def ready(self) -> tuple | None:
        """(stream, launch enter hook, launch exit hook) to call `self.launch` with when the cached path would
        serve this launch as it was remembered, else None (see the class docstring). A caller that launches
        several DirectLaunches of one kernel and device checks the first with this and the others with `stale`:
        the rest of the checks are the kernel's, the device's and the knobs', the same for all of them."""
        if not _enabled or self.fn._launches is not self.memo:
            return None
        return self.launch_state()

    def launch_state(self) -> tuple | None:
        """`ready()` without its two first checks (the cached path on, this launch still remembered), for a caller
        that knows them from `epoch_token` (elementwise_flat's plans): what no token can state, as Triton's knobs,
        hooks and globals and the current device, is read here on every call."""
        fn = self.fn
        runtime = knobs.runtime
        if fn.pre_run_hooks or runtime.add_stages_inspection_hook is not None or "run" in fn.__dict__:
            return None
        debug, runtime_debug, mode, fpsan = self.knobs
        compilation = knobs.compilation
        if fn.debug != debug or runtime.debug != runtime_debug or compilation.instrumentation_mode != mode:
            return None
        if fpsan_knob() != fpsan:
            return None
        active = _driver._active
        if active is None:  # the property makes the default driver active: only until one is
            active = _driver.active
        device = active.get_current_device()
        if device != self.device:
            return None
        enter, leave = runtime.launch_enter_hook, runtime.launch_exit_hook
        if enter.__class__ is not _HookChain or leave.__class__ is not _HookChain or enter.calls or leave.calls:
            return None  # the hooks read launch metadata built from the bound arguments: Triton's path has them
        if fn.used_global_vals:
            for (name, _), (val, globals_dict) in fn.used_global_vals.items():
                if globals_dict.get(name, _MISSING) != val:
                    return None
        return active.get_current_stream(device), enter, leave

    def __call__(self, grid: tuple, *runtime: Any) -> bool:
        ready = self.ready()
        if ready is None:
            return False
        size = len(grid)
        self.launch(grid[0], grid[1] if size > 1 else 1, grid[2] if size > 2 else 1, ready[0], self.function,
                    self.packed, None, ready[1], ready[2], *runtime, *self.tail)
        return True


_MISSING = object()


def _compiled_kernel_class():
    from triton.compiler import CompiledKernel

    return CompiledKernel


# ---------------------------------------------------------------- the generated binder
_BUILTINS = {"_tt_tuple": tuple, "_tt_id": id, "_tt_isinstance": isinstance, "_tt_int": int, "_tt_float": float,
             "_tt_bool": bool}


def _runtime_expr(kp, value: Any, name: str, i: int, env: dict) -> str | None:
    """The key element of runtime (non-constexpr) parameter `kp`, as Python source over its argument `name`:
    a cheap test of the kind `value` (the first launch's argument) has, else Triton's own specialisation."""
    spec, align = not kp.do_not_specialize, not kp.do_not_specialize_on_alignment
    generic = f"_tt_ns(_tt_backend, {name}, {kp.is_const}, {spec}, {align})"
    annotation = kp.annotation_type
    if annotation:
        if annotation == "u1" or annotation[:2] in ("fp", "bf"):
            return None  # Triton does not specialise an annotated float or bool: its value changes nothing
        return generic
    kind = value.__class__
    if kind is int:
        in_range = f"{name}.__class__ is _tt_int and {_INT32_MIN} <= {name} <= {_INT32_MAX}"
        if spec and align:  # 1: the constant 1; -1: a multiple of 16; 0: neither
            return f"(({name} == 1) - (not {name} & 15) if {in_range} else {generic})"
        if spec:
            return f"({name} == 1 if {in_range} else {generic})"
        return f"(({in_range}) or {generic})"
    if kind is float or kind is bool:
        return f"({name}.__class__ is _tt_{kind.__name__} or {generic})"  # fp32 / u1, whatever the value
    if value is None:
        return f"({name} is None or {generic})"
    if hasattr(value, "data_ptr") and hasattr(value, "dtype"):
        env[f"_tt_cls{i}"] = kind  # a pointer: its dtype (Triton's element type) and, when specialised, alignment
        if spec and align:
            return f"(({name}.dtype, not {name}.data_ptr() & 15) if {name}.__class__ is _tt_cls{i} else {generic})"
        return f"({name}.dtype if {name}.__class__ is _tt_cls{i} else {generic})"
    return generic


def _constexpr_expr(value: Any, name: str) -> str:
    # Triton's key holds the value itself; a @triton.jit function hashes by its source hash (slow) but compares
    # by identity, so it is keyed by identity here (the remembered launch holds the function: the id stays its).
    if isinstance(value, JITFunction):
        return f"((_tt_jit_key, _tt_id({name})) if _tt_isinstance({name}, _tt_jit_class) else {name})"
    return name


def make_binder(fn: JITFunction, backend: Any, args: tuple, kwargs: dict) -> Callable:
    """The generated `(device, *args, **kwargs) -> (key, bound arguments)` of `fn`, specialised to the argument
    kinds of `args`/`kwargs` (a first launch that Triton's own binder accepted). Raises TypeError for a kernel
    it cannot serve (*args, or a parameter named like the generated code's own `_tt_` names)."""
    sig = fn.signature
    if any(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
           for p in sig.parameters.values()):
        raise TypeError(f"{fn}: a kernel with *args has no cached launch")
    if any(name.startswith("_tt_") for name in sig.parameters):
        raise TypeError(f"{fn}: parameter names starting _tt_ are the cached launch's own")
    first = sig.bind(*args, **{k: v for k, v in kwargs.items() if k in sig.parameters})
    first.apply_defaults()
    env: dict[str, Any] = {"_tt_ns": native_specialize_impl, "_tt_backend": backend, "_tt_jit_key": object(),
                           "_tt_jit_class": JITFunction, "_tt_knobs": knobs, "_tt_fn": fn, "_tt_fpsan": fpsan_knob,
                           **_BUILTINS}
    params, elements = [], ["_tt_device"]
    keyword_only = False
    for i, (kp, (name, param)) in enumerate(zip(fn.params, sig.parameters.items())):
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            params.append("*")
            keyword_only = True
        if param.default is inspect.Parameter.empty:
            params.append(name)
        else:
            env[f"_tt_default{i}"] = param.default
            params.append(f"{name}=_tt_default{i}")
        value = first.arguments[name]
        expr = _constexpr_expr(value, name) if kp.is_constexpr else _runtime_expr(kp, value, name, i, env)
        if expr is not None:
            elements.append(expr)
    # The options Triton folds into its key: what the caller passed (num_warps, ...) and the three knobs.
    elements += ["_tt_tuple(_tt_options.items()) if _tt_options else ()", "_tt_fn.debug", "_tt_knobs.runtime.debug",
                 "_tt_knobs.compilation.instrumentation_mode", "_tt_fpsan()"]
    names = list(sig.parameters)
    source = (f"def bind(_tt_device, {', '.join(params + ['**_tt_options'])}):\n"
              f"    return ({', '.join(elements)}), ({', '.join(names)}{',' if names else ''})\n")
    exec(compile(source, f"<fast_jit binder of {fn.fn.__qualname__}>", "exec"), env)
    return env["bind"]


# ---------------------------------------------------------------- a driver without a GPU
class StubLauncher:
    """A compiled kernel's launcher that records each launch's arguments instead of launching (stub_driver)."""

    def __init__(self, src: Any, metadata: Any) -> None:
        self.src, self.metadata = src, metadata
        self.calls: list[tuple] = []
        self.record = True

    def __call__(self, *args: Any) -> None:
        if self.record:
            self.calls.append(args)


_STUB_MODULE = 0x57AB  # the module handle of every kernel "loaded" by the stub driver


class _StubUtils:
    def __init__(self, shared: int) -> None:
        self.shared = shared
        self.loads = 0

    def load_binary(self, name, kernel, shared, device):
        self.loads += 1
        return _STUB_MODULE, 0x2000 + self.loads, 32, 0, 1024  # module, function, registers, spills, max threads

    def get_device_properties(self, device) -> dict:
        return {"max_shared_mem": self.shared, "multiprocessor_count": 132}

    def unload_module(self, module) -> None:
        return None


class _StubDriver:
    def __init__(self, arch: int) -> None:
        from triton.backends.compiler import GPUTarget

        self.target = GPUTarget("cuda", arch, 32)
        self.utils = _StubUtils(232448 if arch >= 90 else 166912)
        self.launcher_cls = StubLauncher
        self.stream = 0

    def get_current_device(self) -> int:
        return 0

    def set_current_device(self, device: int) -> None:
        return None

    def get_current_stream(self, device: int | None = None) -> int:
        return self.stream

    def get_current_target(self):
        return self.target

    def get_device_capability(self, device: int = 0) -> tuple[int, int]:
        return divmod(self.target.arch, 10)


@contextlib.contextmanager
def stub_driver(arch: int = 90) -> Iterator[Any]:
    """Within the block Triton's active driver is a stand-in with no GPU: target sm_`arch`, kernels compiled
    for it by the bundled toolchain and "loaded" as fake handles, each launch recorded by its `StubLauncher`
    (`kernel.run.calls`). Yields the driver (its `stream` attribute is the current stream it reports)."""
    stub = _StubDriver(arch)
    previous = _driver._active
    _driver.set_active(stub)
    try:
        yield stub
    finally:
        if stub.utils.loads:
            _unload_stub_kernels()
        _driver._active = previous


def _unload_stub_kernels() -> None:
    # A compiled kernel unloads its module through the active driver when it is collected; one the stub loaded
    # may outlive the block, when no such driver exists: unload them all now.
    from triton.compiler import CompiledKernel

    gc.collect()
    for obj in gc.get_objects():
        if isinstance(obj, CompiledKernel) and obj.module == _STUB_MODULE:
            obj.module = None
