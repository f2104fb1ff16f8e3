"""tt.batch_norm (ops/batch_norm.py) on cpu and interpreted cuda: values, running-statistics updates and gradients
against kernels/batch_norm_ref.py, float64 gradcheck (training and eval), second derivatives, cuda's backward
against cpu's, low-precision and strided inputs, the grad_fn name and PyTorch's errors."""

import inspect

import numpy as np
import pytest
from tritensor.kernels import batch_norm_ref as R

import tritensor as tt
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import batch_norm as ops_bn

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _buffers(C, device, dtype=tt.float32):
    return tt.zeros(C, dtype=dtype, device=device), tt.ones(C, dtype=dtype, device=device)


def test_registered_with_torch_signature():
    assert tt.batch_norm.__wrapped__ is ops_bn.batch_norm  # bound through the dispatch wrapper
    params = list(inspect.signature(tt.batch_norm).parameters)
    assert params == ["input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps",
                      "cudnn_enabled"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 5), (6, 5), (3, 2, 3, 5)])
def test_forward_running_stats_and_gradients(rng, device, training, shape):
    a = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    C = shape[1]
    w_np, b_np = rng.standard_normal(C).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    rm_np, rv_np = rng.standard_normal(C).astype(np.float32), (rng.random(C) + 0.5).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    w = tt.tensor(w_np, device=device, requires_grad=True)
    b = tt.tensor(b_np, device=device, requires_grad=True)
    rm, rv = tt.tensor(rm_np, device=device), tt.tensor(rv_np, device=device)
    version = rm._version
    y = tt.batch_norm(x, w, b, rm, rv, training, 0.3, 1e-3)
    want, mean, invstd = R.batch_norm_ref(a, rm_np, rv_np, w_np, b_np, training, 0.3, 1e-3)
    np.testing.assert_allclose(_np(y), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(rm), rm_np, rtol=1e-6, atol=1e-6)  # the reference updated its copies alike
    np.testing.assert_allclose(_np(rv), rv_np, rtol=1e-6, atol=1e-6)
    assert (rm._version > version) == training
    assert y.grad_fn.name() == "NativeBatchNormBackward0"
    g = rng.standard_normal(shape).astype(np.float32)
    gx, gw, gb = tt.autograd.grad(y, [x, w, b], tt.tensor(g, device=device))
    rx, rw, rb = R.batch_norm_backward_ref(g, a, mean, invstd, w_np, training)
    for got, ref in ((gx, rx), (gw, rw), (gb, rb)):
        np.testing.assert_allclose(_np(got), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_float64(rng, device, training):
    x = tt.tensor(rng.standard_normal((2, 2, 3)), device=device, requires_grad=True)
    w = tt.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    b = tt.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    rm, rv = tt.tensor([0.3, -0.2], device=device), tt.tensor([0.8, 1.7], device=device, dtype=tt.float64)
    rm = rm.to(tt.float64)
    assert gradcheck(lambda x, w, b: tt.batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5), (x, w, b))


def test_second_derivatives_float64(rng):
    x = tt.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    w = tt.tensor(rng.standard_normal(2), requires_grad=True)
    b = tt.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: tt.batch_norm(x, w, b, None, None, True, 0.1, 1e-5), (x, w, b))


