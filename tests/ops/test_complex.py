"""Complex tensors (ops/complex.py and the complex paths of dtypes, creation, formatting, copies and the
real ops): dtypes and promotion, construction and printing, conversions, the views between real and complex,
arithmetic and reductions against NumPy on cpu and cuda (the interleaved float view under the interpreter),
autograd in PyTorch's convention (known gradients, float64 gradcheck of real -> real compositions), errors."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
A = np.array([1 + 2j, 3 - 1j, -0.5 + 0.25j], np.complex64)
B = np.array([0.5 - 1j, 2 + 2j, 1 - 3j], np.complex64)


def _np(t):
    return t.detach().cpu().numpy()


# ---------------------------------------------------------------- dtypes
def test_dtype_attributes_and_aliases():
    assert tt.cfloat is tt.complex64 and tt.cdouble is tt.complex128
    assert tt.complex64.is_complex and not tt.complex64.is_floating_point
    assert not tt.float32.is_complex
    assert (tt.complex64.itemsize, tt.complex128.itemsize) == (8, 16)
    assert tt.complex64.to_real() is tt.float32 and tt.float64.to_complex() is tt.complex128
    assert repr(tt.complex128) == "tritensor.complex128"


@pytest.mark.parametrize("a,b,expected", [
    (tt.float32, tt.complex64, tt.complex64), (tt.float64, tt.complex64, tt.complex128),
    (tt.int64, tt.complex64, tt.complex64), (tt.complex64, tt.complex128, tt.complex128),
    (tt.float16, tt.complex64, tt.complex64), (tt.bool, tt.complex128, tt.complex128)])
def test_promote_types(a, b, expected):
    assert tt.promote_types(a, b) is expected and tt.promote_types(b, a) is expected


def test_result_type_with_complex_scalars():
    assert tt.result_type(tt.ones(2), 1j) is tt.complex64
    assert tt.result_type(tt.ones(2, dtype=tt.float64), 1j) is tt.complex128
    assert tt.result_type(tt.ones(2, dtype=tt.int32), 1j) is tt.complex64
    assert tt.result_type(tt.tensor(A), 2.5) is tt.complex64
    assert tt.result_type(tt.ones(2, dtype=tt.float64), tt.tensor(1j)) is tt.complex128


# ---------------------------------------------------------------- construction, printing, conversion
def test_tensor_infers_the_default_complex_dtype():
    assert tt.tensor([1 + 2j, 3]).dtype is tt.complex64
    assert tt.tensor(np.array([1j])).dtype is tt.complex128
    tt.set_default_dtype(tt.float64)
    try:
        assert tt.tensor([1j]).dtype is tt.complex128
    finally:
        tt.set_default_dtype(tt.float32)


def test_repr_matches_pytorch():
    assert repr(tt.tensor([1 + 2j, 3 - 1j])) == "tensor([1.+2.j, 3.-1.j])"
    assert repr(tt.tensor([1.5 + 2.25j, 3 - 1j])) == "tensor([1.5000+2.2500j, 3.0000-1.0000j])"
    assert repr(tt.tensor([1j], dtype=tt.complex128)) == "tensor([0.+1.j], dtype=tritensor.complex128)"
    assert repr(tt.tensor([1j], device="cuda")) == "tensor([0.+1.j], device='cuda:0')"


@pytest.mark.parametrize("device", DEVICES)
def test_item_numpy_and_factories(device):
    z = tt.tensor(A, device=device)
    assert z.is_complex() and not z.is_floating_point()
    assert z[0].item() == 1 + 2j and isinstance(z[1].item(), complex)
    np.testing.assert_array_equal(_np(z), A)
    np.testing.assert_array_equal(_np(tt.zeros(2, dtype=tt.complex64, device=device)), np.zeros(2, np.complex64))
    np.testing.assert_array_equal(_np(tt.full((2,), 1 - 2j, device=device)), np.full(2, 1 - 2j, np.complex64))
    np.testing.assert_array_equal(_np(tt.ones(2, dtype=tt.complex128, device=device)), np.ones(2))
    np.testing.assert_array_equal(_np(z.clone()), A)
    np.testing.assert_array_equal(_np(z.reshape(3, 1).t().contiguous()), A[None])
    np.testing.assert_array_equal(_np(tt.cat([z, z[:2]])), np.concatenate([A, A[:2]]))
    np.testing.assert_array_equal(_np(tt.stack([z, z], 1)), np.stack([A, A], 1))
    np.testing.assert_array_equal(_np(z.flip(0)), A[::-1])
    np.testing.assert_array_equal(_np(z.roll(1, 0)), np.roll(A, 1))


@pytest.mark.parametrize("device", DEVICES)
def test_to_dtype_and_device(device):
    z = tt.tensor(A, device=device)
    np.testing.assert_array_equal(_np(z.to(tt.complex128)), A.astype(np.complex128))
    np.testing.assert_array_equal(_np(tt.tensor([1.0, -2.0], device=device).to(tt.complex64)), [1, -2])
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        real = z.to(tt.float32)
    np.testing.assert_array_equal(_np(real), A.real)
    np.testing.assert_array_equal(_np(z.to("cpu" if device == "cuda" else "cuda")), A)
    buf = tt.zeros(3, dtype=tt.complex64, device=device)
    buf.copy_(tt.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_array_equal(_np(buf), [1, 2, 3])
    buf.fill_(2 - 1j)
    np.testing.assert_array_equal(_np(buf), np.full(3, 2 - 1j))


# ---------------------------------------------------------------- views, construction ops
@pytest.mark.parametrize("device", DEVICES)
def test_views_share_memory(device):
    z = tt.tensor(A, device=device)
    r = tt.view_as_real(z)
    assert r.shape == (3, 2) and r.dtype is tt.float32
    np.testing.assert_array_equal(_np(r), A.view(np.float32).reshape(3, 2))
    np.testing.assert_array_equal(_np(z.real), A.real)
    np.testing.assert_array_equal(_np(tt.imag(z)), A.imag)
    z.imag.fill_(7.0)
    np.testing.assert_array_equal(_np(z), A.real + 7j)
    back = tt.view_as_complex(tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device))
    np.testing.assert_array_equal(_np(back), [1 + 2j, 3 + 4j])
    x = tt.tensor([1.0, -2.0], device=device)
    assert tt.real(x) is x and x.conj() is x and tt.resolve_conj(z) is z and not tt.is_conj(z)


@pytest.mark.parametrize("device", DEVICES)
def test_complex_polar_conj_abs_angle(device):
    re = tt.tensor(A.real, device=device)
    im = tt.tensor(A.imag, device=device)
    np.testing.assert_array_equal(_np(tt.complex(re, im)), A)
    np.testing.assert_allclose(_np(tt.polar(re.abs(), im)), np.abs(A.real) * np.exp(1j * A.imag), rtol=1e-6)
    z = tt.tensor(A, device=device)
    np.testing.assert_array_equal(_np(z.conj()), np.conj(A))
    np.testing.assert_array_equal(_np(tt.conj_physical(z)), np.conj(A))
    np.testing.assert_allclose(_np(z.abs()), np.abs(A), rtol=1e-6)
    assert z.abs().dtype is tt.float32
    np.testing.assert_allclose(_np(tt.angle(z)), np.angle(A), rtol=1e-6)
    signs = tt.tensor([-1.0, 2.0, np.nan], device=device)
    np.testing.assert_array_equal(_np(tt.angle(signs)), np.array([np.pi, 0, np.nan], np.float32))


# ---------------------------------------------------------------- arithmetic and reductions
@pytest.mark.parametrize("device", DEVICES)
def test_arithmetic_matches_numpy(device):
    a, b = tt.tensor(A, device=device), tt.tensor(B, device=device)
    r = tt.tensor([2.0, -1.0, 0.5], device=device)
    cases = [(a + b, A + B), (a - b, A - B), (a * b, A * B), (a / b, A / B), (-a, -A), (a * r, A * r.cpu().numpy()),
             (a + r, A + np.array([2, -1, 0.5])), (r * 1j, np.array([2j, -1j, 0.5j])), (a * 2, A * 2),
             (a + 1j, A + 1j), (1 / a, 1 / A), (a / 2.0, A / 2), (r / b, np.array([2, -1, 0.5]) / B),
             (a.sum(), A.sum()), (a.mean(), A.mean()), (a.reshape(3, 1).sum(0), A.sum(0, keepdims=True))]
    for got, expected in cases:
        assert got.dtype is tt.complex64, got.dtype
        np.testing.assert_allclose(_np(got), expected, rtol=2e-6, atol=1e-7)
    assert (a * tt.ones(3, dtype=tt.float64, device=device)).dtype is tt.complex128
    c = a.clone()
    c += b
    c *= 2
    np.testing.assert_allclose(_np(c), 2 * (A + B), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_other_ops_refuse_complex(device):
    with pytest.raises(NotImplementedError, match="exp is not implemented for complex tensors"):
        tt.tensor(A, device=device).exp()


def test_errors():
    with pytest.raises(RuntimeError, match="view_as_real is only supported for complex tensors"):
        tt.view_as_real(tt.ones(2))
    with pytest.raises(RuntimeError, match="view_as_complex is only supported for float and double tensors, but "
                                           "got a tensor of scalar type: Long"):
        tt.view_as_complex(tt.ones(2, 2, dtype=tt.int64))
    with pytest.raises(RuntimeError, match="Tensor must have a last dimension of size 2"):
        tt.view_as_complex(tt.ones(2, 3))
    with pytest.raises(RuntimeError, match="Tensor must have a last dimension with stride 1"):
        tt.view_as_complex(tt.ones(2, 2).t())
    with pytest.raises(RuntimeError, match="Tensor must have a stride divisible by 2"):
        tt.view_as_complex(tt.ones(3, 3)[:, :2])
    with pytest.raises(RuntimeError, match="Tensor must have a storage_offset divisible by 2"):
        tt.view_as_complex(tt.ones(6)[1:5].reshape(2, 2))
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes."):
        tt.ones(2).imag
    with pytest.raises(RuntimeError, match="Expected object of scalar type Float but got scalar type Double"):
        tt.complex(tt.ones(2), tt.ones(2, dtype=tt.float64))
    with pytest.raises(RuntimeError, match="Expected both inputs to be Half, Float or Double tensors"):
        tt.complex(tt.ones(2, dtype=tt.int64), tt.ones(2, dtype=tt.int64))
    with pytest.raises(RuntimeError, match="Expected both inputs to be Float or Double tensors"):
        tt.polar(tt.ones(2, dtype=tt.int64), tt.ones(2, dtype=tt.int64))
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for real scalar outputs but got "
                                           "tritensor.complex64"):
        tt.tensor([1j], requires_grad=True).sum().backward()
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        tt.view_as_real([1j])


# ---------------------------------------------------------------- autograd
@pytest.mark.parametrize("device", DEVICES)
def test_known_gradients_follow_pytorch_convention(device):
    z = tt.tensor(A, device=device, requires_grad=True)
    (z * z.conj()).real.sum().backward()  # d|z|^2 = 2z
    np.testing.assert_allclose(_np(z.grad), 2 * A, rtol=1e-6)
    z.grad = None
    w = tt.tensor(B, device=device)
    (z * w).abs().sum().backward()  # conj(w) * sgn(z w)
    np.testing.assert_allclose(_np(z.grad), np.conj(B) * (A * B) / np.abs(A * B), rtol=1e-5)
    z.grad = None
    (z.abs() + z.abs()).sum().backward()  # two complex gradients accumulate
    np.testing.assert_allclose(_np(z.grad), 2 * A / np.abs(A), rtol=1e-5)
    x = tt.tensor([1.0, 2.0, 0.0], device=device, requires_grad=True)
    (x * (1 + 2j)).imag.sum().backward()  # a real input's gradient stays real
    assert x.grad.dtype is tt.float32
    np.testing.assert_array_equal(_np(x.grad), [2, 2, 2])
    zero = tt.zeros(1, dtype=tt.complex64, device=device, requires_grad=True)
    zero.abs().sum().backward()
    np.testing.assert_array_equal(_np(zero.grad), [0])  # sgn(0) = 0, as PyTorch


def _grad_cases(rng, device):
    x = tt.tensor(rng.standard_normal((2, 3)), device=device, requires_grad=True)
    y = tt.tensor(rng.standard_normal((2, 3)), device=device, requires_grad=True)
    c = tt.complex
    return [
        (lambda x, y: tt.view_as_real(c(x, y) * c(y, x) - c(x, x) / (c(y, x) + 3)), (x, y)),
        (lambda x, y: c(x, y).abs() + c(x, y).angle(), (x, y)),
        (lambda x, y: tt.view_as_real(c(x, y).conj().sum(0) + c(x, y).mean(1, keepdim=True)), (x, y)),
        (lambda x, y: tt.polar(x.abs() + 1, y).real, (x, y)),
        (lambda x, y: tt.view_as_complex(tt.stack([x, y * 2], -1)).imag * 3, (x, y)),
        (lambda x, y: (x.to(tt.complex128) * c(y, x)).imag, (x, y)),
    ]


def test_gradcheck_real_to_real_compositions(rng):
    for fn, inputs in _grad_cases(rng, "cpu"):
        assert gradcheck(fn, inputs)


def test_cuda_gradients_match_cpu(rng):
    """gradcheck on cpu checks the math; cuda (interpreted, slow) must give the same gradients."""
    seed = rng.integers(1 << 30)
    cpu_cases = _grad_cases(np.random.default_rng(seed), "cpu")
    cuda_cases = _grad_cases(np.random.default_rng(seed), "cuda")
    for (cpu_fn, cpu_in), (cuda_fn, cuda_in) in zip(cpu_cases, cuda_cases):
        weight = np.random.default_rng(1).standard_normal(tuple(cpu_fn(*cpu_in).shape))
        for fn, inputs in ((cpu_fn, cpu_in), (cuda_fn, cuda_in)):
            (fn(*inputs) * tt.tensor(weight, device=inputs[0].device)).sum().backward()
        for a, b in zip(cpu_in, cuda_in):
            np.testing.assert_allclose(_np(b.grad), _np(a.grad), rtol=1e-10, atol=1e-12)
            a.grad = b.grad = None
