"""F.linear's cpu path (ops/linear.py: one node over the untransposed weight, NumPy backward without a graph) and
Matmul's NumPy backward for 2-D cpu operands: values and gradients against NumPy, PyTorch's grad_fn names, float64
gradcheck / gradgradcheck (the differentiable backward), gradient layouts, the in-place check, 16-bit operands."""

import numpy as np
import pytest

import tritensor as tt

F = tt.nn.functional


def _leaf(rng, shape, dtype=np.float32):
    return tt.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape_x", [(5, 7), (2, 3, 7)])
def test_values_grads_and_names(rng, bias, shape_x):
    x, w = _leaf(rng, shape_x), _leaf(rng, (4, 7))
    b = _leaf(rng, (4,)) if bias else None
    y = F.linear(x, w, b)
    xn, wn = x.detach().numpy(), w.detach().numpy()
    ref = xn @ wn.T + (b.detach().numpy() if bias else 0)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    base = y.grad_fn if len(shape_x) == 2 else y.grad_fn.next_functions[0][0]  # 3-D: the fold's reshape first
    assert base.name() == ("AddmmBackward0" if bias else "MmBackward0")
    g = rng.standard_normal(ref.shape).astype(np.float32)
    y.backward(tt.tensor(g))
    g2, x2 = g.reshape(-1, 4), xn.reshape(-1, 7)
    np.testing.assert_allclose(x.grad.numpy(), (g2 @ wn).reshape(shape_x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), g2.T @ x2, rtol=1e-5, atol=1e-5)
    assert w.grad.is_contiguous()
    if bias:
        np.testing.assert_allclose(b.grad.numpy(), g2.sum(0), rtol=1e-5, atol=1e-5)


def test_only_the_needed_gradients(rng):
    x = tt.tensor(rng.standard_normal((3, 5)).astype(np.float32))
    w, b = _leaf(rng, (2, 5)), _leaf(rng, (2,))
    F.linear(x, w, b).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 2), np.float32).T @ x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 3.0])
    assert x.grad is None
    with tt.no_grad():
        y = F.linear(x, w, b)
    assert y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_and_gradgradcheck_float64(rng, bias):
    x, w = _leaf(rng, (3, 4), np.float64), _leaf(rng, (2, 4), np.float64)
    args = (x, w, _leaf(rng, (2,), np.float64)) if bias else (x, w)
    assert tt.autograd.gradcheck(F.linear, args)
    assert tt.autograd.gradgradcheck(F.linear, args)


def test_create_graph_second_derivative(rng):
    x, w = _leaf(rng, (3, 4), np.float64), _leaf(rng, (2, 4), np.float64)
    y = F.linear(x, w)
    (gx,) = tt.autograd.grad((y * y).sum(), [x], create_graph=True)  # gx = 2 (x W^T) W
    gx.sum().backward()
    xn, wn = x.detach().numpy(), w.detach().numpy()
    np.testing.assert_allclose(gx.detach().numpy(), 2 * xn @ wn.T @ wn, rtol=1e-12)
    # w.grad = d/dW of sum(2 x W^T W), against central differences of that scalar
    def total(wv):
        return (2 * xn @ wv.T @ wv).sum()
    eps, num = 1e-6, np.zeros_like(wn)
    for i in np.ndindex(wn.shape):
        d = np.zeros_like(wn)
        d[i] = eps
        num[i] = (total(wn + d) - total(wn - d)) / (2 * eps)
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-6, atol=1e-6)


def test_weight_modified_in_place_before_backward(rng):
    x, w = _leaf(rng, (3, 4)), _leaf(rng, (2, 4))
    y = F.linear(x, w).sum()
    with tt.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_16bit_operands(rng, dtype):
    """fp32 products rounded once (as the kernel); the backward takes the tensor-op path."""
    xs, ws, bs = (rng.standard_normal(s).astype(np.float32) for s in ((3, 8), (2, 8), (2,)))
    x, w, b = (tt.tensor(v, dtype=dtype, requires_grad=True) for v in (xs, ws, bs))
    y = F.linear(x, w, b)
    assert y.dtype is dtype and y.grad_fn.name() == "AddmmBackward0"
    xr, wr, br = (t.detach().float().numpy() for t in (x, w, b))
    want = tt.tensor(xr @ wr.T + br).to(dtype).float().numpy()
    np.testing.assert_array_equal(y.detach().float().numpy(), want)
    y.float().sum().backward()
    np.testing.assert_array_equal(w.grad.float().numpy(), tt.tensor(np.ones((3, 2), np.float32).T @ xr)
                                  .to(dtype).float().numpy())


def test_mm_numpy_backward_keeps_transposed_layouts(rng):
    """Matmul's NumPy backward (2-D cpu float operands): a transposed operand's gradient keeps its layout."""
    a, b = _leaf(rng, (5, 3)), _leaf(rng, (4, 5))
    y = tt.mm(a.t(), b.t())  # (3, 5) @ (5, 4), both operands column-major
    g = rng.standard_normal((3, 4)).astype(np.float32)
    y.backward(tt.tensor(g))
    an, bn = a.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), (g @ bn).T, rtol=1e-5, atol=1e-6)  # d(a^T) = g @ b, then ^T
    np.testing.assert_allclose(b.grad.numpy(), (an @ g).T, rtol=1e-5, atol=1e-6)
    assert a.grad.is_contiguous() and b.grad.is_contiguous()


