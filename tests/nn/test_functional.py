"""nn.functional on cpu and interpreted cuda against NumPy: softmax family, cross_entropy / nll_loss,
dropout, mse / l1; backward on both devices; gradcheck (and gradgradcheck) in float64 on cpu; errors."""

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import loss as KL
from tritensor.kernels import softmax as KS

import tritensor as tt
import tritensor.nn.functional as F

DEVICES = ["cpu", "cuda"]
TOL = {tt.float32: 1e-5, tt.float64: 1e-12, tt.float16: 2e-3, tt.bfloat16: 1.6e-2}


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, dtype=tt.float32):
    np.testing.assert_allclose(_np(got) if isinstance(got, tt.Tensor) else got, np.asarray(want, np.float64),
                               rtol=TOL[dtype], atol=TOL[dtype])


def _grad(out, x, g):
    (gx,) = tt.autograd.grad(out, x, g)
    return gx


# ---------------------------------------------------------------- softmax / log_softmax
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn,log", [(F.softmax, False), (F.log_softmax, True)])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_dims_forward_backward(rng, device, fn, log, dim):
    a = rng.standard_normal((3, 5, 4)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = fn(x, dim)
    want = KS.softmax_ref(a, dim, log)
    _close(y, want)
    assert y.shape == x.shape and y.is_contiguous() and y.device == x.device
    assert y.grad_fn.name() == ("LogSoftmaxBackward0" if log else "SoftmaxBackward0")
    g = rng.standard_normal(a.shape).astype(np.float32)
    _close(_grad(y, x, tt.tensor(g, device=device)), KS.softmax_backward_ref(g, want, dim, log))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_non_contiguous_and_broadcast_grad(rng, device, log):
    a = rng.standard_normal((6, 4, 5)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    xt = x.permute(2, 0, 1)[:, ::2]  # (5, 3, 4), strided in every dim
    fn = F.log_softmax if log else F.softmax
    y = fn(xt, 1)
    at = a.transpose(2, 0, 1)[:, ::2]
    want = KS.softmax_ref(at, 1, log)
    _close(y, want)
    y.sum().backward()  # the incoming gradient is a broadcast (stride-0) tensor of ones
    expected = np.zeros_like(a)
    expected.transpose(2, 0, 1)[:, ::2] = KS.softmax_backward_ref(np.ones_like(at), want, 1, log)
    _close(x.grad, expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
def test_softmax_low_precision_and_dtype_argument(rng, device, dtype):
    a = rng.standard_normal((4, 9)).astype(dtype.np)
    x = tt.tensor(a, device=device)
    y = F.softmax(x, -1)
    assert y.dtype is dtype
    _close(y, KS.softmax_ref(a.astype(np.float64), -1), dtype)
    y32 = F.log_softmax(x, 1, dtype=tt.float32)
    assert y32.dtype is tt.float32
    _close(y32, KS.softmax_ref(a.astype(np.float32), -1, True), tt.float32)


def test_softmax_long_rows_on_cuda(rng):
    """Rows of 3000 loop over BLOCK_R chunks (online max / sum) in forward and backward."""
    a = (rng.standard_normal((3, 3000)) * 4).astype(np.float32)
    for log in (False, True):
        x = tt.tensor(a, device="cuda", requires_grad=True)
        y = (F.log_softmax if log else F.softmax)(x, 1)
        want = KS.softmax_ref(a, 1, log)
        _close(y, want)
        g = rng.standard_normal(a.shape).astype(np.float32)
        _close(_grad(y, x, tt.tensor(g, device="cuda")), KS.softmax_backward_ref(g, want, 1, log))
    _close(F.softmax(tt.tensor(a, device="cuda"), 0), KS.softmax_ref(a, 0))  # short strided rows of 3


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_edge_cases(device):
    x = tt.tensor(2.5, device=device)
    assert F.softmax(x, 0).item() == 1.0 and F.log_softmax(x, -1).item() == 0.0
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(tt.tensor([[1.0, 2.0], [3.0, 5.0]], device=device))
    _close(y, KS.softmax_ref(np.array([[1.0, 2.0], [3.0, 5.0]]), 1))  # 2-d: dim 1
    e = F.softmax(tt.zeros(0, 3, device=device), 1)
    assert e.shape == (0, 3)
    _close(F.softmin(tt.tensor([1.0, 2.0], device=device), 0), KS.softmax_ref(np.array([-1.0, -2.0]), 0))
    with pytest.raises(RuntimeError, match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        F.softmax(tt.tensor([1, 2], device=device), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.log_softmax(tt.zeros(2, 3, device=device), 2)
    with pytest.raises(TypeError, match="must be Tensor"):
        F.softmax([1.0, 2.0], 0)


def test_softmax_gradcheck_and_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    for fn in (F.softmax, F.log_softmax):
        for dim in (0, 1):
            assert tt.autograd.gradcheck(lambda v, f=fn, d=dim: f(v, d), (x,))
            assert tt.autograd.gradgradcheck(lambda v, f=fn, d=dim: f(v, d), (x,))


# ---------------------------------------------------------------- cross_entropy / nll_loss
def _targets(device, *shape, c, rng, ignore=()):
    t = rng.integers(0, c, shape)
    for idx in ignore:
        t[idx] = -100
    return t, tt.tensor(t, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (False, 0.2), (True, 0.1)])
def test_cross_entropy_2d(rng, device, reduction, weighted, smoothing):
    a = rng.standard_normal((6, 5)).astype(np.float32)
    t, tt_t = _targets(device, 6, c=5, rng=rng, ignore=[2])
    w = (rng.random(5) + 0.5).astype(np.float32) if weighted else None
    x = tt.tensor(a, device=device, requires_grad=True)
    loss = F.cross_entropy(x, tt_t, weight=None if w is None else tt.tensor(w, device=device),
                           reduction=reduction, label_smoothing=smoothing)
    want = KL.cross_entropy_ref(a, t, w, -100, reduction, smoothing)
    assert loss.shape == want.shape and loss.dtype is tt.float32 and loss.grad_fn.name() == "NllLossBackward0"
    _close(loss, want)
    g = rng.standard_normal(want.shape).astype(np.float32)
    _close(_grad(loss, x, tt.tensor(g, device=device)),
           KL.cross_entropy_backward_ref(g, a, t, w, -100, reduction, smoothing))


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_spatial_unbatched_and_ignore_index(rng, device):
    a = rng.standard_normal((2, 4, 3, 2)).astype(np.float32)  # (N, C, H, W)
    t, tt_t = _targets(device, 2, 3, 2, c=4, rng=rng)
    x = tt.tensor(a, device=device, requires_grad=True)
    for reduction in ("none", "mean"):
        loss = F.cross_entropy(x, tt_t, ignore_index=1, reduction=reduction, label_smoothing=0.05)
        want = KL.cross_entropy_ref(a, t, None, 1, reduction, 0.05)
        _close(loss, want)
        g = np.ones(want.shape, np.float32)
        _close(_grad(loss, x, tt.ones_like(loss)), KL.cross_entropy_backward_ref(g, a, t, None, 1, reduction, 0.05))
    assert F.cross_entropy(x, tt_t, reduction="none").shape == (2, 3, 2)
    v = tt.tensor(a[0, :, 0, 0], device=device)  # (C,) logits with a 0-d target
    one = F.cross_entropy(v, tt.tensor(3, device=device))
    assert one.shape == ()
    _close(one, -np.log(np.exp(a[0, 3, 0, 0]) / np.exp(a[0, :, 0, 0]).sum()))
    with np.errstate(invalid="ignore"):
        allign = F.cross_entropy(tt.zeros(2, 3, device=device), tt.tensor([-100, -100], device=device))
    assert np.isnan(allign.item())  # mean over no counted targets, as PyTorch


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_half_precision_and_probabilities(rng, device):
    a = rng.standard_normal((5, 6)).astype(ml_dtypes.bfloat16)
    t, tt_t = _targets(device, 5, c=6, rng=rng)
    loss = F.cross_entropy(tt.tensor(a, device=device), tt_t)
    assert loss.dtype is tt.bfloat16
    _close(loss, KL.cross_entropy_ref(a.astype(np.float32), t), tt.bfloat16)
    p = rng.random((5, 6)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    a32 = a.astype(np.float32)
    x = tt.tensor(a32, device=device, requires_grad=True)
    soft = F.cross_entropy(x, tt.tensor(p, device=device), label_smoothing=0.1)
    q = p * 0.9 + 0.1 / 6
    logp = KS.softmax_ref(a32.astype(np.float64), 1, True)
    _close(soft, -(q * logp).sum(1).mean())
    onehot = np.eye(6, dtype=np.float32)[t]
    hard = F.cross_entropy(x, tt.tensor(onehot, device=device), reduction="sum")
    _close(hard, KL.cross_entropy_ref(a32, t, reduction="sum"))
    soft.backward()
    _close(x.grad, (KS.softmax_ref(a32.astype(np.float64), 1) - q) / 5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss(rng, device, reduction):
    a = KS.softmax_ref(rng.standard_normal((7, 4)), 1, True).astype(np.float32)
    t, tt_t = _targets(device, 7, c=4, rng=rng, ignore=[0, 5])
    w = (rng.random(4) + 0.5).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    loss = F.nll_loss(x, tt_t, weight=tt.tensor(w, device=device), reduction=reduction)
    want = KL.cross_entropy_ref(a, t, w, -100, reduction, nll=True)
    _close(loss, want)
    g = np.full(want.shape, 2.0, np.float32)
    _close(_grad(loss, x, tt.tensor(g, device=device)),
           KL.cross_entropy_backward_ref(g, a, t, w, -100, reduction, nll=True))
    # log_softmax + nll_loss is cross_entropy
    logits = tt.tensor(rng.standard_normal((7, 4)).astype(np.float32), device=device)
    _close(F.nll_loss(F.log_softmax(logits, 1), tt_t, reduction=reduction),
           _np(F.cross_entropy(logits, tt_t, reduction=reduction)))


def test_cross_entropy_gradcheck_and_gradgradcheck(rng):
    x = tt.tensor(rng.standard_normal((4, 3)), dtype=tt.float64, requires_grad=True)
    xs = tt.tensor(rng.standard_normal((2, 3, 2)), dtype=tt.float64, requires_grad=True)
    t = tt.tensor([0, 2, -100, 1])
    ts = tt.tensor([[0, 2], [1, 1]])
    w = tt.tensor([0.5, 2.0, 1.0], dtype=tt.float64)
    for reduction in ("none", "sum", "mean"):
        # reduced losses are compared as 1-element tensors
        ce = (lambda v, r=reduction: F.cross_entropy(v, t, weight=w, reduction=r, label_smoothing=0.2).reshape(-1))
        assert tt.autograd.gradcheck(ce, (x,))
        assert tt.autograd.gradgradcheck(ce, (x,))
        nll = (lambda v, r=reduction: F.nll_loss(v, t, weight=w, reduction=r).reshape(-1))
        assert tt.autograd.gradcheck(nll, (x,))
        spatial = (lambda v, r=reduction: F.cross_entropy(v, ts, ignore_index=2, reduction=r).reshape(-1))
        assert tt.autograd.gradcheck(spatial, (xs,))


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_errors(device):
    x = tt.zeros(3, 4, device=device)
    t = tt.tensor([0, 1, 2], device=device)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
        F.cross_entropy(x, t.int())
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, t[:2])
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected"):
        F.cross_entropy(x, t.reshape(3, 1))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3, 5\], got \[3, 4\]"):
        F.cross_entropy(tt.zeros(3, 4, 5, device=device), tt.zeros(3, 4, dtype=tt.int64, device=device))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.cross_entropy(x, t, weight=tt.ones(3, device=device))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="mean_all is not a valid value for reduction"):
        F.cross_entropy(x, t, reduction="mean_all")
    with pytest.raises(RuntimeError, match="\"cross_entropy\" not implemented for 'Long'"):
        F.cross_entropy(t, t)
    with pytest.raises(ValueError, match="Expected 1 or more dimensions"):
        F.nll_loss(tt.tensor(1.0, device=device), tt.tensor(0, device=device))
    # An out-of-range target raises PyTorch's cpu IndexError on cuda too (through the device error word).
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        F.cross_entropy(x, tt.tensor([0, 4, 1], device=device))
    if device == "cuda":
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            F.cross_entropy(x, tt.tensor([0, 1, 2]))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        _close(F.cross_entropy(x, t, reduce=False), np.full(3, np.log(4)))


# ---------------------------------------------------------------- dropout
@pytest.mark.parametrize("device", DEVICES)
def test_dropout_values_reproducibility_and_backward_mask(rng, device):
    a = rng.standard_normal((30, 40)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    tt.manual_seed(123)
    y1 = F.dropout(x, 0.4)
    tt.manual_seed(123)
    y2 = F.dropout(x, 0.4)
    y3 = F.dropout(x, 0.4)
    keep = _np(y1) != 0
    np.testing.assert_array_equal(_np(y1), _np(y2))
    assert not np.array_equal(_np(y1), _np(y3))
    _close(y1, np.where(keep, a / 0.6, 0))
    assert abs(keep.mean() - 0.6) < 0.06
    g = rng.standard_normal(a.shape).astype(np.float32)
    gx = _grad(y1, x, tt.tensor(g, device=device))
    _close(gx, np.where(keep, g / 0.6, 0))  # the backward regenerates the forward's mask
    (gg,) = tt.autograd.grad(F.dropout(x, 0.4).sum(), x)
    assert set(np.unique(_np(gg)).round(5)) <= {0.0, round(1 / 0.6, 5)}


def test_dropout_same_mask_on_cpu_and_cuda(rng):
    a = rng.standard_normal((5, 7)).astype(np.float32)
    outs = []
    for device in DEVICES:
        tt.manual_seed(7)
        outs.append(_np(F.dropout(tt.tensor(a, device=device).t(), 0.5)))  # non-contiguous input
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_modes_and_errors(device):
    x = tt.ones(4, 5, device=device)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert _np(F.dropout(x, 1.0)).sum() == 0
    z = tt.ones(4, 5, device=device)
    tt.manual_seed(0)
    r = F.dropout(z, 0.5, inplace=True)
    assert r is z and set(np.unique(_np(z))) <= {0.0, 2.0} and (_np(z) == 0).any()
    leaf = tt.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.dropout(leaf, 0.5, inplace=True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_gradcheck():
    x = tt.tensor(np.random.default_rng(3).standard_normal((4, 5)), dtype=tt.float64, requires_grad=True)

    def fn(v):
        tt.manual_seed(11)  # the same mask at every evaluation
        return F.dropout(v, 0.3)

    assert tt.autograd.gradcheck(fn, (x,))
    assert tt.autograd.gradgradcheck(fn, (x,))


# ---------------------------------------------------------------- mse / l1
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_mse_and_l1(rng, device, reduction):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    y = tt.tensor(b, device=device, requires_grad=True)
    reduce = {"none": lambda v: v, "sum": np.sum, "mean": np.mean}[reduction]
    mse = F.mse_loss(x, y, reduction=reduction)
    _close(mse, reduce((a - b) ** 2))
    l1 = F.l1_loss(x, y, reduction=reduction)
    _close(l1, reduce(np.abs(a - b)))
    scale = {"none": 1.0, "sum": 1.0, "mean": 1 / 12}[reduction]
    gx, gy = tt.autograd.grad(mse.sum(), (x, y))
    _close(gx, 2 * (a - b) * scale)
    _close(gy, -2 * (a - b) * scale)
    (gx,) = tt.autograd.grad(l1.sum(), x)
    _close(gx, np.sign(a - b) * scale)


def test_mse_l1_gradcheck_broadcast_warning_and_errors(rng):
    x = tt.tensor(rng.standard_normal((3, 2)), dtype=tt.float64, requires_grad=True)
    y = tt.tensor(rng.standard_normal((3, 2)) + 5, dtype=tt.float64, requires_grad=True)  # no kink of |x - y|
    for reduction in ("none", "sum", "mean"):
        assert tt.autograd.gradcheck(lambda a, b, r=reduction: F.mse_loss(a, b, reduction=r).reshape(-1), (x, y))
        assert tt.autograd.gradgradcheck(lambda a, b, r=reduction: F.mse_loss(a, b, reduction=r).reshape(-1), (x, y))
        assert tt.autograd.gradcheck(lambda a, b, r=reduction: F.l1_loss(a, b, reduction=r).reshape(-1), (x, y))
    with pytest.warns(UserWarning, match="Using a target size"):
        r = F.mse_loss(x, tt.zeros(2, dtype=tt.float64), reduction="sum")
    _close(r, (_np(x) ** 2).sum(), tt.float64)
    with pytest.raises(ValueError, match="elementwise_mean is not a valid value for reduction"):
        F.l1_loss(x, y, reduction="elementwise_mean")


# ---------------------------------------------------------------- re-exported ops
@pytest.mark.parametrize("device", DEVICES)
def test_reexported_ops(rng, device):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    x = tt.tensor(a, device=device)
    _close(F.relu(x), np.maximum(a, 0))
    _close(F.sigmoid(x), 1 / (1 + np.exp(-a)))
    _close(F.tanh(x), np.tanh(a))
    _close(F.silu(x), a / (1 + np.exp(-a)))
    _close(F.leaky_relu(x, 0.2), np.where(a > 0, a, 0.2 * a))
    w = rng.standard_normal((2, 4)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    _close(F.linear(x, tt.tensor(w, device=device), tt.tensor(b, device=device)), a @ w.T + b)
    _close(F.pad(x, (1, 0)), np.pad(a, ((0, 0), (1, 0))))
    assert F.one_hot(tt.tensor([0, 2], device=device), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    # one op under both names (each bound through its namespace's wrapper: tt.* and F.*)
    assert F.gelu.__wrapped__ is tt.gelu.__wrapped__ and F.relu.__wrapped__ is tt.relu.__wrapped__
