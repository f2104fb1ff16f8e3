"""tt.softmax / tt.log_softmax and Tensor.softmax / log_softmax (ops/softmax.py) on cpu and interpreted cuda:
values and gradients against kernels/softmax.py's references, every float dtype, the dtype argument, the grad_fn
names, the implicit-dim deprecation, PyTorch's errors, gradcheck in float64, and the shared row views."""

import numpy as np
import pytest
from tritensor.kernels import softmax as KS

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import softmax as ops_softmax

DEVICES = ["cpu", "cuda"]
TOL = {tt.float32: 1e-5, tt.float64: 1e-12, tt.float16: 2e-3, tt.bfloat16: 1.6e-2}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, dtype=tt.float32):
    np.testing.assert_allclose(_np(got), np.asarray(want, np.float64), rtol=TOL[dtype], atol=TOL[dtype])


def test_registered_as_public_functions_and_methods():
    # bound autocast-wrapped (float32 under cuda autocast), one wrapper for the function and the method
    assert tt.softmax.__wrapped__ is ops_softmax.softmax and tt.log_softmax.__wrapped__ is ops_softmax.log_softmax
    assert tt.Tensor.softmax is tt.softmax and tt.Tensor.log_softmax is tt.log_softmax


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_values_and_gradients_every_dim(rng, device, log, dim):
    a = rng.standard_normal((3, 5, 4)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = x.log_softmax(dim) if log else tt.softmax(x, dim)
    want = KS.softmax_ref(a, dim, log)
    _close(y, want)
    assert y.grad_fn.name() == ("LogSoftmaxBackward0" if log else "SoftmaxBackward0")
    g = rng.standard_normal(a.shape).astype(np.float32)
    (gx,) = tt.autograd.grad(y, x, tt.tensor(g, device=device))
    _close(gx, KS.softmax_backward_ref(g, want, dim, log))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
def test_low_precision_and_double(rng, device, dtype):
    a = rng.standard_normal((6, 9)).astype(dtype.np)
    y = tt.log_softmax(tt.tensor(a, device=device), 1)
    assert y.dtype is dtype
    _close(y, KS.softmax_ref(a, 1, True), dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_dtype_argument_casts_first_and_non_contiguous_input(rng, device):
    a = rng.standard_normal((5, 7)).astype(np.float16)
    y = tt.softmax(tt.tensor(a, device=device), 1, dtype=tt.float32)
    assert y.dtype is tt.float32
    _close(y, KS.softmax_ref(a.astype(np.float32), 1))
    b = rng.standard_normal((4, 6)).astype(np.float32)
    xt = tt.tensor(b, device=device).t()  # (6, 4), strided rows
    _close(xt.softmax(0), KS.softmax_ref(b.T, 0))
    _close(tt.softmax(tt.tensor(3, device=device), 0, dtype=tt.float64), 1.0, tt.float64)  # int through dtype


@pytest.mark.parametrize("device", DEVICES)
def test_zero_dim_empty_and_implicit_dim(device):
    assert tt.softmax(tt.tensor(-4.0, device=device), 0).item() == 1.0
    assert tt.log_softmax(tt.zeros(0, 3, device=device), 1).shape == (0, 3)
    x = tt.tensor([[1.0, 2.0], [3.0, 5.0]], device=device)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax has been deprecated"):
        y = tt.log_softmax(x)
    _close(y, KS.softmax_ref(np.array([[1.0, 2.0], [3.0, 5.0]]), 1, True))  # 2-d: dim 1


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    with pytest.raises(RuntimeError, match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        tt.softmax(tt.tensor([1, 2], device=device), 0)
    with pytest.raises(RuntimeError, match="\"log_softmax_lastdim_kernel_impl\" not implemented for 'Int'"):
        tt.tensor([1, 2], dtype=tt.int32, device=device).log_softmax(0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.softmax(tt.zeros(2, 3, device=device), -3)
    with pytest.raises(TypeError, match=r"softmax\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        tt.softmax([1.0, 2.0], 0)


def test_gradcheck_and_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    for fn in (tt.softmax, tt.log_softmax):
        for dim in (0, 1):
            assert gradcheck(lambda v, f=fn, d=dim: f(v, d), (x,))
            assert gradgradcheck(lambda v, f=fn, d=dim: f(v, d), (x,))


def test_cpu_and_cuda_agree_through_create_graph(rng):
    a = rng.standard_normal((4, 6))
    results = []
    for device in DEVICES:
        x = tt.tensor(a, dtype=tt.float64, device=device, requires_grad=True)
        (gx,) = tt.autograd.grad(tt.log_softmax(x, 1)[:, 0].sum(), x, create_graph=True)
        (ggx,) = tt.autograd.grad((gx * gx).sum(), x)
        results.append((_np(gx), _np(ggx)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


def test_row_views_collapse_without_copies_and_copy_when_needed(rng):
    x = tt.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), device="cuda")
    t, v = ops_softmax.rows3(x, 1)
    assert t is x and v.shape == (2, 4, 3) and v.strides == (12, 1, 4)
    t, v = ops_softmax.rows2(x, 1)
    assert t is x and v.shape == (2, 12) and v.strides == (12, 1)
    odd = x.permute(1, 0, 2)[:, :, ::2]  # (3, 2, 2): dims 1 and 2 don't collapse into one stride
    t, v = ops_softmax.rows3(odd, 0)
    assert t is not odd and t.is_contiguous() and v.shape == (1, 4, 3)
    np.testing.assert_array_equal(_np(t), _np(odd))
