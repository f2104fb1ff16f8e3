"""Two epochs of `tritensor train --model cnn`'s network on a Fashion-MNIST subset, on the cpu, against the same
network trained by a plain NumPy implementation (im2col convolution, BatchNorm, ReLU, max-pool, Adam) in the
same run. Compare the two means of one run (the machine is shared); nothing asserts on time. Both reach a
comparable loss (checked), so the timings compare equal work."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tritensor.train import Config, train

SUBSET, BATCH, EPOCHS, LR, HIDDEN = 2048, 64, 2, 1e-3, 256


def _fashion_subset():
    from tritensor import data

    ds = data.FashionMNIST(train=True)
    return ds.data[:SUBSET].numpy().astype(np.float32) / 255.0, ds.targets[:SUBSET].numpy()


# ---------------------------------------------------------------- the NumPy network
def _conv(x, w, b):
    """3x3 convolution, padding 1, through one im2col matrix and one matmul; returns (y, cols) for the backward."""
    n, c, h, wd = x.shape
    cols = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    y = cols @ w.reshape(len(w), -1).T + b
    return y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv_backward(dy, cols, x_shape, w):
    n, c, h, wd = x_shape
    d = dy.transpose(0, 2, 3, 1).reshape(n * h * wd, -1)
    dw, db = (d.T @ cols).reshape(w.shape), d.sum(0)
    dcols = (d @ w.reshape(len(w), -1)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2), np.float32)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def _block_forward(x, p, k):
    """conv -> BatchNorm (batch statistics) -> ReLU -> 2x2 max-pool; the cache for the backward."""
    z, cols = _conv(x, p[f"w{k}"], p[f"b{k}"])
    mean, var = z.mean((0, 2, 3), keepdims=True), z.var((0, 2, 3), keepdims=True)
    rstd = 1.0 / np.sqrt(var + 1e-5)
    xhat = (z - mean) * rstd
    a = np.maximum(xhat * p[f"g{k}"][None, :, None, None] + p[f"be{k}"][None, :, None, None], 0)
    n, c, h, wd = a.shape
    win = a.reshape(n, c, h // 2, 2, wd // 2, 2)
    out = win.max((3, 5))
    return out, (x.shape, cols, xhat, rstd, a, win == out[:, :, :, None, :, None])


def _block_backward(dout, cache, p, k, grads):
    x_shape, cols, xhat, rstd, a, hit = cache
    da = (hit * dout[:, :, :, None, :, None]).reshape(a.shape) * (a > 0)
    grads[f"g{k}"], grads[f"be{k}"] = (da * xhat).sum((0, 2, 3)), da.sum((0, 2, 3))
    dxhat = da * p[f"g{k}"][None, :, None, None]
    dz = rstd * (dxhat - dxhat.mean((0, 2, 3), keepdims=True) - xhat * (dxhat * xhat).mean((0, 2, 3), keepdims=True))
    dx, grads[f"w{k}"], grads[f"b{k}"] = _conv_backward(dz, cols, x_shape, p[f"w{k}"])
    return dx


def _numpy_step(p, state, x, y, t):
    """One Adam step of the CNN on (x, y); returns the batch's mean cross-entropy."""
    h1, c1 = _block_forward(x[:, None], p, 1)
    h2, c2 = _block_forward(h1, p, 2)
    flat = h2.reshape(len(x), -1)
    hid = np.maximum(flat @ p["w3"].T + p["b3"], 0)
    logits = hid @ p["w4"].T + p["b4"]
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -logp[np.arange(len(y)), y].mean()
    grads = {}
    dlogits = np.exp(logp)
    dlogits[np.arange(len(y)), y] -= 1
    dlogits /= len(y)
    grads["w4"], grads["b4"] = dlogits.T @ hid, dlogits.sum(0)
    dhid = (dlogits @ p["w4"]) * (hid > 0)
    grads["w3"], grads["b3"] = dhid.T @ flat, dhid.sum(0)
    dh1 = _block_backward((dhid @ p["w3"]).reshape(h2.shape), c2, p, 2, grads)
    _block_backward(dh1, c1, p, 1, grads)
    for name, g in grads.items():
        m, v = state[name]
        m *= 0.9
        m += 0.1 * g
        v *= 0.999
        v += 0.001 * g * g
        p[name] -= LR * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return float(loss)


def _numpy_train(x, y) -> float:
    rng = np.random.default_rng(0)

    def uniform(shape, fan_in):
        return rng.uniform(-1, 1, shape).astype(np.float32) / np.sqrt(fan_in)

    p = {"w1": uniform((16, 1, 3, 3), 9), "b1": np.zeros(16, np.float32), "g1": np.ones(16, np.float32),
         "be1": np.zeros(16, np.float32), "w2": uniform((32, 16, 3, 3), 144), "b2": np.zeros(32, np.float32),
         "g2": np.ones(32, np.float32), "be2": np.zeros(32, np.float32), "w3": uniform((HIDDEN, 32 * 49), 32 * 49),
         "b3": np.zeros(HIDDEN, np.float32), "w4": uniform((10, HIDDEN), HIDDEN), "b4": np.zeros(10, np.float32)}
    state = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in p.items()}
    t, losses = 0, []
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            t += 1
            idx = order[start:start + BATCH]
            losses.append(_numpy_step(p, state, x[idx], y[idx], t))
    return float(np.mean(losses[-len(x) // BATCH:]))


@pytest.mark.benchmark(group="cnn-train-2-epochs-fashion-2048-cpu")
def test_numpy_cnn_two_epochs(benchmark):
    x, y = _fashion_subset()
    last_epoch_loss = benchmark.pedantic(_numpy_train, args=(x, y), rounds=3, iterations=1)
    assert last_epoch_loss < 1.0


@pytest.mark.benchmark(group="cnn-train-2-epochs-fashion-2048-cpu")
def test_tritensor_cnn_two_epochs(benchmark):
    config = Config(model="cnn", dataset="fashion-mnist", epochs=EPOCHS, batch_size=BATCH, lr=LR, hidden=HIDDEN,
                    limit_train=SUBSET, limit_test=256, device="cpu")

    def run():
        return train(config, progress=False, log=lambda line: None)

    metrics = benchmark.pedantic(run, rounds=3, iterations=1)
    steps = SUBSET // BATCH
    assert np.mean(metrics.step_losses[-steps:]) < 1.0
