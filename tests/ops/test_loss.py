"""ops/loss.py: the fused cross_entropy / nll_loss op on cpu and interpreted cuda against kernels/loss.py's
references, and out-of-range targets: PyTorch's cpu `IndexError: Target 5 is out of bounds.` on both devices
(cuda reports through the device error word), for too large and negative targets, spatial inputs, nll_loss,
weights and label smoothing; ignore_index is never out of range; a valid call after a raised one works."""

import numpy as np
import pytest
from tritensor.kernels import loss as KL
from tritensor.kernels import loss_ref as KLR

import tritensor as tt
from tests.conftest import as_device
from tritensor import device_errors
from tritensor.ops import loss as L

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_and_nll_match_references(rng, device, reduction):
    a = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 4, -100, 2, 1, 3])
    w = (rng.random(5) + 0.5).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True)
    target, weight = tt.tensor(t, device=device), tt.tensor(w, device=device)
    ce = L.cross_entropy(x, target, weight, reduction=reduction, label_smoothing=0.1)
    np.testing.assert_allclose(_np(ce), KL.cross_entropy_ref(a, t, w, -100, reduction, 0.1), rtol=1e-5, atol=1e-6)
    assert ce.grad_fn.name() == "NllLossBackward0"
    g = np.ones(6, np.float32) if reduction == "none" else np.array(1.0, np.float32)
    (gx,) = tt.autograd.grad(ce, x, tt.tensor(g, device=device))
    np.testing.assert_allclose(_np(gx), KL.cross_entropy_backward_ref(g, a, t, w, -100, reduction, 0.1), rtol=1e-5,
                               atol=1e-6)
    nll = L.nll_loss(x, target, reduction=reduction)
    np.testing.assert_allclose(_np(nll), KL.cross_entropy_ref(a, t, None, -100, reduction, nll=True), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad", [5, 7, -1, -3])
def test_target_out_of_bounds_raises_on_both_devices(device, bad):
    x = tt.zeros(4, 5, device=device)
    t = tt.tensor([0, bad, 1, -100], device=device)
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        L.cross_entropy(x, t)
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        L.nll_loss(x, t, reduction="none")
    # The error word is clear again: a valid call on the same device works and gives the right value.
    good = L.cross_entropy(x, tt.tensor([0, 4, 1, -100], device=device))
    np.testing.assert_allclose(good.item(), np.log(5), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_bounds_spatial_weighted_smoothed_and_ignore_index(device):
    x = tt.zeros(2, 3, 4, device=device)  # (N, C, L): targets (N, L)
    t = tt.tensor([[0, 1, 2, 0], [2, 3, 1, 0]], device=device)
    with pytest.raises(IndexError, match="^Target 3 is out of bounds.$"):
        L.cross_entropy(x, t, weight=tt.ones(3, device=device), label_smoothing=0.2, reduction="sum")
    with pytest.raises(IndexError, match="^Target -2 is out of bounds.$"):
        L.cross_entropy(x[0, :, 0], tt.tensor(-2, device=device))  # unbatched (C,) with a 0-d target
    # ignore_index may lie outside [0, C): it is skipped, never out of bounds.
    t_ignored = tt.tensor([[0, 1, 2, 7], [2, 7, 1, 0]], device=device)
    out = L.cross_entropy(x, t_ignored, ignore_index=7, reduction="none")
    np.testing.assert_allclose(_np(out), np.where(_np(t_ignored) == 7, 0.0, np.log(3)), rtol=1e-6)
    # a negative ignore_index equal to the bad target is ignored too
    out = L.nll_loss(x, tt.tensor([[0, 1, -5, 0], [2, 1, 1, 0]], device=device), ignore_index=-5, reduction="sum")
    assert out.item() == 0.0


def test_cuda_error_repeats_and_clears():
    x = tt.zeros(3, 4, device="cuda")
    for bad in (9, 4, 9):  # the same message's code is reused; each raise clears the word
        with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
            L.cross_entropy(x, tt.tensor([bad, 0, 1], device="cuda"))
    assert L.cross_entropy(x, tt.tensor([3, 0, 1], device="cuda")).item() == pytest.approx(np.log(4))
    device_errors.raise_if_flagged(x.device)  # nothing pending: a synchronisation point does not raise


def test_kernel_writes_the_error_word_only_when_given_a_code(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = np.array([1, 3, -100, -4])
    loss, wt, lse = (np.empty(4, np.float32) for _ in range(3))
    word = np.zeros(2, np.int64)
    KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), as_device(x), as_device(t), err=as_device(word),
                     err_code=7)
    assert word[0] == 7 and word[1] in (3, -4)  # any one offending target is reported
    assert np.isnan(loss[1]) and np.isnan(loss[3]) and loss[2] == 0 and not np.isnan(loss[0])
    word[:] = 0
    t_ok = np.array([1, 2, -100, 0])
    KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), as_device(x), as_device(t_ok), err=as_device(word),
                     err_code=7)
    np.testing.assert_array_equal(word, [0, 0])
    np.testing.assert_allclose(loss, KL.cross_entropy_ref(x, t_ok, reduction="none"), rtol=1e-6)
    KL.cross_entropy(as_device(loss), as_device(wt), as_device(lse), as_device(x), as_device(t), err=as_device(word),
                     err_code=0)  # code 0: nothing is reported
    np.testing.assert_array_equal(word, [0, 0])
    np.testing.assert_array_equal(t, [1, 3, -100, -4])  # the targets are untouched


