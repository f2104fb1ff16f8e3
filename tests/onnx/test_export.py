"""tt.onnx.export: models traced once, lowered to ONNX, checked, and run in onnxruntime against tritensor."""

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
from tritensor.ops.autocast import op_hook

OPSETS = (13, 14, 15, 16, 17)  # below 17 layer_norm is a formula; below 15 Shape has no start/end; ...


def _norm_op(opset: int) -> str:
    """The op layer_norm lowers to: LayerNormalization from opset 17, its ReduceMean formula before."""
    return "LayerNormalization" if opset >= 17 else "ReduceMean"


def _export(model, args, **kwargs) -> bytes:
    f = io.BytesIO()
    tonnx.export(model, args, f, **kwargs)
    return f.getvalue()


def _session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _assert_runs_like(model, data: bytes, name: str, *inputs) -> None:
    session = _session(data)
    for x in inputs:
        want = model(x).detach().numpy()
        (got,) = session.run(None, {name: x.numpy()})
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 12), nn.GELU(), nn.Tanh(),
                         nn.Linear(12, 4), nn.Sigmoid(), nn.LogSoftmax(dim=1))


class _CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 6, 3, padding="same"), nn.AvgPool2d(2))
        self.head = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        y = self.features(x)
        y = y.view(y.size(0), -1)  # the traced batch size must not stick
        return tt.softmax(self.head(y) * 2.0 - 1.0, dim=-1)


def _trained_cnn():
    tt.manual_seed(1)
    model = _CNN()
    model(tt.randn(4, 3, 8, 8))  # training mode: running statistics move away from 0 / 1
    return model.eval()


@pytest.mark.parametrize("opset", OPSETS)
def test_mlp_matches_onnxruntime_with_a_dynamic_batch(opset):
    model = _mlp().train()
    x = tt.randn(3, 8)
    data = _export(model, x, input_names=["x"], output_names=["y"],
                   dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset)
    assert model.training  # export ran in eval mode and restored the mode
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert proto.ir_version == (7 if opset <= 14 else 8)  # the oldest IR that opset needs
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["y"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    names = [i.name for i in proto.graph.initializer]
    assert sorted(n for n in names if not n.startswith("onnx::")) == sorted(model.state_dict())
    model.eval()
    _assert_runs_like(model, data, "x", x, tt.randn(7, 8), tt.randn(1, 8))


@pytest.mark.parametrize("opset", OPSETS)
def test_cnn_matches_onnxruntime_with_a_dynamic_batch(opset):
    model = _trained_cnn()
    x = tt.randn(2, 3, 8, 8)
    data = _export(model, x, dynamic_axes={"input": {0: "n"}, "output": [0]}, opset_version=opset)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "Reshape", "Gemm", "Softmax"} <= ops
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "output_dynamic_axes_1"
    names = {i.name for i in proto.graph.initializer}
    assert {"features.1.running_mean", "features.1.running_var", "head.weight"} <= names
    _assert_runs_like(model, data, "input", x, tt.randn(5, 3, 8, 8))


def test_default_names_and_a_file_path(tmp_path):
    class Two(nn.Module):
        def forward(self, a, b):
            return a + b, a.transpose(0, 1) @ b

    a, b = tt.randn(3, 3), tt.randn(3, 3)
    path = tmp_path / "two.onnx"
    tonnx.export(Two(), (a, b), str(path))
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["input", "input.1"]
    assert [o.name for o in proto.graph.output] == ["output", "output.1"]
    got = _session(proto.SerializeToString()).run(None, {"input": a.numpy(), "input.1": b.numpy()})
    np.testing.assert_allclose(got[0], (a + b).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1], (a.t() @ b).numpy(), rtol=1e-5)


def test_an_op_without_a_lowering_fails_by_name():
    class Cum(nn.Module):
        def forward(self, x):
            return tt.cumsum(x.relu(), 0)

    with pytest.raises(tonnx.UnsupportedOperatorError,
                       match=r"no ONNX lowering for op 'cumsum' \(called from .*test_export.py:\d+ in forward\)"):
        _export(Cum(), tt.randn(4))
    assert op_hook.trace is None  # the hook is removed on failure too


def test_training_only_forms_fail_with_their_reason():
    class Drop(nn.Module):
        def forward(self, x):
            return tt.nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(tonnx.UnsupportedOperatorError, match="'dropout' in training mode"):
        _export(Drop(), tt.randn(4))


