"""Pooling ops (ops/pooling.py, nn.functional.pooling) on cpu and interpreted cuda: values and argmax against
kernels/pool_ref.py, PyTorch's output-size rules (ceil_mode, None adaptive sizes, unbatched inputs), float64
gradcheck and gradgradcheck, cuda's backward against cpu's, grad_fn names, max_unpool and lp_pool."""

import numpy as np
import pytest
from tritensor.kernels import pool_ref as R

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck, gradgradcheck

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _geom(max_, k, kernel, stride=None, padding=0, dilation=1, adaptive=False, cip=True, div=0):
    def three(v, fill):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * k
        return (fill,) * (3 - k) + v
    return dict(max=max_, adaptive=adaptive, kernel=three(kernel, 1), stride=three(stride or kernel, 1),
                padding=three(padding, 0), dilation=three(dilation, 1), count_include_pad=cip, divisor=div)


def _ref(a, k, out_sp, p):
    """pool_ref over the last k dims of a (any leading dims), shaped back."""
    lead, sp = a.shape[:-k], a.shape[-k:]
    x4 = a.reshape(-1, *((1,) * (3 - k) + sp))
    out, idx = R.pool_ref(x4, (1,) * (3 - k) + tuple(out_sp), p)
    return out.reshape(*lead, *out_sp), (idx.reshape(*lead, *out_sp) if idx is not None else None)


def test_torch_namespace_holds_only_torch_names():
    for name in ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d",
                 "adaptive_avg_pool1d", "adaptive_max_pool1d"):
        assert hasattr(tt, name)
    for name in ("avg_pool2d", "adaptive_avg_pool2d", "max_unpool2d", "lp_pool2d"):
        assert not hasattr(tt, name) and hasattr(F, name)


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool2d_values_indices_ceil_mode_dilation(rng, device):
    a = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    x = tt.tensor(a, device=device)
    y, i = F.max_pool2d(x, (3, 2), stride=2, padding=1, dilation=(1, 2), ceil_mode=True, return_indices=True)
    # H: ceil((7 + 2 - 2 - 1) / 2) + 1 = 4; W: ceil((8 + 2 - 2 - 1) / 2) + 1 = 5, last start 7 < 8 + 1
    assert y.shape == (2, 3, 4, 5) and i.dtype == tt.int64
    want, want_i = _ref(a, 2, (4, 5), _geom(True, 2, (3, 2), 2, 1, (1, 2)))
    np.testing.assert_array_equal(_np(y), want)
    np.testing.assert_array_equal(_np(i), want_i)
    assert y.grad_fn is None
    assert F.max_pool2d(x, 3).shape == (2, 3, 2, 2)


def test_ceil_mode_drops_a_window_starting_in_right_padding():
    x = tt.arange(5.0).reshape(1, 1, 5)
    # floor: (5 + 2 - 2) // 2 + 1 = 3 windows; ceil mode would give 4, but the 4th starts at 6 - 1 = 5 >= 5 + 0
    # ... inside the right padding only, so it is dropped.
    assert F.max_pool1d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3)
    assert F.avg_pool1d(tt.arange(6.0).reshape(1, 1, 6), 3, 2, 0, ceil_mode=True).shape == (1, 1, 3)
    np.testing.assert_allclose(_np(F.avg_pool1d(tt.arange(6.0).reshape(1, 1, 6), 3, 2, 0, ceil_mode=True)),
                               [[[1.0, 3.0, 4.5]]])  # the last window holds 4, 5 and divides by 2


