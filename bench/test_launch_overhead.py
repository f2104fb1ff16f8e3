"""The Python cost of one kernel launch: Triton's `kernel[grid](...)` against the cached launch of
kernels/launcher.py, and `tt.add` of two 8-element cuda tensors through tritensor's whole dispatch.

No GPU is needed: `launcher.stub_driver()` stands in for the driver (sm_90; kernels are really compiled, the
launch itself is recorded instead of run), so what is timed is everything a launch costs in Python up to the
driver's launch call. Target (issue 21): <= 5 us per launch including tritensor's own dispatch. Compare the
means within each group (pytest-benchmark prints each one's ratio to the fastest); the machine is shared
and noisy. Kernels must be compiled, not interpreted: run without TRITON_INTERPRET.
Run: python -m pytest bench/test_launch_overhead.py --benchmark-only -q

Group "cuda-ops-8" holds the bare cached launch of the add kernel and whole ops on 8-element float32 cuda
tensors (tt.add, a + b, tt.mul, tt.exp, F.relu, an add that records a graph), so pytest-benchmark's ratios there
are each op's cost over the bare launch, measured in the same run. The ops' cuda hot path (issue 21 part 3):
same-shape, same-dtype operands skip promotion and broadcasting (ops/elementwise.py, ops/dispatch.py), a unary
op or activation whose input records no graph skips its autograd Function (ops/unary.py, ops/activations.py), and
a contiguous launch made before is repeated whole by its remembered plan (kernels/elementwise_flat.py: the tuning
key, config, bulk/tail split and direct launches of the launch, keyed by OP, shape, dtypes, alignment and the
scalars' facts; one DirectLaunch.ready() for all of its launches). Before/after: CPU time per call, min over 5
rounds that alternate a process per tree, each 7 repeats of 2000 calls; this 2-core machine (shared); before =
01b656c in a worktree:

    bare cached launch   5.5 -> 5.4 us
    tt.add              18.1 -> 8.5 us
    a + b               18.1 -> 8.6 us
    a * b               17.6 -> 8.8 us
    tt.exp              22.5 -> 7.6 us
    F.relu              22.0 -> 7.8 us
    a + b, recording    19.6 -> 9.7 us

Of the ~8.5 us left for tt.add: ~3.1 us the kernel layer (K.add and launch_map ~0.2, the plan's key and checks
~1.5, DirectLaunch.ready ~0.9, the stub launcher's call ~0.45); ~2.3 us the output's allocation and Tensor
(Storage.allocate and its free ~1.7); ~1.2 us the output's DeviceArray (its HostStorage's address ~0.4, the
host memory that stands in for the device here: a GPU pays cuda.core's allocation instead); ~0.7 us the two
operands' DeviceArrays; ~1 us ops/elementwise's checks. test_tt_add_cuda_without_launch (the kernel layer
removed) is the floor the launch path is measured against.

Then the allocation (storage.new_cuda: the CudaStorage's slots set directly, its finalizer's accounting inline;
Tensor._empty calls it without Storage.allocate's dispatch) and the DeviceArrays (kernel_storage's host case
first, device_array() without __init__'s call). Same measure, min over 4 rounds, before = 706bbd7:

    tt.add                              8.7 -> 7.7 us
    a + b                               9.0 -> 7.6 us
    tt.add, kernel layer removed        5.1 -> 4.3 us
    Tensor._empty + its free            2.2 -> 1.8 us  (Storage's allocation and free 1.7 -> 1.4)
    the output's _dev()                 1.2 -> 1.0 us
    the two operands' _dev()            0.73 -> 0.60 us

What the allocation still costs (us): np.empty 0.25, the CudaStorage and its __del__ 0.3, interpreting() 0.1,
the statistics' add 0.15, the Tensor 0.33; the output's HostStorage 0.5 (0.3 of it its ctypes address), each
DeviceArray 0.17.

Then the plan's checks as tokens (issue 21 part 3, fourth round): a plan keeps the identity of tuning's and the
launcher's epoch tokens, which every change they stand for replaces (a choice dropped, an observer or dry run, the
cached path switched, launches forgotten), in place of re-reading the memo, the observers, the flag and the memos
per call; what no token can state (Triton's knobs, hooks, globals, a patched run, the device) is read by
DirectLaunch.launch_state, whose fpsan knob skips its environment-reading descriptor. Same measure, min over 5
rounds alternating a process per tree, before = 11bcc71 in a worktree:

    tt.add              7.69 -> 7.28 us
    a + b               7.78 -> 7.23 us
    a * b               7.73 -> 7.33 us
    tt.exp              7.30 -> 6.95 us
    F.relu              7.45 -> 6.97 us
    a + b, recording    8.89 -> 8.22 us

Then the dense launch (issue 21 part 3, fifth round): a launch wrapper that is one launch_map and nothing else
declares its map op and scalars (elementwise.runs_map: K.add and K.mul, K.add_minus for the sub of ops/elementwise,
binary.sub/floor_divide/remainder/fmod, every family_ops forward, the one-launch activation, bessel and gamma
forwards; 59 wrappers), and the cuda hot paths (ops/elementwise._cuda_pair, ops/unary.run_unrecorded) run that
op's remembered plan straight from the tensors' storages and offsets (ops/dispatch.launch_declared ->
elementwise_flat.launch_dense: launch_planned's key, tokens, strides and launch_state), with no DeviceArrays, K.add
or launch_map; with no plan to run they call the wrapper, whose general launch makes it. The floor below now removes
the dense launch too (no DeviceArrays in it). Same measure, min over 6 rounds alternating a process per tree, before
= c136ad4 in a worktree; this machine ran faster than in the fourth round (HEAD's tt.add 5.41 us here, 7.28 there):

    tt.add                          5.41 -> 4.87 us
    a + b                           5.42 -> 4.76 us
    a * b                           5.46 -> 4.81 us
    a - b                           5.76 -> 4.89 us
    tt.exp                          5.15 -> 4.57 us
    F.relu                          5.26 -> 4.67 us
    a + b, recording                6.20 -> 5.46 us
    tt.add, kernel layer removed    3.26 -> 2.95 us
    K.add on DeviceArrays           2.21 -> 2.24 us  (launch_planned, the other ops' path: its plan run is a call now)

What tt.add's ~4.9 us is now (us): the op's checks 0.35; Tensor._empty and its free 1.41; the operands' addresses
1.0 (0.5 of it the output's HostStorage, the host memory standing in for the device); launch_dense 1.8, of it
DirectLaunch.launch_state 0.6, the stub launcher's call 0.3, the plan's key and lookup 0.25.
"""

