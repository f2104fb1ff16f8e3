"""ops/activations_extra.py: celu, hardshrink, softshrink, tanhshrink, threshold, softsign, prelu, rrelu, glu on cpu
and interpreted cuda against NumPy float64, gradcheck, cuda backward vs cpu, in-place forms, errors, grad_fn names."""

import math

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

DEVICES = ["cpu", "cuda"]
X = np.array([[-2.5, -0.5, 0.0, 0.25], [0.5, 1.0, 3.0, -1.0]])
CASES = {
    "celu": (lambda t: F.celu(t, 0.5), lambda a: np.where(a > 0, a, 0.5 * np.expm1(a / 0.5)), "EluBackward0"),
    "hardshrink": (F.hardshrink, lambda a: np.where(np.abs(a) > 0.5, a, 0), "HardshrinkBackward0"),
    "softshrink": (lambda t: F.softshrink(t, 0.75), lambda a: np.sign(a) * np.maximum(np.abs(a) - 0.75, 0),
                   "SoftshrinkBackward0"),
    "tanhshrink": (F.tanhshrink, lambda a: a - np.tanh(a), "TanhshrinkBackward0"),
    "threshold": (lambda t: F.threshold(t, 0.3, -4.0), lambda a: np.where(a > 0.3, a, -4.0), "ThresholdBackward0"),
    "softsign": (F.softsign, lambda a: a / (1 + np.abs(a)), "SoftsignBackward0"),
    "rrelu_eval": (F.rrelu, lambda a: np.where(a >= 0, a, a * (1 / 8 + 1 / 3) / 2), "LeakyReluBackward0"),
    "glu": (lambda t: F.glu(t, 1), lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:])), "GluBackward0"),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES)
def test_forward_vs_numpy(case, device):
    fn, ref, node = CASES[case]
    for dtype, tol in ((tt.float32, 1e-6), (tt.float64, 1e-12)):
        x = tt.tensor(X, dtype=dtype, device=device, requires_grad=True)
        y = fn(x)
        np.testing.assert_allclose(y.detach().cpu().numpy(), ref(X), rtol=tol, atol=tol)
        assert y.grad_fn.name() == node


@pytest.mark.parametrize("case", CASES)
def test_gradcheck_and_cuda_backward_vs_cpu(case):
    fn = CASES[case][0]
    rng = np.random.default_rng(1)
    a = rng.uniform(-3, 3, (2, 4))
    a[np.abs(np.abs(a) - 0.5) < 0.05] += 0.2  # away from the kinks
    for device in DEVICES:
        x = tt.tensor(a, dtype=tt.float64, device=device, requires_grad=True)
        assert tt.autograd.gradcheck(fn, (x,))
    grads = []
    for device in DEVICES:
        x = tt.tensor(a, dtype=tt.float32, device=device, requires_grad=True)
        fn(x).backward(tt.ones(fn(x).shape, device=device))
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["celu", "hardshrink", "softsign", "threshold", "glu"])
def test_gradgradcheck(case):
    # the tensor-op derivative is the same on both devices; cpu keeps the interpreter out of the double loop
    x = tt.tensor([[-1.3, 0.7], [2.2, -0.2]], dtype=tt.float64, device="cpu", requires_grad=True)
    assert tt.autograd.gradgradcheck(CASES[case][0], (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_fp16_bf16(device):
    for dtype, tol in ((tt.float16, 2e-3), (tt.bfloat16, 1.6e-2)):
        x = tt.tensor(X, device=device).to(dtype)
        np.testing.assert_allclose(F.softsign(x).float().cpu().numpy(), X / (1 + np.abs(X)), rtol=tol, atol=tol)
        assert F.celu(x).dtype is dtype


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_forms(device):
    for fn, ref in ((lambda t: F.celu_(t, 2.0), lambda a: np.where(a > 0, a, 2 * np.expm1(a / 2))),
                    (lambda t: F.threshold_(t, 0.0, 5.0), lambda a: np.where(a > 0, a, 5.0)),
                    (lambda t: F.threshold(t, 0.0, 5.0, inplace=True), lambda a: np.where(a > 0, a, 5.0)),
                    (lambda t: F.rrelu_(t), lambda a: np.where(a >= 0, a, a * (1 / 8 + 1 / 3) / 2)),
                    (lambda t: F.elu_(t), lambda a: np.where(a > 0, a, np.expm1(a))),
                    (lambda t: F.leaky_relu_(t, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
                    (lambda t: F.hardtanh_(t), lambda a: np.clip(a, -1, 1)),
                    (lambda t: F.selu_(t), lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772
                                                                                  * np.expm1(a)))):
        x = tt.tensor(X, dtype=tt.float64, device=device)
        assert fn(x) is x
        np.testing.assert_allclose(x.cpu().numpy(), ref(X), rtol=1e-12)
    base = tt.tensor(X, dtype=tt.float64, device=device, requires_grad=True)
    y = base * 1
    tt.celu_(y)  # torch.celu_
    y.sum().backward()
    np.testing.assert_allclose(base.grad.cpu().numpy(), np.where(X > 0, 1, np.exp(X)), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_prelu(device):
    rng = np.random.default_rng(2)
    a = rng.uniform(-2, 2, (2, 3, 3))
    w = np.array([0.1, 0.25, -0.5])
    x = tt.tensor(a, device=device, requires_grad=True)
    wt = tt.tensor(w, device=device, requires_grad=True)
    y = F.prelu(x, wt)
    assert y.grad_fn.name() == "PreluBackward0"
    np.testing.assert_allclose(y.detach().cpu().numpy(), np.where(a > 0, a, w[:, None] * a), rtol=1e-12)
    g = rng.standard_normal(a.shape)
    y.backward(tt.tensor(g, device=device))
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.where(a > 0, g, w[:, None] * g), rtol=1e-12)
    np.testing.assert_allclose(wt.grad.cpu().numpy(), np.where(a > 0, 0, a * g).sum((0, 2)), rtol=1e-12)
    if device == "cpu":  # cuda's backward is checked against the values above; the interpreter is slow
        assert tt.autograd.gradcheck(F.prelu, (x.detach().requires_grad_(), wt.detach().requires_grad_()))
        assert tt.autograd.gradgradcheck(F.prelu, (x.detach().requires_grad_(), wt.detach().requires_grad_()))
    # a single shared weight, and a 1-d input (channel size 1)
    w1 = tt.tensor([0.25], dtype=tt.float64, device=device, requires_grad=True)
    F.prelu(x, w1).sum().backward()
    np.testing.assert_allclose(w1.grad.cpu().numpy(), [np.minimum(a, 0).sum()], rtol=1e-12)
    v = tt.tensor([-4.0, 2.0], device=device)
    np.testing.assert_allclose(tt.prelu(v, tt.tensor([0.5], device=device)).cpu().numpy(), [-2, 2])


def test_glu_dim0_noncontiguous_cuda_vs_cpu():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 4))
    g = rng.standard_normal((2, 3))
    results = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        y = F.glu(x.T, 0)  # (4, 3) transposed view, halves along dim 0
        y.backward(tt.tensor(g, device=device))
        results.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
    at = a.T
    np.testing.assert_allclose(results[0][0], at[:2] / (1 + np.exp(-at[2:])), rtol=1e-12)
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-12)


