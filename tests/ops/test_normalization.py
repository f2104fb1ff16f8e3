"""tt.layer_norm / rms_norm / group_norm / instance_norm (ops/normalization.py) on cpu and interpreted cuda:
values against kernels/norm_rows*.py's references, gradcheck (and gradgradcheck) in float64, cuda's fused
backward against cpu's, grad_fn names, non-contiguous inputs, 16-bit dtypes, a 10^5-element row, and every
error PyTorch raises."""

import numpy as np
import pytest
from tritensor.kernels import norm_rows as K
from tritensor.kernels import norm_rows_group as KG

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import normalization as ops_norm

DEVICES = ["cpu", "cuda"]
TOL = {tt.float32: 2e-5, tt.float64: 1e-12, tt.float16: 4e-3, tt.bfloat16: 3.2e-2}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, dtype=tt.float32, scale=1.0):
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(_np(got), np.asarray(want, np.float64), rtol=tol, atol=tol)


def _t(a, device, grad=False):
    return tt.tensor(a, device=device, requires_grad=grad)


def test_registered_in_the_torch_namespace():
    for name in ("layer_norm", "rms_norm", "group_norm", "instance_norm"):
        bound = getattr(tt, name)  # layer_norm and group_norm are bound autocast-wrapped
        assert getattr(bound, "__wrapped__", bound) is getattr(ops_norm, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,normalized", [((3, 4, 5), (4, 5)), ((7,), 7), ((2, 33), [33])])
def test_layer_norm_values_and_gradients(rng, device, shape, normalized):
    a = rng.standard_normal(shape).astype(np.float32)
    nshape = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    w = rng.standard_normal(nshape).astype(np.float32)
    b = rng.standard_normal(nshape).astype(np.float32)
    x, tw, tb = _t(a, device, True), _t(w, device, True), _t(b, device, True)
    y = tt.layer_norm(x, normalized, tw, tb)
    assert y.grad_fn.name() == "NativeLayerNormBackward0" and y.shape == shape
    R = int(np.prod(nshape))
    a2 = a.reshape(-1, R)
    want, mean, rstd = K.layer_norm_ref(a2, w.reshape(-1), b.reshape(-1), 1e-5)
    _close(y, want.reshape(shape))
    g = rng.standard_normal(shape).astype(np.float32)
    gx, gw, gb = tt.autograd.grad(y, (x, tw, tb), _t(g, device))
    want_dx, want_dw, want_db = K.layer_norm_backward_ref(g.reshape(-1, R), a2, w.reshape(-1), mean, rstd)
    _close(gx, want_dx.reshape(shape), scale=4)
    _close(gw, want_dw.reshape(nshape), scale=4)
    _close(gb, want_db.reshape(nshape), scale=4)


@pytest.mark.parametrize("device", DEVICES)
def test_rms_norm_values_default_eps_and_gradients(rng, device):
    a = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal(6).astype(np.float32)
    x, tw = _t(a, device, True), _t(w, device, True)
    y = tt.rms_norm(x, [6], tw)
    eps = float(np.finfo(np.float32).eps)
    want, _, rstd = K.layer_norm_ref(a, w, None, eps, rms=True)
    _close(y, want)
    g = rng.standard_normal(a.shape).astype(np.float32)
    gx, gw = tt.autograd.grad(y, (x, tw), _t(g, device))
    want_dx, want_dw, _ = K.layer_norm_backward_ref(g, a, w, np.zeros(4, np.float32), rstd, rms=True)
    _close(gx, want_dx, scale=4)
    _close(gw, want_dw, scale=4)
    h = rng.standard_normal((3, 5)).astype(np.float16)
    want16 = K.layer_norm_ref(h, None, None, float(np.finfo(np.float16).eps), rms=True)[0]
    _close(tt.rms_norm(_t(h, device), (5,)), want16, tt.float16)
    _close(tt.rms_norm(x, 6, eps=0.5), K.layer_norm_ref(a, None, None, 0.5, rms=True)[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((3, 4), 2), ((2, 4, 3, 3), 1), ((2, 4, 3, 2), 4)])
def test_group_norm_values_and_gradients(rng, device, shape, groups):
    a = rng.standard_normal(shape).astype(np.float32)
    C = shape[1]
    w, b = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    x, tw, tb = _t(a, device, True), _t(w, device, True), _t(b, device, True)
    y = tt.group_norm(x, groups, tw, tb)
    assert y.grad_fn.name() == "NativeGroupNormBackward0"
    a3 = a.reshape(shape[0], C, -1)
    want, mean, rstd = KG.group_norm_ref(a3, groups, w, b, 1e-5)
    _close(y, want.reshape(shape))
    g = rng.standard_normal(shape).astype(np.float32)
    gx, gw, gb = tt.autograd.grad(y, (x, tw, tb), _t(g, device))
    want_dx, want_dw, want_db = KG.group_norm_backward_ref(g.reshape(a3.shape), a3, w, mean, rstd, groups)
    _close(gx, want_dx.reshape(shape), scale=4)
    _close(gw, want_dw, scale=4)
    _close(gb, want_db, scale=4)


@pytest.mark.parametrize("device", DEVICES)
def test_instance_norm_is_group_norm_per_channel(rng, device):
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    y = tt.instance_norm(_t(a, device), _t(w, device), _t(b, device))
    _close(y, KG.group_norm_ref(a.reshape(2, 3, 20), 3, w, b, 1e-5)[0].reshape(a.shape))


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck_float64(rng, device):
    """Finite differences through the fused kernels (tiny shapes: every perturbation is an interpreted launch)."""
    x = _t(rng.standard_normal((2, 2, 3)), device, True)
    w = _t(rng.standard_normal(3), device, True)
    b = _t(rng.standard_normal(3), device, True)
    wc = _t(rng.standard_normal(2), device, True)
    bc = _t(rng.standard_normal(2), device, True)
    assert gradcheck(lambda x, w, b: tt.layer_norm(x, (3,), w, b), (x, w, b))
    assert gradcheck(lambda x, w: tt.rms_norm(x, (3,), w), (x, w))
    assert gradcheck(lambda x, w, b: tt.group_norm(x, 1, w, b), (x, wc, bc))
    assert gradcheck(lambda x, w, b: tt.instance_norm(x, w, b), (x, wc, bc))


def test_gradgradcheck_float64(rng):
    """The tensor-op backward (create_graph) recomputes the statistics from x: double backward is exact."""
    x = tt.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    wc = tt.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: tt.layer_norm(x, (2, 4), w, b), (x, w, b))
    assert gradgradcheck(lambda x, w: tt.rms_norm(x, (4,), w[0]), (x, w))
    assert gradgradcheck(lambda x, w: tt.group_norm(x, 2, w), (x, wc))