import numpy as np
import pytest
from tritensor.kernels import elementwise as E
from tritensor.kernels import elementwise_flat as EF
from tritensor.kernels import launcher
from tritensor.kernels.device_array import host_array

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.ops import dispatch

if not isinstance(EF.flat_map_kernel, launcher.FastJITFunction):
    pytest.skip("the launch path is only measurable with compiled kernels (TRITON_INTERPRET unset)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def stub():
    with launcher.stub_driver(90) as driver:
        yield driver


@pytest.fixture
def fast(request):
    """The cached path on (True) or off (False: Triton's JITFunction.run on every launch)."""
    old = launcher.set_enabled(request.param)
    yield request.param
    launcher.set_enabled(old)


def _quiet(kernel):
    kernel.run.record = False  # the stub launcher would keep every launch's arguments
    return kernel


# The tail launch of an 8-element fp32 add, as kernels/elementwise_flat.launch_flat makes it.
X = host_array(np.ones(8, np.float32), tt.float32)
FLAT_ARGS = (X, X, X, X, X, 8, 1, 0.0)
FLAT_KWARGS = dict(MASKED=True, OP=E._add, N_IN=2, N_OUT=1, SCALARS=0, BLOCK=1024, num_warps=4, maxnreg=128)


@pytest.mark.benchmark(group="one-launch")
@pytest.mark.parametrize("fast", [False, True], ids=["triton-run", "cached"], indirect=True)
def test_flat_map_launch(benchmark, stub, fast):
    kernel = _quiet(EF.flat_map_kernel[(1,)](*FLAT_ARGS, **FLAT_KWARGS))  # compiled (or read) and remembered
    launch = EF.flat_map_kernel[(1,)]
    assert benchmark(launch, *FLAT_ARGS, **FLAT_KWARGS) is kernel


@pytest.mark.benchmark(group="one-launch")
@pytest.mark.parametrize("fast", [False, True], ids=["triton-run", "cached"], indirect=True)
def test_strided_map_launch(benchmark, stub, fast):
    # The N-d strided map kernel: 32 arguments, the most of the elementwise kernels.
    strides = (0, 0, 0, 1)
    args = (X, X, X, X, X, 8, 1, 1, 8, *strides * 5, 1, 0.0)
    kwargs = dict(OP=E._add, N_IN=2, N_OUT=1, BLOCK=1024, num_warps=4)
    kernel = _quiet(E.map_kernel[(1,)](*args, **kwargs))
    assert benchmark(E.map_kernel[(1,)], *args, **kwargs) is kernel


@pytest.fixture
def cuda_pair(stub, monkeypatch):
    # Host memory for cuda tensors (tritensor asks the environment at each allocation) while the kernels stay
    # compiled: the launch goes through the stub driver.
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    a, b = tt.ones(8, device="cuda"), tt.ones(8, device="cuda")
    out = tt.add(a, b)  # compiles (or reads) the add kernel
    for kernel in EF.flat_map_kernel.device_caches[0][0].values():
        _quiet(kernel)
    return a, b, out


@pytest.mark.benchmark(group="tt.add-cuda-8")
@pytest.mark.parametrize("fast", [False, True], ids=["triton-run", "cached"], indirect=True)
def test_tt_add_cuda(benchmark, cuda_pair, fast):
    a, b, _ = cuda_pair
    result = benchmark(tt.add, a, b)
    assert result.device.type == "cuda" and result.shape == (8,)


@pytest.mark.benchmark(group="tt.add-cuda-8")
def test_tt_add_cuda_without_launch(benchmark, cuda_pair, monkeypatch):
    # The floor: tritensor's dispatch with the kernel layer removed (the dense launch, ops/dispatch.launch_dense,
    # launches nothing and says it did; elementwise.launch_map, for the wrapper's launch, does nothing): the op's
    # checks, the output's allocation and Tensor, the operands' addresses.
    monkeypatch.setattr(dispatch, "launch_dense", lambda *args: True)
    monkeypatch.setattr(E, "launch_map", lambda *args, **kwargs: None)
    a, b, _ = cuda_pair
    benchmark(tt.add, a, b)


@pytest.mark.benchmark(group="tt.add-cuda-8")
def test_numpy_add(benchmark):
    a, b = np.ones(8, np.float32), np.ones(8, np.float32)
    benchmark(np.add, a, b)


# ---------------------------------------------------------------- whole ops against the bare launch, one group
@pytest.fixture
def cuda_ops(cuda_pair):
    a, b, _ = cuda_pair
    g = tt.ones(8, device="cuda", requires_grad=True)
    for warm in (a * b, a - b, F.relu(a), tt.exp(a), g + b):  # compiles (or reads) each kernel, makes its plan
        assert warm.shape == (8,)
    for kernel in EF.flat_map_kernel.device_caches[0][0].values():
        _quiet(kernel)
    return a, b, g


@pytest.mark.benchmark(group="cuda-ops-8")
def test_bare_launch(benchmark, stub):
    args = (X, X, X, X, X, 8, 0.0, 0.0)
    kwargs = dict(FLAT_KWARGS, OP=E._add_no_alpha)
    _quiet(EF.flat_map_kernel[(1,)](*args, **kwargs))
    benchmark(EF.flat_map_kernel[(1,)], *args, **kwargs)


@pytest.mark.benchmark(group="cuda-ops-8")
@pytest.mark.parametrize("op", ["tt.add", "a + b", "tt.mul", "a - b", "tt.exp", "F.relu", "add-recording"])
def test_cuda_op(benchmark, cuda_ops, op):
    a, b, g = cuda_ops
    call = {"tt.add": lambda: tt.add(a, b), "a + b": lambda: a + b, "tt.mul": lambda: tt.mul(a, b),
            "a - b": lambda: a - b, "tt.exp": lambda: tt.exp(a), "F.relu": lambda: F.relu(a),
            "add-recording": lambda: g + b}[op]
    result = benchmark(call)
    assert result.device.type == "cuda" and result.shape == (8,) and result.requires_grad == (op == "add-recording")
