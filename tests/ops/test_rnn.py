"""The recurrent Functions of tritensor/ops/rnn.py: one layer-direction over time-major rows (padded and
packed batch sizes, both directions, proj) against a per-sequence NumPy loop of PyTorch's equations, on cpu
and interpreted cuda; float64 gradcheck on cpu; cuda's gradients against cpu's; the cell step Function."""

import numpy as np
import pytest

import tritensor as tt
from tritensor.ops.rnn import _cell_gates, _prev_index, _rnn_layer

G = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _sig(x):
    return 1 / (1 + np.exp(-x))


def np_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
    """One step of one sequence, PyTorch's equations (vectors)."""
    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        h = _sig(o) * np.tanh(c)
        return (h if w_hr is None else w_hr @ h), c
    if mode == "GRU":
        ir, iz, inn = np.split(gi, 3)
        hr, hz, hn = np.split(gh, 3)
        r, z = _sig(ir + hr), _sig(iz + hz)
        n = np.tanh(inn + r * hn)
        return (1 - z) * n + z * h, c
    pre = gi + gh
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)), c


def np_layer(mode, rows, batch_sizes, h0, c0, params, reverse):
    """(out rows, h_n, c_n) of one layer-direction over packed time-major rows, sequence by sequence."""
    off = np.concatenate([[0], np.cumsum(batch_sizes)])
    out = np.zeros((rows.shape[0], h0.shape[1]))
    hn, cn = h0.copy(), c0.copy()
    for b in range(h0.shape[0]):
        steps = [t for t in range(len(batch_sizes)) if batch_sizes[t] > b]
        h, c = h0[b], c0[b]
        for t in (steps[::-1] if reverse else steps):
            h, c = np_step(mode, rows[off[t] + b], h, c, *params)
            out[off[t] + b] = h
        hn[b], cn[b] = h, c
    return out, hn, cn


def _make(rng, mode, In, H, P, B, N, bias=True):
    Hh = P or H
    p = [rng.standard_normal((G[mode] * H, In)) * 0.6, rng.standard_normal((G[mode] * H, Hh)) * 0.6,
         rng.standard_normal(G[mode] * H) * 0.3 if bias else np.zeros(G[mode] * H),
         rng.standard_normal(G[mode] * H) * 0.3 if bias else np.zeros(G[mode] * H),
         rng.standard_normal((P, H)) * 0.6 if P else None]
    x = rng.standard_normal((N, In))
    h0, c0 = rng.standard_normal((B, Hh)), rng.standard_normal((B, H))
    return x, h0, c0, p


def _run(mode, x, h0, c0, p, reverse, sizes, device, dtype, bias=True, grad=False):
    t = (lambda a: None if a is None else tt.tensor(a, dtype=dtype, device=device, requires_grad=grad))
    args = [t(x), t(h0), t(c0) if mode == "LSTM" else None, t(p[0]), t(p[1]), t(p[2]) if bias else None,
            t(p[3]) if bias else None, t(p[4])]
    return args, _rnn_layer(mode, *args, reverse, sizes)


CASES = [("LSTM", 0), ("LSTM", 2), ("GRU", 0), ("RNN_TANH", 0), ("RNN_RELU", 0)]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("mode,P", CASES)
@pytest.mark.parametrize("sizes", [(3, 3), (3, 2, 1)])
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_matches_the_equations(rng, device, mode, P, sizes, reverse):
    x, h0, c0, p = _make(rng, mode, 4, 5, P, sizes[0], sum(sizes))
    dtype = tt.float64 if device == "cpu" else tt.float32
    _, res = _run(mode, x, h0, c0, p, reverse, sizes, device, dtype)
    want = np_layer(mode, x, sizes, h0, c0, p, reverse)
    tol = 1e-12 if device == "cpu" else 2e-5
    for got, ref in zip(res, want):
        np.testing.assert_allclose(got.detach().cpu().numpy(), ref, rtol=tol, atol=tol)
    assert res[0].grad_fn is None


def test_prev_index_of_packed_rows():
    # batch sizes 3, 2, 1: rows 0-2 step 0, 3-4 step 1, 5 step 2; h0 rows are 6, 7, 8
    np.testing.assert_array_equal(_prev_index((3, 2, 1), False), [6, 7, 8, 0, 1, 3])
    np.testing.assert_array_equal(_prev_index((3, 2, 1), True), [3, 4, 8, 5, 7, 6])


