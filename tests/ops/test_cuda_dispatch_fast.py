"""The cuda hot path of elementwise ops (issue 21 part 3): same-shape, same-dtype cuda operands skip promotion,
broadcasting and the flat-layout search, and a remembered flat launch is repeated directly with addresses.

Interpreter tests check that the fast path gives what the general path gives (values, dtype, strides, errors,
autograd, the op hook and launch observers); a subprocess with compiled kernels and the stub driver checks
that a direct launch passes the kernel what Triton's own path passes it.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.device import interpreting
from tritensor.ops.autocast import op_hook

RNG = np.random.default_rng(21)


def _pair(shape, dtype):
    if dtype == np.bool_:
        return RNG.random(shape) < 0.5, RNG.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50, 50, shape).astype(dtype), RNG.integers(-50, 50, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype), RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("shape", [(7,), (3, 5), ()])
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_same_shape_values_dtype_strides(op, shape, dtype):
    x, y = _pair(shape, dtype)
    a, b = tt.tensor(x, device="cuda"), tt.tensor(y, device="cuda")
    if op == "sub" and dtype == np.bool_:
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
            tt.sub(a, b)
        return
    result = getattr(tt, op)(a, b)
    reference = getattr(tt, op)(tt.tensor(x), tt.tensor(y))  # the cpu path
    assert result.device.type == "cuda" and result.dtype is reference.dtype
    assert result.shape == reference.shape and result.stride() == reference.stride() and result.is_contiguous()
    np.testing.assert_array_equal(result.cpu().numpy(), reference.numpy())


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_fast_path_equals_general_path(op):
    # alpha=1 / the operator takes the fast path; an explicit out= takes the general one: the same bits.
    x, y = _pair((4, 6), np.float32)
    a, b = tt.tensor(x, device="cuda"), tt.tensor(y, device="cuda")
    fast = getattr(tt, op)(a, b)
    general = tt.empty(4, 6, device="cuda")
    getattr(tt, op)(a, b, out=general)
    np.testing.assert_array_equal(fast.cpu().numpy(), general.cpu().numpy())
    assert fast.stride() == general.stride() and fast.dtype is general.dtype


def test_non_contiguous_operands():
    # Same shape, but a transposed operand: the strided kernel runs, the output is contiguous.
    x, y = _pair((5, 3), np.float32)
    a = tt.tensor(x, device="cuda")
    b = tt.tensor(y.T.copy(), device="cuda").t()
    for op, ref in [(tt.add, np.add), (tt.mul, np.multiply), (tt.sub, np.subtract)]:
        result = op(a, b)
        assert result.is_contiguous()
        np.testing.assert_allclose(result.cpu().numpy(), ref(x, y), rtol=1e-6)
    np.testing.assert_allclose(tt.exp(b).cpu().numpy(), np.exp(y), rtol=1e-6)
    assert tt.exp(b).is_contiguous()


def test_offset_views_and_empty_tensors():
    x, y = _pair((9,), np.float32)
    a, b = tt.tensor(x, device="cuda")[1:], tt.tensor(y, device="cuda")[:-1]  # offset (unaligned) operands
    np.testing.assert_allclose((a * b).cpu().numpy(), x[1:] * y[:-1], rtol=1e-6)
    np.testing.assert_allclose(tt.relu(a).cpu().numpy(), np.maximum(x[1:], 0))
    e = tt.empty(0, 3, device="cuda")
    assert (e + e).shape == (0, 3) and tt.exp(e).shape == (0, 3)


def test_unary_and_binary_through_run_elementwise():
    x, y = _pair((3, 4), np.float32)
    a, b = tt.tensor(x, device="cuda"), tt.tensor(y, device="cuda")
    np.testing.assert_allclose(tt.exp(a).cpu().numpy(), np.exp(x), rtol=1e-6)
    np.testing.assert_array_equal(F.relu(a).cpu().numpy(), np.maximum(x, 0))
    np.testing.assert_array_equal(tt.maximum(a, b).cpu().numpy(), np.maximum(x, y))
    assert tt.exp(a).dtype is tt.float32 and tt.exp(a).stride() == (4, 1)


def test_errors_as_the_general_path():
    a = tt.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.add(a, tt.ones(3))
    with pytest.raises(RuntimeError, match="The size of tensor a \\(3\\) must match the size of tensor b \\(4\\)"):
        tt.mul(a, tt.ones(4, device="cuda"))
    with pytest.raises(RuntimeError, match="Boolean alpha only supported"):
        tt.add(tt.ones(3, dtype=tt.bool, device="cuda"), tt.ones(3, dtype=tt.bool, device="cuda"), alpha=2)
    with pytest.raises(TypeError):
        tt.add(a, "x")


def test_mixed_dtypes_take_the_general_path():
    a = tt.ones(3, device="cuda")
    b = tt.ones(3, dtype=tt.int64, device="cuda")
    assert (a + b).dtype is tt.float32 and (b * 2.5).dtype is tt.float32
    np.testing.assert_array_equal((a + b).cpu().numpy(), [2, 2, 2])


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_autograd_on_cuda(op):
    x, y = _pair((2, 3), np.float64)
    a = tt.tensor(x, device="cuda", requires_grad=True)
    b = tt.tensor(y, device="cuda", requires_grad=True)
    out = getattr(tt, op)(a, b)
    assert out.requires_grad and repr(out.grad_fn).startswith(f"<{op.capitalize()}Backward0")
    out.sum().backward()
    expected_a = {"add": np.ones_like(x), "sub": np.ones_like(x), "mul": y}[op]
    expected_b = {"add": np.ones_like(y), "sub": -np.ones_like(y), "mul": x}[op]
    np.testing.assert_allclose(a.grad.cpu().numpy(), expected_a)
    np.testing.assert_allclose(b.grad.cpu().numpy(), expected_b)


def test_gradcheck_on_cuda():
    x, y = _pair((3,), np.float64)
    a = tt.tensor(x, device="cuda", requires_grad=True)
    b = tt.tensor(y, device="cuda", requires_grad=True)
    assert tt.autograd.gradcheck(lambda p, q: p * q + p - q, (a, b))


def test_no_graph_under_no_grad_and_for_plain_tensors():
    a = tt.ones(3, device="cuda", requires_grad=True)
    with tt.no_grad():
        assert not (a + a).requires_grad and not (a * a).requires_grad
    assert not (tt.ones(3, device="cuda") + tt.ones(3, device="cuda")).requires_grad


def test_op_hook_sees_every_call():
    seen = []

    def trace(name, call, args, kwargs):
        seen.append(name)
        return call(*args, **kwargs)

    a = tt.ones(3, device="cuda")
    previous = op_hook.install(trace)
    try:
        a + a
        a - a
        a * a
        tt.exp(a)
    finally:
        op_hook.restore(trace, previous)
    assert seen == ["add", "sub", "mul", "exp"]


def test_launch_observers_see_every_launch():
    records = []
    a = tt.ones(5, device="cuda")
    tuning.add_observer(records.append)
    try:
        a + a
        a * a
        F.relu(a)
    finally:
        tuning.remove_observer(records.append)
    assert [r.tunable.name for r in records] == ["elementwise.map_flat"] * 3
    assert [r.key[0] for r in records] == ["_add_no_alpha", "_mul", "_relu"]


def test_interpreting_follows_the_environment(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not interpreting()
    monkeypatch.setenv("TRITON_INTERPRET", "")
    assert not interpreting()
    monkeypatch.delenv("TRITON_INTERPRET")
    assert not interpreting()
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert interpreting()


DIRECT = """
import numpy as np
from triton import knobs
from tritensor import dtypes
from tritensor.kernels import elementwise as E, elementwise_flat as EF, launcher as L
from tritensor.kernels.device_array import host_array

