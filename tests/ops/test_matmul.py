"""matmul, mm, bmm, addmm, baddbmm, mv, dot, vdot, outer and linear on cpu and interpreted cuda against NumPy:
shapes, broadcasting, dtypes, gradcheck, strides without copies, the bias epilogue, split-K scratch,
autotune selection, backend flags and PyTorch's errors."""

import numpy as np
import pytest
from tritensor.kernels import matmul as KM

import tritensor as tt
import tritensor.backends as backends
from tests.ops.matmul_helpers import (
    DEVICE_DTYPES,
    DEVICES,
    _close,
    _count_launches,
    _f64,
    _grads,
    _make,
    _np,
    _vector_out,
)

SHAPES = [
    ((7,), (7,)),  # dot -> 0-d
    ((3, 7), (7,)),  # mv
    ((7,), (7, 5)),  # vector @ matrix
    ((1, 1), (1, 1)),
    ((7, 33), (33, 5)),
    ((33, 1), (1, 7)),  # K = 1
    ((2, 3, 7), (7, 5)),  # batch @ matrix (folded into one mm)
    ((3, 7), (2, 7, 5)),  # matrix @ batch (a broadcast with batch stride 0)
    ((2, 1, 3, 7), (4, 7, 5)),  # broadcast batch dims on both sides
    ((7,), (2, 7, 5)),
    ((2, 3, 7), (7,)),
]


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_matmul_shapes(rng, device, dtype):
    # Every shape in fp32 and on cpu; every other one for 16-bit kernels (the interpreter is slow).
    shapes = SHAPES if device == "cpu" or dtype is tt.float32 else SHAPES[::2]
    for i, (sa, sb) in enumerate(shapes):
        ta, a = _make(rng, sa, dtype, device, transposed=i % 2 == 1 and len(sa) > 1)
        tb, b = _make(rng, sb, dtype, device, transposed=i % 3 == 0 and len(sb) > 1)
        r = tt.matmul(ta, tb)
        assert r.dtype is dtype and r.device == ta.device
        _close(r, np.matmul(a, b), dtype)
    ta, a = _make(rng, (4, 33), dtype, device)
    tb, b = _make(rng, (33, 7), dtype, device, transposed=True)
    _close(ta @ tb, a @ b, dtype)
    _close(ta.matmul(tb), a @ b, dtype)
    _close(tb.__rmatmul__(ta), a @ b, dtype)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_mm_bmm_mv_dot_outer(rng, device, dtype):
    ta, a = _make(rng, (7, 5), dtype, device, transposed=True)
    tb, b = _make(rng, (5, 3), dtype, device)
    _close(tt.mm(ta, tb), a @ b, dtype)
    _close(ta.mm(tb), a @ b, dtype)
    ba, a3 = _make(rng, (3, 4, 7), dtype, device)
    bb, b3 = _make(rng, (3, 7, 2), dtype, device, transposed=True)
    _close(tt.bmm(ba, bb), a3 @ b3, dtype)
    _close(ba.bmm(bb), a3 @ b3, dtype)
    tv, v = _make(rng, (5,), dtype, device)
    _close(tt.mv(ta, tv), a @ v, dtype)
    tw, w = _make(rng, (5,), dtype, device)
    d = tt.dot(tv, tw)
    assert d.shape == () and d.dtype is dtype
    _close(d, np.array(v @ w), dtype)
    _close(tt.vdot(tv, tw), np.array(v @ w), dtype)
    _close(tv.dot(tw), np.array(v @ w), dtype)
    tu, u = _make(rng, (3,), dtype, device)
    _close(tt.outer(tv, tu), np.outer(v, u), dtype)
    _close(tt.ger(tv, tu), np.outer(v, u), dtype)
    _close(tv.outer(tu), np.outer(v, u), dtype)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_addmm_baddbmm(rng, device, dtype):
    t1, m1 = _make(rng, (7, 33), dtype, device)
    t2, m2 = _make(rng, (33, 5), dtype, device, transposed=True)
    for shape, beta, alpha in [((7, 5), 1, 1), ((5,), 0.5, -2.0), ((7, 1), 0, 3), ((), -1, 0.5)]:
        tc, c = _make(rng, shape, dtype, device)
        r = tt.addmm(tc, t1, t2, beta=beta, alpha=alpha)
        assert r.shape == (7, 5) and r.dtype is dtype
        _close(r, beta * c + alpha * (m1 @ m2), dtype, scale=2)
    nan = tt.full((7, 5), float("nan"), dtype=dtype, device=device)
    _close(tt.addmm(nan, t1, t2, beta=0), m1 @ m2, dtype)  # beta == 0 ignores input, NaNs included
    b1, a3 = _make(rng, (3, 7, 4), dtype, device, transposed=True)
    b2, b3 = _make(rng, (3, 4, 5), dtype, device)
    for shape in [(1, 7, 5), (5,)]:
        tc, c = _make(rng, shape, dtype, device)
        _close(tt.baddbmm(tc, b1, b2, beta=-1.5, alpha=0.5), -1.5 * c + 0.5 * (a3 @ b3), dtype, scale=2)
    tc, c = _make(rng, (3, 7, 5), dtype, device)
    _close(tc.baddbmm(b1, b2), c + a3 @ b3, dtype, scale=2)
    tc.baddbmm_(b1, b2, alpha=2)
    _close(tc, c + 2 * (a3 @ b3), dtype, scale=2)
    td, d = _make(rng, (7, 5), dtype, device)
    assert td.addmm_(t1, t2, beta=2) is td
    _close(td, 2 * d + m1 @ m2, dtype, scale=2)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_linear(rng, device, dtype):
    tw, w = _make(rng, (5, 33), dtype, device)
    tb, b = _make(rng, (5,), dtype, device)
    for shape in [(7, 33), (33,), (2, 3, 33)]:
        tx, x = _make(rng, shape, dtype, device)
        _close(tt.linear(tx, tw, tb), x @ w.T + b, dtype)
        _close(tt.linear(tx, tw), x @ w.T, dtype)
    tx, x = _make(rng, (3, 2, 33), dtype, device)
    tx = tx.transpose(0, 1)  # (2, 3, 33) whose batch cannot fold into rows: the batched path
    _close(tt.linear(tx, tw, tb), x.transpose(1, 0, 2) @ w.T + b, dtype)
    tb2, b2 = _make(rng, (3, 1), dtype, device)  # a bias of another broadcastable shape
    _close(tt.linear(tx, tw, tb2), x.transpose(1, 0, 2) @ w.T + b2, dtype)
    tv, v = _make(rng, (33,), dtype, device)  # 1-D weight
    _close(tt.linear(tx, tv, tb[0]), x.transpose(1, 0, 2) @ v + b[0], dtype)


