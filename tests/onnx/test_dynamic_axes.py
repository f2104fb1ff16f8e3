"""tt.onnx.export with dynamic axes through attention and Transformers: the probe run (each dynamic input axis one
longer) tells every reshape and expand which sizes follow the dynamic axes; constants that would freeze them
refuse the export; ops whose results no output reads are not exported."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tritensor as tt
import tritensor.onnx as tonnx
from tritensor import nn
from tritensor.models.char_lstm import CharLSTM
from tritensor.models.gpt import GPT


def _run_at_sizes(model, make, axes, sizes, opset: int = 17) -> None:
    """Export at make(2) with `axes` dynamic, then run onnxruntime against tritensor at every size."""
    names = [f"in{k}" for k in range(len(make(2)))]
    f = io.BytesIO()
    tonnx.export(model, make(2), f, input_names=names, dynamic_axes=dict(zip(names, axes)), opset_version=opset)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for size in sizes:
        args = make(size)
        got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
        want = model(*args)
        want = [t.detach().numpy() for t in (want if isinstance(want, tuple) else (want,))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (size, g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


class _Attend(nn.Module):
    def __init__(self, need_weights: bool, batch_first: bool) -> None:
        super().__init__()
        self.need_weights = need_weights
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first)

    def forward(self, q, kv):
        out, weights = self.attn(q, kv, kv, need_weights=self.need_weights)
        return (out, weights) if self.need_weights else out


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_with_a_dynamic_batch(need_weights, batch_first):
    # batch 5 equals the query length: a size that only matched the traced batch by value must not be confused
    tt.manual_seed(0)
    model = _Attend(need_weights, batch_first).eval()
    shape = (lambda b, n: (b, n, 16)) if batch_first else (lambda b, n: (n, b, 16))
    axis = {0 if batch_first else 1: "batch"}
    _run_at_sizes(model, lambda b: (tt.randn(*shape(b, 5)), tt.randn(*shape(b, 7))), [axis, axis], (1, 3, 5))


def _encoder():
    tt.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16), enable_nested_tensor=False).eval()


@pytest.mark.parametrize("opset", [13, 17])  # LayerNormalization, or its formula over the last axis
def test_transformer_encoder_with_dynamic_batch_and_sequence_length(opset):
    model = _encoder()
    _run_at_sizes(model, lambda b: (tt.randn(b, b + 3, 16),), [{0: "batch", 1: "seq"}], (1, 3, 4), opset)


class _Padded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = _encoder()

    def forward(self, x, padding):
        return self.encoder(x, src_key_padding_mask=padding)


@pytest.mark.parametrize("opset", [13, 17])
def test_transformer_encoder_with_a_padding_mask_input(opset):
    # the bool mask becomes an additive float mask through zeros_like + masked_fill_ (traced, batch-dynamic)
    model = _Padded().eval()

    def make(b):
        return tt.randn(b, 5, 16), tt.arange(5).unsqueeze(0).expand(b, 5) >= tt.arange(b).unsqueeze(1) + 3

    _run_at_sizes(model, make, [{0: "batch"}, {0: "batch"}], (1, 3), opset)


def test_transformer_encoder_with_a_causal_mask_input():
    model = _encoder()
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    _run_at_sizes(model, lambda b: (tt.randn(b, 5, 16), mask), [{0: "batch"}, {}], (1, 4))


def test_full_transformer_sequence_first_with_a_dynamic_batch():
    tt.manual_seed(0)
    with pytest.warns(UserWarning, match="enable_nested_tensor is True"):  # as PyTorch, for sequence-first layers
        model = nn.Transformer(16, 2, 2, 2, 32).eval()
    _run_at_sizes(model, lambda b: (tt.randn(5, b, 16), tt.randn(3, b, 16)), [{1: "batch"}, {1: "batch"}], (1, 4))


def test_char_lstm_with_a_dynamic_sequence_length():
    tt.manual_seed(0)
    model = CharLSTM(vocab_size=9, hidden=8, num_layers=2).eval()

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, idx):
            return self.model(idx)[0]

    _run_at_sizes(Logits().eval(), lambda t: (tt.randint(0, 9, (2, t + 2)),), [{0: "batch", 1: "seq"}], (1, 5))


def test_a_constant_sized_from_python_refuses_the_dynamic_axis():
    class Frozen(nn.Module):
        def forward(self, x):
            return x + tt.zeros(x.size(0), 4)  # x.size(0) is read in Python: a constant of the trace

    x = tt.randn(2, 4)
    with pytest.raises(tonnx.UnsupportedOperatorError, match=r"constant of shape \(2, 4\) takes shape \(3, 4\)"):
        tonnx.export(Frozen(), x, io.BytesIO(), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    tonnx.export(Frozen(), x, io.BytesIO())  # without a dynamic axis the traced size is all there is


def test_gpt_causal_mask_refuses_a_dynamic_sequence_length_but_not_a_dynamic_batch():
    tt.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16).eval()
    idx = tt.randint(0, 11, (2, 6))
    with pytest.raises(tonnx.UnsupportedOperatorError, match="dynamic axis"):
        tonnx.export(model, idx, io.BytesIO(), input_names=["idx"], dynamic_axes={"idx": {0: "b", 1: "t"}})
    _run_at_sizes(model, lambda b: (tt.randint(0, 11, (b, 6)),), [{0: "b"}], (1, 3))


def test_unused_traced_values_are_not_exported_but_writes_still_refuse():
    class Dead(nn.Module):
        def forward(self, x):
            tt.cumsum(x, 0)  # no ONNX lowering, but nothing reads it
            return x.relu()

    x = tt.randn(3, 4)
    proto = onnx.load_from_string(_bytes(Dead(), x))
    assert [n.op_type for n in proto.graph.node] == ["Relu", "Identity"]

    class Write(nn.Module):
        def forward(self, x):
            y = x * 2
            x.relu()[0] = 1.0  # a write into a traced value that no output reads still refuses
            return y

    with pytest.raises(tonnx.UnsupportedOperatorError, match="__setitem__"):
        _bytes(Write(), x)


@pytest.mark.parametrize("opset", [13, 17])
def test_comparisons_where_and_masked_fill_lower(opset):
    class Select(nn.Module):
        def forward(self, x, y):
            keep = (x > 0) & (y <= 0.5) | ~(x == y)
            z = tt.where(x.ne(0.25), x, y).masked_fill(~keep, -1.0)
            return z.masked_fill_(x < -1.0, 3.0) + tt.ones_like(x) + tt.full_like(y, 2.0)

    tt.manual_seed(0)
    x, y = tt.randn(4, 5), tt.randn(4, 5)
    x[0, 0] = 0.25
    _run_at_sizes(Select(), lambda b: (tt.randn(b, 5), tt.randn(b, 5)), [{0: "b"}, {0: "b"}], (1, 3), opset)
    session = ort.InferenceSession(_bytes(Select(), (x, y)), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x.numpy(), "input.1": y.numpy()})[0],
                               Select()(x, y).numpy(), rtol=1e-6)


def _bytes(model, args) -> bytes:
    f = io.BytesIO()
    tonnx.export(model, args, f)
    return f.getvalue()


@pytest.mark.parametrize("opset", [13, 17, 19])  # Pad: pads and constant_value are inputs from opset 11
def test_padding_layers_export(opset):
    tt.manual_seed(0)
    layers = [nn.ZeroPad2d((1, 0, 2, 1)), nn.ReflectionPad2d(1), nn.ReplicationPad2d((0, 2, 1, 0)),
              nn.ConstantPad2d(1, 0.5), nn.Conv2d(3, 4, 3)]
    if opset >= 19:
        layers.insert(0, nn.CircularPad2d(1))
    model = nn.Sequential(*layers).eval()
    names = ["x"]
    f = io.BytesIO()
    tonnx.export(model, tt.randn(2, 3, 5, 6), f, input_names=names, dynamic_axes={"x": {0: "b"}},
                 opset_version=opset)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    x = tt.randn(3, 3, 5, 6)
    np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], model(x).detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    if opset < 19:
        with pytest.raises(tonnx.UnsupportedOperatorError, match="'circular' mode needs opset_version >= 19"):
            tonnx.export(nn.CircularPad1d(1), tt.randn(1, 2, 4), io.BytesIO(), opset_version=opset)
