"""linear_cross_entropy (a tritensor extension: cross_entropy(linear(x, w, b), t) without the (N, V) logits) on
cpu and interpreted cuda: values and gradients against the unfused composition, float64 gradcheck, cuda's
backward against cpu's, errors, and a peak-memory comparison with the unfused path."""

import tracemalloc

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.ops.linear_cross_entropy import default_chunk_size, linear_cross_entropy

DEVICES = ["cpu", "cuda"]


def _data(rng, n=7, d=5, v=11, ignore=True):
    x = rng.standard_normal((n, d))
    w = rng.standard_normal((v, d)) * 0.7
    b = rng.standard_normal(v)
    t = rng.integers(0, v, n)
    if ignore:
        t[min(2, n - 1)] = -100
    return x, w, b, t


def _run(fn, arrays, device, dtype, reduction, with_bias=True):
    x = tt.tensor(arrays[0], dtype=dtype, device=device, requires_grad=True)
    w = tt.tensor(arrays[1], dtype=dtype, device=device, requires_grad=True)
    b = tt.tensor(arrays[2], dtype=dtype, device=device, requires_grad=True) if with_bias else None
    t = tt.tensor(arrays[3], device=device)
    out = fn(x, w, b, t)
    if reduction == "none":
        weights = tt.tensor(np.linspace(-1.0, 2.0, arrays[0].shape[0]), dtype=dtype, device=device)
        (out * weights).sum().backward()
    else:
        (out * 1.5).backward()
    grads = [x.grad, w.grad] + ([b.grad] if with_bias else [])
    return out, [g.cpu().numpy() for g in grads]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk,smoothing,bias", [(3, 0.0, True), (1, 0.1, False), (None, 0.2, True),
                                                   (100, 0.0, False)])
def test_matches_unfused(rng, device, reduction, chunk, smoothing, bias):
    arrays = _data(rng)
    fused, g1 = _run(lambda x, w, b, t: linear_cross_entropy(x, w, t, b, reduction=reduction,
                                                             label_smoothing=smoothing, chunk_size=chunk),
                     arrays, device, tt.float32, reduction, bias)
    plain, g2 = _run(lambda x, w, b, t: F.cross_entropy(F.linear(x, w, b), t, reduction=reduction,
                                                        label_smoothing=smoothing),
                     arrays, device, tt.float32, reduction, bias)
    assert fused.shape == plain.shape and fused.dtype is tt.float32
    np.testing.assert_allclose(fused.detach().cpu().numpy(), plain.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_grad_fn_and_no_grad(rng, device):
    x, w, b, t = _data(rng)
    xt = tt.tensor(x, dtype=tt.float32, device=device, requires_grad=True)
    wt = tt.tensor(w, dtype=tt.float32, device=device)
    out = F.linear_cross_entropy(xt, wt, tt.tensor(t, device=device))
    assert out.grad_fn.name() == "LinearCrossEntropyBackward0"
    with tt.no_grad():
        again = F.linear_cross_entropy(xt, wt, tt.tensor(t, device=device))
    assert again.grad_fn is None and again.item() == pytest.approx(out.item(), rel=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck_float64(rng, reduction):
    # float64 on cpu only: cuda's matmul kernels have no float64 path (the same error as F.linear, below)
    device = "cpu"
    x, w, b, t = _data(rng, n=4, d=3, v=5)
    inputs = [tt.tensor(a, dtype=tt.float64, device=device, requires_grad=True) for a in (x, w, b)]
    target = tt.tensor(t, device=device)
    assert tt.autograd.gradcheck(
        lambda xx, ww, bb: linear_cross_entropy(xx, ww, target, bb, reduction=reduction, label_smoothing=0.1,
                                                chunk_size=3), inputs)


def test_cuda_float64_is_refused_like_linear(rng):
    x, w, b, t = _data(rng)
    with pytest.raises(RuntimeError, match="linear on cuda supports float16, bfloat16 and float32"):
        linear_cross_entropy(tt.tensor(x, device="cuda"), tt.tensor(w, device="cuda"), tt.tensor(t, device="cuda"))


def test_cuda_backward_matches_cpu(rng):
    arrays = _data(rng, n=9, d=4, v=13)
    results = [_run(lambda x, w, b, t: linear_cross_entropy(x, w, t, b, chunk_size=4), arrays, device, tt.float32,
                    "mean") for device in DEVICES]
    np.testing.assert_allclose(results[0][0].item(), results[1][0].item(), rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_all_ignored_mean_is_nan(rng):
    x, w, b, t = _data(rng, n=3)
    t[:] = -100
    for device in DEVICES:
        with np.errstate(invalid="ignore"):  # 0 / 0 (the interpreter divides in NumPy, which would warn)
                out = linear_cross_entropy(tt.tensor(x, dtype=tt.float32, device=device),
                                       tt.tensor(w, dtype=tt.float32, device=device), tt.tensor(t, device=device))
        assert np.isnan(out.item())


@pytest.mark.parametrize("device", DEVICES)
def test_errors(rng, device):
    xa, wa, ba, ta = _data(rng)
    x = tt.tensor(xa, dtype=tt.float32, device=device)
    w = tt.tensor(wa, dtype=tt.float32, device=device)
    t = tt.tensor(ta, device=device)
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        linear_cross_entropy(x, w, t, reduction="bad")
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
        linear_cross_entropy(x, w, t.to(tt.int32))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(7x5 and 4x11\)"):
        linear_cross_entropy(x, w[:, :4], t)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(7\) to match target batch_size \(6\)"):
        linear_cross_entropy(x, w, t[:6])
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        linear_cross_entropy(x, w, t, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float != double"):
        linear_cross_entropy(x, w.to(tt.float64), t)
    bad = tt.tensor(np.where(np.arange(7) == 4, 11, ta), device=device)
    with pytest.raises(IndexError, match="Target 11 is out of bounds."):
        linear_cross_entropy(x, w, bad)


def test_default_chunk_size():
    assert default_chunk_size(1024, 256, 32768) == 8  # Liger's: ~n * d logits per chunk
    assert default_chunk_size(7, 5, 11) == 4
    assert default_chunk_size(1024, 256, 32768, "cpu") == 64


def _peak(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_allocates_less_than_unfused(rng):
    n, d, v = 256, 16, 4096  # V >> chunk: the (N, V) logits dominate the unfused path
    x = tt.tensor(rng.standard_normal((n, d)).astype(np.float32), requires_grad=True)
    w = tt.tensor(rng.standard_normal((v, d)).astype(np.float32) * 0.1, requires_grad=True)
    t = tt.tensor(rng.integers(0, v, n))

    def fused():
        linear_cross_entropy(x, w, t, chunk_size=16).backward()

    def unfused():
        F.cross_entropy(F.linear(x, w), t).backward()

    fused_peak, unfused_peak = _peak(fused), _peak(unfused)
    logits_bytes = n * v * 4
    assert unfused_peak > logits_bytes  # the full logits (and their gradient) exist there
    assert fused_peak < logits_bytes  # never the whole logits, whatever the threads do at once
    # One thread: one chunk's (16 x V) and its temporaries at a time, plus V x D gradients. (With more threads the
    # chunks in flight at the peak depend on how the host schedules them: 1.4-2.9 MB measured under load.)
    threads = tt.get_num_threads()
    tt.set_num_threads(1)
    try:
        fused_peak, unfused_peak = _peak(fused), _peak(unfused)
    finally:
        tt.set_num_threads(threads)
    assert 4 * fused_peak < unfused_peak
