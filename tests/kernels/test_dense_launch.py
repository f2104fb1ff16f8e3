"""The dense launch of a declared map op (kernels/elementwise_flat.launch_dense, ops/dispatch.launch_declared).

A launch wrapper that is `launch_map(op, [out], ins, p0, p1)` and nothing else declares so (`elementwise.runs_map`:
its `map_op`); the cuda hot paths of ops/elementwise.py and ops/unary.py then run a launch made before by its plan
straight from the tensors' storages, and call the wrapper whenever that declines. Two layers of tests:

- every declaration against its wrapper, in Triton's interpreter: the declared op and scalars through launch_map
  give the wrapper's bits, on values that tell the ops apart (specials included), in several dtypes;
- the dense path on compiled kernels and the stub driver (a subprocess without TRITON_INTERPRET, as
  test_elementwise_flat.py): each op's dense launch passes the kernel exactly what Triton's own path passes it, and
  the wrapper (the general path) runs instead for a first launch, a stale plan, another alignment, non-contiguous or
  empty operands, a launch hook, the cached path off.
"""

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
import tritensor.kernels as kernels_package
from tritensor.kernels import elementwise as E

from tests.conftest import as_device

# ---------------------------------------------------------------- the declarations against their wrappers
# Wrappers that also take integer operands (the others are floating-point only: the Tensor layer casts first).
_TAKES_INT = {"elementwise.add", "elementwise.add_minus", "elementwise.mul", "elementwise.neg", "elementwise.copy",
              "binary.sub", "binary.floor_divide", "binary.remainder", "binary.fmod", "unary.abs", "unary.sign",
              "unary.square", "unary.floor", "unary.ceil", "unary.round", "unary.trunc", "activations.relu"}


def _declared() -> dict:
    """module.name -> wrapper, for every launch wrapper of tritensor.kernels that declares a map op."""
    found = {}
    for info in pkgutil.iter_modules(kernels_package.__path__):
        module = importlib.import_module(f"tritensor.kernels.{info.name}")
        for name, fn in vars(module).items():
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and getattr(fn, "map_op", None):
                found[f"{info.name}.{name}"] = fn
    return found


DECLARED = _declared()
_VALUES = [-7.5, -2.5, -1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 3.0, 40.0, np.inf, -np.inf, np.nan]


def _operands(n_in: int, dtype) -> list[np.ndarray]:
    if np.dtype(dtype).kind == "i":
        a = np.array([-7, -3, -1, 0, 1, 2, 5, 9, 2 ** 31 - 1, -(2 ** 31)], dtype)
        b = np.array([2, -3, 4, 1, -1, 3, 2, -5, 3, 2], dtype)  # no zero divisor, no INT_MIN / -1: both trap
    else:
        a = np.repeat(np.array(_VALUES, dtype), len(_VALUES))
        b = np.tile(np.array(_VALUES, dtype), len(_VALUES))
    return [a, b][:n_in]


def test_the_hot_paths_wrappers_declare_their_map_ops():
    from tritensor.kernels import activations, binary, exponential

    assert E.add.map_op[:3] == (E._add_no_alpha, 0.0, 0.0)
    assert E.add_minus.map_op[:3] == (E._add, -1, 0.0)
    assert E.mul.map_op[:3] == (E._mul, 0.0, 0.0)
    assert binary.sub.map_op[:3] == (binary._sub_no_alpha, 0.0, 0.0)
    assert exponential.exp.map_op[:3] == (exponential._exp, 0.0, 0.0)
    assert activations.relu.map_op[:3] == (activations._relu, 0.0, 0.0)
    # The plan facts of the scalars, as launch_planned states them: a float's class, an int's 16/1 specialisation.
    assert E.add.map_op[3:] == (float, float) and E.add_minus.map_op[3:] == (0, float)
    # Wrappers that check, or pick their op per call, declare nothing.
    assert not any(hasattr(w, "map_op") for w in (binary.div, activations.gelu, activations.elu, E.scale, E.fill))
    assert len(DECLARED) >= 59


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_a_declared_map_op_computes_what_its_wrapper_computes(name):
    wrapper = DECLARED[name]
    op, p0, p1 = wrapper.map_op[:3]
    params = list(inspect.signature(wrapper).parameters.values())
    n_in = sum(1 for p in params[1:] if p.default is inspect.Parameter.empty)
    dtypes = [np.float32, np.float64, np.float16] + ([np.int32] if name in _TAKES_INT else [])
    for dtype in dtypes:
        ins = _operands(n_in, dtype)
        theirs, mine = np.full_like(ins[0], 3), np.full_like(ins[0], 5)
        with np.errstate(all="ignore"):
            wrapper(as_device(theirs), *map(as_device, ins))
            E.launch_map(op, [as_device(mine)], [as_device(x) for x in ins], p0, p1)
        assert theirs.tobytes() == mine.tobytes(), (name, np.dtype(dtype).name)
        assert not np.array_equal(theirs, np.full_like(theirs, 3)), (name, np.dtype(dtype).name)  # it wrote