@pytest.mark.parametrize("device", DEVICES)
def test_argument_errors(device):
    x = tt.zeros(3, 4, device=device)
    t = tt.tensor([0, 1, 2], device=device)
    with pytest.raises(ValueError, match="mean_all is not a valid value for reduction"):
        L.nll_loss(x, t, reduction="mean_all")
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
        L.cross_entropy(x, t.int())
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        L.nll_loss(x, t, weight=tt.ones(4, dtype=tt.float64, device=device))
    with pytest.raises(RuntimeError, match=r"size mismatch \(got input: \[3, 4\], target: \[\]\)"):
        L.cross_entropy(x, tt.tensor(0, device=device))
    with pytest.raises(TypeError, match="argument 'target' \\(position 2\\) must be Tensor, not list"):
        L.cross_entropy(x, [0, 1, 2])
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        L.cross_entropy(x, tt.zeros(3, 4, device=device), ignore_index=1)
    assert L.__all__ == []  # PyTorch has no torch.cross_entropy / torch.nll_loss


def _general(a, t, reduction, g, ignore_index=-100):
    """The general references' forward and gradient (what the cpu path computed before its direct 2-D case)."""
    loss, w_t, lse, exp_rows = KL.cross_entropy_rows_exp_ref(a, t, None, ignore_index)
    out = KL.reduce_loss_ref(loss, w_t, t.shape, reduction, a.dtype)
    return out, KL.cross_entropy_backward_ref(g, a, t, None, ignore_index, reduction, 0.0, False, lse, exp_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(64, 10), (5, 1), (300, 300)])  # 300 x 300: rows split over host threads
def test_cpu_class_index_rows_are_the_general_references_bits(rng, dtype, reduction, shape):
    a = (rng.standard_normal(shape) * 4).astype(dtype)
    a[1, 0], a[2] = np.inf, -np.inf  # non-finite rows go the same way (and warn no more than before)
    a[3, -1] = np.nan
    t = rng.integers(0, shape[1], shape[0])
    x = tt.tensor(a, requires_grad=True)
    loss = L.cross_entropy(x, tt.tensor(t), reduction=reduction)
    g = np.asarray(0.75, dtype)
    (gx,) = tt.autograd.grad(loss, x, tt.tensor(g))
    want, want_gx = _general(a, t, reduction, g)
    assert loss.dtype == x.dtype and loss.shape == () and loss.grad_fn.name() == "NllLossBackward0"
    assert loss.detach().numpy().tobytes() == want.tobytes()
    assert gx.numpy().dtype == dtype and gx.numpy().tobytes() == want_gx.tobytes()


def test_cpu_class_index_direct_case_falls_back_where_it_does_not_hold(rng):
    a = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 4, 3, 2, 1, 3])
    assert KL.class_rows_ref(a, t, -100, "mean") is not None
    assert KL.class_rows_ref(a, t, 3, "mean") is None  # ignore_index in [0, C): a row may be ignored
    assert KL.class_rows_ref(a, np.array([0, 4, -100, 2, 1, 3]), -100, "mean") is None
    assert KL.class_rows_ref(a, np.array([0, 5, 3, 2, 1, 3]), -100, "mean") is None
    assert KL.class_rows_ref(a, np.array([0, -1, 3, 2, 1, 3]), -100, "mean") is None
    assert KL.class_rows_ref(np.asfortranarray(a), t, -100, "mean") is None
    assert KL.class_rows_ref(a.astype(np.float16), t, -100, "mean") is None
    # Through the op: an ignored row, ignore_index in range, a strided input: the general path's values.
    for target, ignore, logits in ((np.array([0, 4, -100, 2, 1, 3]), -100, a), (t, 3, a), (t, -100, a.T.copy().T)):
        x = tt.tensor(logits, requires_grad=True)
        loss = L.cross_entropy(x, tt.tensor(target), ignore_index=ignore)
        (gx,) = tt.autograd.grad(loss, x)
        want, want_gx = _general(logits, target, "mean", np.asarray(1.0, np.float32), ignore)
        assert loss.detach().numpy().tobytes() == want.tobytes()
        np.testing.assert_array_equal(gx.numpy(), want_gx)


