"""cpu references of interpolate, pad, the pointwise losses and lerp against the best plain NumPy formulation of the
same op (NumPy's own ufuncs, out= on fresh buffers, no float64 detour), one group per op: compare the means within a
group. Operands: a (256, 1024) float32 `a`, `b`, an (8, 16, 32, 32) float32 image.

Measured on the 2-core host (shared), one thread, CPU time, min of rounds; tritensor before (87d6b47) -> after, each
case in a fresh process, before/after alternated: pad 0.46 -> 0.087 ms, pad reflect fwd+bwd 4.16 -> 0.74,
interpolate nearest x2 4.0 -> 0.30, nearest fwd+bwd 6.5 -> 3.3 (0.82 here, where the heap is warm), linear 1-d
1.14 -> 0.28, area 0.44 -> 0.28, bilinear 4.1 -> 4.4 (user time 3.7 -> 1.2 ms; the rest is page faults of fresh
buffers, allocator-state dependent), bce_with_logits 6.3 -> 3.6, fwd+bwd 19.5 -> 7.6, mse_loss 0.32 -> 0.18,
fwd+bwd 3.7 -> 0.36, l1_loss 0.29 -> 0.19, fwd+bwd 3.9 -> 0.48, lerp (scalar weight) 0.50 -> 0.13.
This file, tritensor / NumPy (min): pad 0.74, interpolate nearest 0.68, bilinear 0.86, bce_with_logits 1.04,
mse_loss 1.28, l1_loss 1.28, lerp 1.11; with backward: nearest 0.31, bce 1.09, mse 2.1, lerp 3.1 (the autograd
engine, a sum node and the grad buffers, against a fused NumPy expression).

Run: OPENBLAS_NUM_THREADS=1 python -m pytest bench/test_pointwise_cpu_bench.py --benchmark-only
"""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F


@pytest.fixture(scope="module")
def data():
    """The operands, as tensors and as the arrays the NumPy baselines read."""
    tt.manual_seed(0)
    a, b, img = tt.randn(256, 1024), tt.randn(256, 1024), tt.randn(8, 16, 32, 32)
    t = a.sigmoid()
    ar, imgr = a.detach().requires_grad_(), img.detach().requires_grad_()
    return dict(a=a, b=b, t=t, img=img, ar=ar, imgr=imgr, an=a.numpy(), bn=b.numpy(), tn=t.numpy(),
                imgn=img.numpy())


def _bilinear_np(x: np.ndarray) -> np.ndarray:
    """Scale 2, half-pixel centres: per dim two gathers weighted and added, the taps computed once."""
    for ax in (2, 3):
        n = x.shape[ax]
        src = np.maximum((np.arange(2 * n, dtype=np.float32) + np.float32(0.5)) * np.float32(0.5) - np.float32(0.5),
                         np.float32(0))
        i0 = src.astype(np.intp)
        lam = src - i0.astype(np.float32)
        shape = (-1,) + (1,) * (x.ndim - 1 - ax)
        out = np.take(x, i0, axis=ax)
        out *= (np.float32(1) - lam).reshape(shape)
        tap = np.take(x, np.minimum(i0 + 1, n - 1), axis=ax, out=np.empty_like(out), mode="clip")
        tap *= lam.reshape(shape)
        out += tap
        x = out
    return x


def _bce_logits_np(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    sp = np.abs(x)
    np.negative(sp, out=sp)
    np.exp(sp, out=sp)
    np.log1p(sp, out=sp)
    m = np.negative(x)
    np.maximum(m, 0, out=m)
    sp += m
    out = np.subtract(1, t)
    out *= x
    out += sp
    return out.mean()


def _mse_np(x, y):
    d = x - y
    np.square(d, out=d)
    return d.mean()


def _l1_np(x, y):
    d = x - y
    np.abs(d, out=d)
    return d.mean()


def _lerp_np(x, y, w):
    d = y - x
    d *= w
    d += x
    return d


def _backward(loss: tt.Tensor, leaf: tt.Tensor) -> None:
    loss.backward()
    leaf.grad = None  # no accumulation into a kept grad: each round allocates it as a training step does


def _mse_fwd_bwd_np(x, y):
    d = x - y
    loss = np.square(d).mean()
    d *= np.float32(2 / d.size)
    return loss, d


def _bce_fwd_bwd_np(x, t):
    loss = _bce_logits_np(x, t)
    sig = np.multiply(x, np.float32(0.5))
    np.tanh(sig, out=sig)
    sig *= np.float32(0.5)
    sig += np.float32(0.5)
    sig -= t
    sig *= np.float32(1 / x.size)
    return loss, sig


def _nearest_fwd_bwd_np(x):
    y = x.repeat(2, 2).repeat(2, 3)
    g = np.ones_like(y)
    h = g[:, :, 0::2] + g[:, :, 1::2]
    return y, h[..., 0::2] + h[..., 1::2]


def _lerp_fwd_bwd_np(x, y, w):
    out = _lerp_np(x, y, w)
    g = np.ones_like(out)
    return out, g * (np.float32(1) - w)


CASES = {
    "pad": (lambda d: F.pad(d["img"], (1, 1, 1, 1)), lambda d: np.pad(d["imgn"], ((0, 0), (0, 0), (1, 1), (1, 1)))),
    "interpolate_nearest": (lambda d: F.interpolate(d["img"], scale_factor=2),
                            lambda d: d["imgn"].repeat(2, 2).repeat(2, 3)),
    "interpolate_bilinear": (lambda d: F.interpolate(d["img"], scale_factor=2, mode="bilinear"),
                             lambda d: _bilinear_np(d["imgn"])),
    "bce_with_logits": (lambda d: F.binary_cross_entropy_with_logits(d["a"], d["t"]),
                        lambda d: _bce_logits_np(d["an"], d["tn"])),
    "mse_loss": (lambda d: F.mse_loss(d["a"], d["b"]), lambda d: _mse_np(d["an"], d["bn"])),
    "l1_loss": (lambda d: F.l1_loss(d["a"], d["b"]), lambda d: _l1_np(d["an"], d["bn"])),
    "lerp": (lambda d: tt.lerp(d["a"], d["b"], 0.3), lambda d: _lerp_np(d["an"], d["bn"], np.float32(0.3))),
    "mse_loss_fwd_bwd": (lambda d: _backward(F.mse_loss(d["ar"], d["b"]), d["ar"]),
                         lambda d: _mse_fwd_bwd_np(d["an"], d["bn"])),
    "bce_with_logits_fwd_bwd": (lambda d: _backward(F.binary_cross_entropy_with_logits(d["ar"], d["t"]), d["ar"]),
                                lambda d: _bce_fwd_bwd_np(d["an"], d["tn"])),
    "interpolate_nearest_fwd_bwd": (lambda d: _backward(F.interpolate(d["imgr"], scale_factor=2).sum(), d["imgr"]),
                                    lambda d: _nearest_fwd_bwd_np(d["imgn"])),
    "lerp_fwd_bwd": (lambda d: _backward(tt.lerp(d["ar"], d["b"], 0.3).sum(), d["ar"]),
                     lambda d: _lerp_fwd_bwd_np(d["an"], d["bn"], np.float32(0.3))),
}


@pytest.mark.parametrize("op", list(CASES))
@pytest.mark.parametrize("impl", ["tritensor", "numpy"])
def test_pointwise_cpu(benchmark, data, op, impl):
    """One op, tritensor's cpu path or the NumPy baseline."""
    benchmark.group = op
    fn = CASES[op][0 if impl == "tritensor" else 1]
    benchmark(fn, data)
