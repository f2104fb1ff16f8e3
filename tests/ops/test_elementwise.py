"""The foundation ops (add, sub, mul, neg, copy/contiguous, fill_, zero_, copy_, sum) on cpu and on
interpreted cuda against NumPy, with broadcast and non-contiguous inputs, forward and backward."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import elementwise as KE
from tritensor.kernels import reduction as KR

import tritensor as tt

DEVICES = ["cpu", "cuda"]
TOL = {tt.float32: 1e-6, tt.float64: 1e-12, tt.float16: 2e-3, tt.bfloat16: 1.6e-2}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64) if t.dtype.is_floating_point else t.cpu().numpy()


def _pair(rng, shape, dtype, device):
    a = rng.standard_normal(shape).astype(dtype.np)
    return a, tt.tensor(a, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.float64])
def test_add_mul_sub_neg_broadcast_and_strided(rng, device, dtype):
    a, ta = _pair(rng, (5, 3), dtype, device)
    b, tb = _pair(rng, (3,), dtype, device)
    ta_t = ta.t()  # a non-contiguous (3, 5) operand
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    tol = TOL[dtype] * 4
    np.testing.assert_allclose(_np(ta + tb), a64 + b64, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(tt.add(ta, tb, alpha=2)), a64 + 2 * b64, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(ta * tb), a64 * b64, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(ta - tb), a64 - b64, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(-ta_t), -a64.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(ta_t * tb.unsqueeze(1)), a64.T * b64[:, None], rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(2 - ta), 2 - a64, rtol=tol, atol=tol)
    assert (ta + tb).dtype is dtype and (ta + tb).device == ta.device


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.int32, tt.int64, tt.uint8, tt.bool])
def test_integer_and_bool_arithmetic(device, dtype):
    a = tt.tensor([[0, 1, 2], [3, 4, 5]], dtype=dtype, device=device)
    b = tt.tensor([1, 0, 1], dtype=dtype, device=device)
    na, nb = a.cpu().numpy(), b.cpu().numpy()
    np.testing.assert_array_equal((a + b).cpu().numpy(), np.add(na, nb))
    np.testing.assert_array_equal((a * b).cpu().numpy(), np.multiply(na, nb))
    if dtype is tt.bool:
        with pytest.raises(RuntimeError, match="Subtraction"):
            a - b
        with pytest.raises(RuntimeError, match="Negation"):
            -a
    else:
        np.testing.assert_array_equal((a - b).cpu().numpy(), np.subtract(na, nb))


@pytest.mark.parametrize("device", DEVICES)
def test_mixed_dtypes_promote(device):
    a = tt.tensor([1, 2, 3], dtype=tt.int32, device=device)
    b = tt.tensor([0.5, 0.25, 2.0], dtype=tt.float16, device=device)
    r = a * b
    assert r.dtype is tt.float16 and r.tolist() == [0.5, 0.5, 6.0]
    assert (a + 1.5).dtype is tt.float32 and (a + 1.5).tolist() == [2.5, 3.5, 4.5]
    u = tt.tensor([250], dtype=tt.uint8, device=device)
    assert (u + 10).tolist() == [4]  # wraps like PyTorch


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.bfloat16, tt.int32, tt.bool])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, False)])
def test_sum(rng, device, dtype, dim, keepdim):
    a = (rng.standard_normal((4, 5, 3)) * 3).astype(dtype.np)
    t = tt.tensor(a, device=device).permute(2, 0, 1)  # non-contiguous
    ref = a.transpose(2, 0, 1).astype(np.float64)
    r = t.sum(dim, keepdim=keepdim)
    expected = ref.sum(axis=dim, keepdims=keepdim)
    expected_dtype = dtype if dtype.is_floating_point else tt.int64
    assert r.dtype is expected_dtype and r.shape == expected.shape
    tol = TOL.get(dtype, 0) * 30
    np.testing.assert_allclose(_np(r).astype(np.float64), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_sum_long_rows_and_dtype_arg(device):
    x = tt.ones(3, 20000, device=device)
    assert x.sum(1).tolist() == [20000.0] * 3
    assert tt.ones(4, dtype=tt.int32, device=device).sum(dtype=tt.float64).dtype is tt.float64


@pytest.mark.parametrize("device", DEVICES)
def test_contiguous_copy_fill_zero(rng, device):
    a, t = _pair(rng, (4, 6), tt.float32, device)
    v = t.t()[::2]
    c = v.contiguous()
    assert c.is_contiguous() and not v.is_contiguous() and c.untyped_storage() is not t.untyped_storage()
    np.testing.assert_array_equal(c.cpu().numpy(), a.T[::2])
    assert t.contiguous() is t
    t[:, 1].fill_(5.0)
    a[:, 1] = 5.0
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    t[1:3, ::2].zero_()
    a[1:3, ::2] = 0
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    src = tt.arange(6.0, device=device)
    t[0].copy_(src)
    a[0] = np.arange(6.0)
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    t[2:4] = tt.tensor([7.0], device=device)  # broadcast setitem
    a[2:4] = 7.0
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        t[0].copy_(tt.zeros(3, device=device))


def test_copy_across_devices_and_dtypes():
    c = tt.zeros(3, device="cuda", dtype=tt.float16)
    c.copy_(tt.tensor([1.5, 2.5, 3.5], dtype=tt.float64))
    assert c.device.type == "cuda" and c.tolist() == [1.5, 2.5, 3.5]
    b = tt.zeros(2, 2, dtype=tt.bfloat16, device="cuda")
    b.copy_(tt.tensor([[1, 2], [3, 4]], device="cuda"))
    assert b.cpu().numpy().astype(np.float32).tolist() == [[1, 2], [3, 4]]
    assert b.numel() == 4 and b.dtype is tt.bfloat16 and b.cpu().numpy().dtype == ml_dtypes.bfloat16


@pytest.mark.parametrize("device", DEVICES)
def test_backward_through_foundation_ops(rng, device):
    a = tt.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    b = tt.tensor(rng.standard_normal((4,)), device=device, requires_grad=True)
    loss = ((a * b - a) * 3 + (-b)).sum()
    loss.backward()
    an, bn = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    np.testing.assert_allclose(a.grad.cpu().numpy(), 3 * (bn - 1) * np.ones_like(an), rtol=1e-6)
    np.testing.assert_allclose(b.grad.cpu().numpy(), 3 * an.sum(0) - 3, rtol=1e-6)


def test_cuda_ops_run_triton_kernels_not_numpy(monkeypatch):
    """Under the interpreter, cuda ops must go through the Triton kernels: the NumPy references and
    ufuncs are disabled here, and the kernel launches are counted."""
    launches = []

    def counting(run):  # the strided, flat and row map kernels alike
        def counting_run(*args, **kwargs):
            launches.append(kwargs.get("OP"))
            return run(*args, **kwargs)

        return counting_run

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    x = tt.randn(3, 4).to("cuda")
    y = tt.randn(4).to("cuda")
    for kernel in KE.MAP_KERNELS:
        monkeypatch.setattr(kernel, "run", counting(kernel.run))
    for name in ("add_ref", "mul_ref", "neg_ref", "mul_backward_ref"):
        monkeypatch.setattr(KE, name, forbidden)
    monkeypatch.setattr(KR, "sum_ref", forbidden)
    z = (x * y + x).sum(1)
    assert z.device.type == "cuda" and len(launches) == 2
    ops = {getattr(op, "__name__", str(op)) for op in launches}
    assert ops == {"_mul", "_add_no_alpha"}


def test_in_place_version_counter_catches_modified_saved_tensor():
    a = tt.ones(3, requires_grad=True)
    b = a * 2
    c = b * b  # saves b
    b.add_(1)  # modifies b in place: its version moves on
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_backward_twice_without_retain_graph_fails():
    a = tt.ones(3, requires_grad=True)
    s = (a * a).sum()
    s.backward(retain_graph=True)
    s.backward()
    assert a.grad.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        s.backward()
