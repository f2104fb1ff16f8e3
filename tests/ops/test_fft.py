"""tt.fft against NumPy's pocketfft: every transform with n/s, dim and each norm, on cpu and on cuda (the
Stockham kernel under the interpreter; power-of-two sizes), result dtypes (float32 -> complex64, ints
promoted), autograd by float64 gradcheck of real -> real compositions (how PyTorch checks fft grads),
frequencies, shifts, and every error PyTorch raises (plus cuda's power-of-two rule)."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

F = tt.fft
DEVICES = ["cpu", "cuda"]
NORMS = [None, "backward", "ortho", "forward"]


def _np(t):
    return t.detach().cpu().numpy()


def _close(got, expected, tol=2e-6):
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    g = _np(got)
    assert np.abs(g - expected).max(initial=0) <= tol * max(1.0, np.abs(expected).max(initial=0))


@pytest.fixture
def data(rng):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    z = (rng.standard_normal((4, 8)) + 1j * rng.standard_normal((4, 8))).astype(np.complex64)
    return x, z


# The interpreter runs each Stockham stage as Python: cuda takes one norm (the scale is one kernel argument).
@pytest.mark.parametrize("device,norm", [("cpu", norm) for norm in NORMS] + [("cuda", "ortho")])
def test_one_dim_transforms(device, norm, data):
    x, z = data
    tx, tz = tt.tensor(x, device=device), tt.tensor(z, device=device)
    _close(F.fft(tz, norm=norm), np.fft.fft(z, norm=norm))
    _close(F.fft(tx, n=4, norm=norm), np.fft.fft(x, n=4, norm=norm))
    _close(F.ifft(tz, n=16, dim=0, norm=norm), np.fft.ifft(z, n=16, axis=0, norm=norm))
    _close(F.rfft(tx, norm=norm), np.fft.rfft(x, norm=norm))
    _close(F.rfft(tx, n=16, dim=1, norm=norm), np.fft.rfft(x, n=16, norm=norm))
    _close(F.irfft(tz, n=8, norm=norm), np.fft.irfft(z, n=8, norm=norm))
    _close(F.irfft(tz[:, :5], norm=norm), np.fft.irfft(z[:, :5], norm=norm))
    _close(F.hfft(tz[:, :3], norm=norm), np.fft.hfft(z[:, :3], norm=norm))
    _close(F.hfft(tz, n=4, norm=norm), np.fft.hfft(z, n=4, norm=norm))
    _close(F.ihfft(tx, norm=norm), np.fft.ihfft(x, norm=norm))


@pytest.mark.parametrize("device", DEVICES)
def test_multi_dim_transforms(device, data):
    x, z = data
    tx, tz = tt.tensor(x, device=device), tt.tensor(z, device=device)
    x3 = x[:2].reshape(2, 2, 4)
    _close(F.fft2(tz), np.fft.fft2(z))
    _close(F.ifft2(tz, s=(2, 16), norm="ortho"), np.fft.ifft2(z, s=(2, 16), norm="ortho"))
    _close(F.rfft2(tx, s=(4, 4)), np.fft.rfft2(x, s=(4, 4)))
    _close(F.irfft2(tz, s=(4, 8), norm="forward"), np.fft.irfft2(z, s=(4, 8), norm="forward"))
    _close(F.fftn(tt.tensor(x3, device=device), dim=(0, 2)), np.fft.fftn(x3, axes=(0, 2)))
    _close(F.fftn(tz, s=(8,)), np.fft.fftn(z, s=(8,), axes=(1,)))
    _close(F.ifftn(tz), np.fft.ifftn(z))
    _close(F.rfftn(tt.tensor(x3, device=device)[:2]), np.fft.rfftn(x3[:2]))
    _close(F.irfftn(tz, s=(8, 4), dim=(1, 0)), np.fft.irfftn(z, s=(8, 4), axes=(1, 0)))
    z3 = z.reshape(1, 4, 8)
    _close(F.irfftn(tt.tensor(z3, device=device), s=(2, 4, 8)), np.fft.irfftn(z3, s=(2, 4, 8), axes=(0, 1, 2)))


@pytest.mark.parametrize("device", DEVICES)
def test_dtypes_and_strided_input(device, rng):
    assert F.rfft(tt.ones(4, device=device)).dtype is tt.complex64
    assert F.fft(tt.ones(4, dtype=tt.float64, device=device)).dtype is tt.complex128
    assert F.irfft(tt.ones(3, dtype=tt.complex128, device=device)).dtype is tt.float64
    ints = F.fft(tt.arange(4, device=device))
    assert ints.dtype is tt.complex64
    _close(ints, np.fft.fft(np.arange(4.0)))
    x = rng.standard_normal((8, 4))
    _close(F.fft(tt.tensor(x, device=device).t(), dim=0), np.fft.fft(x.T, axis=0), 1e-12)
    _close(F.fft(tt.tensor(x, device=device)[::2]), np.fft.fft(x[::2]), 1e-12)


def test_frequencies_and_shifts():
    _close(F.fftfreq(5, 0.5), np.fft.fftfreq(5, 0.5))
    _close(F.fftfreq(4), np.fft.fftfreq(4))
    _close(F.rfftfreq(6, d=2.0), np.fft.rfftfreq(6, 2.0))
    assert F.fftfreq(4, dtype=tt.float64).dtype is tt.float64
    assert F.rfftfreq(4, device="cuda").device.type == "cuda"
    x = np.arange(12.0).reshape(3, 4)
    for device in DEVICES:
        t = tt.tensor(x, device=device)
        _close(F.fftshift(t), np.fft.fftshift(x))
        _close(F.ifftshift(t, dim=0), np.fft.ifftshift(x, axes=0))
        z = tt.complex(t, -t)
        _close(F.fftshift(z, dim=(1,)), np.fft.fftshift(x - 1j * x, axes=1))
        _close(F.ifftshift(F.fftshift(z)), x - 1j * x)


def _grad_cases(rng, device):
    x = tt.tensor(rng.standard_normal((2, 8)), device=device, requires_grad=True)
    a = tt.tensor(rng.standard_normal((2, 5)), device=device, requires_grad=True)
    b = tt.tensor(rng.standard_normal((2, 5)), device=device, requires_grad=True)
    w = tt.tensor(rng.standard_normal(5) + 1j * rng.standard_normal(5), device=device)
    vr = tt.view_as_real
    return [
        (lambda x: F.rfft(x).abs(), (x,)),
        (lambda x: F.irfft(F.rfft(x) * w), (x,)),
        (lambda x: (F.rfft(x, norm="ortho") * F.rfft(x, norm="ortho").conj()).real, (x,)),
        (lambda x: F.fft(tt.complex(x, x * 2), n=4, norm="forward").real, (x,)),
        (lambda a, b: vr(F.ifft2(tt.complex(a, b), s=(2, 8))), (a, b)),
        (lambda a, b: F.irfft(tt.complex(a, b), n=4, norm="ortho"), (a, b)),
        (lambda a, b: F.irfftn(tt.complex(a, b)), (a, b)),
        (lambda a, b: F.hfft(tt.complex(a, b)), (a, b)),
        (lambda x: vr(F.ihfft(x, n=16)), (x,)),
        (lambda x: vr(F.rfft2(x, s=(4, 4))), (x,)),
        (lambda a, b: vr(F.fftshift(tt.complex(a, b))), (a, b)),
    ]


def test_gradcheck(rng):
    for fn, inputs in _grad_cases(rng, "cpu"):
        assert gradcheck(fn, inputs)


def test_cuda_gradients_match_cpu(rng):
    """gradcheck on cpu checks the math; cuda (interpreted, slow) must give the same gradients: one case per
    Function and kind of resize (r2c + c2r, 2-d c2c with padding, c2r over two dims, hfft, ihfft with padding)."""
    seed = rng.integers(1 << 30)
    picked = (1, 4, 6, 7, 8)
    cpu_cases = [_grad_cases(np.random.default_rng(seed), "cpu")[i] for i in picked]
    cuda_cases = [_grad_cases(np.random.default_rng(seed), "cuda")[i] for i in picked]
    for (cpu_fn, cpu_in), (cuda_fn, cuda_in) in zip(cpu_cases, cuda_cases):
        weight = np.random.default_rng(1).standard_normal(tuple(cpu_fn(*cpu_in).shape))
        for fn, inputs in ((cpu_fn, cpu_in), (cuda_fn, cuda_in)):
            (fn(*inputs) * tt.tensor(weight, device=inputs[0].device)).sum().backward()
        for c, g in zip(cpu_in, cuda_in):
            np.testing.assert_allclose(_np(g.grad), _np(c.grad), rtol=1e-10, atol=1e-12)
            c.grad = g.grad = None


def test_grad_fn_names():
    x = tt.ones(4, requires_grad=True)
    assert F.rfft(x).grad_fn.name() == "FftR2CBackward0"
    assert F.fft(F.rfft(x)).grad_fn.name() == "FftC2CBackward0"
    assert F.irfft(F.rfft(x)).grad_fn.name() == "FftC2RBackward0"


def test_errors():
    with pytest.raises(RuntimeError, match="rfft expects a real input tensor, but got ComplexFloat"):
        F.rfft(tt.tensor([1j, 2]))
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        F.fft(tt.ones(4), n=0)
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        F.irfft(tt.ones(1, dtype=tt.complex64))
    with pytest.raises(RuntimeError, match="Invalid normalization mode: bogus"):
        F.fft(tt.ones(4), norm="bogus")
    with pytest.raises(RuntimeError, match="FFT dims must be unique"):
        F.fftn(tt.ones(4, 4), dim=(0, -2))
    with pytest.raises(RuntimeError, match="When given, dim and shape arguments must have the same length"):
        F.fftn(tt.ones(4, 4), s=(4,), dim=(0, 1))
    with pytest.raises(RuntimeError, match="Got shape with 3 values but input tensor only has 2 dimensions."):
        F.fftn(tt.ones(4, 4), s=(4, 4, 4))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.fft(tt.ones(4), dim=1)
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        F.fft(tt.ones(4, dtype=tt.float16))
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        F.fft([1.0, 2.0])


def test_cuda_refuses_non_power_of_two_sizes_before_any_kernel():
    with pytest.raises(NotImplementedError, match=r"power-of-two sizes only, got size 6 along dim 0.*\.cpu\(\).*n=8"):
        F.fft(tt.ones(6, device="cuda"))
    with pytest.raises(NotImplementedError, match="got size 6 along dim 1"):
        F.irfft(tt.ones(2, 4, dtype=tt.complex64, device="cuda"))  # output size 2 * (4 - 1)
    with pytest.raises(NotImplementedError, match="got size 3 along dim 0"):
        F.rfft2(tt.ones(3, 4, device="cuda"))
    _close(F.fft(tt.ones(6, device="cuda"), n=8), np.fft.fft(np.ones(6), n=8))  # padding is the way round
    _close(F.fft(tt.ones(6)), np.fft.fft(np.ones(6)))  # and the cpu takes any size