def test_matmul_integer_on_cpu():
    a = tt.tensor([[1, 2], [3, 4]])
    b = tt.tensor([[5], [6]])
    r = a @ b
    assert r.dtype is tt.int64 and r.tolist() == [[17], [39]]


def test_gradcheck_matmul_family(rng):
    gc = tt.autograd.gradcheck
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 2)),
                   ((2, 3), (2, 3, 2)), ((2, 1, 2, 3), (3, 3, 2))]:
        assert gc(_vector_out(tt.matmul), _f64(rng, sa, sb))
    a, b = _f64(rng, (3, 2), (4, 3))
    assert gc(lambda x, y: tt.mm(x.t(), y.t()), (a, b))  # transposed operands
    assert gc(tt.bmm, _f64(rng, (2, 2, 3), (2, 3, 2)))
    c, m1, m2 = _f64(rng, (3,), (2, 4), (4, 3))
    assert gc(lambda x, y, z: tt.addmm(x, y, z, beta=0.5, alpha=-1.5), (c, m1, m2))
    assert gc(lambda x, y, z: tt.baddbmm(x, y, z, beta=2, alpha=0.5), _f64(rng, (1, 2, 3), (2, 2, 4), (2, 4, 3)))
    x, w, bias = _f64(rng, (2, 2, 3), (4, 3), (4,))
    assert gc(tt.linear, (x, w, bias))
    assert gc(tt.linear, _f64(rng, (3,), (2, 3)))
    assert gc(lambda v, u: tt.outer(v, u), _f64(rng, (3,), (2,)))
    assert gc(_vector_out(tt.dot), _f64(rng, (4,), (4,)))