@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool_divisors(rng, device):
    a = rng.standard_normal((2, 5, 7)).astype(np.float64)  # unbatched (C, H, W)
    x = tt.tensor(a, device=device)
    for kw, p in ((dict(), _geom(False, 2, 3, 2, 1)),
                  (dict(count_include_pad=False), _geom(False, 2, 3, 2, 1, cip=False)),
                  (dict(divisor_override=4), _geom(False, 2, 3, 2, 1, div=4)),
                  (dict(ceil_mode=True, count_include_pad=False), _geom(False, 2, 3, 2, 1, cip=False))):
        y = F.avg_pool2d(x, 3, 2, 1, **kw)
        np.testing.assert_allclose(_np(y), _ref(a, 2, y.shape[-2:], p)[0], rtol=1e-12)
    one = F.avg_pool1d(tt.tensor([[1.0, 2.0, 3.0, 4.0]], device=device), 2, 1, 1, count_include_pad=True)
    np.testing.assert_allclose(_np(one), [[0.5, 1.5, 2.5, 3.5, 2.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_three_d_and_one_d_match_reference(rng, device):
    a = rng.standard_normal((1, 2, 5, 4, 6)).astype(np.float32)
    y, i = F.max_pool3d(tt.tensor(a, device=device), (2, 3, 2), (2, 1, 2), (1, 1, 0), return_indices=True)
    want, want_i = _ref(a, 3, y.shape[-3:], _geom(True, 3, (2, 3, 2), (2, 1, 2), (1, 1, 0)))
    np.testing.assert_array_equal(_np(y), want)
    np.testing.assert_array_equal(_np(i), want_i)
    z = F.avg_pool3d(tt.tensor(a[0], device=device), 3, 2, 1, count_include_pad=False)  # unbatched
    np.testing.assert_allclose(_np(z), _ref(a[0], 3, z.shape[-3:], _geom(False, 3, 3, 2, 1, cip=False))[0],
                               rtol=1e-6)
    b = a.reshape(2, 5, 24)
    v, j = tt.max_pool1d_with_indices(tt.tensor(b, device=device), 4, 3, 2)
    want, want_j = _ref(b, 1, v.shape[-1:], _geom(True, 1, 4, 3, 2))
    np.testing.assert_array_equal(_np(v), want)
    np.testing.assert_array_equal(_np(j), want_j)


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_pools_and_none_sizes(rng, device):
    a = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    x = tt.tensor(a, device=device)
    y = F.adaptive_avg_pool2d(x, (3, None))
    assert y.shape == (2, 3, 3, 5)
    np.testing.assert_allclose(_np(y), _ref(a, 2, (3, 5), _geom(False, 2, (3, 1), adaptive=True))[0], rtol=1e-6)
    m, i = F.adaptive_max_pool2d(x, 4, return_indices=True)
    want, want_i = _ref(a, 2, (4, 4), _geom(True, 2, (3, 2), adaptive=True))
    np.testing.assert_array_equal(_np(m), want)
    np.testing.assert_array_equal(_np(i), want_i)
    g = tt.adaptive_avg_pool1d(tt.tensor(a[0], device=device), 9)  # up-sampling windows overlap
    np.testing.assert_allclose(_np(g), _ref(a[0], 1, (9,), _geom(False, 1, 2, adaptive=True))[0], rtol=1e-6)
    c = F.adaptive_max_pool3d(tt.tensor(a[:, :, None], device=device), (1, 2, 3))
    np.testing.assert_array_equal(_np(c), _ref(a[:, :, None], 3, (1, 2, 3), _geom(True, 3, (1, 4, 3),
                                                                                  adaptive=True))[0])
    np.testing.assert_allclose(_np(F.adaptive_avg_pool3d(tt.tensor(a, device=device), 1)).ravel(),
                               a.reshape(2, -1).mean(1), rtol=1e-5)


def _distinct(rng, shape, device):
    a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 10
    return tt.tensor(a, device=device, requires_grad=True)


CASES = [
    ("max2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 5, 6)),
    ("max1d_dil", lambda x: F.max_pool1d(x, 2, 2, 1, dilation=2), (2, 7)),
    ("max3d", lambda x: F.max_pool3d(x, 2, 1, 1), (1, 3, 3, 4)),
    ("avg2d", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (1, 2, 5, 6)),
    ("avg3d_div", lambda x: F.avg_pool3d(x, 2, 1, divisor_override=3), (1, 3, 3, 4)),
    ("avg1d", lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True), (2, 8)),
    ("aavg2d", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), (1, 2, 5, 3)),
    ("amax2d", lambda x: F.adaptive_max_pool2d(x, (2, 4)), (1, 2, 5, 3)),
    ("lp2d", lambda x: F.lp_pool2d(x, 2.0, 2), (1, 1, 4, 5)),
]


@pytest.mark.parametrize("name, fn, shape", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_float64_cpu(rng, name, fn, shape):
    x = _distinct(rng, shape, "cpu")
    if name.startswith("lp"):
        x = (x + 1).detach().requires_grad_(True)  # positive: x ** 2 summed stays away from 0
    assert gradcheck(fn, (x,))
    if name in ("max2d", "avg2d", "aavg2d"):
        assert gradgradcheck(fn, (x,))


# The interpreter runs each launch's window loops in Python: a few small cases on cuda (the kernels are
# compared with the references on many more geometries in tests/kernels/test_pool.py).
CUDA_CASES = [
    ("max2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 1, 3, 4)),
    ("avg1d", lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (1, 7)),
    ("amax1d", lambda x: F.adaptive_max_pool1d(x, 4), (1, 6)),
    ("aavg1d", lambda x: F.adaptive_avg_pool1d(x, 4), (1, 6)),
]


@pytest.mark.parametrize("name, fn, shape", CUDA_CASES, ids=[c[0] for c in CUDA_CASES])
def test_gradcheck_float64_cuda(rng, name, fn, shape):
    x = _distinct(rng, shape, "cuda")
    assert gradcheck(fn, (x,))
    if name == "aavg1d":
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name, fn, shape", CASES[:8], ids=[c[0] for c in CASES[:8]])
def test_cuda_backward_matches_cpu(rng, name, fn, shape):
    a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    outs = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        y = fn(x)
        g = tt.tensor(np.linspace(-1, 1, y.numel(), dtype=np.float32).reshape(y.shape), device=device)
        (gx,) = tt.autograd.grad(y, x, g)
        outs.append((_np(y), _np(gx)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-6)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-6, atol=1e-7)


def test_grad_fn_names():
    x = tt.randn(1, 2, 4, 4, requires_grad=True)
    assert F.max_pool2d(x, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert F.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, 2).grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    assert F.adaptive_max_pool2d(x, 2).grad_fn.name() == "AdaptiveMaxPool2DBackward0"
    x3 = tt.randn(1, 2, 2, 4, 4, requires_grad=True)
    assert F.max_pool3d(x3, 2).grad_fn.name() == "MaxPool3DWithIndicesBackward0"
    assert F.avg_pool3d(x3, 2).grad_fn.name() == "AvgPool3DBackward0"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_half_precision_matches_reference(rng, device, dtype):
    a = rng.standard_normal((2, 3, 6, 7)).astype(dtype.np)
    x = tt.tensor(a, device=device)
    y = F.max_pool2d(x, 2, ceil_mode=True)
    assert y.dtype is dtype
    np.testing.assert_array_equal(_np(y).astype(np.float32), _ref(a, 2, (3, 4), _geom(True, 2, 2))[0]
                                  .astype(np.float32))
    z = F.adaptive_avg_pool2d(x, 3)
    np.testing.assert_allclose(_np(z).astype(np.float32), _ref(a, 2, (3, 3), _geom(False, 2, (3, 3), adaptive=True))
                               [0].astype(np.float32), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_non_contiguous_input(rng, device):
    a = rng.standard_normal((6, 5, 2, 3)).astype(np.float32)
    x = tt.tensor(a, device=device).permute(3, 2, 1, 0)  # (3, 2, 5, 6), strided
    y = F.avg_pool2d(x, 2, 1)
    b = np.ascontiguousarray(a.transpose(3, 2, 1, 0))
    np.testing.assert_allclose(_np(y), _ref(b, 2, (4, 5), _geom(False, 2, 2, 1))[0], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_max_unpool_round_trip(rng, device):
    a = rng.permutation(2 * 3 * 6 * 8).reshape(2, 3, 6, 8).astype(np.float32)
    x = tt.tensor(a, device=device)
    y, i = F.max_pool2d(x, 2, return_indices=True)
    u = F.max_unpool2d(y, i, 2)
    assert u.shape == (2, 3, 6, 8)
    want = np.zeros_like(a).reshape(6, -1)
    np.put_along_axis(want, _np(i).reshape(6, -1), _np(y).reshape(6, -1), 1)
    np.testing.assert_array_equal(_np(u), want.reshape(a.shape))
    np.testing.assert_array_equal(_np(F.max_pool2d(u, 2)), _np(y))
    y1, i1 = F.max_pool1d(x[0, 0], 3, return_indices=True)  # unbatched (C, L)
    assert F.max_unpool1d(y1, i1, 3, output_size=[8]).shape == (6, 8)
    y3, i3 = F.max_pool3d(x[None], 2, return_indices=True)
    u3 = F.max_unpool3d(y3, i3, 2, output_size=(1, 2, 3, 6, 8))
    np.testing.assert_array_equal(_np(F.max_pool3d(u3, 2)), _np(y3))


def test_lp_pool_values():
    x = tt.tensor([[[1.0, -2.0, 3.0, 4.0, 2.0]]])
    np.testing.assert_allclose(_np(F.lp_pool1d(x, 2.0, 2)), [[[5 ** 0.5, 5.0]]], rtol=1e-6)
    y = F.lp_pool2d(tt.ones(1, 1, 4, 4), 3.0, 2, stride=1)
    np.testing.assert_allclose(_np(y), np.full((1, 1, 3, 3), 4 ** (1 / 3)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
@pytest.mark.parametrize("call", [lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 2, 1),
                                  lambda x: F.avg_pool2d(x, 2), lambda x: F.adaptive_avg_pool2d(x, 3)])
def test_cpu_backward_without_a_graph_equals_the_graph_ones(dtype, call):
    # Pool.backward_fused (no graph: PoolGrad's reference on the host arrays) and the Function-built backward
    # (create_graph=True) give the same gradients.
    base = np.random.default_rng(4).standard_normal((2, 3, 8, 7))
    grads = []
    for create_graph in (False, True):
        x = tt.tensor(base, dtype=dtype, requires_grad=True)
        y = call(x)
        g = np.linspace(0.5, 2.0, y.numel()).reshape(y.shape)
        (gx,) = tt.autograd.grad((y * tt.tensor(g, dtype=dtype)).sum(), [x], create_graph=create_graph)
        grads.append(gx.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    # each window passes its output's gradient on whole (to its max, or in shares that add up to it)
    np.testing.assert_allclose(grads[0].sum(), g.sum(), rtol=1e-5)