def arrays(n, offset=0):
    base = [np.arange(n + 8, dtype=np.float32) * (k + 1) for k in range(3)]
    return [host_array(b[offset:offset + n], dtypes.float32) for b in base]

def launches(operands):
    kernels = list(EF.flat_map_kernel.device_caches[0][0].values())
    for k in kernels:
        k.run.calls.clear()
    E.mul(*operands)
    return [[x.data_ptr() if hasattr(x, "data_ptr") else x for x in c[:6] + c[7:]]
            for k in EF.flat_map_kernel.device_caches[0][0].values() for c in k.run.calls]

out = []
with L.stub_driver(90):
    for n in (1030, 1):
        operands = arrays(n)
        L.set_enabled(False)
        theirs = launches(operands)  # Triton's path
        L.set_enabled(True)
        launches(arrays(n))  # remembered (fast_jit's first launch), and a direct launch made of it
        made = len(EF._DIRECT)
        mine = launches(operands)  # direct: the same kernels, addresses in place of arrays
        kinds = {type(v).__name__ for c in EF.flat_map_kernel.device_caches[0][0].values()
                 for call in c.run.calls for v in call[9:14]}
        out.append((made, len(mine), mine == theirs, sorted(kinds)))
    # An unaligned operand is another specialisation: not served by the aligned launch's direct entry.
    kernels = len(EF.flat_map_kernel.device_caches[0][0])
    launches(arrays(6, offset=1))
    out.append(len(EF.flat_map_kernel.device_caches[0][0]) - kernels)
    # With a launch hook installed the launch takes fast_jit's path, which builds the metadata hooks read (the
    # stub launcher records it instead of calling the hook); the direct launch passes None.
    hook = lambda metadata: None
    knobs.runtime.launch_enter_hook.add(hook)
    launches(arrays(6))
    knobs.runtime.launch_enter_hook.remove(hook)
    out.append([c[6] is not None for k in EF.flat_map_kernel.device_caches[0][0].values() for c in k.run.calls])
    # The kernel forgets its launches: the next one takes Triton's path, and the one after is direct again.
    EF.flat_map_kernel.clear_launches()
    kinds = []
    for _ in range(2):
        launches(arrays(6))
        kinds.append(sorted({type(v).__name__ for k in EF.flat_map_kernel.device_caches[0][0].values()
                             for c in k.run.calls for v in c[9:14]}))
    out.append(kinds)
print(out)
"""


def test_direct_launch_passes_what_tritons_path_passes():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITENSOR_AUTOTUNE"] = "0"  # the heuristic configs (no GPU to time on)
    done = subprocess.run([sys.executable, "-c", DIRECT], env=env, capture_output=True, text=True, check=True)
    # 1030 elements: bulk + tail (2 direct launches made, 2 launches); 1: the tail only (one more); the same
    # arguments as Triton's path, pointers as ints; the unaligned call compiled one more kernel; with a launch hook
    # the launch carried its metadata.
    # Forgotten launches: Triton's path (DeviceArrays), then a new direct launch (ints).
    assert done.stdout.strip() == ("[(2, 2, True, ['int']), (3, 1, True, ['int']), 1, [True], "
                                   "[['DeviceArray'], ['int']]]")
