"""tt.addcmul / tt.addcdiv and the Tensor methods (addcmul, addcmul_, addcdiv, addcdiv_): promotion, broadcasting,
value, out=, in-place rules, PyTorch's errors, and autograd (gradcheck in float64, the fused backward against the
tensor-op backward, cpu and cuda agree)."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]


def host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_addcmul_broadcasts_and_promotes(device, rng):
    x = rng.standard_normal((2, 3, 1)).astype(np.float32)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal(4).astype(np.float16)
    result = tt.addcmul(tt.tensor(x, device=device), tt.tensor(a, device=device), tt.tensor(b, device=device),
                        value=0.5)
    assert result.dtype is tt.float64 and result.shape == (2, 3, 4) and result.device.type == device
    np.testing.assert_allclose(host(result), x + 0.5 * a * b.astype(np.float64), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_addcdiv_values_and_zero_dim_promotion(device, rng):
    x = tt.tensor(rng.standard_normal(5).astype(np.float16), device=device)
    t1 = tt.tensor(2.0, dtype=tt.float64, device=device)  # a 0-d tensor does not raise the dtype of its kind
    t2 = tt.tensor([1.0, 2.0, 4.0, -8.0, 0.5], dtype=tt.float16, device=device)
    result = tt.addcdiv(x, t1, t2, value=3)
    assert result.dtype is tt.float16
    expected = (host(x).astype(np.float32) + 3 * (np.float32(2.0) / host(t2).astype(np.float32))).astype(np.float16)
    np.testing.assert_array_equal(host(result), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_integer_addcmul_truncates_value_and_mixed_promotes(device):
    x = tt.tensor([1, 2, 3], device=device)
    a = tt.tensor([4, 5, 6], dtype=tt.int32, device=device)
    b = tt.tensor([1, -1, 2], dtype=tt.int8, device=device)
    result = tt.addcmul(x, a, b, value=2.9)  # value converted as PyTorch's Scalar.to<int64_t>: 2
    assert result.dtype is tt.int64 and host(result).tolist() == [9, -8, 27]
    floats = tt.addcmul(x, a, tt.tensor([0.5, 0.5, 0.5], device=device))
    assert floats.dtype is tt.float32 and host(floats).tolist() == [3.0, 4.5, 6.0]


@pytest.mark.parametrize("device", DEVICES)
def test_methods_in_place_and_out(device, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = rng.standard_normal((3, 1)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) + 3
    t = tt.tensor(x, device=device)
    ta, tb = tt.tensor(a, device=device), tt.tensor(b, device=device)
    np.testing.assert_allclose(host(t.addcmul(ta, tb, value=2)), x + 2 * a * b, rtol=1e-6)
    np.testing.assert_allclose(host(t.addcdiv(ta, tb)), x + a / b, rtol=1e-6)
    same = t.addcmul_(ta, tb, value=-1)
    assert same is t
    np.testing.assert_allclose(host(t), x - a * b, rtol=1e-6, atol=1e-6)
    t.addcdiv_(ta, tb, value=0.25)
    np.testing.assert_allclose(host(t), x - a * b + 0.25 * a / b, rtol=1e-5, atol=1e-6)
    out = tt.empty((3, 4), device=device)
    assert tt.addcmul(tt.tensor(x, device=device), ta, tb, out=out) is out
    np.testing.assert_allclose(host(out), x + a * b, rtol=1e-6)
    ints = tt.tensor([1, 2], device=device)
    ints.addcmul_(tt.tensor([2, 3], device=device), tt.tensor([1, 1], device=device))
    assert host(ints).tolist() == [3, 5]


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    f = tt.ones(3, device=device)
    i = tt.ones(3, dtype=tt.int64, device=device)
    b = tt.ones(3, dtype=tt.bool, device=device)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        tt.addcdiv(f, i, i)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        tt.addcdiv(f, b, i)
    kernel = "addcmul_cpu_out" if device == "cpu" else "addcmul_cuda"
    with pytest.raises(RuntimeError, match=f"\"{kernel}\" not implemented for 'Bool'"):
        tt.addcmul(b, b, b)
    with pytest.raises(RuntimeError, match="The size of tensor a"):
        tt.addcmul(f, tt.ones(4, device=device), f)
    with pytest.raises(TypeError, match=r"addcmul\(\): argument 'tensor2' \(position 3\) must be Tensor, not float"):
        tt.addcmul(f, f, 2.0)
    with pytest.raises(TypeError, match="argument 'value' must be Number"):
        tt.addcmul(f, f, f, value="x")
    with pytest.raises(RuntimeError, match="value cannot be converted to type int8_t without overflow"):
        tt.addcmul(*(tt.ones(2, dtype=tt.int8, device=device),) * 3, value=300)
    with pytest.raises(RuntimeError, match="result type Float can.t be cast to the desired output type Long"):
        i.clone().addcmul_(f, f)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        tt.ones(1, device=device).addcmul_(f, f)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tt.ones(3, requires_grad=True, device=device).addcmul_(f, f)


def test_cpu_and_cuda_tensor_on_different_devices():
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.addcmul(tt.ones(2), tt.ones(2, device="cuda"), tt.ones(2))


@pytest.mark.parametrize("op", [tt.addcmul, tt.addcdiv])
def test_gradcheck_float64(op):
    x = tt.randn(3, 1, dtype=tt.float64, requires_grad=True)
    a = tt.randn(4, dtype=tt.float64, requires_grad=True)
    b = (tt.rand(3, 4, dtype=tt.float64) + 1).requires_grad_()
    assert gradcheck(lambda x, a, b: op(x, a, b, value=-0.7), (x, a, b))


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("need", [(True, True, True), (False, True, False), (False, False, True), (True, False, False)])
def test_fused_backward_matches_graph_backward_and_cuda_matches_cpu(op, need, rng):
    values = [rng.standard_normal((2, 1, 3)), rng.standard_normal((4, 3)), rng.standard_normal(3) + 3]
    grads = {}
    for device in DEVICES:
        for create_graph in (False, True):
            ts = [tt.tensor(v.astype(np.float32), device=device, requires_grad=n) for v, n in zip(values, need)]
            y = getattr(tt, op)(*ts, value=1.5)
            assert y.grad_fn.name() == f"{op.capitalize()}Backward0"
            y.backward(tt.ones_like(y) * 0.5, create_graph=create_graph)
            grads[device, create_graph] = [None if t.grad is None else host(t.grad) for t in ts]
    ref = grads["cpu", True]
    for key, got in grads.items():
        for g, r, n in zip(got, ref, need):
            assert (g is None) == (not n), key
            if n:
                assert g.shape == r.shape
                np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6, err_msg=str(key))


def test_second_derivative():
    a = tt.tensor([1.5, -2.0], dtype=tt.float64, requires_grad=True)
    b = tt.tensor([3.0, 0.5], dtype=tt.float64, requires_grad=True)
    y = tt.addcdiv(tt.zeros(2, dtype=tt.float64), a, b, value=2).sum()
    (gb,) = tt.autograd.grad(y, b, create_graph=True)  # -2 a / b^2
    (gab,) = tt.autograd.grad(gb.sum(), a)  # -2 / b^2
    np.testing.assert_allclose(host(gab), -2 / np.array([3.0, 0.5]) ** 2, rtol=1e-12)


def test_in_place_on_a_saved_factor_is_caught():
    w = tt.randn(3, requires_grad=True)
    v = w * 1
    v.addcmul_(v, tt.ones(3))  # self is not saved when only its own gradients are needed: no error
    v.sum().backward()
    assert host(w.grad).tolist() == [2.0, 2.0, 2.0]
    x = tt.randn(3, requires_grad=True)
    z = tt.randn(3, requires_grad=True)
    y = x * 1
    y.addcmul_(y, z)  # tensor1 is self, saved for z's gradient, then overwritten (PyTorch raises too)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