def test_gradgradcheck(rng):
    gg = tt.autograd.gradgradcheck
    assert gg(tt.matmul, _f64(rng, (2, 3), (3, 2)))
    assert gg(tt.matmul, _f64(rng, (2, 1, 2, 3), (2, 3, 2)))
    assert gg(tt.linear, _f64(rng, (2, 3), (2, 3), (2,)))
    assert gg(lambda x, y, z: tt.addmm(x, y, z, beta=0.5, alpha=2), _f64(rng, (2, 2), (2, 3), (3, 2)))
    assert gg(lambda x: tt.einsum("ii->i", x) * 2, _f64(rng, (3, 3)))


@pytest.mark.parametrize("fn,shapes,transposed", [
    (tt.matmul, [(2, 1, 3, 7), (4, 7, 5)], (0,)),
    (tt.matmul, [(3, 7), (2, 7, 5)], (1,)),
    (tt.matmul, [(2, 3, 7), (7, 5)], (1,)),
    (tt.matmul, [(7,), (7,)], ()),
    (tt.linear, [(2, 3, 7), (5, 7), (5,)], ()),
    (lambda c, a, b: tt.addmm(c, a, b, beta=0.5, alpha=2), [(5,), (3, 7), (7, 5)], (1, 2)),
    (lambda c, a, b: tt.baddbmm(c, a, b, beta=-1, alpha=0.5), [(1, 3, 5), (2, 3, 7), (2, 7, 5)], (2,)),
    (lambda a, b: tt.einsum("bqd,bkd->bqk", a, b), [(2, 3, 7), (2, 5, 7)], ()),
    (lambda a: tt.einsum("ii->", a), [(4, 4)], ()),
])
def test_backward_cuda_matches_cpu(fn, shapes, transposed):
    cpu = _grads(0, "cpu", fn, shapes, transposed)
    cuda = _grads(0, "cuda", fn, shapes, transposed)
    for c, g in zip(cpu, cuda):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_double_backward_and_grad_layout(rng, device):
    x, w = (tt.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True)
            for s in ((3, 4), (2, 4)))
    y = tt.linear(x, w)
    assert y.grad_fn.name() == "MmBackward0"
    assert tt.addmm(x[:, :2], x, w.t()).grad_fn.name() == "AddmmBackward0"
    assert tt.bmm(x[None], w.t()[None]).grad_fn.name() == "BmmBackward0"
    (gx,) = tt.autograd.grad((y * y).sum(), [x], create_graph=True)  # gx = 2 (x W^T) W
    gx.sum().backward()
    xn, wn = _np(x), _np(w)
    np.testing.assert_allclose(_np(gx), 2 * xn @ wn.T @ wn, rtol=1e-5, atol=1e-5)
    ones = np.ones((3, 4))
    expected_w = 2 * (ones @ wn.T).T @ xn + 2 * (xn @ wn.T).T @ ones  # d/dW of sum(2 x W^T W)
    np.testing.assert_allclose(_np(w.grad), expected_w, rtol=1e-5, atol=1e-5)
    assert w.grad.is_contiguous()


def test_cuda_passes_strides_without_copies(rng, monkeypatch):
    ta, a = _make(rng, (3, 7), tt.float32, "cuda", transposed=True)  # stored (7, 3)
    tb, b = _make(rng, (2, 7, 5), tt.float32, "cuda", transposed=True)
    launches = _count_launches(monkeypatch)
    _close(ta @ tb, a @ b, tt.float32)
    assert len(launches) == 1
    shape, a_strides, b_strides, _ = launches[0]
    assert shape == (2, 3, 5) and a_strides == (0, 1, 3) and b_strides == (35, 1, 7)
    # Batch dims broadcast on different sides do not collapse into one stride: one launch per outer index.
    tc, c = _make(rng, (2, 1, 3, 7), tt.float32, "cuda")
    td, d = _make(rng, (4, 7, 5), tt.float32, "cuda")
    launches.clear()
    _close(tc @ td, c @ d, tt.float32)
    assert len(launches) == 2 and launches[0][0] == (4, 3, 5)


