"""F.linear(..., activation=...): the bias + activation matmul epilogue (and its stored pre-activation z), the fused
dz / bias-gradient backward kernel, against the unfused F.<act>(F.linear(...)) and NumPy, on cpu and interpreted
cuda; float64 gradcheck / gradgradcheck on cpu; launch counts; errors."""

import numpy as np
import pytest
from tritensor.kernels import linear_act as KL
from tritensor.kernels import matmul as KM
from tritensor.kernels import tuning

import tritensor as tt
from tests.ops.activation_helpers import ACTS, act_np, apply_act
from tests.ops.matmul_helpers import _close, _np

F = tt.nn.functional


def _unfused(x, w, b, act):
    return apply_act(F.linear(x, w, b), act)


def _leaves(rng, dtype, device, shape_x=(5, 7), n=6, bias=True):
    vals = [rng.standard_normal(shape_x), rng.standard_normal((n, shape_x[-1])), rng.standard_normal((n,))]
    ts = [tt.tensor(v.astype(dtype.np), device=device, requires_grad=True) for v in vals[:3 if bias else 2]]
    return ts + ([] if bias else [None]), [t.detach().cpu().numpy().astype(np.float64) for t in ts if t is not None]


def _run(fn, ts, gout):
    y = fn(*ts)
    (y * gout).sum().backward()
    grads = [t.grad.detach().cpu().numpy().astype(np.float64) for t in ts if t is not None]
    for t in ts:
        if t is not None:
            t.grad = None
    return y, grads


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("act", ACTS)
def test_fused_matches_unfused_fp32(rng, device, act):
    ts, (x, w, b) = _leaves(rng, tt.float32, device)
    gout = tt.tensor(rng.standard_normal((5, 6)).astype(np.float32), device=device)
    y, grads = _run(lambda *a: F.linear(*a, activation=act), ts, gout)
    y2, grads2 = _run(lambda *a: _unfused(*a, act), ts, gout)
    assert type(y.grad_fn).__name__ == "LinearActivation"
    _close(y, act_np(x @ w.T + b, act), tt.float32, 4)
    _close(y, _np(y2), tt.float32, 4)
    for g, g2 in zip(grads, grads2):
        np.testing.assert_allclose(g, g2, rtol=0, atol=2e-5 * max(1.0, np.abs(g2).max()))


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_fused_16bit_cuda(rng, dtype):
    for act in ("gelu", "silu"):
        ts, (x, w, b) = _leaves(rng, dtype, "cuda", (3, 4, 16), 8)
        gout = tt.tensor(rng.standard_normal((3, 4, 8)).astype(dtype.np), device="cuda")
        y, grads = _run(lambda *a, act=act: F.linear(*a, activation=act), ts, gout)
        y2, grads2 = _run(lambda *a, act=act: _unfused(*a, act), ts, gout)
        assert y.dtype is dtype and y.shape == (3, 4, 8)
        _close(y, _np(y2), dtype, 2)
        for g, g2 in zip(grads, grads2):
            np.testing.assert_allclose(g, g2, rtol=0, atol=4 * {tt.float16: 2e-3, tt.bfloat16: 1.6e-2}[dtype]
                                       * max(1.0, np.abs(g2).max()))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_shapes_and_no_bias(rng, device):
    w = tt.tensor(rng.standard_normal((4, 3)).astype(np.float32), device=device)
    x1 = tt.tensor(rng.standard_normal(3).astype(np.float32), device=device)
    y = F.linear(x1, w, activation="relu")
    assert y.shape == (4,)
    _close(y, np.maximum(_np(w) @ _np(x1), 0), tt.float32, 2)
    x3 = tt.tensor(rng.standard_normal((2, 0, 3)).astype(np.float32), device=device)
    assert F.linear(x3, w, activation="gelu").shape == (2, 0, 4)
    xt = tt.tensor(rng.standard_normal((3, 5)).astype(np.float32), device=device).t()  # non-contiguous input
    _close(F.linear(xt, w, activation="silu"), act_np(_np(xt) @ _np(w).T, "silu"), tt.float32, 4)


@pytest.mark.parametrize("act", ACTS)
def test_gradcheck_float64_cpu(rng, act):
    x, w, b = (tt.tensor(rng.standard_normal(s) + 0.1, requires_grad=True) for s in ((3, 4), (5, 4), (5,)))
    assert tt.autograd.gradcheck(lambda *a: F.linear(*a, activation=act), (x, w, b))
    if act != "relu":  # relu's second derivative is zero almost everywhere
        assert tt.autograd.gradgradcheck(lambda *a: F.linear(*a, activation=act), (x, w, b))


