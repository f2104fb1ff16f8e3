"""conv1d/2d/3d and conv_transpose1d/2d/3d on cpu and cuda (interpreted): values, float64 gradcheck, cuda
backward against cpu, 16-bit, non-contiguous and unbatched inputs, 'same'/'valid', every error message."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F

DEVICES = ["cpu", "cuda"]


def _t(shape, device, dtype=tt.float64, seed=0, grad=True):
    a = np.random.default_rng(seed).standard_normal(shape)
    return tt.tensor(a, dtype=dtype, device=device, requires_grad=grad)


# (fn, input shape, weight shape, kwargs)
CASES = [
    (tt.conv1d, (2, 4, 7), (6, 2, 3), dict(stride=2, padding=1, dilation=1, groups=2)),
    (tt.conv2d, (2, 3, 5, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    (tt.conv2d, (1, 4, 5, 5), (4, 1, 3, 3), dict(padding=1, groups=4)),
    (tt.conv3d, (1, 2, 3, 4, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 1, 0))),
    (tt.conv_transpose1d, (2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (tt.conv_transpose2d, (1, 3, 4, 3), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    (tt.conv_transpose3d, (1, 2, 2, 3, 2), (2, 3, 2, 2, 2), dict(stride=2, output_padding=(1, 0, 1))),
]


def _bias_len(fn, w_shape, kwargs):
    return w_shape[1] * kwargs.get("groups", 1) if "transpose" in fn.__name__ else w_shape[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__ if callable(c[0]) else None)
def test_gradcheck_float64_cpu(case):
    fn, xs, ws, kw = case
    x, w = _t(xs, "cpu", seed=1), _t(ws, "cpu", seed=2)
    b = _t((_bias_len(fn, ws, kw),), "cpu", seed=3)
    assert tt.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize("fn", [tt.conv2d, tt.conv_transpose2d])
def test_gradcheck_float64_cuda(fn):
    """The kernels accumulate float64 in fp64 (tl.dot's fp64 path), so cuda passes gradcheck too (tiny shapes:
    every finite difference is an interpreted launch)."""
    x, w, b = _t((1, 2, 2, 3), "cuda", seed=1), _t((2, 1, 2, 2), "cuda", seed=2), _t((2,), "cuda", seed=3)
    assert tt.autograd.gradcheck(lambda x, w, b: fn(x, w, b, stride=2, padding=1, groups=2), (x, w, b))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__ if callable(c[0]) else None)
def test_cuda_matches_cpu_forward_backward(case):
    fn, xs, ws, kw = case
    outs = {}
    for device in DEVICES:
        x, w = _t(xs, device, tt.float32, 1), _t(ws, device, tt.float32, 2)
        b = _t((_bias_len(fn, ws, kw),), device, tt.float32, 3)
        y = fn(x, w, b, **kw)
        (y * y).sum().backward()
        outs[device] = [t.detach().cpu().numpy() for t in (y, x.grad, w.grad, b.grad)]
    for got, want in zip(outs["cuda"], outs["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_values_known():
    x = tt.arange(9.0).reshape(1, 1, 3, 3)
    w = tt.ones(1, 1, 2, 2)
    np.testing.assert_array_equal(F.conv2d(x, w).numpy(), [[[[8, 12], [20, 24]]]])
    # conv_transpose of a single 1 is the kernel itself, placed at the stride grid
    y = F.conv_transpose1d(tt.tensor([[[1.0, 2.0]]]), tt.tensor([[[1.0, 10.0, 100.0]]]), stride=2)
    np.testing.assert_array_equal(y.numpy(), [[[1, 10, 102, 20, 200]]])


@pytest.mark.parametrize("dtype,tol", [(tt.float16, 2e-3), (tt.bfloat16, 1.6e-2)])
def test_16bit_cuda_vs_cpu_fp32(dtype, tol):
    x, w = _t((2, 4, 5, 6), "cuda", dtype, 1), _t((6, 2, 3, 3), "cuda", dtype, 2)
    y = tt.conv2d(x, w, padding=1, groups=2)
    assert y.dtype == dtype
    y.float().sum().backward()
    want = tt.conv2d(x.detach().float().cpu(), w.detach().float().cpu(), padding=1, groups=2)
    np.testing.assert_allclose(y.float().cpu().detach().numpy(), want.numpy(), rtol=tol * 4, atol=tol * 4)
    assert x.grad.dtype == dtype and w.grad.shape == w.shape


@pytest.mark.parametrize("device", DEVICES)
def test_non_contiguous_and_unbatched(device):
    x = _t((2, 3, 6, 5), device, tt.float64, 1, grad=False).transpose(2, 3)
    w = _t((4, 3, 3, 3), device, tt.float64, 2, grad=False)
    want = tt.conv2d(x.contiguous(), w, padding=1)
    np.testing.assert_allclose(tt.conv2d(x, w, padding=1).cpu().numpy(), want.cpu().numpy(), rtol=1e-12)
    y1 = tt.conv2d(x[0], w, padding=1)
    assert tuple(y1.shape) == (4, 5, 6)
    np.testing.assert_allclose(y1.cpu().numpy(), want[0].cpu().numpy(), rtol=1e-12)
    yt = tt.conv_transpose2d(x[1], w.transpose(0, 1).contiguous()[:3], stride=2)
    assert tuple(yt.shape) == (4, 11, 13)


@pytest.mark.parametrize("device", DEVICES)
def test_same_and_valid_padding(device):
    x, w = _t((1, 2, 7), device, seed=1), _t((3, 2, 4), device, seed=2)
    check = tt.autograd.gradcheck if device == "cpu" else (lambda f, args: True)  # cuda: covered above
    y = F.conv1d(x, w, padding="same", dilation=1)
    assert tuple(y.shape) == (1, 3, 7)
    # even kernel: one extra zero on the right, as PyTorch pads
    manual = F.conv1d(F.pad(x, (1, 2)), w)
    np.testing.assert_allclose(y.detach().cpu().numpy(), manual.detach().cpu().numpy(), rtol=1e-12)
    assert tuple(F.conv1d(x, w, padding="valid").shape) == (1, 3, 4)
    assert check(lambda x, w: F.conv1d(x, w, padding="same", dilation=2), (x, w))


def test_grad_fn_and_double_backward():
    x, w = _t((1, 2, 4, 4), "cpu", seed=1), _t((2, 2, 2, 2), "cpu", seed=2)
    y = tt.conv2d(x, w)
    # PyTorch's graph: the convolution itself is the grad_fn (on cpu the 2-d call records no reshape nodes),
    # and its inputs are the leaves
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert [f.name() for f, _ in y.grad_fn.next_functions[:2]] == ["AccumulateGrad", "AccumulateGrad"]
    assert tt.autograd.gradgradcheck(lambda x, w: tt.conv2d(x, w, stride=2), (x, w))
    assert tt.autograd.gradgradcheck(lambda x, w: tt.conv_transpose2d(x, w, stride=2), (x, w))


ERRORS = [
    (lambda: tt.conv2d(tt.ones(3, 4), tt.ones(2, 3, 1, 1)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[3, 4\]"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1)), "Expected 4-dimensional weight for conv2d"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 2, 1, 1)),
     r"Given groups=1, weight of size \[2, 2, 1, 1\], expected input\[1, 3, 4, 4\] to have 2 channels, but got 3 "
     "channels instead"),
    (lambda: tt.conv2d(tt.ones(1, 4, 4, 4), tt.ones(3, 2, 1, 1), groups=2),
     "expected weight to be divisible by 2 at dimension 0"),
    (lambda: tt.conv2d(tt.ones(1, 3, 2, 2), tt.ones(2, 3, 3, 3)),
     r"Calculated padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\). Kernel size can't be greater"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), stride=0), "non-positive stride is not supported"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), padding=-1), "negative padding is not supported"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), dilation=0), "dilation should be greater than zero"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), groups=0), "non-positive groups is not supported"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), tt.ones(3)),
     "expected bias to be 1-dimensional with 2 elements"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), padding="full"), "Invalid padding string: 'full'"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), stride=2, padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1), padding=(1, 2, 3)),
     "expected padding to be a single integer value or a list of 2 values"),
    (lambda: tt.conv2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1, dtype=tt.float64)),
     r"Input type \(Float\) and weight type \(Double\) should be the same"),
    (lambda: tt.conv_transpose2d(tt.ones(1, 3, 4, 4), tt.ones(2, 3, 1, 1)),
     r"Given transposed=1, weight of size \[2, 3, 1, 1\], expected input\[1, 3, 4, 4\] to have 2 channels"),
    (lambda: tt.conv_transpose2d(tt.ones(1, 2, 4, 4), tt.ones(2, 3, 1, 1), output_padding=1),
     "output padding must be smaller than either stride or dilation"),
    (lambda: tt.conv_transpose1d(tt.ones(1, 2, 4), tt.ones(2, 3, 1), tt.ones(2)),
     "expected bias to be 1-dimensional with 3 elements"),
    (lambda: tt.conv_transpose1d(tt.ones(1, 2, 1), tt.ones(2, 3, 1), padding=1),
     "Output size is too small"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn, msg = ERRORS[i]
    with pytest.raises(RuntimeError, match=msg):
        fn()


def test_errors_on_cuda_before_kernels():
    x, w = tt.ones(1, 3, 2, 2, device="cuda"), tt.ones(2, 3, 3, 3, device="cuda")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        tt.conv2d(x, w)
    with pytest.raises(RuntimeError, match="same device"):
        tt.conv2d(x, tt.ones(2, 3, 1, 1))
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.conv2d(np.ones((1, 3, 2, 2)), w)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, groups=2), dict(dilation=2, padding=2)])
def test_cpu_backward_without_a_graph_equals_the_graph_ones(dtype, kwargs):
    # ConvForward.backward_fused (no graph: the NumPy references and the bias's sum called directly) and its
    # Function-built backward (create_graph=True) give the same gradients, and those of a direct NumPy conv.
    rng = np.random.default_rng(2)
    xa, wa = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3, 3))
    grads = []
    for create_graph in (False, True):
        x, w = tt.tensor(xa, dtype=dtype, requires_grad=True), tt.tensor(wa, dtype=dtype, requires_grad=True)
        b = tt.zeros(6, dtype=dtype, requires_grad=True)
        y = F.conv2d(x, w, b, **kwargs)
        g = tt.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), dtype=dtype)
        got = tt.autograd.grad((y * g).sum(), [x, w, b], create_graph=create_graph)
        grads.append([t.detach().numpy() for t in got])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(grads[0][2], np.linspace(-1, 1, y.numel()).reshape(y.shape).sum((0, 2, 3)),
                               rtol=1e-5, atol=1e-6)
