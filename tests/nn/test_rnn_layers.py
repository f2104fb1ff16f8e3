"""nn.RNN / nn.LSTM / nn.GRU against a NumPy implementation of PyTorch's equations for every option (layers,
bidirectional, batch_first, proj_size, bias=False, relu, unbatched, initial states, PackedSequence in and out),
on cpu and interpreted cuda; float64 gradcheck of 2-layer bidirectional LSTM and GRU; cuda gradients against
cpu's; PyTorch's parameter names, order, shapes, init and repr; every constructor and forward error."""

import warnings

import numpy as np
import pytest

import tritensor as tt
from tests.ops.test_rnn import np_step
from tritensor import nn
from tritensor.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def _np(t):
    return None if t is None else t.detach().cpu().numpy().astype(np.float64)


def np_direction(mode, x, lengths, h0, c0, params, reverse):
    """(out (T, B, Hh), h_n, c_n) of one layer-direction over a padded (T, B, In) batch of `lengths`."""
    T, B = x.shape[:2]
    out = np.zeros((T, B, h0.shape[1]))
    hn, cn = h0.copy(), c0.copy()
    for b in range(B):
        h, c = h0[b], c0[b]
        for t in (range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])):
            h, c = np_step(mode, x[t, b], h, c, *params)
            out[t, b] = h
        hn[b], cn[b] = h, c
    return out, hn, cn


