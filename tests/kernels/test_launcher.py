"""The cached launch path (kernels/launcher.py) against Triton's own `JITFunction.run`.

No GPU: `stub_driver()` makes Triton's active driver an sm_90 target whose compiled kernels are real (the
bundled toolchain compiles them) and whose launcher records each launch. The probe kernels here are built
as real JIT functions (FastJITFunction / JITFunction) although TRITON_INTERPRET=1 is set for the suite.
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import triton.language as tl
from tritensor.kernels import elementwise_flat as EF
from tritensor.kernels import launcher as L
from tritensor.kernels.device_array import host_array
from triton import knobs
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from tritensor import dtypes


# ---------------------------------------------------------------- probe kernels (compiled for sm_90, never run)
def _twice(x, p):
    return x * 2 + p


def _negated(x, p):
    return p - x


def _probe(out_ptr, in_ptr, n, stride, scale, beta: tl.float32, OP: tl.constexpr, BLOCK: tl.constexpr,
           EXTRA: tl.constexpr = 0):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(in_ptr + offs * stride, mask=mask)
    tl.store(out_ptr + offs, OP(x, scale) * beta + EXTRA, mask=mask)


TWICE, NEGATED = JITFunction(_twice), JITFunction(_negated)
BUFFER = np.zeros(4096, np.float32)
BUFFER16 = np.zeros(4096, np.float16)
BUFFER_INT = np.zeros(4096, np.int32)


def _ptr(base: np.ndarray, offset: int):
    """A DeviceArray at `offset` elements into `base` (its alignment follows the address)."""
    return host_array(base[offset:offset + 64], dtypes.from_numpy_dtype(base.dtype))


def _triton_key(fn: JITFunction, args: tuple, kwargs: dict):
    """The key under which JITFunction.run looks its compiled kernel up (its kernel_key_cache key), for a call."""
    kwargs = dict(kwargs)
    kwargs["debug"] = kwargs.get("debug", fn.debug) or knobs.runtime.debug
    kwargs["instrumentation_mode"] = knobs.compilation.instrumentation_mode
    kwargs["fpsan_homomorphic_casts"] = knobs.compilation.fpsan_homomorphic_casts
    binder = fn.device_caches[0][4]
    _, specialization, options = binder(*args, **kwargs)
    return tuple(specialization), str(options)


INTS = [0, 1, 2, 15, 16, 17, 32, -16, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 16, 2 ** 32 + 1, 2 ** 63, -2 ** 31,
        -2 ** 31 - 16]
SCALARS = [0.5, 1.0, 3, 16, 1, True, None]  # `scale` sees floats, ints, a bool and None across calls


def _calls(n: int, seed: int):
    """n random launches of the probe: (args, kwargs), over every kind and fact Triton specialises on."""
    rng = np.random.default_rng(seed)
    pick = lambda xs: xs[rng.integers(len(xs))]  # noqa: E731
    buffers = [BUFFER, BUFFER16, BUFFER_INT]
    for _ in range(n):
        out = _ptr(pick(buffers), pick([0, 1, 4, 8]))
        src = _ptr(pick(buffers), pick([0, 2, 4, 12]))
        kwargs = dict(OP=pick([TWICE, NEGATED]), BLOCK=pick([64, 128]))
        if rng.random() < 0.5:
            kwargs["EXTRA"] = pick([0, 1, 2, True])
        if rng.random() < 0.5:
            kwargs["num_warps"] = pick([2, 4])
        yield (out, src, pick(INTS), pick(INTS), pick(SCALARS), pick([0.25, 2.0, 7])), kwargs


@pytest.fixture
def stub():
    with L.stub_driver(90) as driver:
        yield driver


def _same_partition(pairs):
    """Whether two key functions induce the same equivalence on the calls: each key of one maps to one of the
    other."""
    forward, backward = {}, {}
    for mine, theirs in pairs:
        forward.setdefault(mine, set()).add(theirs)
        backward.setdefault(theirs, set()).add(mine)
    return all(len(v) == 1 for v in forward.values()), all(len(v) == 1 for v in backward.values())


@pytest.mark.parametrize("options", [{}, {"do_not_specialize": ["stride"]},
                                     {"do_not_specialize_on_alignment": ["n", "in_ptr"]},
                                     {"do_not_specialize": ["out_ptr", "scale"]}])
def test_key_distinguishes_exactly_what_triton_does(stub, options):
    fn = L.FastJITFunction(_probe, **options)
    calls = list(_calls(400, seed=len(str(options))))
    backend = fn.device_caches[0][3]
    first_args, first_kwargs = calls[0][0], dict(calls[0][1], EXTRA=0, num_warps=4)
    bind = L.make_binder(fn, backend, first_args, first_kwargs)
    pairs = [(bind(0, *args, **kwargs)[0], _triton_key(fn, args, kwargs)) for args, kwargs in calls]
    sound, exact = _same_partition(pairs)
    assert sound  # one key of ours never covers two of Triton's (two different kernels)
    assert exact  # ... and never splits one of Triton's (no needless recompiles)
    assert len({p[1] for p in pairs}) > 50  # the calls cover many kernels
    for args, kwargs in calls[:20]:  # the bound arguments: every parameter in order, defaults applied
        expected = tuple(args) + (kwargs["OP"], kwargs["BLOCK"], kwargs.get("EXTRA", 0))
        assert bind(0, *args, **kwargs)[1] == expected


def test_key_of_other_argument_kinds_falls_back_to_tritons(stub):
    # A binder made for float `scale` and DeviceArray pointers still keys an int, a tuple or a foreign
    # pointer-like object soundly (Triton's own specialisation of that argument).
    fn = L.FastJITFunction(_probe)
    first = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 16, 1, 0.5, 1.0)
    bind = L.make_binder(fn, fn.device_caches[0][3], first, dict(OP=TWICE, BLOCK=64))

    class Foreign:
        def __init__(self, array):
            self.array, self.dtype = array, dtypes.float32

        def data_ptr(self):
            return self.array.ctypes.data

    variants = [(Foreign(BUFFER), _ptr(BUFFER, 0), 16, 1, 0.5, 1.0), (Foreign(BUFFER[1:]), _ptr(BUFFER, 0), 16, 1,
                                                                      0.5, 1.0),
                (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 16.0, 1, 2, 1.0), (_ptr(BUFFER, 0), _ptr(BUFFER, 0), True, 1, 0.5,
                                                                      1.0),
                (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 16, 1, (1, 2), 1.0), (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 16, 1,
                                                                         (16, 3), 1.0)] + [first]
    pairs = [(bind(0, *v, OP=TWICE, BLOCK=64)[0], _triton_key(fn, v, dict(OP=TWICE, BLOCK=64))) for v in variants]
    assert _same_partition(pairs)[0]  # sound; finer only where the kind differs from the first launch's:
    assert pairs[0][1] == pairs[-1][1] and pairs[0][0] != pairs[-1][0]  # a foreign pointer is its own entry
    assert len({p[1] for p in pairs}) == len(pairs) - 1


def _launch_both(fn, args, kwargs, grid):
    """Launch once through Triton's path and once through the cached one (warm); the two recorded launches."""
    old = L.set_enabled(False)
    try:
        kernel = fn[grid](*args, **kwargs)
    finally:
        L.set_enabled(old)
    fn[grid](*args, **kwargs)  # first cached-path launch of this key: Triton's path, then remembered
    assert fn[grid](*args, **kwargs) is kernel
    return kernel.run.calls[-3], kernel.run.calls[-1]