def test_fallbacks_and_errors(rng):
    w = tt.tensor(rng.standard_normal((4, 3)))
    x = tt.tensor(rng.standard_normal((2, 3)))
    # A bias of another broadcastable shape and a 1-D weight take linear + activation (same values).
    b2 = tt.tensor(rng.standard_normal((2, 1)))
    np.testing.assert_allclose(_np(F.linear(x, w, b2, activation="relu")),
                               np.maximum(_np(x) @ _np(w).T + _np(b2), 0), atol=1e-12)
    np.testing.assert_allclose(_np(F.linear(x, w[0], activation="silu")), act_np(_np(x) @ _np(w[0]), "silu"),
                               atol=1e-12)
    with pytest.raises(ValueError, match="activation must be one of"):
        F.linear(x, w, activation="tanh")
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        F.linear(tt.ones(2, 5, dtype=tt.float64), w, activation="relu")
    with pytest.raises(TypeError, match="must be Tensor"):
        F.linear(np.ones((2, 3)), w, activation="relu")
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.linear(tt.ones(2, 3, dtype=tt.int64), tt.ones(4, 3, dtype=tt.int64), activation="gelu")


def test_launch_counts_cuda(rng):
    ts, _ = _leaves(rng, tt.float32, "cuda", (4, 8), 16)
    gout = tt.ones(4, 16, device="cuda")
    seen = []

    def observe(record):
        seen.append(record.tunable.name)

    tuning.add_observer(observe)
    try:
        y = F.linear(*ts, activation="gelu")
        forward = list(seen)
        y.backward(gout)
    finally:
        tuning.remove_observer(observe)
    assert forward == ["matmul.matmul"]  # bias, gelu and z in one launch
    # (the three leaves' AccumulateGrad copies are elementwise.map_flat launches)
    assert sorted(n for n in seen[1:] if n != "elementwise.map_flat") == [
        "linear_act.act_grad", "matmul.matmul", "matmul.matmul"]


def _cuda(a):
    return tt.tensor(a, device="cuda")


@pytest.mark.parametrize("path,config", [
    ("ptr", dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2, SPLIT_K=1, num_warps=4, num_stages=1)),
    ("ptr", dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2, SPLIT_K=2, num_warps=4, num_stages=1)),
    ("tma", dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2, SPLIT_K=1, num_warps=4, num_stages=1)),
])
def test_kernel_stores_pre_activation(rng, path, config):
    a = rng.standard_normal((1, 20, 40)).astype(np.float32)
    b = rng.standard_normal((1, 40, 24)).astype(np.float32)
    bias = rng.standard_normal(24).astype(np.float32)
    out, z = _cuda(np.zeros((1, 20, 24), np.float32)), _cuda(np.zeros((1, 20, 24), np.float32))
    scratch = _cuda(np.zeros(KM.scratch_shape(config, 1, 20, 24), np.float32))._dev() if config["SPLIT_K"] > 1 \
        else None
    KM.matmul(out._dev(), _cuda(a)._dev(), _cuda(b)._dev(), bias=_cuda(bias)._dev(), activation="silu", z=z._dev(),
              config=config, scratch=scratch, path=path, allow_tf32=path == "tma")  # fp32 FMA keeps "ptr"
    ref_z = a @ b + bias
    tol = 2e-2 if path == "tma" else 1e-4  # tf32 products on a GPU
    np.testing.assert_allclose(z.cpu().numpy(), ref_z, atol=tol)
    np.testing.assert_allclose(out.cpu().numpy(), act_np(ref_z, "silu"), atol=tol)
    bad = _cuda(np.zeros((1, 24, 20), np.float32))._dev().view_as((1, 20, 24), (480, 1, 20))
    with pytest.raises(ValueError, match="z must have out's shape"):
        KM.matmul(out._dev(), _cuda(a)._dev(), _cuda(b)._dev(), z=bad)


@pytest.mark.parametrize("act", ACTS)
def test_act_grad_kernel_partials(rng, act):
    M, N = 200, 5  # several row slabs: the partials are column-summed
    P = KL.partial_rows(M, N)
    assert P > 1
    g = rng.standard_normal((M, N)).astype(np.float32)
    a = rng.standard_normal((M, N)).astype(np.float32)
    dz, part = _cuda(np.zeros((M, N), np.float32)), _cuda(np.zeros((P, N), np.float32))
    gt = _cuda(g.T.copy()).t()  # a transposed grad: any strides
    KL.act_grad(dz._dev(), gt._dev(), _cuda(a)._dev(), part._dev(), act)
    ref = KL.act_grad_ref(g, a, act)
    np.testing.assert_allclose(dz.cpu().numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(part.cpu().numpy().sum(0), ref.sum(0), atol=1e-4)
    with pytest.raises(ValueError, match="activation must be one of"):
        KL.act_grad(dz._dev(), _cuda(g)._dev(), _cuda(a)._dev(), None, "tanh")


def test_store_z_keys_take_spill_free_tiles():
    # The pointer kernel's big fp16 tile spills on sm_90 when it also stores z (AOT check): "+z" keys get medium.
    key = KM.tuning_key(256, 256, 64, tt.float16, (64, 1), (256, 1), path="ptr", store_z=True)
    assert key.shape_class == "big+z"
    assert KM.MATMUL_TUNING.heuristic(key) == KM.heuristic_config(100, 200, 64, "float16")
    tma = KM.tuning_key(256, 256, 64, tt.float16, (64, 1), (256, 1), path="tma", store_z=True)
    assert tma.shape_class == "big"  # the descriptor kernel's epilogue works on half tiles: no change
    assert all(c["BLOCK_K"] == 16 for c in KM.shipped_configs("float32", store_z=True) if c["BLOCK_N"] == 32)