def test_addmm_alpha_numpy_backward(rng):
    m, a, b = _leaf(rng, (3, 4)), _leaf(rng, (3, 5)), _leaf(rng, (5, 4))
    y = tt.addmm(m, a, b, alpha=2.0, beta=0.5)
    y.sum().backward()
    ones = np.ones((3, 4), np.float32)
    np.testing.assert_allclose(a.grad.numpy(), 2 * ones @ b.detach().numpy().T, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), 2 * a.detach().numpy().T @ ones, rtol=1e-6)
    np.testing.assert_allclose(m.grad.numpy(), 0.5 * ones)


def test_errors_unchanged(rng):
    x, w = tt.ones(3, 4), tt.ones(2, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 5x2\)"):
        F.linear(x, w)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
        F.linear(x, tt.ones(2, 4, dtype=tt.float64))
    with pytest.raises(RuntimeError, match="must match the existing size"):
        F.linear(x, tt.ones(2, 4), tt.ones(3))


@pytest.mark.parametrize("act", ["relu", "gelu", "silu"])
def test_fused_activation_node_as_apply_records_it(rng, act):
    """F.linear(activation=) on cpu builds its node directly: the same edges, saved-output alias, in-place check,
    freed state after backward and no node under no_grad as Function.apply's."""
    x, w, b = _leaf(rng, (5, 7)), _leaf(rng, (4, 7)), _leaf(rng, (4,))
    y = F.linear(x, w, b, activation=act)
    assert y.grad_fn.name() == "LinearActivationBackward0" and y.requires_grad
    assert [fn.variable for fn, _ in y.grad_fn.next_functions] == [x, w, b]
    assert y.grad_fn.needs_input_grad == (True, True, True, False)
    want = getattr(F, act)(F.linear(x, w, b))
    np.testing.assert_array_equal(y.detach().numpy(), want.detach().numpy())
    y.sum().backward()
    grads = [t.grad.numpy().copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    want.sum().backward()
    for g, t in zip(grads, (x, w, b)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    with tt.no_grad():
        assert F.linear(x, w, b, activation=act).grad_fn is None
    assert F.linear(x.detach(), w.detach(), activation=act).grad_fn is None


def test_fused_relu_output_modified_in_place_before_backward(rng):
    """relu's backward reads its saved output: changing it in place makes backward raise, as in PyTorch."""
    x, w = _leaf(rng, (3, 4)), _leaf(rng, (2, 4))
    y = F.linear(x, w, activation="relu")
    with tt.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_linear_node_only_for_grad_inputs(rng):
    """The direct node of F.linear: needs_input_grad and edges per argument, nothing saved that no gradient
    reads, no node when nothing requires grad or grad mode is off."""
    x, w = tt.tensor(rng.standard_normal((3, 4)).astype(np.float32)), _leaf(rng, (2, 4))
    b = tt.zeros(2)
    y = F.linear(x, w, b)
    assert y.grad_fn.name() == "AddmmBackward0" and y.grad_fn.needs_input_grad == (False, True, False)
    assert y.grad_fn._saved[1] is None  # the weight is saved only for dx
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((3, 2), np.float32).T @ x.numpy(), rtol=1e-6)
    assert b.grad is None and x.grad is None
    with tt.no_grad():
        assert F.linear(x, w, b).grad_fn is None
    assert F.linear(x, w.detach(), b).grad_fn is None


@pytest.mark.parametrize("act", [None, "relu", "gelu"])
@pytest.mark.parametrize("padded", [False, True])
def test_batched_input_folds_into_rows_as_the_2d_call(rng, act, padded):
    """A (..., K) input that folds into rows as a view (contiguous, or rows padded in memory): linear's fast path
    without its checks gives the 2-D call's values and gradients bit for bit, with the fold's View nodes around
    the row op."""
    base = rng.standard_normal((2, 5, 3, 9 if padded else 7)).astype(np.float32)
    w, b = _leaf(rng, (4, 7)), _leaf(rng, (4,))
    x = tt.tensor(base, requires_grad=True)
    xin = x[..., :7] if padded else x
    y = F.linear(xin, w, b, activation=act)
    assert y.shape == (2, 5, 3, 4) and y.grad_fn.name() == "ViewBackward0"
    inner = y.grad_fn.next_functions[0][0]
    assert inner.name() == ("AddmmBackward0" if act is None else "LinearActivationBackward0")
    assert inner.next_functions[0][0].name() == "ViewBackward0"  # the input's fold
    rows = tt.tensor(np.ascontiguousarray(base[..., :7]).reshape(-1, 7), requires_grad=True)
    w2, b2 = (tt.tensor(t.detach().numpy(), requires_grad=True) for t in (w, b))
    want = F.linear(rows, w2, b2, activation=act)
    assert y.detach().numpy().reshape(-1, 4).tobytes() == want.detach().numpy().tobytes()
    g = rng.standard_normal(want.shape).astype(np.float32)
    y.backward(tt.tensor(g.reshape(y.shape)))
    want.backward(tt.tensor(g))
    for got, exp in ((w.grad, w2.grad), (b.grad, b2.grad)):
        assert got.numpy().tobytes() == exp.numpy().tobytes()
    np.testing.assert_array_equal(x.grad.numpy()[..., :7].reshape(-1, 7), rows.grad.numpy())
    if padded:
        assert not x.grad.numpy()[..., 7:].any()