def test_cuda_linear_uses_bias_epilogue_and_backward_uses_kernel(rng, monkeypatch):
    tx, x = _make(rng, (2, 3, 7), tt.float32, "cuda")
    tw, w = _make(rng, (5, 7), tt.float32, "cuda")
    tb, b = _make(rng, (5,), tt.float32, "cuda")
    for t in (tx, tw, tb):
        t.requires_grad_(True)
    launches = _count_launches(monkeypatch, forbid_copy=False)
    y = tt.linear(tx, tw, tb)
    _close(y, x @ w.T + b, tt.float32)
    assert len(launches) == 1 and launches[0][0] == (1, 6, 5) and launches[0][3]["bias"] is not None
    launches.clear()
    y.sum().backward()
    assert len(launches) == 2  # dX and dW, both through the matmul kernel
    np.testing.assert_allclose(_np(tw.grad), np.ones((6, 5)).T @ x.reshape(6, 7), rtol=1e-5)


@pytest.fixture
def selector():
    """Install a fake tuning selector (returns `picks[key]`, else the heuristic; with `time` set it first runs
    the config once, as a timing run would) and restore the autotuner's."""
    import tritensor.autotune as autotune
    from tritensor.kernels import tuning

    class Fake:
        def __init__(self):
            self.calls, self.picks, self.time = [], {}, False

        def __call__(self, tunable, key, sizes, run, repeatable):
            self.calls.append((tunable, key, sizes, repeatable))
            config = self.picks.get(key, tunable.heuristic(key))
            if self.time:
                run(config)
            return config, True

    fake = Fake()
    tuning.install_selector(fake)
    yield fake
    tuning.install_selector(autotune.select_for_launch)


def _launching_kernels(monkeypatch) -> list:
    """Record, for every matmul_kernel / splitk_reduce_kernel launch, (kernel name, inside tuning.launch)."""
    from tritensor.kernels import tuning

    seen = []
    for kernel in (KM.matmul_kernel, KM.splitk_reduce_kernel):
        def wrapped(*args, _run=kernel.run, _name=kernel.__name__, **kwargs):
            seen.append((_name, tuning.launching()))
            return _run(*args, **kwargs)

        monkeypatch.setattr(kernel, "run", wrapped)
    return seen


def test_cuda_split_k_allocates_scratch(rng, monkeypatch, selector):
    config = dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=8, SPLIT_K=3, num_warps=4, num_stages=2)
    launches = _count_launches(monkeypatch)
    kernels = _launching_kernels(monkeypatch)
    ta, a = _make(rng, (2, 5, 40), tt.float32, "cuda")
    tb, b = _make(rng, (2, 40, 3), tt.float32, "cuda", transposed=True)
    tc, c = _make(rng, (3,), tt.float32, "cuda")
    selector.picks[KM.tuning_key(5, 3, 40, tt.float32, (200, 40, 1), (120, 1, 40), batch=2)] = config
    selector.time = True  # a timing run inside the selector must be able to launch too
    _close(tt.baddbmm(tc, ta, tb, alpha=2, beta=0.5), 0.5 * c + 2 * (a @ b), tt.float32)
    assert len(selector.calls) == 1 and [launch[3]["config"] for launch in launches] == [config, config]
    scratch = launches[-1][3]["scratch"]
    assert scratch.shape == (3, 2, 5, 3) and scratch.dtype is tt.float32
    # timing run, then the call's: partials + reduction each time; the call's inside tuning.launch
    assert [name for name, _ in kernels] == ["matmul_kernel", "splitk_reduce_kernel"] * 2
    assert kernels[2:] == [("matmul_kernel", True), ("splitk_reduce_kernel", True)]