def test_a_wrong_declaration_is_told_apart():
    # The check above can fail: add's scalars declared for the alpha op, or another op, give other bits.
    ins = _operands(2, np.float32)
    for op, p0 in ((E._add, 0.0), (E._mul, 0.0), (E._add, -1)):
        theirs, mine = np.zeros_like(ins[0]), np.zeros_like(ins[0])
        with np.errstate(all="ignore"):
            E.add(as_device(theirs), *map(as_device, ins))
            E.launch_map(op, [as_device(mine)], [as_device(x) for x in ins], p0)
        assert theirs.tobytes() != mine.tobytes()


# ---------------------------------------------------------------- the dense path on compiled kernels
SCRIPT = r"""
import json, os
import numpy as np
from triton import knobs
import tritensor as tt
import tritensor.nn.functional as F
from tritensor.kernels import elementwise as E, elementwise_flat as EF, launcher as L

wrapped = []  # one entry per call of a wrapper's launch_map (the dense path declined): its launch_planned
_planned = E.launch_planned


def counting(*args, **kwargs):
    wrapped.append(1)
    return _planned(*args, **kwargs)


E.launch_planned = counting
OPS = {"tt.add": lambda a, b: tt.add(a, b), "a + b": lambda a, b: a + b, "a - b": lambda a, b: a - b,
       "a * b": lambda a, b: a * b, "tt.exp": lambda a, b: tt.exp(a), "F.relu": lambda a, b: F.relu(a),
       "tt.sqrt": lambda a, b: tt.sqrt(a), "tt.sigmoid": lambda a, b: tt.sigmoid(a)}


def address(t):
    return t._storage.kernel_storage().data_ptr() + t._offset * t.dtype.itemsize


def kernels():
    return [k for fn in E.MAP_KERNELS for k in fn.device_caches[0][0].values()]


def launches(call, a, b):
    # Each launch's arguments as a launch reads them, the operands' addresses named (out: the result's), metadata
    # left out; and how many times the wrapper ran.
    for k in kernels():
        k.run.calls.clear()
    before = len(wrapped)
    result = call(a, b)
    spans = [(name, address(t), t.numel() * t.dtype.itemsize) for name, t in (("a", a), ("b", b), ("out", result))]

    def named(x):  # a pointer as (operand, byte offset into it)
        x = x.data_ptr() if hasattr(x, "data_ptr") else x
        return next((name, x - start) for name, start, size in spans if start <= x < start + max(size, 1))

    found = [[named(x) if i < 5 else x for i, x in enumerate(c[9:])] + [c[0]] for k in kernels() for c in k.run.calls]
    metadata = [c[6] is not None for k in kernels() for c in k.run.calls]
    return {"launches": sorted(map(str, found)), "wrapped": len(wrapped) - before, "metadata": metadata}


def compare(make, call, rounds=3, warm=None):
    # Triton's path (the cached path off), then `rounds` calls on the same operands with it on; `warm` first makes a
    # plan (two calls on other operands) that those calls must not take for theirs.
    a, b = make()
    L.set_enabled(False)
    theirs = launches(call, a, b)
    L.set_enabled(True)
    if warm is not None:
        operands = warm()
        call(*operands)
        assert launches(call, *operands)["wrapped"] == 0  # planned
    mine = [launches(call, a, b) for _ in range(rounds)]
    return {"wrapped": [m["wrapped"] for m in mine], "same": [m["launches"] == theirs["launches"] for m in mine],
            "n": len(theirs["launches"])}


def cuda(n, dtype="float32", offset=0, step=1, shape=None):
    base = tt.tensor((np.arange(offset + step * n + 8) % 7 + 1).astype(dtype), device="cuda")
    t = base[offset:offset + step * n:step]
    return t.reshape(shape) if shape else t


out = {}
with L.stub_driver(90):
    os.environ["TRITON_INTERPRET"] = "1"  # cuda tensors in host memory; the kernels stay compiled
    for name, call in OPS.items():
        out[name] = compare(lambda: (cuda(8), cuda(8)), call)
        out[name + " 1030"] = compare(lambda: (cuda(1030), cuda(1030)), call)
    out["fp16"] = compare(lambda: (cuda(8, "float16"), cuda(8, "float16")), OPS["a * b"])
    out["2x4"] = compare(lambda: (cuda(8, shape=(2, 4)), cuda(8, shape=(2, 4))), OPS["a + b"])
    # Each after a plan of the same op, shape and dtype on aligned contiguous operands.
    contiguous = lambda: (cuda(8), cuda(8))
    out["misaligned"] = compare(lambda: (cuda(8), cuda(8, offset=1)), OPS["a + b"], warm=contiguous)
    out["strided"] = compare(lambda: (cuda(8, step=2), cuda(8)), OPS["a + b"], warm=contiguous)
    out["strided second"] = compare(lambda: (cuda(8), cuda(8, step=2)), OPS["a + b"], warm=contiguous)
    out["strided unary"] = compare(lambda: (cuda(8, step=2), cuda(8)), OPS["tt.exp"], warm=contiguous)
    out["empty"] = compare(lambda: (cuda(0), cuda(0)), OPS["a + b"])
    a, b = cuda(8), cuda(8)
    a + b
    a + b  # planned
    from tritensor.ops.dispatch import launch_declared
    fresh = lambda: tt.empty(8, device="cuda")
    half = cuda(8, "float16")
    out["declared"] = [launch_declared(E.add.map_op, fresh(), a, b), launch_declared(E.add.map_op, fresh(), a, half),
                       launch_declared(E.add.map_op, fresh(), half, b)]
    for name in ("a + b", "tt.exp"):
        call = OPS[name]
        call(a, b)
        call(a, b)  # planned: the next call is dense
        hook = lambda metadata: None
        knobs.runtime.launch_enter_hook.add(hook)
        hooked = launches(call, a, b)
        knobs.runtime.launch_enter_hook.remove(hook)
        L.set_enabled(False)
        off = [launches(call, a, b)["wrapped"] for _ in range(2)]
        L.set_enabled(True)  # a new launcher token: the plan no longer holds until it is made again
        again = [launches(call, a, b)["wrapped"] for _ in range(2)]
        mine = [k for k in EF._PLANS if k[1] == (8,)]
        other = next(k for k in EF._PLANS if k[1] != (8,))
        breaks = {"tuned": lambda k: setattr(EF._PLANS[k], "tuned", object()),
                  "launched": lambda k: setattr(EF._PLANS[k], "launched", object()),
                  "key": lambda k: EF._PLANS.__setitem__(k, EF._PLANS[other]),
                  "gone": lambda k: EF._PLANS.pop(k)}
        broken = {}
        for what, damage in breaks.items():
            for k in mine:
                damage(k)
            broken[what] = [launches(call, a, b)["wrapped"] for _ in range(2)]
        EF.flat_map_kernel.clear_launches()
        forgotten = [launches(call, a, b)["wrapped"] for _ in range(3)]
        out["refusals " + name] = {"hooked": [hooked["wrapped"], hooked["metadata"]], "off": off, "again": again,
                                   "broken": broken, "forgotten": forgotten}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def dense():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITENSOR_AUTOTUNE"] = "0"  # the heuristic configs (no GPU to time on)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("op", ["tt.add", "a + b", "a - b", "a * b", "tt.exp", "F.relu", "tt.sqrt", "tt.sigmoid"])
@pytest.mark.parametrize("n", [8, 1030])
def test_a_dense_launch_passes_what_tritons_path_passes(dense, op, n):
    # The first call goes through the wrapper (it makes the plan); the next ones are dense (no wrapper) and launch
    # the kernels of Triton's path with its arguments: the operands' and the result's addresses, the same sizes.
    result = dense[op if n == 8 else f"{op} {n}"]
    assert result == {"wrapped": [1, 0, 0], "same": [True] * 3, "n": 1 if n == 8 else 2}


@pytest.mark.parametrize("case", ["fp16", "2x4", "misaligned"])
def test_other_dtypes_shapes_and_alignments_get_their_own_plan(dense, case):
    assert dense[case] == {"wrapped": [1, 0, 0], "same": [True] * 3, "n": 1}


@pytest.mark.parametrize("case", ["strided", "strided second", "strided unary", "empty"])
def test_non_contiguous_or_empty_operands_always_take_the_wrapper(dense, case):
    # A strided input (same shape, dtype and alignment as a planned add) runs the strided kernel as Triton's path
    # does; an empty one launches nothing.
    assert dense[case] == {"wrapped": [1, 1, 1], "same": [True] * 3, "n": 0 if case == "empty" else 1}


def test_operands_of_another_dtype_are_declined(dense):
    # The plan's key states one dtype for the output and both inputs: an input of another is never launched dense.
    assert dense["declared"] == [True, False, False]


@pytest.mark.parametrize("op", ["a + b", "tt.exp"])
def test_the_dense_path_declines_whenever_the_plan_would(dense, op):
    refusals = dense["refusals " + op]
    assert refusals["hooked"] == [1, [True]]  # a launch hook: the wrapper, whose launch builds the hook's metadata
    assert refusals["off"] == [1, 1]  # the cached path off: the wrapper every time
    assert refusals["again"] == [1, 0]  # back on: the general path remakes the plan, then dense again
    # A broken token, a key holding another op's plan, no plan: the wrapper once (it makes the plan again), then dense.
    assert refusals["broken"] == {"tuned": [1, 0], "launched": [1, 0], "key": [1, 0], "gone": [1, 0]}
    assert refusals["forgotten"] == [1, 0, 0]  # the kernel forgot its launches: Triton's path, then the plan
