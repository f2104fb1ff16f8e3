"""RNNCell, LSTMCell and GRUCell against NumPy implementations of PyTorch's equations, on cpu and interpreted
cuda; float64 gradcheck; PyTorch's parameter names, shapes and init bound; the shape errors."""

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn

DEVICES = ["cpu", "cuda"]


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _params(cell):
    return [p.detach().cpu().numpy().astype(np.float64) for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih,
                                                                  cell.bias_hh)]


def _ref(kind, cell, x, h, c=None):
    w_ih, w_hh, b_ih, b_hh = _params(cell)
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "rnn":
        return np.tanh(gi + gh)
    if kind == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c2 = _sig(f) * c + _sig(i) * np.tanh(g)
        return _sig(o) * np.tanh(c2), c2
    ir, iz, inn = np.split(gi, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r, z = _sig(ir + hr), _sig(iz + hz)
    n = np.tanh(inn + r * hn)
    return (1 - z) * n + z * h


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_step_matches_the_equations(rng, device, kind):
    tt.manual_seed(0)
    cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](5, 7).to(device)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    h = rng.standard_normal((3, 7)).astype(np.float32)
    c = rng.standard_normal((3, 7)).astype(np.float32)
    tx, th, tc = (tt.tensor(a, device=device) for a in (x, h, c))
    if kind == "lstm":
        got = cell(tx, (th, tc))
        want = _ref(kind, cell, x.astype(np.float64), h, c)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.detach().cpu().numpy(), w, rtol=1e-5, atol=1e-6)
        unbatched = cell(tx[0])  # zero initial state, one sample
        np.testing.assert_allclose(unbatched[0].detach().cpu().numpy(), _ref(kind, cell, x[:1].astype(np.float64),
                                                                      0 * h[:1], 0 * c[:1])[0][0], rtol=1e-5,
                                   atol=1e-6)
    else:
        np.testing.assert_allclose(cell(tx, th).detach().cpu().numpy(), _ref(kind, cell, x.astype(np.float64), h),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(cell(tx[1]).detach().cpu().numpy(), _ref(kind, cell, x[1:2].astype(np.float64),
                                                                     0 * h[1:2])[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradcheck_float64(rng, kind):
    tt.manual_seed(1)
    cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](3, 4, dtype=tt.float64)
    x = tt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    c = tt.tensor(rng.standard_normal((2, 4)), requires_grad=True)

    def step(x, h, c, *weights):
        out = cell(x, (h, c)) if kind == "lstm" else cell(x, h)
        return out[0] + out[1] if kind == "lstm" else out

    assert tt.autograd.gradcheck(step, (x, h, c, *cell.parameters()))


def test_parameters_names_shapes_init_and_repr():
    tt.manual_seed(0)
    lstm = nn.LSTMCell(10, 20)
    assert {k: tuple(v.shape) for k, v in lstm.state_dict().items()} == {
        "weight_ih": (80, 10), "weight_hh": (80, 20), "bias_ih": (80,), "bias_hh": (80,)}
    assert all(np.abs(p.detach().numpy()).max() <= 1 / np.sqrt(20) for p in lstm.parameters())
    gru = nn.GRUCell(4, 6, bias=False)
    assert list(gru.state_dict()) == ["weight_ih", "weight_hh"] and gru.bias_ih is None
    assert repr(gru) == "GRUCell(4, 6, bias=False)"
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity=relu)"
    relu_cell = nn.RNNCell(2, 3, nonlinearity="relu")
    assert (relu_cell(tt.randn(4, 2)).detach().numpy() >= 0).all()


def test_errors():
    cell = nn.GRUCell(4, 6)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 4"):
        cell(tt.zeros(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden batch size 3"):
        cell(tt.zeros(2, 4), tt.zeros(3, 6))
    with pytest.raises(RuntimeError, match="hidden has inconsistent hidden_size: got 5, expected 6"):
        cell(tt.zeros(2, 4), tt.zeros(2, 5))
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D instead"):
        cell(tt.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity: sigmoid"):
        nn.RNNCell(2, 3, nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_run_the_fused_gate_step_and_cuda_grads_match_cpu(rng, kind):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    h = rng.standard_normal((2, 4)).astype(np.float32)
    c = rng.standard_normal((2, 4)).astype(np.float32)
    grads = {}
    for device in ("cpu", "cuda"):
        tt.manual_seed(2)
        cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](3, 4).to(device)
        tx, th, tc = (tt.tensor(a, device=device, requires_grad=True) for a in (x, h, c))
        out = cell(tx, (th, tc)) if kind == "lstm" else cell(tx, th)
        first = out[0] if kind == "lstm" else out
        assert first.grad_fn.name() == "CellGatesBackward0"
        loss = (first * first).sum() + (out[1].sum() if kind == "lstm" else 0)
        loss.backward()
        grads[device] = [t.grad.cpu().numpy() for t in (tx, th)] + [p.grad.cpu().numpy() for p in cell.parameters()]
        if kind == "lstm":
            grads[device].append(tc.grad.cpu().numpy())
    for a, b in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
