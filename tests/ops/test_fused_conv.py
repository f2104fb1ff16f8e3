"""F.conv1d/2d/3d(..., activation=...): the bias + activation conv epilogue (and its stored pre-activation z, also in
the depthwise kernel), the fused dz backward, against the unfused F.<act>(F.conv*d(...)) and NumPy, on cpu and
interpreted cuda; float64 gradcheck / gradgradcheck on cpu; launch counts; errors."""

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
from tests.ops.activation_helpers import ACTS, act_np, apply_act

F = tt.nn.functional
TOL = {tt.float32: 2e-5, tt.float16: 4e-3, tt.bfloat16: 3e-2}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _leaves(rng, dtype, device, x_shape=(2, 4, 5, 5), w_shape=(6, 4, 3, 3), bias=True):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])
    # Scaled so |z| stays small: the interpreter warns (an error here) when gelu_tanh / silu's exp overflows
    # fp32 (z < -~9); compiled kernels take the inf to sigmoid 0 as they should.
    ts = [tt.tensor((0.4 * rng.standard_normal(s)).astype(dtype.np), device=device, requires_grad=True)
          for s in shapes]
    return ts + ([] if bias else [None])


def _run(fn, ts, gout):
    y = fn(*ts)
    y.backward(gout)
    grads = [_np(t.grad) for t in ts if t is not None]
    for t in ts:
        if t is not None:
            t.grad = None
    return y, grads


