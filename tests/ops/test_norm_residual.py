"""F.add_layer_norm / F.add_rms_norm (residual add + norm in one kernel): values and gradients against the unfused
`s = x + r; F.layer_norm(s)` on cpu and interpreted cuda (fp32, fp16, bf16), float64 gradcheck on cpu, only one
output used, the fallbacks (broadcast residual, long rows), launch counts and errors."""

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt

F = tt.nn.functional
TOL = {tt.float32: 2e-5, tt.float16: 4e-3, tt.bfloat16: 3e-2, tt.float64: 1e-12}


def _tensors(rng, shape, dtype, device, n):
    return [tt.tensor(rng.standard_normal(s).astype(dtype.np), device=device, requires_grad=True)
            for s in [shape, shape, shape[-1:], shape[-1:]][:n]]


def _run(fused, rms, ts, gs, gy, R):
    x, r, w = ts[:3]
    b = None if rms else ts[3]
    if fused:
        s, y = F.add_rms_norm(x, r, (R,), w) if rms else F.add_layer_norm(x, r, (R,), w, b, 1e-5)
    else:
        s = x + r
        y = F.rms_norm(s, (R,), w) if rms else F.layer_norm(s, (R,), w, b, 1e-5)
    loss = (y * gy).sum()
    if gs is not None:
        loss = loss + (s * gs).sum()
    loss.backward()
    out = [s, y] + [t.grad for t in ts]
    out = [t.detach().cpu().numpy().astype(np.float64) for t in out]
    for t in ts:
        t.grad = None
    return out


@pytest.mark.parametrize("device,dtype", [("cpu", tt.float32), ("cpu", tt.float64), ("cuda", tt.float32),
                                          ("cuda", tt.float16), ("cuda", tt.bfloat16)])
@pytest.mark.parametrize("rms", [False, True])
def test_matches_unfused(rng, device, dtype, rms):
    shape, R = (2, 3, 24), 24
    ts = _tensors(rng, shape, dtype, device, 3 if rms else 4)
    gs = tt.tensor(rng.standard_normal(shape).astype(dtype.np), device=device)
    gy = tt.tensor(rng.standard_normal(shape).astype(dtype.np), device=device)
    for use_s in (True, False):  # both outputs used, or only the normalized one (the model's last pair)
        got = _run(True, rms, ts, gs if use_s else None, gy, R)
        want = _run(False, rms, ts, gs if use_s else None, gy, R)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=0, atol=TOL[dtype] * max(1.0, np.abs(b).max()))


def test_values_against_numpy(rng):
    x, r = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    s = x + r
    ln = (s - s.mean(-1, keepdims=True)) / np.sqrt(s.var(-1, keepdims=True) + 1e-5) * w + b
    rms = s / np.sqrt((s * s).mean(-1, keepdims=True) + 1e-6) * w
    for device in ("cpu", "cuda"):
        args = [tt.tensor(a.astype(np.float32), device=device) for a in (x, r, w, b)]
        s_t, y_t = F.add_layer_norm(args[0], args[1], 6, args[2], args[3])
        np.testing.assert_allclose(s_t.cpu().numpy(), s, atol=1e-5)
        np.testing.assert_allclose(y_t.cpu().numpy(), ln, atol=1e-4)
        _, y_t = F.add_rms_norm(args[0], args[1], [6], args[2], eps=1e-6)
        np.testing.assert_allclose(y_t.cpu().numpy(), rms, atol=1e-4)


@pytest.mark.parametrize("rms", [False, True])
def test_gradcheck_float64(rng, rms):
    ts = [tt.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 5), (3, 5), (5,), (5,))]

    def fn(x, r, w, b):
        s, y = F.add_rms_norm(x, r, (5,), w) if rms else F.add_layer_norm(x, r, (5,), w, b)
        return tt.stack([s * 0.5, y])

    assert tt.autograd.gradcheck(fn, ts)
    assert tt.autograd.gradgradcheck(fn, ts)


def test_fallbacks(rng):
    # A broadcast residual and rows past the kernel's one-pass limit: the unfused pair, same values.
    for device in ("cpu", "cuda"):
        x = tt.tensor(rng.standard_normal((2, 3, 8)).astype(np.float32), device=device)
        r = tt.tensor(rng.standard_normal((8,)).astype(np.float32), device=device)
        s, y = F.add_layer_norm(x, r, (8,))
        np.testing.assert_allclose(s.cpu().numpy(), x.cpu().numpy() + r.cpu().numpy(), atol=1e-6)
        np.testing.assert_allclose(y.cpu().numpy(), F.layer_norm(s, (8,)).cpu().numpy(), atol=1e-6)
    x = tt.tensor(rng.standard_normal((2, 4100)).astype(np.float32))
    s, y = F.add_rms_norm(x, x, (4100,))
    np.testing.assert_allclose(y.numpy(), F.rms_norm(x + x, (4100,)).numpy(), atol=1e-6)


def test_launch_counts_cuda(rng):
    ts = _tensors(rng, (4, 32), tt.float32, "cuda", 4)
    gs, gy = tt.ones(4, 32, device="cuda"), tt.ones(4, 32, device="cuda")
    seen = []

    def observe(record):
        seen.append(record.tunable.name)

    tuning.add_observer(observe)
    try:
        s, y = F.add_layer_norm(ts[0], ts[1], (32,), ts[2], ts[3])
        forward = list(seen)
        tt.autograd.backward([s, y], [gs, gy])
    finally:
        tuning.remove_observer(observe)
    assert forward == ["norm_residual.add_norm"]
    # (the four leaves' AccumulateGrad copies are elementwise.map_flat launches)
    assert sorted(n for n in seen[1:] if n != "elementwise.map_flat") == [
        "norm_residual.add_norm_backward", "norm_rows.col_sum", "norm_rows.col_sum"]
    assert type(y.grad_fn).__name__ == "AddNorm" and y.grad_fn.name() == "AddLayerNormBackward0"


def test_errors():
    x = tt.ones(2, 4)
    with pytest.raises(TypeError, match="argument 'residual' \\(position 2\\) must be Tensor"):
        F.add_layer_norm(x, 1.0, (4,))
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[3\\]"):
        F.add_layer_norm(x, x, (3,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        F.add_rms_norm(x, x, (4,), tt.ones(3))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.add_layer_norm(tt.ones(2, 4, dtype=tt.int64), x, (4,))