def test_launch_arguments_are_tritons(stub):
    fn = L.FastJITFunction(_probe)
    cases = [((_ptr(BUFFER, 0), _ptr(BUFFER, 0), 48, 1, 0.5, 2.0), dict(OP=TWICE, BLOCK=64), (3,)),
             ((_ptr(BUFFER16, 1), _ptr(BUFFER16, 3), 17, 2, 3, 1.0), dict(OP=NEGATED, BLOCK=128, num_warps=2),
              lambda meta: (triton_cdiv(meta["n"], meta["BLOCK"]), 2)),
             ((_ptr(BUFFER, 4), _ptr(BUFFER, 8), 2 ** 31 + 16, 16, 3, 1.0), dict(OP=TWICE, BLOCK=64, EXTRA=True),
              (1, 1, 5))]
    for k, (args, kwargs, grid) in enumerate(cases):
        stub.stream = 100 + k  # the current stream is read on every launch
        theirs, mine = _launch_both(fn, args, kwargs, grid)
        assert mine[:6] == theirs[:6]  # grid x/y/z, stream, function handle, packed metadata
        assert mine[7:] == theirs[7:]  # launch hooks, then every argument in order (constexprs included)
        assert mine[3] == 100 + k
        assert theirs[6] is not None and mine[6] is None  # launch metadata: only launch hooks read it
    assert len(fn._launches) == 3


