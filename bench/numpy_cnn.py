"""A hand-written NumPy training step of the `tritensor train --model cnn` network, the baseline of
bench/test_model_step_bench.py's "cnn-step" group (and FlatAdam, the Adam both NumPy baselines step with).

The network (tritensor/train.py `build_model`, sizes from tritensor/benchmark/models.py `cnn_step`):
Unflatten -> [Conv2d(3x3, padding 1) -> BatchNorm2d (batch statistics, running stats updated) -> ReLU ->
MaxPool2d(2)] x 2 -> Flatten -> Linear -> ReLU -> Linear, mean cross-entropy, backward by hand, Adam
(lr 1e-3, betas 0.9/0.999, eps 1e-8), float32 throughout.

It is written to be the fastest plain-NumPy formulation, not a transcription: activations stay channels-last,
so each convolution is one im2col copy (a strided view of the zero-padded input) and one BLAS matmul whose
result is already the next layer's (pixels, channels) matrix; BatchNorm reduces over axis 0 of that matrix and
folds its scale into one multiply; max-pool is a reshape and a max; ReLU's mask rides on the pool's; conv1's
input gradient is never formed (the images need none); Adam is one pass over a flat buffer (FlatAdam). The
weights keep PyTorch's layouts (conv (O, C, 3, 3), Flatten in NCHW order), so they copy in from and compare
against the tritensor model directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

EPS_BN = 1e-5
MOMENTUM_BN = 0.1


class FlatAdam:
    """Parameters and gradients as views into two flat float32 buffers, stepped by Adam in place.

    One step is a dozen whole-buffer NumPy calls, however many parameters there are, with torch.optim.Adam's
    arithmetic (no weight decay, no amsgrad): m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). `params[i]` / `grads[i]` are views of
    parameter i's slots; a model writes its gradients into `grads` and calls `step()`.
    """

    def __init__(self, arrays: list[np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        offsets = np.concatenate([[0], np.cumsum([a.size for a in arrays])]).astype(int)
        self.flat = np.empty(int(offsets[-1]), np.float32)
        self.grad = np.zeros_like(self.flat)
        self.params = [self.flat[o:o + a.size].reshape(a.shape) for o, a in zip(offsets, arrays)]
        self.grads = [self.grad[o:o + a.size].reshape(a.shape) for o, a in zip(offsets, arrays)]
        for view, a in zip(self.params, arrays):
            view[...] = a
        self.m, self.v, self._tmp = np.zeros_like(self.flat), np.zeros_like(self.flat), np.empty_like(self.flat)
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0

    def step(self) -> None:
        """One Adam update of every parameter from the gradients in `self.grad`."""
        beta1, beta2 = self.betas
        self.t += 1
        g, m, v, tmp = self.grad, self.m, self.v, self._tmp
        np.subtract(g, m, out=tmp)  # m + (1 - beta1) * (g - m): PyTorch's exp_avg.lerp_(g, 1 - beta1)
        tmp *= 1 - beta1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp /= (1 - beta2 ** self.t) ** 0.5
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1 - beta1 ** self.t)
        self.flat -= tmp


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of (N, K) logits against labels y, and its gradient d loss / d logits."""
    n = len(y)
    shifted = logits - logits.max(1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.log(total).mean() - shifted[rows, y].mean())
    exp /= total  # softmax, then its gradient in place
    exp[rows, y] -= 1
    exp *= 1 / n
    return loss, exp


def _im2col(x: np.ndarray) -> np.ndarray:
    """(N*H*W, 9*C) patches of x (N, H, W, C) zero-padded by 1, columns ordered (kh, kw, c): one copy."""
    n, h, w, c = x.shape
    xp = np.zeros((n, h + 2, w + 2, c), np.float32)
    xp[:, 1:-1, 1:-1] = x
    s = xp.strides
    return as_strided(xp, (n, h, w, 3, 3, c), (s[0], s[1], s[2], s[1], s[2], s[3])).reshape(n * h * w, 9 * c)


def _col2im(dcols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The input gradient (N, H, W, C) of _im2col for its patches' gradient: one slab add per kernel tap."""
    n, h, w, c = shape
    d = dcols.reshape(n, h, w, 3, 3, c)
    dxp = np.zeros((n, h + 2, w + 2, c), np.float32)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + w] += d[:, :, :, i, j]
    return dxp[:, 1:-1, 1:-1]