def _nodes(y):
    """The names of the autograd nodes reachable from y."""
    seen, todo = [], [y.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and type(node).__name__ not in seen:
            seen.append(type(node).__name__)
            todo += [n for n, _ in node.next_functions]
    return seen


def _assert_close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL[dtype] * max(1.0, float(np.abs(b).max(initial=0.0))))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
# groups=4: depthwise (the direct kernel on cuda), with y saved (relu) and z saved (gelu)
@pytest.mark.parametrize("act,groups", [(a, 1) for a in ACTS] + [("relu", 4), ("gelu", 4)])
def test_fused_matches_unfused_fp32(rng, device, act, groups):
    ts = _leaves(rng, tt.float32, device, w_shape=(8, 4 // groups, 3, 3))
    gout = tt.tensor(rng.standard_normal((2, 8, 3, 3)).astype(np.float32), device=device)
    y, grads = _run(lambda *a: F.conv2d(*a, stride=2, padding=1, groups=groups, activation=act), ts, gout)
    y2, grads2 = _run(lambda *a: apply_act(F.conv2d(*a, stride=2, padding=1, groups=groups), act), ts, gout)
    assert "ConvActivation" in _nodes(y) and y.shape == (2, 8, 3, 3)
    if device == "cpu":  # the same NumPy references, in the same order: equal values
        np.testing.assert_array_equal(_np(y), _np(y2))
    _assert_close(_np(y), _np(y2), tt.float32)
    _assert_close(_np(y), act_np(_np(y2 if act == "relu" else F.conv2d(*ts, stride=2, padding=1, groups=groups)),
                                  act), tt.float32)
    for g, g2 in zip(grads, grads2):
        _assert_close(g, g2, tt.float32)


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
@pytest.mark.parametrize("groups", [1, 3])
def test_fused_16bit_cuda(rng, dtype, groups):
    for act in ("relu", "silu") if groups == 1 else ("silu",):  # the interpreted depthwise backward is slow
        ts = _leaves(rng, dtype, "cuda", (2, 3, 4, 4), (6, 3 // groups, 3, 3))
        gout = tt.tensor(rng.standard_normal((2, 6, 4, 4)).astype(dtype.np), device="cuda")
        y, grads = _run(lambda *a, act=act: F.conv2d(*a, padding="same", groups=groups, activation=act), ts, gout)
        y2, grads2 = _run(lambda *a, act=act: apply_act(F.conv2d(*a, padding="same", groups=groups), act), ts, gout)
        assert y.dtype is dtype and y.shape == (2, 6, 4, 4)
        _assert_close(_np(y), _np(y2), dtype)
        for g, g2 in zip(grads, grads2):
            _assert_close(g, g2, dtype)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_conv1d_conv3d_unbatched_no_bias(rng, device):
    x1, w1, _ = _leaves(rng, tt.float32, device, (3, 7), (4, 3, 3), bias=False)
    _assert_close(_np(F.conv1d(x1, w1, padding=1, activation="gelu")), _np(F.gelu(F.conv1d(x1, w1, padding=1))),
                  tt.float32)
    x3, w3, b3 = _leaves(rng, tt.float32, device, (1, 2, 3, 4, 4), (3, 2, 2, 2, 2))
    _assert_close(_np(F.conv3d(x3, w3, b3, dilation=(1, 2, 1), activation="silu")),
                  _np(F.silu(F.conv3d(x3, w3, b3, dilation=(1, 2, 1)))), tt.float32)
    with tt.no_grad():  # no gradient: cuda stores no z
        y = F.conv2d(x3[0, :, 0], w3[:, :, 0], b3, activation="gelu_tanh")
    _assert_close(_np(y), _np(F.gelu(F.conv2d(x3[0, :, 0], w3[:, :, 0], b3), approximate="tanh")), tt.float32)


def test_float64_cuda_runs_unfused(rng):
    x, w, b = _leaves(rng, tt.float64, "cuda", (1, 2, 4, 4), (3, 2, 3, 3))
    y = F.conv2d(x, w, b, activation="gelu")
    assert "ConvActivation" not in _nodes(y)
    np.testing.assert_allclose(_np(y), act_np(_np(F.conv2d(x, w, b)), "gelu"), atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_gradcheck_float64_cpu(rng, act):
    x, w, b = (tt.tensor(rng.standard_normal(s) + 0.1, requires_grad=True) for s in ((1, 2, 4, 4), (3, 2, 2, 2),
                                                                                      (3,)))
    assert tt.autograd.gradcheck(lambda *a: F.conv2d(*a, padding=1, stride=(1, 2), activation=act), (x, w, b))
    if act != "relu":  # relu's second derivative is zero almost everywhere
        assert tt.autograd.gradgradcheck(lambda *a: F.conv2d(*a, activation=act), (x, w, b))


def test_errors(rng):
    x = tt.tensor(rng.standard_normal((1, 2, 4, 4)))
    w = tt.tensor(rng.standard_normal((3, 2, 3, 3)))
    for fn, xx, ww in ((F.conv2d, x, w), (F.conv1d, x[0], w[:, :, 0]), (F.conv3d, x[None], w[:, :, None])):
        with pytest.raises(ValueError, match=r"activation must be one of None, 'relu'"):
            fn(xx, ww, activation="tanh")
    with pytest.raises(ValueError, match=r"conv2d\(\): activation must be one of"):
        F.conv2d(x, w, activation="tanh")
    with pytest.raises(RuntimeError, match="should be the same"):
        F.conv2d(x, w.float(), activation="relu")
    with pytest.raises(TypeError, match="must be Tensor"):
        F.conv2d(np.ones((1, 2, 4, 4)), w, activation="relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        F.conv2d(x.cuda(), w.cuda(), activation="Relu")


def _launches(fn):
    seen = []

    def observe(record):
        seen.append(record.tunable.name)

    tuning.add_observer(observe)
    try:
        fn()
    finally:
        tuning.remove_observer(observe)
    return seen


@pytest.mark.parametrize("groups,fwd", [(1, "conv.fwd"), (4, "conv_depthwise.fwd")])
def test_launch_counts_cuda(rng, groups, fwd):
    x, w, b = _leaves(rng, tt.float32, "cuda", (1, 4, 4, 4), (4, 4 // groups, 3, 3))
    box = []
    forward = _launches(lambda: box.append(F.conv2d(x, w, b, padding=1, groups=groups, activation="gelu")))
    assert forward == [fwd]  # bias, gelu and z in one launch
    backward = _launches(lambda: box[0].backward(tt.ones(1, 4, 4, 4, device="cuda")))
    # dz in one launch, db one reduction, then the conv's input and weight gradients (the leaves' AccumulateGrad
    # copies are elementwise.map_flat launches)
    kind = fwd.split(".")[0]
    assert sorted(n for n in backward if n != "elementwise.map_flat") == sorted(
        ["linear_act.act_grad", "reduction.reduce", f"{kind}.dgrad", f"{kind}.wgrad"])