@pytest.mark.parametrize("mode,P", CASES)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_float64(rng, mode, P, reverse):
    sizes = (2, 2, 1)
    x, h0, c0, p = _make(rng, mode, 2, 3, P and 2, 2, sum(sizes))
    args, _ = _run(mode, x, h0, c0, p, reverse, sizes, "cpu", tt.float64, grad=True)

    def fn(*a):
        return _rnn_layer(mode, *a, reverse, sizes)

    assert tt.autograd.gradcheck(fn, tuple(args))


@pytest.mark.parametrize("mode,P", CASES)
def test_cuda_grads_match_cpu(rng, mode, P):
    sizes = (3, 2, 2)
    x, h0, c0, p = _make(rng, mode, 3, 4, P, 3, sum(sizes), bias=mode != "GRU")
    grads = {}
    for device in ("cpu", "cuda"):
        args, res = _run(mode, x, h0, c0, p, True, sizes, device, tt.float32, bias=mode != "GRU", grad=True)
        loss = (res[0] * res[0]).sum() + 2 * res[1].sum() + (3 * res[2].sum() if mode == "LSTM" else 0)
        loss.backward()
        grads[device] = [None if a is None else a.grad.cpu().numpy() for a in args]
        assert res[0].grad_fn.name() == {"LSTM": "LstmBackward0", "GRU": "GruBackward0"}.get(
            mode, "RnnTanhBackward0" if mode == "RNN_TANH" else "RnnReluBackward0")
    for a, b in zip(grads["cpu"], grads["cuda"]):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16])
def test_16bit_layer_on_cuda(rng, dtype):
    sizes = (2, 2)
    x, h0, c0, p = _make(rng, "LSTM", 3, 8, 0, 2, 4)
    _, res = _run("LSTM", x, h0, c0, p, False, sizes, "cuda", dtype)
    want = np_layer("LSTM", x, sizes, h0, c0, p, False)
    tol = 1e-2 if dtype is tt.float16 else 6e-2
    for got, ref in zip(res, want):
        assert got.dtype is dtype
        np.testing.assert_allclose(got.float().cpu().numpy(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_cell_gates(rng, mode):
    gi = rng.standard_normal((2, G[mode] * 3)).astype(np.float32)
    gh = rng.standard_normal((2, G[mode] * 3)).astype(np.float32)
    hp, cp = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    ident = np.eye(G[mode] * 3)  # np_step with W_ih = I, W_hh = 0 and b_hh = gh: pre-activations gi + gh
    grads = {}
    for device in ("cpu", "cuda"):
        ts = [tt.tensor(a, device=device, requires_grad=True) for a in (gi, gh, hp, cp)]
        out = _cell_gates(mode, ts[0], ts[1], ts[2] if mode == "GRU" else None, ts[3] if mode == "LSTM" else None)
        h = out[0] if mode == "LSTM" else out
        assert h.grad_fn.name() == "CellGatesBackward0"
        for b in range(2):
            if mode == "GRU":
                r, z = _sig(gi[b, :3] + gh[b, :3]), _sig(gi[b, 3:6] + gh[b, 3:6])
                n = np.tanh(gi[b, 6:] + r * gh[b, 6:])
                ref_h, ref_c = (1 - z) * n + z * hp[b], None
            else:
                ref_h, ref_c = np_step(mode, gi[b], np.zeros(0), cp[b], ident, np.zeros((G[mode] * 3, 0)),
                                       np.zeros(G[mode] * 3), gh[b], None)
            np.testing.assert_allclose(h[b].detach().cpu().numpy(), ref_h, rtol=2e-6, atol=2e-6)
            if mode == "LSTM":
                np.testing.assert_allclose(out[1][b].detach().cpu().numpy(), ref_c, rtol=2e-6, atol=2e-6)
        loss = (h * h).sum() + (out[1].sum() if mode == "LSTM" else 0)
        loss.backward()
        grads[device] = [None if t.grad is None else t.grad.cpu().numpy() for t in ts]
    for a, b in zip(grads["cpu"], grads["cuda"]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