class NumpyCNN:
    """The CNN's parameters (in `tritensor` model.parameters() order: conv1 w, b, bn1 w, b, conv2 w, b, bn2 w,
    b, fc1 w, b, fc2 w, b) and BatchNorm running stats, with a forward+backward and an Adam step."""

    def __init__(self, params: list[np.ndarray], running: list[np.ndarray] | None = None, lr: float = 1e-3) -> None:
        self.opt = FlatAdam([np.asarray(p, np.float32) for p in params], lr=lr)
        channels = (params[0].shape[0], params[4].shape[0])
        self.running = [np.array(r, np.float32) for r in running] if running is not None else \
            [np.zeros(channels[0], np.float32), np.ones(channels[0], np.float32),
             np.zeros(channels[1], np.float32), np.ones(channels[1], np.float32)]

    @property
    def params(self) -> list[np.ndarray]:
        """The parameters (views of the optimizer's flat buffer)."""
        return self.opt.params

    @property
    def grads(self) -> list[np.ndarray]:
        """The gradients of the last forward_backward (views of the optimizer's flat gradient buffer)."""
        return self.opt.grads

    def _block(self, x: np.ndarray, k: int) -> tuple[np.ndarray, tuple]:
        """conv -> BatchNorm -> ReLU -> 2x2 max-pool of x (N, H, W, C), channels-last; the backward's cache."""
        w, b, gamma, beta = self.params[4 * k:4 * k + 4]
        n, h, wd, _ = x.shape
        o = w.shape[0]
        cols = _im2col(x)
        wm = w.transpose(0, 2, 3, 1).reshape(o, -1)  # (O, kh*kw*C), the im2col column order
        z = cols @ wm.T
        z += b
        mean = z.mean(0)
        z -= mean  # z is now the centred activation
        var = np.einsum("ij,ij->j", z, z) / len(z)
        rstd = 1 / np.sqrt(var + EPS_BN)
        a = z * (rstd * gamma)
        a += beta
        np.maximum(a, 0, out=a)
        win = a.reshape(n, h // 2, 2, wd // 2, 2, o)
        out = win.max((2, 4))
        rm, rv = self.running[2 * k:2 * k + 2]
        rm *= 1 - MOMENTUM_BN
        rm += MOMENTUM_BN * mean
        rv *= 1 - MOMENTUM_BN
        rv += (MOMENTUM_BN * len(z) / (len(z) - 1)) * var  # the running variance is the unbiased one
        return out, (x.shape, cols, wm, z, rstd, win, out)

    def _block_backward(self, dout: np.ndarray, cache: tuple, k: int, need_dx: bool) -> np.ndarray | None:
        x_shape, cols, wm, zc, rstd, win, out = cache
        _, _, gamma, _ = self.params[4 * k:4 * k + 4]
        dw, db, dgamma, dbeta = self.grads[4 * k:4 * k + 4]
        dout = dout * (out > 0)  # ReLU's mask: a window's max is > 0 iff the picked element passed the ReLU
        da = ((win == out[:, :, None, :, None]) * dout[:, :, None, :, None]).reshape(zc.shape)
        m = len(zc)
        da.sum(0, out=dbeta)
        s = np.einsum("ij,ij->j", da, zc)
        np.multiply(s, rstd, out=dgamma)
        # BatchNorm's input gradient: gamma * rstd * (da - mean(da) - xhat * mean(da * xhat)), xhat = zc * rstd
        dz = zc * (rstd * rstd * s / m)
        np.subtract(da, dz, out=dz)
        dz -= dbeta / m
        dz *= gamma * rstd
        dz.sum(0, out=db)
        dw[...] = (dz.T @ cols).reshape(dw.shape[0], 3, 3, dw.shape[1]).transpose(0, 3, 1, 2)
        return _col2im(dz @ wm, x_shape) if need_dx else None

    def forward_backward(self, x: np.ndarray, y: np.ndarray) -> float:
        """The loss on images x (N, H, W) and labels y; fills `grads`."""
        w3, b3, w4, b4 = self.params[8:]
        h1, c1 = self._block(x[..., None], 0)
        h2, c2 = self._block(h1, 1)
        n = len(x)
        flat = h2.transpose(0, 3, 1, 2).reshape(n, -1)  # Flatten's NCHW order
        hid = flat @ w3.T
        hid += b3
        np.maximum(hid, 0, out=hid)
        logits = hid @ w4.T
        logits += b4
        loss, dlogits = cross_entropy(logits, y)
        dw3, db3, dw4, db4 = self.grads[8:]
        np.matmul(dlogits.T, hid, out=dw4)
        dlogits.sum(0, out=db4)
        dhid = dlogits @ w4
        dhid *= hid > 0
        np.matmul(dhid.T, flat, out=dw3)
        dhid.sum(0, out=db3)
        dh2 = (dhid @ w3).reshape(h2.shape[0], h2.shape[3], h2.shape[1], h2.shape[2]).transpose(0, 2, 3, 1)
        dh1 = self._block_backward(dh2, c2, 1, need_dx=True)
        self._block_backward(dh1, c1, 0, need_dx=False)
        return loss

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One training step (forward, backward, Adam) on (x, y); returns the loss."""
        loss = self.forward_backward(x, y)
        self.opt.step()
        return loss


# ---------------------------------------------------------------- the tritensor side of the comparison
def step_parts(step) -> tuple:
    """(model, optimizer, x, y) of a tritensor.benchmark.models Step: the model, Adam and batch its run closes
    over, so the NumPy twin copies the same weights and trains on the same batch."""
    names = inspect.getclosurevars(step.run).nonlocals
    return names["model"], names["optimizer"], names["x"], names["y"]


def tritensor_train_step(model, optimizer, x, y) -> Callable[[], float]:
    """One tritensor training step as the benchmark's Step runs it (zero_grad, forward, per-position
    cross-entropy, backward, Adam, loss.item()), without the Step's graph-size count."""
    from tritensor.nn.functional import cross_entropy as tt_cross_entropy

    def run() -> float:
        optimizer.zero_grad()
        out = model(x)
        loss = tt_cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return run


def numpy_twin_cnn(model) -> NumpyCNN:
    """A NumpyCNN holding copies of the tritensor CNN's parameters and BatchNorm running stats."""
    running = [b.numpy().copy() for name, b in model.named_buffers() if "running_" in name]
    return NumpyCNN([p.detach().numpy().copy() for p in model.parameters()], running)