def np_model(m, x, lengths, h0, c0):
    """PyTorch's stacked layers (no dropout): x (T, B, In) padded, h0 (L*D, B, Hh), c0 (L*D, B, H)."""
    dirs = 2 if m.bidirectional else 1
    hs, cs = [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"l{layer}" + ("_reverse" if d else "")
            get = (lambda n, sfx=sfx: _np(getattr(m, f"{n}_{sfx}", None)))
            zeros = np.zeros(m.weight_ih_l0.shape[0])
            params = [get("weight_ih"), get("weight_hh"), get("bias_ih") if m.bias else zeros,
                      get("bias_hh") if m.bias else zeros, get("weight_hr")]
            k = layer * dirs + d
            out, hn, cn = np_direction(m.mode, x, lengths, h0[k], c0[k], params, d == 1)
            outs.append(out)
            hs.append(hn)
            cs.append(cn)
        x = np.concatenate(outs, 2)
    return x, np.stack(hs), np.stack(cs)


def _module(kind, device, dtype, **kw):
    tt.manual_seed(0)
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
    return cls(3, 4, device=device, dtype=dtype, **kw)


OPTIONS = [
    ("lstm", dict(num_layers=2, bidirectional=True)),
    ("lstm", dict(proj_size=2, batch_first=True)),
    ("lstm", dict(bias=False, num_layers=2)),
    ("gru", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("gru", dict(bias=False)),
    ("rnn", dict(nonlinearity="relu", bidirectional=True)),
    ("rnn", dict(num_layers=2)),
]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("kind,kw", OPTIONS)
@pytest.mark.parametrize("initial", [False, True])
def test_padded_batch_matches_the_equations(rng, device, kind, kw, initial):
    dtype = tt.float64 if device == "cpu" else tt.float32
    m = _module(kind, device, dtype, **kw)
    T, B = 3, 2
    dirs = 2 if m.bidirectional else 1
    Hh = m.proj_size or m.hidden_size
    x = rng.standard_normal((T, B, 3))
    h0 = rng.standard_normal((m.num_layers * dirs, B, Hh)) if initial else np.zeros((m.num_layers * dirs, B, Hh))
    c0 = rng.standard_normal((m.num_layers * dirs, B, 4)) if initial else np.zeros((m.num_layers * dirs, B, 4))
    want = np_model(m, x, [T] * B, h0, c0)
    t = (lambda a: tt.tensor(a, dtype=dtype, device=device))
    xin = t(x.transpose(1, 0, 2)) if m.batch_first else t(x)
    hx = None if not initial else ((t(h0), t(c0)) if kind == "lstm" else t(h0))
    out, hidden = m(xin, hx)
    got_out = _np(out).transpose(1, 0, 2) if m.batch_first else _np(out)
    tol = 1e-12 if device == "cpu" else 2e-5
    np.testing.assert_allclose(got_out, want[0], rtol=tol, atol=tol)
    if kind == "lstm":
        np.testing.assert_allclose(_np(hidden[0]), want[1], rtol=tol, atol=tol)
        np.testing.assert_allclose(_np(hidden[1]), want[2], rtol=tol, atol=tol)
    else:
        np.testing.assert_allclose(_np(hidden), want[1], rtol=tol, atol=tol)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unbatched_input(rng, device, kind):
    dtype = tt.float64 if device == "cpu" else tt.float32
    m = _module(kind, device, dtype, bidirectional=True)
    x = rng.standard_normal((3, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    t = (lambda a: tt.tensor(a, dtype=dtype, device=device))
    out, hidden = m(t(x), (t(h0), t(c0)) if kind == "lstm" else t(h0))
    want = np_model(m, x[:, None], [3], h0[:, None], c0[:, None])
    tol = 1e-12 if device == "cpu" else 2e-5
    assert tuple(out.shape) == (3, 8)
    np.testing.assert_allclose(_np(out), want[0][:, 0], rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(hidden[0] if kind == "lstm" else hidden), want[1][:, 0], rtol=tol, atol=tol)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("kind,kw", [("lstm", dict(bidirectional=True, proj_size=2)), ("gru", dict(num_layers=2)),
                                     ("rnn", dict(bidirectional=True))])
def test_packed_sequence_unsorted(rng, device, kind, kw):
    dtype = tt.float64 if device == "cpu" else tt.float32
    m = _module(kind, device, dtype, **kw)
    lengths = [2, 4, 3]
    T, B = 4, 3
    dirs = 2 if m.bidirectional else 1
    Hh = m.proj_size or 4
    x = rng.standard_normal((T, B, 3))
    h0 = rng.standard_normal((m.num_layers * dirs, B, Hh))
    c0 = rng.standard_normal((m.num_layers * dirs, B, 4))
    t = (lambda a: tt.tensor(a, dtype=dtype, device=device))
    packed = pack_padded_sequence(t(x), lengths, enforce_sorted=False)
    out, hidden = m(packed, (t(h0), t(c0)) if kind == "lstm" else t(h0))
    assert type(out).__name__ == "PackedSequence"
    np.testing.assert_array_equal(out.batch_sizes.numpy(), packed.batch_sizes.numpy())
    np.testing.assert_array_equal(out.sorted_indices.cpu().numpy(), packed.sorted_indices.cpu().numpy())
    padded, lens = pad_packed_sequence(out)
    np.testing.assert_array_equal(lens.numpy(), lengths)
    want = np_model(m, x, lengths, h0, c0)
    tol = 1e-12 if device == "cpu" else 2e-5
    np.testing.assert_allclose(_np(padded), want[0], rtol=tol, atol=tol)
    np.testing.assert_allclose(_np(hidden[0] if kind == "lstm" else hidden), want[1], rtol=tol, atol=tol)
    if kind == "lstm":
        np.testing.assert_allclose(_np(hidden[1]), want[2], rtol=tol, atol=tol)
    out0, _ = m(packed)  # no initial state: zeros
    want0 = np_model(m, x, lengths, 0 * h0, 0 * c0)
    np.testing.assert_allclose(_np(pad_packed_sequence(out0)[0]), want0[0], rtol=tol, atol=tol)


def test_dropout_between_layers_in_training_only(rng):
    m = _module("lstm", "cpu", tt.float64, num_layers=2, dropout=1.0)
    x = tt.tensor(rng.standard_normal((3, 2, 3)))
    out, _ = m(x)
    zeros = np.zeros((2, 2, 4))
    layer1 = np_direction("LSTM", np.zeros((3, 2, 4)), [3, 3], zeros[0], zeros[0],
                          [_np(m.weight_ih_l1), _np(m.weight_hh_l1), _np(m.bias_ih_l1), _np(m.bias_hh_l1), None],
                          False)[0]
    np.testing.assert_allclose(_np(out), layer1, rtol=1e-12)  # every input of layer 1 dropped
    m.eval()
    np.testing.assert_allclose(_np(m(x)[0]), np_model(m, _np(x), [3, 3], zeros, zeros)[0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_two_layer_bidirectional_float64(rng, kind):
    tt.manual_seed(1)
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    m = cls(2, 2, num_layers=2, bidirectional=True, dtype=tt.float64)
    x = tt.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tt.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c0 = tt.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)

    def fn(x, h0, c0, *params):
        out, hidden = m(x, (h0, c0)) if kind == "lstm" else m(x, h0)
        return (out, *hidden) if kind == "lstm" else (out, hidden)

    assert tt.autograd.gradcheck(fn, (x, h0, c0, *m.parameters()))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cuda_grads_match_cpu(rng, kind):
    x = rng.standard_normal((4, 3, 3)).astype(np.float32)
    grads = {}
    for device in ("cpu", "cuda"):
        m = _module(kind, device, tt.float32, num_layers=2, bidirectional=True)
        xt = tt.tensor(x, device=device, requires_grad=True)
        packed = pack_padded_sequence(xt, [2, 4, 3], enforce_sorted=False)
        out, hidden = m(packed)
        h = hidden[0] if kind == "lstm" else hidden
        loss = (out.data * out.data).sum() + h.sum()
        loss.backward()
        grads[device] = [xt.grad.cpu().numpy()] + [p.grad.cpu().numpy() for p in m.parameters()]
    for a, b in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_parameters_names_shapes_init_and_repr():
    tt.manual_seed(0)
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    names = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
             for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
    assert list(m.state_dict()) == names
    assert m._flat_weights_names == names
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (80, 10) and shapes["weight_hh_l0"] == (80, 5)
    assert shapes["weight_ih_l1_reverse"] == (80, 10) and shapes["weight_hr_l1"] == (5, 20)
    assert all(np.abs(_np(p)).max() <= 1 / np.sqrt(20) for p in m.parameters())
    assert [len(w) for w in m.all_weights] == [5] * 4 and m.all_weights[1][0] is m.weight_ih_l0_reverse
    m.flatten_parameters()
    assert repr(m) == "LSTM(10, 20, proj_size=5, num_layers=2, bidirectional=True)"
    gru = nn.GRU(4, 6, bias=False, batch_first=True)
    assert list(gru.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert repr(gru) == "GRU(4, 6, bias=False, batch_first=True)"
    rnn = nn.RNN(2, 3, 2, "relu", dropout=0.5)
    assert rnn.nonlinearity == "relu" and rnn.mode == "RNN_RELU" and rnn.num_layers == 2
    assert repr(rnn) == "RNN(2, 3, num_layers=2, dropout=0.5)"
    assert not isinstance(gru, nn.RNN) and isinstance(gru, nn.RNNBase)


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        nn.GRU(2, 3.0)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(2, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.GRU(2, 3, 0)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero to disable projections"):
        nn.LSTM(2, 3, proj_size=-1)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    for cls in (nn.RNN, nn.GRU):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
            cls(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last recurrent layer, so "
                                         "non-zero dropout expects num_layers greater than 1, but got "
                                         "dropout=0.5 and num_layers=1"):
        nn.LSTM(2, 3, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(2, 3, num_layers=2, dropout=0.5)


def test_forward_errors():
    lstm, gru, rnn = nn.LSTM(10, 20, 2), nn.GRU(10, 20), nn.RNN(10, 20)
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D input instead"):
        lstm(tt.zeros(1, 2, 3, 10))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 1D input instead"):
        gru(tt.zeros(10))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor instead"):
        rnn(tt.zeros(1, 2, 3, 10))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 10, got 5"):
        gru(tt.zeros(4, 3, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 20\), got \[2, 3, 20\]"):
        gru(tt.zeros(4, 3, 10), tt.zeros(2, 3, 20))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 20\), got \[1, 3, 20\]"):
        lstm(tt.zeros(4, 3, 10), (tt.zeros(1, 3, 20), tt.zeros(2, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 3, 20\), got \[2, 3, 21\]"):
        lstm(tt.zeros(4, 3, 10), (tt.zeros(2, 3, 20), tt.zeros(2, 3, 21)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        rnn(tt.zeros(4, 3, 10), tt.zeros(3, 20))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        gru(tt.zeros(4, 10), tt.zeros(1, 1, 20))
    with pytest.raises(RuntimeError, match=r"For batched 3-D input, hx and cx should also be 3-D but got "
                                           r"\(2-D, 3-D\) tensors"):
        lstm(tt.zeros(4, 3, 10), (tt.zeros(3, 20), tt.zeros(2, 3, 20)))
    with pytest.raises(RuntimeError, match=r"For unbatched 2-D input, hx and cx should also be 2-D but got "
                                           r"\(3-D, 2-D\) tensors"):
        lstm(tt.zeros(4, 10), (tt.zeros(2, 1, 20), tt.zeros(2, 20)))
    with pytest.raises(ValueError, match="input must have the type tritensor.float32, got type tritensor.float64"):
        gru(tt.zeros(4, 3, 10, dtype=tt.float64))