def triton_cdiv(a, b):
    return -(-a // b)


def test_launch_metadata_when_a_hook_is_installed(stub):
    fn = L.FastJITFunction(_probe)
    seen = []
    knobs.runtime.launch_enter_hook.add(seen.append)
    try:
        theirs, mine = _launch_both(fn, (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0),
                                    dict(OP=TWICE, BLOCK=64), (1,))
    finally:
        knobs.runtime.launch_enter_hook.remove(seen.append)
    assert mine[:6] == theirs[:6] and mine[7:] == theirs[7:]
    assert mine[6].get() == theirs[6].get() and mine[6].get()["stream"] == 0


def test_a_hit_skips_tritons_run_and_a_new_key_takes_it(stub, monkeypatch):
    fn = L.FastJITFunction(_probe)
    runs = []
    real = JITFunction.run
    monkeypatch.setattr(JITFunction, "run", lambda self, *a, **k: runs.append(1) or real(self, *a, **k))
    args = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0)
    for _ in range(3):
        fn[(1,)](*args, OP=TWICE, BLOCK=64)
    assert len(runs) == 1
    fn[(1,)](*args, OP=TWICE, BLOCK=64, num_warps=2)  # options are part of the key
    fn[(1,)](_ptr(BUFFER, 1), *args[1:], OP=TWICE, BLOCK=64)  # an unaligned pointer
    fn[(1,)](*args[:2], 1, *args[3:], OP=TWICE, BLOCK=64)  # n == 1 is a constant
    assert len(runs) == 4 and len(fn._launches) == 4
    fn[(1,)](*args[:2], 80, *args[3:], OP=TWICE, BLOCK=64)  # 80: a multiple of 16 like 64, the same kernel
    assert len(runs) == 4
    L.set_enabled(False)
    try:
        fn[(1,)](*args, OP=TWICE, BLOCK=64)  # TRITENSOR_FAST_LAUNCH=0: Triton's path on every launch
    finally:
        L.set_enabled(True)
    assert len(runs) == 5
    fn.clear_launches()
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    assert len(runs) == 6


def test_tritons_path_for_warmup_hooks_and_bad_arguments(stub, monkeypatch):
    fn = L.FastJITFunction(_probe)
    args = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0)
    kernel = fn[(1,)](*args, OP=TWICE, BLOCK=64)
    calls = len(kernel.run.calls)
    assert fn.warmup(*args, OP=TWICE, BLOCK=64, grid=(1,)) is kernel and len(kernel.run.calls) == calls
    seen = []
    fn.add_pre_run_hook(lambda *a, **k: seen.append(a[2]))
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    assert seen == [64] and len(kernel.run.calls) == calls + 1
    fn.pre_run_hooks.clear()
    with pytest.raises(TypeError):
        fn[(1,)](*args[:5], OP=TWICE, BLOCK=64)  # a missing argument: Triton's own error
    with pytest.raises(KeyError, match="unrecognised"):
        fn[(1,)](*args, OP=TWICE, BLOCK=64, num_warp=4)  # a misspelt option: Triton's own error
    assert len(kernel.run.calls) == calls + 1


def test_a_changed_global_raises_as_on_tritons_path(stub):
    fn = L.FastJITFunction(_probe)
    args = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0)
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    scope = {"LIMIT": 3}
    fn.used_global_vals[("LIMIT", id(scope))] = (3, scope)
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    scope["LIMIT"] = 4
    with pytest.raises(RuntimeError, match="Global variable LIMIT has changed"):
        fn[(1,)](*args, OP=TWICE, BLOCK=64)


