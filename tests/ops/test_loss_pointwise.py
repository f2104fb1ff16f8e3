"""ops/loss_pointwise.py: the fused pointwise losses on cpu and interpreted cuda against the NumPy references
(every reduction, weights, broadcasting), float64 gradcheck for input and target, double backward, cuda's
backward against cpu's, fp16/bf16, grad_fn names and every argument error."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import loss_pointwise as K

import tritensor as tt
from tritensor.ops import loss_pointwise as L

DEVICES = ["cpu", "cuda"]
REDUCTIONS = ["none", "sum", "mean"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _t(a, device="cpu", grad=False):
    return tt.tensor(a, device=device, requires_grad=grad)


# name -> (call(x, t, device), loss, param, mode, x sampler, t sampler, weighted, grad_fn)
def _bce(x, t, d, r):
    return L.binary_cross_entropy(x, t, _t(W5, d), r)


def _bce_logits(x, t, d, r):
    return L.binary_cross_entropy_with_logits(x, t, _t(W5, d), _t(PW5, d), r)


W5 = np.array([0.5, 1.0, 2.0, 1.5, 0.7])
PW5 = np.array([3.0, 1.0, 0.5, 2.0, 1.2])
OPS = {
    "bce": (_bce, "binary_cross_entropy", 0.0, 0.0, lambda r: r.uniform(0.05, 0.95, (3, 5)),
            lambda r: r.uniform(0, 1, (3, 5)), "BinaryCrossEntropyBackward0"),
    "bce_logits": (_bce_logits, "binary_cross_entropy_with_logits", 0.0, 0.0, lambda r: r.normal(0, 2, (3, 5)),
                   lambda r: r.uniform(0, 1, (3, 5)), "BinaryCrossEntropyWithLogitsBackward0"),
    "huber": (lambda x, t, d, r: L.huber_loss(x, t, r, 0.6), "huber_loss", 0.6, 0.0,
              lambda r: r.normal(0, 1, (3, 5)), lambda r: r.normal(0, 1, (3, 5)), "HuberLossBackward0"),
    "smooth_l1": (lambda x, t, d, r: L.smooth_l1_loss(x, t, r, 0.3), "smooth_l1_loss", 0.3, 0.0,
                  lambda r: r.normal(0, 1, (3, 5)), lambda r: r.normal(0, 1, (3, 5)), "SmoothL1LossBackward0"),
    "kl": (lambda x, t, d, r: L.kl_div(x, t, r), "kl_div", 0.0, 0.0, lambda r: r.normal(-1, 1, (3, 5)),
           lambda r: r.uniform(0.1, 1, (3, 5)), "KlDivBackward0"),
    "kl_log": (lambda x, t, d, r: L.kl_div(x, t, r, True), "kl_div", 0.0, 1.0, lambda r: r.normal(-1, 1, (3, 5)),
               lambda r: r.normal(-1, 1, (3, 5)), "KlDivBackward0"),
    "poisson": (lambda x, t, d, r: L.poisson_nll_loss(x, t, True, True, 1e-8, r), "poisson_nll_loss", 1e-8, 3.0,
                lambda r: r.normal(0, 1, (3, 5)), lambda r: r.uniform(0, 4, (3, 5)), "PoissonNllLossBackward0"),
    "poisson_rate": (lambda x, t, d, r: L.poisson_nll_loss(x, t, False, False, 0.1, r), "poisson_nll_loss", 0.1,
                     0.0, lambda r: r.uniform(0.2, 3, (3, 5)), lambda r: r.uniform(0, 4, (3, 5)),
                     "PoissonNllLossBackward0"),
    "soft_margin": (lambda x, t, d, r: L.soft_margin_loss(x, t, r), "soft_margin_loss", 0.0, 0.0,
                    lambda r: r.normal(0, 2, (3, 5)), lambda r: r.choice([-1.0, 1.0], (3, 5)),
                    "SoftMarginLossBackward0"),
    "mse": (lambda x, t, d, r: L.mse_loss(x, t, r), "mse_loss", 0.0, 0.0, lambda r: r.normal(0, 1, (3, 5)),
            lambda r: r.normal(0, 1, (3, 5)), "MseLossBackward0"),
    "l1": (lambda x, t, d, r: L.l1_loss(x, t, r), "l1_loss", 0.0, 0.0, lambda r: r.normal(0, 1, (3, 5)),
           lambda r: r.normal(0, 1, (3, 5)), "L1LossBackward0"),
}


def _operands(name, seed=0):
    r = np.random.default_rng(seed)
    spec = OPS[name]
    return spec[4](r), spec[5](r)


def _ref(name, x, t, reduction):
    _, loss, param, mode = OPS[name][:4]
    w = np.broadcast_to(W5, x.shape) if name in ("bce", "bce_logits") else None
    pw = np.broadcast_to(PW5, x.shape) if name == "bce_logits" else None
    return K.pointwise_loss_ref(x, t, w, pw, loss=loss, param=param, mode=mode, reduction=reduction)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(OPS))
def test_forward_matches_reference_and_grad_fn(name, reduction, device):
    x, t = _operands(name)
    out = OPS[name][0](_t(x, device, True), _t(t, device), device, reduction)
    np.testing.assert_allclose(_np(out), _ref(name, x, t, reduction), rtol=1e-12, atol=1e-12)
    assert out.grad_fn.name() == OPS[name][6]
    assert out.device.type == device


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(OPS))
def test_gradcheck_input_and_target(name, reduction):
    x, t = _operands(name, 1)
    call = OPS[name][0]
    needs_t = name != "soft_margin"  # a +-1 target: its finite difference is well defined too, but keep it exact
    args = (_t(x, grad=True), _t(t, grad=needs_t))
    assert tt.autograd.gradcheck(lambda a, b: call(a, b, "cpu", reduction), args)
    if reduction == "mean":  # the interpreter is slow: cuda's other reductions are checked against cpu's below
        args = (_t(x, "cuda", True), _t(t, "cuda", needs_t))
        assert tt.autograd.gradcheck(lambda a, b: call(a, b, "cuda", reduction), args)


@pytest.mark.parametrize("name", ["bce", "bce_logits", "huber", "kl", "poisson", "soft_margin"])
def test_double_backward(name):
    x, t = _operands(name, 2)
    call = OPS[name][0]
    args = (_t(x, grad=True), _t(t, grad=True))
    assert tt.autograd.gradgradcheck(lambda a, b: call(a, b, "cpu", "mean"), args)


@pytest.mark.parametrize("name", list(OPS))
def test_cuda_backward_matches_cpu(name):
    x, t = _operands(name, 3)
    grads = []
    for device in DEVICES:
        a, b = _t(x, device, True), _t(t, device, True)
        OPS[name][0](a, b, device, "none").mul(_t(np.arange(15.0).reshape(3, 5), device)).sum().backward()
        grads.append((_np(a.grad), _np(b.grad)))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("device", DEVICES)
def test_broadcast_operands_and_weight_gradients_reduce_back(device):
    # huber with a (5,) target broadcast over (3, 5); BCE-with-logits with a (5,) pos_weight.
    r = np.random.default_rng(4)
    x, t = r.normal(size=(3, 5)), r.normal(size=5)
    a, b = _t(x, device, True), _t(t, device, True)
    out = L.huber_loss(a, b, "sum", 0.5)
    want = K.pointwise_loss_ref(x, np.broadcast_to(t, x.shape), loss="huber_loss", param=0.5, reduction="sum")
    np.testing.assert_allclose(_np(out), want, rtol=1e-12)
    out.backward()
    assert b.grad.shape == (5,)
    np.testing.assert_allclose(_np(b.grad), -_np(a.grad).sum(0), rtol=1e-12)
    pw = r.uniform(0.5, 2, 5)
    y = r.uniform(0, 1, (3, 5))
    out = L.binary_cross_entropy_with_logits(_t(x, device), _t(y, device), None, _t(pw, device), "mean")
    want = K.pointwise_loss_ref(x, y, None, np.broadcast_to(pw, x.shape), loss="binary_cross_entropy_with_logits")
    np.testing.assert_allclose(_np(out), want, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_kl_div_batchmean_divides_by_the_batch(device):
    x, t = _operands("kl")
    out = L.kl_div(_t(x, device, True), _t(t, device), "batchmean")
    np.testing.assert_allclose(_np(out), _ref("kl", x, t, "sum") / 3, rtol=1e-12)
    assert tt.autograd.gradcheck(lambda a: L.kl_div(a, _t(t, device), "batchmean"), (_t(x, device, True),))


@pytest.mark.parametrize("device", DEVICES)
def test_half_precision(device):
    x, t = _operands("bce_logits", 5)
    for dtype, tol in ((tt.float16, 3e-3), (tt.bfloat16, 3e-2)):
        a = tt.tensor(x, dtype=dtype, device=device, requires_grad=True)
        b = tt.tensor(t, dtype=dtype, device=device)
        out = L.binary_cross_entropy_with_logits(a, b, reduction="mean")
        assert out.dtype is dtype
        want = K.pointwise_loss_ref(x, t, loss="binary_cross_entropy_with_logits")
        np.testing.assert_allclose(_np(out), want, rtol=tol)
        out.backward()
        assert a.grad.dtype is dtype
        want_g = K.pointwise_loss_backward_ref(np.array(1.0), x, t, loss="binary_cross_entropy_with_logits",
                                               divisor=15)[0]
        np.testing.assert_allclose(_np(a.grad), want_g, rtol=tol, atol=tol / 10)
    assert ml_dtypes.bfloat16 is not None


def test_bce_boundaries_clamp_and_gradient():
    for device in DEVICES:
        x = _t(np.array([0.0, 1.0, 0.5]), device, True)
        out = L.binary_cross_entropy(x, _t(np.array([1.0, 0.0, 1.0]), device), reduction="none")
        np.testing.assert_allclose(_np(out), [100.0, 100.0, np.log(2)], rtol=1e-15)
        out.sum().backward()
        np.testing.assert_allclose(_np(x.grad), [-1e12, 1e12, -2.0], rtol=1e-12)  # (x - t) / max(x(1-x), 1e-12)


def test_smooth_l1_beta_zero_is_l1():
    x, t = _operands("smooth_l1", 6)
    for device in DEVICES:
        a = _t(x, device, True)
        out = L.smooth_l1_loss(a, _t(t, device), "sum", 0.0)
        np.testing.assert_allclose(_np(out), np.abs(x - t).sum(), rtol=1e-12)
        out.backward()
        np.testing.assert_array_equal(_np(a.grad), np.sign(x - t))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_inputs(device):
    e = _t(np.zeros((0, 3)), device)
    assert _np(L.huber_loss(e, e, "sum")) == 0.0
    assert np.isnan(_np(L.huber_loss(e, e, "mean")))
    assert L.huber_loss(e, e, "none").shape == (0, 3)


def test_errors():
    x = tt.tensor([0.5, 0.2])
    with pytest.raises(ValueError, match="^meen is not a valid value for reduction$"):
        L.huber_loss(x, x, "meen")
    with pytest.raises(ValueError, match="^batchmean is not a valid value for reduction$"):
        L.soft_margin_loss(x, x, "batchmean")
    with pytest.raises(RuntimeError, match="^huber_loss does not support non-positive values for delta.$"):
        L.huber_loss(x, x, delta=0.0)
    with pytest.raises(RuntimeError, match="^smooth_l1_loss does not support negative values for beta.$"):
        L.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match="^all elements of input should be between 0 and 1$"):
        L.binary_cross_entropy(tt.tensor([1.5]), tt.tensor([1.0]))
    with pytest.raises(TypeError, match=r"^huber_loss\(\): argument 'target' \(position 2\) must be Tensor, not list"):
        L.huber_loss(x, [1.0, 2.0])
    with pytest.raises(TypeError, match=r"argument 'input' \(position 1\) must be Tensor"):
        L.kl_div(1.0, x)
    with pytest.raises(RuntimeError, match="The size of tensor a"):
        L.huber_loss(x, tt.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        L.soft_margin_loss(tt.tensor([1, 2]), tt.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="same device"):
        L.huber_loss(x, x.to("cuda"))


def test_non_contiguous_operands_on_cuda():
    # A transposed input and target: the op makes them dense before the flat kernels.
    x, t = _operands("kl", 7)
    xs, ts = np.ascontiguousarray(x.T), np.ascontiguousarray(t.T)
    for reduction in REDUCTIONS:
        a = _t(xs, "cuda", True)
        out = L.kl_div(a.t(), _t(ts, "cuda").t(), reduction)
        np.testing.assert_allclose(_np(out), _ref("kl", x, t, reduction), rtol=1e-12, atol=1e-12)
        out.sum().backward()
        want = K.pointwise_loss_backward_ref(np.ones(x.shape) if reduction == "none" else np.array(1.0), x, t,
                                             loss="kl_div", divisor=None if reduction == "none" else
                                             (x.size if reduction == "mean" else 1))[0]
        np.testing.assert_allclose(_np(a.grad), want.T, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("device", DEVICES)
def test_bce_weight_broadcasts_over_the_batch(device):
    x, t = _operands("bce", 8)
    w = np.array([[2.0], [0.5], [1.0]])
    out = L.binary_cross_entropy(_t(x, device), _t(t, device), _t(w, device), "sum")
    want = K.pointwise_loss_ref(x, t, np.broadcast_to(w, x.shape), loss="binary_cross_entropy", reduction="sum")
    np.testing.assert_allclose(_np(out), want, rtol=1e-12)