def test_cpu_class_index_rows_backward_twice_and_double_backward(rng):
    a = rng.standard_normal((4, 3)).astype(np.float64)
    t = tt.tensor([2, 0, 1, 1])
    x = tt.tensor(a, requires_grad=True)
    loss = L.cross_entropy(x, t)
    first = tt.autograd.grad(loss, x, retain_graph=True)[0].numpy().copy()
    second = tt.autograd.grad(loss, x)[0].numpy()  # the forward's exp was used up: computed again, same bits
    assert first.tobytes() == second.tobytes()
    p = np.exp(a - a.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(first, (p - np.eye(3)[[2, 0, 1, 1]]) / 4, rtol=1e-12)
    (gx,) = tt.autograd.grad(L.cross_entropy(x, t, reduction="sum"), x, create_graph=True)
    assert gx.requires_grad
    tt.autograd.gradcheck(lambda z: L.cross_entropy(z, t, reduction="sum"), (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cpu_class_index_rows_keep_the_checks(reduction):
    x = tt.zeros(3, 4)
    with pytest.raises(ValueError, match=r"^Expected input batch_size \(3\) to match target batch_size \(2\).$"):
        L.cross_entropy(x, tt.tensor([0, 1]), reduction=reduction)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        L.cross_entropy(x, tt.zeros(3), reduction=reduction)
    with pytest.raises(RuntimeError, match="\"cross_entropy\" not implemented for 'Long'"):
        L.cross_entropy(tt.zeros(3, 4, dtype=tt.int64), tt.tensor([0, 1, 2]), reduction=reduction)
    with pytest.raises(IndexError, match="^Target 4 is out of bounds.$"):
        L.cross_entropy(x, tt.tensor([0, 4, 1]), reduction=reduction)
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: -0.5"):
        L.cross_entropy(x, tt.tensor([0, 1, 2]), reduction=reduction, label_smoothing=-0.5)
    half = L.cross_entropy(x.half(), tt.tensor([0, 1, 2]), reduction=reduction)  # not a direct dtype: general path
    assert half.dtype == tt.float16 and half.item() == pytest.approx(np.log(4) * (1 if reduction == "mean" else 3),
                                                                       rel=1e-3)


@pytest.mark.parametrize("shape", [(1200, 500), (3, 300000)])  # blocks of rows; a row longer than a block
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("blocks", [True, False])  # from two _BLOCK_BYTES (64 KiB here) the exp goes through blocks
def test_cpu_class_index_rows_without_grad_are_the_same_bits(rng, monkeypatch, shape, threads, blocks):
    a = (rng.standard_normal(shape) * 4).astype(np.float32)
    a[1, 0] = np.inf
    t = rng.integers(0, shape[1], shape[0])
    monkeypatch.setattr(KLR, "_BLOCK_BYTES", 1 << 16 if blocks else 1 << 40)  # (1200, 500): blocks of 32 rows
    before = tt.get_num_threads()
    tt.set_num_threads(threads)
    try:
        loss = L.cross_entropy(tt.tensor(a), tt.tensor(t))  # no gradient wanted: the exp is not kept
        kept = KL.class_rows_ref(a, t, -100, "mean", keep_exp=False)
    finally:
        tt.set_num_threads(before)
    assert (kept[2][0] is None) == blocks
    want = _general(a, t, "mean", np.asarray(1.0, np.float32))[0]
    assert loss.numpy().tobytes() == want.tobytes() == kept[0].tobytes()
    x64 = a.astype(np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf in the +inf row
        lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1)
    finite = np.isfinite(lse)
    assert not finite[1] and np.isnan(want)  # the +inf row: NaN, as PyTorch
    np.testing.assert_allclose(kept[1][finite], lse[finite], rtol=1e-6)