def test_ops_on_constants_only_are_folded_and_nested_ops_not_recorded():
    class Affine(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(tt.ones(4) * 3.0)

        def forward(self, x):
            return nn.functional.layer_norm(x, (4,)) * (self.scale * 2.0) + tt.arange(4.0)

    model = Affine()
    x = tt.randn(2, 4)
    proto = onnx.load_from_string(_export(model, x))
    assert [n.op_type for n in proto.graph.node] == ["LayerNormalization", "Mul", "Add", "Identity"]
    _assert_runs_like(model, proto.SerializeToString(), "input", x)


@pytest.mark.parametrize("opset", OPSETS)
def test_gpt_matches_onnxruntime(opset):
    tt.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16).eval()
    idx = tt.randint(0, 11, (2, 8))
    data = _export(model, idx, input_names=["idx"], dynamic_axes={"idx": {0: "batch"}}, opset_version=opset)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert {"Gather", _norm_op(opset), "Softmax", "MatMul", "Erf"} <= {n.op_type for n in proto.graph.node}
    assert "tok_emb.weight" in {i.name for i in proto.graph.initializer}
    _assert_runs_like(model, data, "idx", idx, tt.randint(0, 11, (3, 8)))


def test_reshape_target_keeps_a_dynamic_batch():
    from tritensor.onnx.lowerings.shape import reshape_target
    assert reshape_target((2, 3, 4, 4), (2, 48)) == [0, -1]
    assert reshape_target((2, 5, 6), (10, 6)) == [-1, 6]
    assert reshape_target((2, 5, 6), (2, 5, 2, 3)) == [0, 0, -1, 3]
    assert reshape_target((2, 5), (2, 5, 1)) == [0, 0, 1]


def test_autocast_still_applies_while_not_tracing():
    x, w = tt.randn(2, 4), tt.randn(3, 4)
    with tt.autocast("cpu"):
        assert tt.nn.functional.linear(x, w).dtype is tt.bfloat16
    assert tt.nn.functional.linear(x, w).dtype is tt.float32


def _assert_all_run_like(model, data: bytes, feeds: dict, *args) -> None:
    got = _session(data).run(None, feeds)
    want = [t.detach().numpy() for t in tonnx.trace.flat_tensors(model(*args))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset", OPSETS)
def test_transformer_encoder_layer_exports_through_its_parts(opset):
    tt.manual_seed(0)
    model = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True).eval()
    x = tt.randn(2, 5, 16)
    data = _export(model, x, opset_version=opset)
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert {_norm_op(opset), "Softmax", "Slice"} <= ops  # multi_head_attention_forward, decomposed
    assert ("LayerNormalization" in ops) == (opset >= 17)
    _assert_all_run_like(model, data, {"input": x.numpy()}, x)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_exports_through_its_parts(need_weights):
    class Attend(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(16, 4)

        def forward(self, q, kv):
            return self.attn(q, kv, kv, need_weights=need_weights)[0 if not need_weights else slice(None)]

    tt.manual_seed(0)
    model = Attend().eval()
    q, kv = tt.randn(5, 2, 16), tt.randn(7, 2, 16)
    data = _export(model, (q, kv))
    _assert_all_run_like(model, data, {"input": q.numpy(), "input.1": kv.numpy()}, q, kv)


def _rnn_cases():
    tt.manual_seed(0)
    return {
        "lstm-2-layers-batch-first": (nn.LSTM(4, 6, num_layers=2, batch_first=True), 0),
        "lstm-bidirectional-no-bias": (nn.LSTM(4, 6, bidirectional=True, bias=False), 1),
        "lstm-2-layers-bidirectional": (nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True), 0),
        "gru-2-layers-bidirectional": (nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True), 0),
        "rnn-tanh-bidirectional": (nn.RNN(4, 6, bidirectional=True), 1),
        "rnn-relu": (nn.RNN(4, 6, nonlinearity="relu", batch_first=True), 0),
    }


@pytest.mark.parametrize("opset", [13, 17])  # LSTM/GRU/RNN gain `layout` at 14 (not used)
@pytest.mark.parametrize("case", list(_rnn_cases()))
def test_recurrent_layers_match_onnxruntime_with_a_dynamic_batch(case, opset):
    model, axis = _rnn_cases()[case]
    model.eval()
    x = tt.randn(*((2, 5, 4) if axis == 0 else (5, 2, 4)))
    data = _export(model, x, input_names=["x"], dynamic_axes={"x": {axis: "batch"}}, opset_version=opset)
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}[model.mode] in ops
    for batch in (2, 3, 1):
        xb = tt.randn(*((batch, 5, 4) if axis == 0 else (5, batch, 4)))
        _assert_all_run_like(model, data, {"x": xb.numpy()}, xb)