def test_a_vetoing_cache_hook_leaves_nothing_remembered(stub):
    fn = L.FastJITFunction(_probe)
    knobs.runtime.jit_cache_hook = lambda **kw: True
    try:
        assert fn[(1,)](_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0, OP=TWICE, BLOCK=64) is None
    finally:
        knobs.runtime.jit_cache_hook = None
    assert fn._launches == {}


def test_a_patched_run_sees_every_launch(stub, monkeypatch):
    fn = L.FastJITFunction(_probe)
    runs = []
    real = fn.run
    monkeypatch.setattr(fn, "run", lambda *a, **k: runs.append(k["grid"]) or real(*a, **k))
    for grid in [(1,), (2,), (2,)]:
        fn[grid](_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0, OP=TWICE, BLOCK=64)
    assert runs == [(1,), (2,), (2,)]


def test_binder_refuses_reserved_parameter_names(stub):
    def _bad(_tt_device, BLOCK: tl.constexpr):
        pass

    fn = L.FastJITFunction(_bad)
    with pytest.raises(TypeError, match="_tt_"):
        L.make_binder(fn, fn.device_caches[0][3], (0,), dict(BLOCK=4))


def test_fast_jit_is_tritons_interpreter_under_triton_interpret():
    assert isinstance(EF.flat_map_kernel, InterpretedFunction)  # the converted modules run as before

    @L.fast_jit(do_not_specialize=["n"])
    def kernel(x_ptr, n, BLOCK: tl.constexpr):
        pass

    assert isinstance(kernel, InterpretedFunction)


# Run without TRITON_INTERPRET: a converted module's own launch wrapper (elementwise add, dense operands: the flat
# kernel's bulk and tail launches) through Triton's path and then the cached one, on the stub driver.
COMPILED = """
import numpy as np
from tritensor import dtypes
from tritensor.kernels import elementwise as E, elementwise_flat as EF, launcher as L
from tritensor.kernels.device_array import host_array
x = host_array(np.ones(1030, np.float32), dtypes.float32)
initially = L.enabled()
view = lambda a: a.data_ptr() if hasattr(a, "data_ptr") else a  # an address: all a launch reads of a pointer
with L.stub_driver(90):
    calls = []
    for fast in (False, True, True):
        L.set_enabled(fast)
        E.add(x, x, x, alpha=2.0)
        kernels = list(EF.flat_map_kernel.device_caches[0][0].values())
        calls.append([k.run.calls[-1] for k in kernels])
    theirs, mine = calls[0], calls[2]
    same = all([*map(view, a[:6] + a[7:])] == [*map(view, b[:6] + b[7:])] and b[6] is None
               for a, b in zip(theirs, mine))
    print(type(EF.flat_map_kernel).__name__, initially, len(theirs), same, len(EF.flat_map_kernel._launches))
"""


def test_compiled_kernels_launch_as_on_tritons_path():
    # Without TRITON_INTERPRET the converted kernels are FastJITFunctions (what the AOT check compiles);
    # TRITENSOR_FAST_LAUNCH=0 starts with the cached path off (one process: importing tritensor takes seconds).
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", COMPILED], env={**env, "TRITENSOR_FAST_LAUNCH": "0"},
                            capture_output=True, text=True, check=True)
    # 2 kernels (bulk of 1024 and tail of 6), identical launches, both remembered
    assert result.stdout.split() == ["FastJITFunction", "False", "2", "True", "2"]
    assert L.enabled()  # the default here: on


@pytest.mark.parametrize("aligned,n", list(itertools.product([True, False], [32, 33])))
def test_probe_compiles_each_specialisation_once(stub, aligned, n):
    # The same key from different buffers and sizes reuses one compiled kernel.
    fn = L.FastJITFunction(_probe)
    offset = 0 if aligned else 1
    kernels = {id(fn[(1,)](_ptr(BUFFER, offset + 4 * k), _ptr(BUFFER, 0), n + 16 * k, 1, 0.5, 2.0,
                           OP=TWICE, BLOCK=64)) for k in range(3)}
    assert len(kernels) == 1 and len(fn._launches) == 1