@pytest.mark.parametrize("dtype,tf32", [(tt.float16, False), (tt.bfloat16, False), (tt.float32, False),
                                        (tt.float32, True)])
def test_cuda_config_comes_from_the_selector(rng, monkeypatch, selector, dtype, tf32):
    """The config a matmul launches with is the selector's, asked once per key (same-bucket shapes share it)."""
    monkeypatch.setattr(backends.cuda.matmul, "allow_tf32", tf32)
    launches = _count_launches(monkeypatch)
    kernels = _launching_kernels(monkeypatch)
    ta, a = _make(rng, (5, 7), dtype, "cuda", transposed=True)
    tb, b = _make(rng, (7, 3), dtype, "cuda")
    key = KM.tuning_key(5, 3, 7, dtype, (1, 5), (3, 1), allow_tf32=tf32, batch=1)
    pick = KM.MATMUL_TUNING.configs(key)[1]  # not the heuristic
    assert pick != KM.heuristic_config(5, 3, 7, dtype)
    selector.picks[key] = pick
    _close(ta @ tb, a @ b, dtype)
    (tunable, seen_key, sizes, repeatable), = selector.calls
    assert tunable is KM.MATMUL_TUNING and seen_key == key and repeatable is True
    assert key.a_t is True and key.b_t is False and key.tf32 is tf32 and key.shape_class == "small_m"
    assert sizes == dict(M=5, N=3, K=7, batch=1, itemsize=dtype.itemsize, out_itemsize=dtype.itemsize)
    assert [launch[3]["config"] for launch in launches] == [pick]
    # 6x4x8 is in 5x3x7's buckets (and shape class): the remembered pick, no second selector call
    tc, c = _make(rng, (6, 8), dtype, "cuda", transposed=True)
    td, d = _make(rng, (8, 4), dtype, "cuda")
    launches.clear()
    _close(tc @ td, c @ d, dtype)
    assert len(selector.calls) == 1 and [launch[3]["config"] for launch in launches] == [pick]
    # another bucket (K 9 -> 16) asks again
    te, e = _make(rng, (5, 9), dtype, "cuda", transposed=True)
    tf, f = _make(rng, (9, 3), dtype, "cuda")
    _close(te @ tf, e @ f, dtype)
    assert len(selector.calls) == 2 and selector.calls[1][1] == KM.tuning_key(5, 3, 9, dtype, (1, 5), (3, 1), tf32)
    assert len(kernels) == 3 and all(inside for _, inside in kernels)


def test_cuda_batch_loop_runs_inside_one_tuning_launch(rng, monkeypatch, selector):
    # (2, 1, 3, 7) @ (4, 7, 5): the batch dims do not collapse, so run(config) launches once per outer index
    launches = _count_launches(monkeypatch)
    kernels = _launching_kernels(monkeypatch)
    tc, c = _make(rng, (2, 1, 3, 7), tt.float32, "cuda")
    td, d = _make(rng, (4, 7, 5), tt.float32, "cuda")
    _close(tc @ td, c @ d, tt.float32)
    (_, key, sizes, _), = selector.calls
    assert key == KM.tuning_key(3, 5, 7, tt.float32, (0, 7, 1), (35, 5, 1), batch=4) and key.batch == 4
    assert sizes["batch"] == 8  # every product of the call, for the cost model
    assert len(launches) == 2 and kernels == [("matmul_kernel", True)] * 2