def test_lstm_with_initial_states_as_inputs():
    tt.manual_seed(0)
    model = nn.LSTM(4, 6, num_layers=2, batch_first=True).eval()
    x, h, c = tt.randn(2, 5, 4), tt.randn(2, 2, 6), tt.randn(2, 2, 6)

    class WithState(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = model

        def forward(self, x, h, c):
            return self.lstm(x, (h, c))

    wrapped = WithState()
    data = _export(wrapped, (x, h, c), input_names=["x", "h", "c"],
                   dynamic_axes={"x": {0: "b"}, "h": {1: "b"}, "c": {1: "b"}})
    x3, h3, c3 = tt.randn(3, 5, 4), tt.randn(2, 3, 6), tt.randn(2, 3, 6)
    _assert_all_run_like(wrapped, data, {"x": x3.numpy(), "h": h3.numpy(), "c": c3.numpy()}, x3, h3, c3)


@pytest.mark.parametrize("opset", OPSETS)
def test_char_lstm_matches_onnxruntime_with_a_dynamic_batch(opset):
    tt.manual_seed(0)
    model = CharLSTM(11, hidden=16, num_layers=2).eval()
    idx = tt.randint(0, 11, (2, 7))
    data = _export(model, idx, input_names=["idx"], output_names=["logits", "h", "c"],
                   dynamic_axes={"idx": {0: "batch"}}, opset_version=opset)
    assert "embed.weight" in {i.name for i in onnx.load_from_string(data).graph.initializer}
    for batch in (2, 4):
        ib = tt.randint(0, 11, (batch, 7))
        _assert_all_run_like(model, data, {"idx": ib.numpy()}, ib)


def test_lstm_projections_are_refused_by_name():
    model = nn.LSTM(4, 6, proj_size=3)
    with pytest.raises(tonnx.UnsupportedOperatorError, match="op '_rnn_layer' with proj_size > 0"):
        _export(model, tt.randn(5, 2, 4))


@pytest.mark.parametrize("opset", OPSETS)
def test_slicing_inside_a_model(opset):
    class Slices(nn.Module):
        def forward(self, x):
            a = x[:, 1:5:2, ..., -1]  # (B, 2, 3)
            b = x[0, None, :, 2:][..., 1:, 0]  # (1, 6, 1)
            return a * 2.0, b + 1.0, x[..., None][:, -1]

    x = tt.randn(2, 6, 3, 4)
    data = _export(Slices(), x, dynamic_axes={"input": {0: "batch"}}, opset_version=opset)
    assert {"Slice", "Squeeze", "Unsqueeze"} <= {n.op_type for n in onnx.load_from_string(data).graph.node}
    for xb in (x, tt.randn(3, 6, 3, 4)):
        _assert_all_run_like(Slices(), data, {"input": xb.numpy()}, xb)


def test_advanced_indexing_is_refused_by_name():
    class Pick(nn.Module):
        def forward(self, x):
            return x[tt.tensor([0, 2])]

    with pytest.raises(tonnx.UnsupportedOperatorError, match="op '__getitem__' with advanced indexing"):
        _export(Pick(), tt.randn(4, 3))


def test_an_output_the_tracer_cannot_see_is_refused():
    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(4, 6)

        def forward(self, x):  # pack_padded_sequence computes its data without public ops
            return self.gru(nn.utils.rnn.pack_padded_sequence(x, [5, 3]))[1]

    with pytest.raises(tonnx.UnsupportedOperatorError, match="output 0 does not depend on the inputs"):
        _export(Packed(), tt.randn(5, 2, 4))


def test_a_value_computed_outside_the_bound_ops_is_refused_not_frozen():
    from tritensor.ops.activations import relu as plain_relu  # a plain function: the tracer cannot see it

    class Sneaky(tt.nn.Module):
        def forward(self, x):
            return x + plain_relu(x)  # would be exported as x + <a constant from the traced input>

    with pytest.raises(tonnx.UnsupportedOperatorError, match="op 'add'.*computed outside the bound ops"):
        tt.onnx.export(Sneaky(), (tt.randn(2, 3),), io.BytesIO())