def test_fpsan_knob_reads_as_triton_reads(monkeypatch):
    # launcher.fpsan_knob skips the knob's descriptor, so it must agree with it whatever set the knob.
    monkeypatch.delenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", raising=False)
    assert L.fpsan_knob() is knobs.compilation.fpsan_homomorphic_casts is False
    for value, expected in (("1", True), ("0", False), ("true", True)):
        monkeypatch.setenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", value)
        assert L.fpsan_knob() == knobs.compilation.fpsan_homomorphic_casts == expected, value
    monkeypatch.setenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", "0")
    knobs.compilation.fpsan_homomorphic_casts = True  # set in Python: the value set wins (and goes to the env)
    try:
        assert L.fpsan_knob() is knobs.compilation.fpsan_homomorphic_casts is True
    finally:
        del knobs.compilation.fpsan_homomorphic_casts
    monkeypatch.delenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", raising=False)
    assert L.fpsan_knob() is False


def test_the_epoch_token_changes_when_the_path_or_a_memo_changes(stub):
    # elementwise_flat's plans rely on launcher.epoch_token in place of `enabled()` and each kernel's memo.
    fn = L.FastJITFunction(_probe)
    args = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0)
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    seen = [L.epoch_token]
    fn[(1,)](*args, OP=TWICE, BLOCK=64, num_warps=2)  # a new launch remembered changes nothing remembered before
    assert L.epoch_token is seen[0]
    for change in (lambda: L.set_enabled(False), lambda: L.set_enabled(True), fn.clear_launches):
        change()
        assert L.epoch_token not in seen
        seen.append(L.epoch_token)
    fn._launches = dict.fromkeys(range(L._MAX_KEYS))  # full: the next new launch starts the memo over
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    assert len(fn._launches) == 1 and L.epoch_token not in seen


def test_launch_state_refuses_what_no_token_states(stub, monkeypatch):
    # What a plan cannot know from the tokens is read by launch_state on every call: each change refuses, and
    # undone, the launch is served again.
    fn = L.FastJITFunction(_probe)
    args = (_ptr(BUFFER, 0), _ptr(BUFFER, 0), 64, 1, 0.5, 2.0)
    fn[(1,)](*args, OP=TWICE, BLOCK=64)
    direct = fn.direct(args, dict(OP=TWICE, BLOCK=64))
    served = (stub.stream, knobs.runtime.launch_enter_hook, knobs.runtime.launch_exit_hook)
    assert direct.launch_state() == served and direct.ready() == served
    scope, debug = {"LIMIT": 3}, fn.debug

    def global_changed():
        fn.used_global_vals[("LIMIT", id(scope))] = (4, scope)

    hook = lambda *a, **k: None  # noqa: E731
    changes = [
        (lambda: monkeypatch.setenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", "1"),
         lambda: monkeypatch.delenv("TRITON_FPSAN_HOMOMORPHIC_CASTS")),
        (lambda: setattr(knobs.runtime, "debug", True), lambda: setattr(knobs.runtime, "debug", False)),
        (lambda: setattr(knobs.compilation, "instrumentation_mode", "fpsan"),
         lambda: setattr(knobs.compilation, "instrumentation_mode", "")),
        (lambda: setattr(fn, "debug", True), lambda: setattr(fn, "debug", debug)),
        (lambda: fn.add_pre_run_hook(hook), fn.pre_run_hooks.clear),
        (lambda: setattr(knobs.runtime, "add_stages_inspection_hook", hook),
         lambda: setattr(knobs.runtime, "add_stages_inspection_hook", None)),
        (lambda: fn.__dict__.__setitem__("run", hook), lambda: fn.__dict__.pop("run")),
        (lambda: setattr(stub, "get_current_device", lambda: 1), lambda: delattr(stub, "get_current_device")),
        (lambda: knobs.runtime.launch_enter_hook.add(hook), lambda: knobs.runtime.launch_enter_hook.remove(hook)),
        (lambda: knobs.runtime.launch_exit_hook.add(hook), lambda: knobs.runtime.launch_exit_hook.remove(hook)),
        (global_changed, fn.used_global_vals.clear),
    ]
    monkeypatch.delenv("TRITON_FPSAN_HOMOMORPHIC_CASTS", raising=False)
    for k, (change, undo) in enumerate(changes):
        change()
        try:
            assert direct.launch_state() is None, k
        finally:
            undo()
        assert direct.launch_state() == served, k