def _grads(device, a, w, b, g, fn):
    x, tw, tb = _t(a, device, True), _t(w, device, True), _t(b, device, True)
    y = fn(x, tw, tb)
    y.backward(_t(g, device))
    return y, x.grad, tw.grad, tb.grad


@pytest.mark.parametrize("op", ["layer_norm", "group_norm"])
def test_cuda_fused_backward_matches_cpu(rng, op):
    a = rng.standard_normal((6, 4, 9)).astype(np.float32)
    shape = (9,) if op == "layer_norm" else (4,)
    w, b = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(a.shape).astype(np.float32)
    if op == "layer_norm":
        def fn(x, w, b):
            return tt.layer_norm(x, 9, w, b)
    else:
        def fn(x, w, b):
            return tt.group_norm(x, 2, w, b)
    for got, want in zip(_grads("cuda", a, w, b, g, fn), _grads("cpu", a, w, b, g, fn)):
        assert got.device.type == "cuda"
        _close(got, _np(want), scale=4)


@pytest.mark.parametrize("device", DEVICES)
def test_non_contiguous_input_and_parameters(rng, device):
    a = rng.standard_normal((5, 3, 4)).astype(np.float32)
    x = _t(a, device).transpose(0, 2)  # (4, 3, 5), non-contiguous
    w = _t(rng.standard_normal((5, 2)).astype(np.float32), device).t()[0]  # strided weight
    y = tt.layer_norm(x, (5,), w)
    want = K.layer_norm_ref(np.ascontiguousarray(a.transpose(2, 1, 0)).reshape(-1, 5), _np(w).astype(np.float32),
                            None, 1e-5)[0]
    _close(y, want.reshape(4, 3, 5))
    yg = tt.group_norm(x.transpose(1, 2), 1)  # (4, 5, 3)
    _close(yg, KG.group_norm_ref(np.ascontiguousarray(a.transpose(2, 0, 1)), 1, None, None, 1e-5)[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_16_bit_inputs_keep_their_dtype(rng, device, dtype):
    a = rng.standard_normal((3, 10)).astype(dtype.np)
    w = rng.standard_normal(10).astype(dtype.np)
    x = _t(a, device, True)
    y = tt.layer_norm(x, (10,), _t(w, device))
    assert y.dtype is dtype
    _close(y, K.layer_norm_ref(a, w, None, 1e-5)[0], dtype)
    y.sum().backward()
    assert x.grad.dtype is dtype
    yg = tt.group_norm(_t(a.reshape(3, 2, 5), device), 2)
    assert yg.dtype is dtype
    _close(yg, KG.group_norm_ref(a.reshape(3, 2, 5), 2, None, None, 1e-5)[0], dtype)


def test_long_row_loops_on_cuda(rng):
    """Two rows past the one-pass limit: the split forward (norm_rows_split) and the looping backward."""
    R = 12_345
    a = (rng.standard_normal((2, R)) + 3).astype(np.float32)
    w = rng.standard_normal(R).astype(np.float32)
    x, tw = _t(a, "cuda", True), _t(w, "cuda", True)
    y = tt.layer_norm(x, R, tw)
    want, mean, rstd = K.layer_norm_ref(a, w, None, 1e-5)
    _close(y, want, scale=2)
    g = rng.standard_normal(a.shape).astype(np.float32)
    gx, gw = tt.autograd.grad(y, (x, tw), _t(g, "cuda"))
    want_dx, want_dw, _ = K.layer_norm_backward_ref(g, a, w, mean, rstd)
    _close(gx, want_dx, scale=4)
    _close(gw, want_dw, scale=4)


@pytest.mark.parametrize("device", DEVICES)
def test_layer_norm_errors(device):
    x = tt.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"^Given normalized_shape=\[5\], expected input with shape \[\*, 5\], "
                                           r"but got input of size\[2, 3\]$"):
        tt.layer_norm(x, [5])
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[2, 3, 4\], expected input with shape "
                                           r"\[\*, 2, 3, 4\], but got input of size\[2, 3\]"):
        tt.layer_norm(x, (2, 3, 4))
    with pytest.raises(RuntimeError, match=r"^Expected weight to be of same shape as normalized_shape, but got weight "
                                           r"of shape \[4\] and normalized_shape = \[3\]$"):
        tt.layer_norm(x, (3,), tt.ones(4, device=device))
    with pytest.raises(RuntimeError, match=r"Expected bias to be of same shape"):
        tt.layer_norm(x, (3,), None, tt.ones(2, device=device))
    with pytest.raises(RuntimeError, match=r"^Expected normalized_shape to be at least 1-dimensional"):
        tt.layer_norm(x, [])
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[2\]"):
        tt.rms_norm(x, [2])
    with pytest.raises(RuntimeError, match="\"layer_norm\" not implemented for 'Long'"):
        tt.layer_norm(tt.zeros(2, 3, dtype=tt.int64, device=device), [3])
    with pytest.raises(TypeError, match=r"argument 'input' \(position 1\) must be Tensor, not list"):
        tt.layer_norm([1.0], [1])