def test_interpreter_uses_the_exact_heuristic(rng, monkeypatch):
    """With the autotuner's selector, the interpreter launches heuristic_config of the exact shape, never timing."""
    import tritensor.autotune as autotune
    from tritensor.kernels import tuning

    class NoTimer:
        def measure(self, run, config):
            raise AssertionError("the interpreter must not time")

    autotune.reset_default_tuner(autotune.Tuner(timer=NoTimer(), mode="1"))
    tuning.install_selector(autotune.select_for_launch)
    try:
        launches = _count_launches(monkeypatch)
        # fp32 without TF32 keeps the pointer kernel; medium, big (same buckets), split-K
        for m, n, k in ((100, 200, 40), (128, 256, 40), (8, 3, 2048)):
            ta, a = _make(rng, (m, k), tt.float32, "cuda")
            tb, b = _make(rng, (k, n), tt.float32, "cuda")
            launches.clear()
            _close(ta @ tb, a @ b, tt.float32, scale=4.0)
            assert [launch[3]["config"] for launch in launches] == [KM.heuristic_config(m, n, k, tt.float32)]
        ta, a = _make(rng, (128, 64), tt.float16, "cuda")  # aligned fp16: the TMA path's heuristic
        tb, b = _make(rng, (64, 256), tt.float16, "cuda")
        launches.clear()
        _close(ta @ tb, a @ b, tt.float16, scale=4.0)
        assert [launch[3]["config"] for launch in launches] == [
            KM.heuristic_config(128, 256, 64, tt.float16, path="tma")] and launches[0][3]["path"] == "tma"
    finally:
        autotune.reset_default_tuner()


def test_cuda_linear_takes_the_tma_path_forward_and_backward(rng, monkeypatch):
    """Aligned fp16 operands go to the descriptor kernel (with its workspace), the backward's transposed
    views too (dW = (dY^T @ X)^T reads dY^T as an M-contiguous A); unaligned ones keep the pointer kernel."""
    from tritensor.kernels import matmul_tma as KT

    tx, x = _make(rng, (2, 24, 32), tt.float16, "cuda", requires_grad=True)
    tw, w = _make(rng, (40, 32), tt.float16, "cuda", requires_grad=True)
    tb, b = _make(rng, (40,), tt.float16, "cuda", requires_grad=True)
    launches = _count_launches(monkeypatch, forbid_copy=False)
    y = tt.linear(tx, tw, tb)
    _close(y, x @ w.T + b, tt.float16, scale=4.0)
    (_, _, w_strides, kw), = launches
    assert kw["path"] == "tma" and w_strides == (0, 1, 32) and kw["bias"] is not None  # B stored (N, K)
    assert kw["workspace"].shape == KT.workspace_shape(kw["config"], 1, 48, 40)
    assert kw["workspace"].dtype is tt.uint8 and kw["config"] == KM.heuristic_config(48, 40, 32, tt.float16,
                                                                                         path="tma")
    launches.clear()
    y.float().sum().backward()
    assert [launch[3]["path"] for launch in launches] == ["tma", "tma"]
    np.testing.assert_allclose(_np(tx.grad), np.broadcast_to(w.sum(0), (2, 24, 32)), rtol=0, atol=2e-2)
    np.testing.assert_allclose(_np(tw.grad), np.broadcast_to(x.reshape(48, 32).sum(0), (40, 32)), rtol=0,
                               atol=6e-2)
    launches.clear()
    tu, u = _make(rng, (5, 7), tt.float16, "cuda")  # 14-byte rows: no descriptor
    tv, v = _make(rng, (7, 8), tt.float16, "cuda")
    _close(tu @ tv, u @ v, tt.float16)
    assert launches[0][3]["path"] == "ptr" and launches[0][3]["workspace"] is None


@pytest.mark.parametrize("tf32", [False, True])
def test_cuda_fp32_takes_the_tma_path_only_with_tf32(rng, monkeypatch, tf32):
    monkeypatch.setattr(backends.cuda.matmul, "allow_tf32", tf32)
    launches = _count_launches(monkeypatch)
    ta, a = _make(rng, (16, 32), tt.float32, "cuda")
    tb, b = _make(rng, (32, 8), tt.float32, "cuda")
    # 1/16 steps: TF32 products are exact, so the fp32 tolerance holds with tf32 on a GPU too
    ta, tb = (t.mul(16).round().div(16) for t in (ta, tb))
    a, b = (np.round(v * 16) / 16 for v in (a, b))
    _close(ta @ tb, a @ b, tt.float32)
    assert launches[0][3]["path"] == ("tma" if tf32 else "ptr")


