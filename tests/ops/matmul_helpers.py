"""What the tests split from tests/test_ops_matmul.py share."""

import numpy as np
from tritensor.kernels import elementwise as KE
from tritensor.kernels import matmul as KM

import tritensor as tt

DEVICES = ["cpu", "cuda"]


# Relative to the largest |expected|: 16-bit outputs are rounded once (fp32 accumulation), K <= 33.
TOL = {tt.float64: 1e-12, tt.float32: 2e-6, tt.float16: 2e-3, tt.bfloat16: 1.6e-2}


DEVICE_DTYPES = [("cpu", d) for d in (tt.float32, tt.float64, tt.float16, tt.bfloat16)] + [
    ("cuda", d) for d in (tt.float32, tt.float16, tt.bfloat16)]


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _make(rng, shape, dtype, device, transposed=False, requires_grad=False):
    """A random tensor and its float64 values; transposed=True stores it with its last two dims swapped."""
    if transposed:
        stored = rng.standard_normal(shape[:-2] + (shape[-1], shape[-2])).astype(dtype.np)
        values = np.swapaxes(stored, -1, -2)
        t = tt.tensor(stored, device=device).transpose(-1, -2)
    else:
        values = rng.standard_normal(shape).astype(dtype.np)
        t = tt.tensor(values, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t, values.astype(np.float64)


def _close(actual, expected, dtype, scale=1.0):
    tol = TOL[dtype] * scale * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert actual.shape == expected.shape
    np.testing.assert_allclose(_np(actual), expected, rtol=0, atol=tol)


def _f64(rng, *shapes):
    return [tt.tensor(rng.standard_normal(s), dtype=tt.float64, requires_grad=True) for s in shapes]


def _vector_out(fn):
    """fn with a 0-d result returned as shape (1,): gradcheck's one-hot grad_output comes out 1-d for 0-d outputs."""
    return lambda *args: (lambda r: r.unsqueeze(0) if r.ndim == 0 else r)(fn(*args))


def _grads(rng_seed, device, fn, shapes, transposed=()):
    rng = np.random.default_rng(rng_seed)
    inputs = []
    for i, s in enumerate(shapes):
        t, _ = _make(rng, s, tt.float32, device, transposed=i in transposed)
        inputs.append(t.detach().requires_grad_(True))
    out = fn(*inputs)
    weights = tt.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32), device=device)
    (out * weights).sum().backward()
    return [_np(out)] + [_np(t.grad) for t in inputs]


def _count_launches(monkeypatch, forbid_copy=True):
    launches = []
    original = KM.matmul

    def counting(out, a, b, **kwargs):
        launches.append((out.shape, a.strides, b.strides, kwargs))
        return original(out, a, b, **kwargs)

    def no_copy(*args, **kwargs):
        raise AssertionError("an operand was copied")

    monkeypatch.setattr(KM, "matmul", counting)
    if forbid_copy:
        monkeypatch.setattr(KE, "copy", no_copy)
    return launches
