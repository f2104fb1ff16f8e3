"""The fused recurrent gate kernels (kernels/rnn_gates.py) in Triton's interpreter against their NumPy
references, every gate kind and dtype, odd sizes, row-strided operands; the references against the textbook
equations and their backward against float64 central finite differences."""

import numpy as np
import pytest
from tritensor.kernels import rnn_gates as K

from tests.conftest import as_device
from tritensor import dtypes

MODES = [K.LSTM, K.GRU, K.RNN_TANH, K.RNN_RELU]
BF16 = dtypes.bfloat16.np
FLOATS = [np.float32, np.float64, np.float16, BF16]
TOL = {np.float32: 2e-6, np.float64: 1e-13, np.float16: 2e-3, BF16: 1.6e-2}
B, H = 3, 5


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _close(got, want, dt):
    tol = TOL[dt]
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=tol, atol=tol)


def _inputs(rng, mode, dt):
    G = K.GATES[mode]
    gi = rng.standard_normal((B, G * H)).astype(dt)
    gh = rng.standard_normal((B, G * H)).astype(dt)
    hp = rng.standard_normal((B, H)).astype(dt)
    cp = rng.standard_normal((B, H)).astype(dt)
    return gi, gh, hp, cp


def test_reference_matches_the_equations(rng):
    gi, gh, hp, cp = _inputs(rng, K.LSTM, np.float64)
    pre = gi + gh
    i, f, g, o = _sig(pre[:, :H]), _sig(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), _sig(pre[:, 3 * H:])
    h, c, _ = K.rnn_gates_ref(K.LSTM, gi, gh, None, cp)
    np.testing.assert_allclose(c, f * cp + i * g, rtol=1e-14)
    np.testing.assert_allclose(h, o * np.tanh(f * cp + i * g), rtol=1e-14)
    gi, gh = gi[:, :3 * H], gh[:, :3 * H]
    r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    np.testing.assert_allclose(K.rnn_gates_ref(K.GRU, gi, gh, hp)[0], (1 - z) * n + z * hp, rtol=1e-13)
    np.testing.assert_allclose(K.rnn_gates_ref(K.RNN_TANH, gi[:, :H], gh[:, :H])[0], np.tanh(gi[:, :H] + gh[:, :H]))
    np.testing.assert_array_equal(K.rnn_gates_ref(K.RNN_RELU, gi[:, :H], gh[:, :H])[0],
                                  np.maximum(gi[:, :H] + gh[:, :H], 0))


@pytest.mark.parametrize("mode", MODES)
def test_backward_reference_matches_finite_differences(rng, mode):
    gi, gh, hp, cp = _inputs(rng, mode, np.float64)
    wh, wc = rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def loss(gi, gh, hp, cp):
        h, c, _ = K.rnn_gates_ref(mode, gi, gh, hp, cp)
        return (h * wh).sum() + ((c * wc).sum() if c is not None else 0.0)

    _, c, act = K.rnn_gates_ref(mode, gi, gh, hp, cp)
    h = K.rnn_gates_ref(mode, gi, gh, hp, cp)[0]
    hh = hp if mode == K.GRU else h
    dgi, dgh, dhp, dcp = K.rnn_gates_backward_ref(mode, wh, act, c, cp, hh, wc)
    dgh = dgi if dgh is None else dgh
    for arr, grad in [(gi, dgi), (gh, dgh), (hp, dhp), (cp, dcp)]:
        if grad is None:
            continue
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + 1e-6
            up = loss(gi, gh, hp, cp)
            arr[idx] = old - 1e-6
            down = loss(gi, gh, hp, cp)
            arr[idx] = old
            num[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


def _strided(a: np.ndarray, extra: int = 3) -> np.ndarray:
    """a as the left columns of a wider array: a row stride other than the row length."""
    wide = np.zeros((a.shape[0], a.shape[1] + extra), a.dtype)
    wide[:, :a.shape[1]] = a
    return wide[:, :a.shape[1]]


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_forward_kernel(rng, mode, dt):
    gi, gh, hp, cp = _inputs(rng, mode, dt)
    gi = _strided(gi)  # a step's rows of a wider buffer
    h, hs = np.zeros((B, H), dt), np.zeros((B, H), dt)
    c, act = np.zeros((B, H), dt), np.zeros((B, 4 * H), dt)
    state_c = cp.copy()  # c_{t-1} read and c_t written in place, as a layer's running state
    dev = {k: as_device(v) for k, v in dict(gi=gi, gh=gh, hp=hp, h=h, hs=hs, c=c, act=act, sc=state_c).items()}
    K.rnn_gates(mode, dev["h"], dev["gi"], dev["gh"], dev["hp"], dev["sc"], dev["c"], dev["act"], dev["hs"],
                dev["sc"])
    want_h, want_c, want_act = K.rnn_gates_ref(mode, gi, gh, hp, cp)
    _close(h, want_h, dt)
    _close(hs, want_h, dt)
    if mode == K.LSTM:
        _close(c, want_c, dt)
        _close(state_c, want_c, dt)
    if want_act is not None:
        _close(act, want_act, dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_backward_kernel(rng, mode, dt):
    gi, gh, hp, cp = _inputs(rng, mode, np.float64)
    h, c, act = K.rnn_gates_ref(mode, gi, gh, hp, cp)
    hh = (hp if mode == K.GRU else h).astype(dt)
    c = c.astype(dt) if c is not None else None
    act = act.astype(dt) if act is not None else None
    cp = cp.astype(dt)
    n_rec = 2  # rows 0..1 take the recurrent part, row 2 the final state's gradient
    rec = rng.standard_normal((n_rec, H)).astype(dt)
    fb = rng.standard_normal((B, H)).astype(dt)
    dy = _strided(rng.standard_normal((B, H)).astype(dt))
    dc = rng.standard_normal((B, H)).astype(dt)
    G = K.GATES[mode]
    dgi, dgh, dhp = np.zeros((B, G * H), dt), np.zeros((B, 3 * H), dt), np.zeros((B, H), dt)
    dc_state = dc.copy()  # dc_t in, dc_{t-1} out, in place
    d = as_device
    K.rnn_gates_backward(mode, d(dgi), d(rec), n_rec, d(fb), d(dy), d(act) if act is not None else None,
                         d(c) if c is not None else None, d(cp), d(hh), d(dc_state), d(dc_state), d(dgh), d(dhp))
    dh = np.concatenate([rec, fb[n_rec:]]).astype(np.float64) + dy.astype(np.float64)
    want = K.rnn_gates_backward_ref(mode, dh.astype(dt), act, c, cp, hh, dc)
    _close(dgi, want[0], dt)
    if mode == K.GRU:
        _close(dgh, want[1], dt)
        _close(dhp, want[2], dt)
    if mode == K.LSTM:
        _close(dc_state, want[3], dt)


def test_heuristic_fills_the_gpu():
    small = K._heuristic((K.LSTM, "float32", 32, 128))
    assert small == K.SMALL  # 32 x 128 units: the small tile, 16 programs
    assert K._heuristic((K.LSTM, "float32", 1024, 1024)) == K.LARGE
    for spec in K.SPECS:
        assert spec.configs == K.SHIPPED