def test_backends_flags():
    assert backends.cuda.matmul.allow_tf32 is False  # PyTorch's default
    try:
        backends.set_float32_matmul_precision("high")
        assert backends.cuda.matmul.allow_tf32 is True and backends.get_float32_matmul_precision() == "high"
        backends.set_float32_matmul_precision("highest")
        assert backends.cuda.matmul.allow_tf32 is False
        with pytest.raises(RuntimeError, match="Invalid precision"):
            backends.set_float32_matmul_precision("low")
        with pytest.raises(TypeError, match="bool"):
            backends.cuda.matmul.allow_tf32 = 1
    finally:
        backends.cuda.matmul.allow_tf32 = False
    backends.cudnn.benchmark = True  # accepted for ported scripts, no effect
    assert backends.cudnn.is_available() is False and backends.cuda.is_built()


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    z = lambda *s, dtype=tt.float32: tt.zeros(*s, dtype=dtype, device=device)  # noqa: E731
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        tt.mm(z(2, 3), z(4, 5))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        z(2, 3) @ z(4, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(6x3 and 4x5\)"):
        tt.linear(z(2, 3, 3), z(5, 4))
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float != c10::Half"):
        tt.matmul(z(2, 3), z(3, 2, dtype=tt.float16))
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D, but they are 0D and 1D"):
        tt.matmul(z(), z(3))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        tt.matmul(z(3), z(4))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        tt.mv(z(2, 3), z(4))
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        tt.matmul(z(2, 3, 4), z(3, 4, 5))
    with pytest.raises(RuntimeError, match=r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\]"):
        tt.bmm(z(2, 3, 4), z(2, 5, 6))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        tt.bmm(z(3, 4), z(2, 4, 6))
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        tt.mm(z(3), z(3, 4))
    with pytest.raises(RuntimeError, match="mat1 must be a matrix, got 1-D tensor"):
        tt.addmm(z(3), z(3), z(3, 4))
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        tt.addmm(z(3), z(2, 3), z(3, 4))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        tt.dot(z(2, 3), z(3))
    with pytest.raises(RuntimeError, match="outer: Expected 1-D argument self"):
        tt.outer(z(2, 3), z(3))
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        tt.matmul(z(2, 2, dtype=tt.bool), z(2, 2, dtype=tt.bool))
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.matmul(z(2, 2), [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="einsum\\(\\): the number of subscripts in the equation \\(2\\) does not"):
        tt.einsum("ij,jk->ik", z(2, 3), z(3))
    with pytest.raises(RuntimeError, match="more operands were provided"):
        tt.einsum("ij->ij", z(2, 3), z(2, 3))
    with pytest.raises(RuntimeError, match="output subscript k does not appear"):
        tt.einsum("ij->ik", z(2, 3))
    with pytest.raises(RuntimeError, match="invalid subscript given at index 4"):
        tt.einsum("ij,j1->i", z(2, 3), z(3, 1))
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1"):
        tt.einsum("ij,jk->ik", z(2, 3), z(4, 2))
    with pytest.raises(RuntimeError, match="subscript i is repeated for operand 0 but the sizes don't match"):
        tt.einsum("ii->i", z(2, 3))


def test_device_and_dtype_errors_on_cuda():
    a, b = tt.zeros(2, 3), tt.zeros(3, 2, device="cuda")
    for fn in (tt.matmul, tt.mm):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            fn(a, b)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.linear(tt.zeros(2, 3, device="cuda"), tt.zeros(4, 3))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.addmm(tt.zeros(2, 2), b.t(), b)
    d = tt.zeros(2, 3, dtype=tt.float64, device="cuda")
    with pytest.raises(RuntimeError, match="matmul on cuda supports float16, bfloat16 and float32.*Double"):
        d @ d.t()
    with pytest.raises(RuntimeError, match="on cuda supports float16, bfloat16 and float32"):
        tt.matmul(tt.zeros(2, 2, dtype=tt.int64, device="cuda"), tt.zeros(2, 2, dtype=tt.int64, device="cuda"))