@pytest.mark.parametrize("device", DEVICES)
def test_group_norm_errors(device):
    x = tt.zeros(2, 6, 4, device=device)
    with pytest.raises(RuntimeError, match=r"^Expected number of channels in input to be divisible by num_groups, but "
                                           r"got input of shape \[2, 6, 4\] and num_groups=4$"):
        tt.group_norm(x, 4)
    with pytest.raises(RuntimeError, match=r"^Expected weight to be a vector of size equal to the number of channels "
                                           r"in input, but got weight of shape \[3\] and input of shape \[2, 6, 4\]$"):
        tt.group_norm(x, 3, tt.ones(3, device=device))
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions for input tensor but received 1"):
        tt.group_norm(tt.zeros(6, device=device), 3)
    with pytest.raises(RuntimeError, match="running_mean should contain 6 elements not 4"):
        tt.instance_norm(x, running_mean=tt.zeros(4, device=device), running_var=tt.ones(6, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_batches(device):
    x = tt.zeros(0, 5, device=device, requires_grad=True)
    w = tt.ones(5, device=device, requires_grad=True)
    tt.layer_norm(x, (5,), w).sum().backward()
    assert x.grad.shape == (0, 5) and (_np(w.grad) == 0).all()
    xg = tt.zeros(0, 4, 3, device=device, requires_grad=True)
    wg = tt.ones(4, device=device, requires_grad=True)
    y = tt.group_norm(xg, 2, wg)
    y.sum().backward()
    assert y.shape == (0, 4, 3) and xg.grad.shape == (0, 4, 3) and (_np(wg.grad) == 0).all()