@pytest.mark.parametrize("training", [True, False])
def test_cuda_backward_matches_cpu_without_affine(rng, training):
    a = rng.standard_normal((5, 3, 7)).astype(np.float32)
    g = rng.standard_normal(a.shape).astype(np.float32)
    grads = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        rm, rv = _buffers(3, device)
        tt.batch_norm(x, None, None, rm, rv, training, 0.1, 1e-5).backward(tt.tensor(g, device=device))
        grads.append(_np(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
def test_dtypes_on_cuda(rng, dtype):
    a = rng.standard_normal((4, 3, 6)).astype(dtype.np)
    rm, rv = _buffers(3, "cuda", dtype)
    y = tt.batch_norm(tt.tensor(a, device="cuda"), None, None, rm, rv, True, 0.1, 1e-5)
    assert y.dtype is dtype and rm.dtype is dtype
    tol = {tt.float16: 2e-3, tt.bfloat16: 1.6e-2, tt.float64: 1e-12}[dtype]
    want, _, _ = R.batch_norm_ref(a, None, None, None, None, True, 0.1, 1e-5)
    np.testing.assert_allclose(_np(y), want.astype(np.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_and_sliced_inputs(rng, device):
    a = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    x = tt.tensor(a, device=device).permute(0, 3, 1, 2)  # (N, C=6, H, W), channels innermost in memory
    y = tt.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    np.testing.assert_allclose(_np(y), R.batch_norm_ref(a.transpose(0, 3, 1, 2), None, None, None, None, True, 0.1,
                                                        1e-5)[0], rtol=1e-5, atol=1e-5)
    x = tt.tensor(a, device=device)[:, :, 1:4, ::2]  # spatial dims that do not collapse: the copy path
    y = tt.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    np.testing.assert_allclose(_np(y), R.batch_norm_ref(a[:, :, 1:4, ::2], None, None, None, None, True, 0.1,
                                                        1e-5)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_batch_returns_empty(device):
    x = tt.zeros((0, 3, 2), device=device)
    rm, rv = _buffers(3, device)
    y = tt.batch_norm(x, None, None, rm, rv, True, 0.1, 1e-5)
    assert y.shape == (0, 3, 2) and _np(rm).tolist() == [0, 0, 0]


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    x = tt.zeros((4, 3, 2), device=device)
    rm, rv = _buffers(3, device)
    with pytest.raises(RuntimeError, match=r"^running_mean should contain 3 elements not 2$"):
        tt.batch_norm(x, None, None, tt.zeros(2, device=device), rv, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"^running_var should contain 3 elements not 4$"):
        tt.batch_norm(x, None, None, rm, tt.ones(4, device=device), False, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"^weight should contain 3 elements not 1$"):
        tt.batch_norm(x, tt.ones(1, device=device), None, rm, rv, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"^bias should contain 3 elements not 5$"):
        tt.batch_norm(x, None, tt.ones(5, device=device), rm, rv, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"^running_mean must be defined in evaluation mode$"):
        tt.batch_norm(x, None, None, None, rv, False, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"^running_var must be defined in evaluation mode$"):
        tt.batch_norm(x, None, None, rm, None, False, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match="\"batch_norm\" not implemented for 'Long'"):
        tt.batch_norm(tt.zeros((4, 3), dtype=tt.int64, device=device), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match=r"argument 'input' \(position 1\) must be Tensor, not list"):
        tt.batch_norm([1.0, 2.0], None, None, None, None, True, 0.1, 1e-5)
    assert _np(rm).tolist() == [0, 0, 0]  # checks come before any update


def test_device_mismatch():
    x = tt.zeros((4, 3, 2), device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.batch_norm(x, tt.ones(3), None, None, None, True, 0.1, 1e-5)


@pytest.fixture
def small_machine(monkeypatch):
    """A 4-SM GPU with 64-element chunks: the split (partials + combine) path on a shape the interpreter runs fast."""
    from tritensor.kernels import batch_norm_launch as L
    from tritensor.kernels import tuning

    monkeypatch.setattr(L, "MIN_CHUNK", 64)
    monkeypatch.setattr(L, "GRANULE", 16)
    before = tuning.sm_count()
    tuning.set_sm_count(4)
    yield L
    tuning.set_sm_count(before)


@pytest.mark.parametrize("shape", [(6, 2, 40), (1, 2, 300), (200, 2)])
def test_few_channels_take_the_split_path_on_cuda(rng, small_machine, shape):
    a = (rng.standard_normal(shape) + 50).astype(np.float32)
    x = tt.tensor(a, device="cuda")
    assert small_machine.split_plan(small_machine.reduce_views(small_machine.ncs_view(x._dev()))[0])[3] >= 2
    g = rng.standard_normal(shape).astype(np.float32)
    results = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        w = tt.tensor([1.5, -2.0], device=device, requires_grad=True)
        rm, rv = _buffers(2, device)
        y = tt.batch_norm(x, w, None, rm, rv, True, 0.1, 1e-5)
        y.backward(tt.tensor(g, device=device))
        results.append([_np(t) for t in (y, rm, rv, x.grad, w.grad)])
    for got, want in zip(*results[::-1]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_argument_type_errors():
    x = tt.zeros((4, 3))
    with pytest.raises(TypeError, match=r"^batch_norm\(\): argument 'weight' \(position 2\) must be Tensor, not list$"):
        tt.batch_norm(x, [1.0, 1.0, 1.0], None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match=r"argument 'running_var' \(position 5\) must be Tensor, not float"):
        tt.batch_norm(x, None, None, tt.zeros(3), 1.0, True, 0.1, 1e-5)


def test_half_input_with_float_parameters_and_buffers(rng):
    """Mixed precision as autocast runs it: fp16 activations, fp32 weight and running statistics."""
    a = rng.standard_normal((4, 3, 5)).astype(np.float16)
    g = rng.standard_normal(a.shape).astype(np.float16)
    results = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        w = tt.tensor([1.0, 2.0, -1.0], device=device, requires_grad=True)
        rm, rv = _buffers(3, device)
        y = tt.batch_norm(x, w, None, rm, rv, True, 0.1, 1e-5)
        y.backward(tt.tensor(g, device=device))
        assert y.dtype is tt.float16 and rm.dtype is tt.float32 and w.grad.dtype is tt.float32
        results.append([_np(t) for t in (y, rm, rv, x.grad, w.grad)])
    want = R.batch_norm_ref(a.astype(np.float32), None, None, np.array([1, 2, -1], np.float32), None, True, 0.1,
                            1e-5)[0]
    np.testing.assert_allclose(results[0][0], want, rtol=2e-3, atol=2e-3)
    for got, ref in zip(results[1], results[0]):
        np.testing.assert_allclose(got, ref, rtol=2e-3, atol=2e-3)
