"""One LSTM epoch on the cpu path (forward + backward over a few batches, T=32, B=32, input 64, hidden 128,
float32) against a NumPy LSTM (the same forward and backpropagation through time) measured in the same run.
Compare means within one group of one run (the machine is shared); nothing asserts on time."""

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn

T, B, IN, H, BATCHES = 32, 32, 64, 128, 4


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((T, B, IN), dtype=np.float32) for _ in range(BATCHES)]
    tt.manual_seed(0)
    lstm = nn.LSTM(IN, H)
    params = [p.detach().numpy().copy() for p in lstm.parameters()]
    return xs, lstm, params


def numpy_lstm_step(x, w_ih, w_hh, b_ih, b_hh):
    """Forward and BPTT of a one-layer LSTM for loss = sum(output): (loss, dW_ih, dW_hh, db)."""
    gi = x.reshape(T * B, IN) @ w_ih.T + (b_ih + b_hh)
    h, c = np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
    hs, cs, acts = [h], [c], []
    for t in range(T):
        pre = gi[t * B:(t + 1) * B] + h @ w_hh.T
        i, f, g, o = _sig(pre[:, :H]), _sig(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), _sig(pre[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
        acts.append((i, f, g, o))
    loss = float(np.sum(hs[1:]))
    dg = np.empty((T * B, 4 * H), np.float32)
    dh, dc = np.zeros((B, H), np.float32), np.zeros((B, H), np.float32)
    for t in range(T - 1, -1, -1):
        i, f, g, o = acts[t]
        dh = dh + 1.0
        tc = np.tanh(cs[t + 1])
        dc = dc + dh * o * (1 - tc * tc)
        d = np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                            dh * tc * o * (1 - o)], 1)
        dg[t * B:(t + 1) * B] = d
        dc = dc * f
        dh = d @ w_hh
    hprev = np.concatenate(hs[:-1])
    return loss, dg.T @ x.reshape(T * B, IN), dg.T @ hprev, dg.sum(0)


@pytest.mark.benchmark(group="lstm-epoch-T32-B32-H128-fp32")
def test_numpy_lstm_epoch(benchmark, data):
    xs, _, params = data

    def epoch():
        return [numpy_lstm_step(x, *params) for x in xs]

    benchmark(epoch)


@pytest.mark.benchmark(group="lstm-epoch-T32-B32-H128-fp32")
def test_tritensor_lstm_epoch(benchmark, data):
    xs, lstm, params = data
    txs = [tt.from_numpy(x) for x in xs]

    def epoch():
        losses = []
        for x in txs:
            lstm.zero_grad()
            out, _ = lstm(x)
            loss = out.sum()
            loss.backward()
            losses.append(loss.item())
        return losses

    losses = benchmark(epoch)
    want = numpy_lstm_step(xs[-1], *params)
    np.testing.assert_allclose(losses[-1], want[0], rtol=1e-4)
    np.testing.assert_allclose(lstm.weight_ih_l0.grad.numpy(), want[1], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(lstm.weight_hh_l0.grad.numpy(), want[2], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(lstm.bias_ih_l0.grad.numpy(), want[3], rtol=1e-3, atol=1e-3)