def test_prelu_errors():
    x = tt.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"Mismatch of parameter numbers and input channel size. Found parameter "
                                           r"numbers = 4 and channel size = 3."):
        F.prelu(x, tt.ones(4))
    with pytest.raises(RuntimeError, match="Not allow zero-dim input tensor."):
        F.prelu(tt.tensor(1.0), tt.ones(2))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported. Got Float and Double"):
        F.prelu(x, tt.ones(3, dtype=tt.float64))
    with pytest.raises(RuntimeError, match="Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"):
        F.prelu(x, tt.ones(3, 1))


@pytest.mark.parametrize("device", DEVICES)
def test_rrelu_training(device):
    gen = tt.Generator().manual_seed(3)
    a = np.linspace(-3, 3, 40)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = tt.rrelu(x, 0.1, 0.3, True, generator=gen)
    out = y.detach().cpu().numpy()
    neg = a < 0
    slopes = out[neg] / a[neg]
    assert (slopes >= 0.1).all() and (slopes <= 0.3).all() and np.unique(slopes).size > 10
    np.testing.assert_array_equal(out[~neg], a[~neg])
    y.sum().backward()
    grad = x.grad.cpu().numpy()
    np.testing.assert_allclose(grad[neg], slopes, rtol=1e-6)
    np.testing.assert_array_equal(grad[a > 0], 1.0)
    assert y.grad_fn.name() == "RreluWithNoiseBackward0"
    # the same generator seed gives the same slopes on both devices
    again = tt.rrelu(tt.tensor(a, device="cpu"), 0.1, 0.3, True, generator=tt.Generator().manual_seed(3))
    np.testing.assert_allclose(again.numpy(), out, rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_threshold_keeps_integer_dtypes(device):
    x = tt.tensor([1, 5, -2, 2], device=device)
    y = F.threshold(x, 2, 7.9)
    assert y.dtype is tt.int64
    np.testing.assert_array_equal(y.cpu().numpy(), [7, 5, 7, 7])
    assert F.threshold_(x, 0, -1) is x
    np.testing.assert_array_equal(x.cpu().numpy(), [1, 5, -1, 2])


def test_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(tt.ones(2, 3))
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(tt.tensor(1.0))
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0, but found to be -1.0."):
        F.softshrink(tt.ones(2), -1.0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        F.celu(tt.ones(2), 0.0)
    with pytest.raises(RuntimeError, match="\"hardshrink\" not implemented for 'Long'"):
        F.hardshrink(tt.ones(2, dtype=tt.int64))
    with pytest.raises(TypeError, match=r"softsign\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        F.softsign([1.0])
    assert math.isnan(F.hardshrink(tt.tensor([float("nan")], device="cuda")).item())


def test_namespaces():
    for name in ("celu", "celu_", "threshold", "threshold_", "hardshrink", "prelu", "rrelu", "rrelu_"):
        assert callable(getattr(tt, name))
    assert tt.randn(3).hardshrink(0.1).shape == (3,)
    for name in ("softshrink", "tanhshrink", "softsign", "glu", "elu_", "selu_", "leaky_relu_", "hardtanh_"):
        assert callable(getattr(F, name))
