"""tt.onnx.export at opset_version 13 to 18: the ops whose ONNX signature changes in that range take the form of
the opset asked for (Reduce* axes, LayerNormalization, HardSwish, Shape start/end), the graphs pass onnx.checker,
and onnxruntime computes what tritensor does."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tritensor as tt
import tritensor.nn.functional as F
import tritensor.onnx as tonnx
from tritensor import nn


def _proto(model, x, opset: int) -> onnx.ModelProto:
    f = io.BytesIO()
    tonnx.export(model, x, f, input_names=["x"], dynamic_axes={"x": {0: "batch"}}, opset_version=opset)
    proto = onnx.load_from_string(f.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    return proto


def _assert_runs_like(model, proto: onnx.ModelProto, *inputs) -> None:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in inputs:
        got = session.run(None, {"x": x.numpy()})
        want = model(x)
        want = [t.detach().numpy() for t in (want if isinstance(want, tuple) else (want,))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def _nodes(proto: onnx.ModelProto, op_type: str) -> list[onnx.NodeProto]:
    return [n for n in proto.graph.node if n.op_type == op_type]


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize("opset", [12, 11, 9, 7])
def test_an_opset_below_13_is_refused_naming_the_supported_range(opset):
    with pytest.raises(ValueError, match=rf"supports opset_version 13 to \d+ \(13 and up\), got {opset}$"):
        tonnx.export(nn.Linear(2, 2), tt.randn(1, 2), io.BytesIO(), opset_version=opset)


def test_an_opset_newer_than_the_onnx_package_knows_is_refused():
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(ValueError, match=f"opset_version 13 to {newest} .*got {newest + 1}"):
        tonnx.export(nn.Linear(2, 2), tt.randn(1, 2), io.BytesIO(), opset_version=newest + 1)


def test_opset_none_is_the_default_opset_17():
    f = io.BytesIO()
    tonnx.export(nn.Linear(2, 3), tt.randn(1, 2), f, opset_version=None)
    assert [o.version for o in onnx.load_from_string(f.getvalue()).opset_import] == [17]


class _Reduce(nn.Module):
    """mean/sum over dims, with and without keepdim, plus the ops whose axes/split moved to inputs at 13."""

    def forward(self, x):
        m = x.mean(dim=(1, 2), keepdim=True)  # (B, 1, 1, 4)
        s = x.sum(-1)  # (B, 3, 5)
        parts = x.unbind(1)  # Split + Squeeze
        stacked = tt.stack([parts[0], parts[2]], dim=1)  # Unsqueeze + Concat
        return x - m, s * 2.0, stacked + x[:, None, 1], F.rms_norm(x, (4,))


@pytest.mark.parametrize("opset", [13, 14, 15, 16, 17, 18])
def test_reductions_split_squeeze_unsqueeze(opset):
    model = _Reduce()
    proto = _proto(model, tt.randn(2, 3, 5, 4), opset)
    means = _nodes(proto, "ReduceMean")
    assert len(means) == 2  # mean, rms_norm
    for node in means:  # axes: an attribute before opset 18, an input from 18
        assert ("axes" in _attrs(node)) == (opset < 18) and len(node.input) == (1 if opset < 18 else 2)
    (total,) = _nodes(proto, "ReduceSum")
    assert len(total.input) == 2 and "axes" not in _attrs(total)  # an input from opset 13
    assert all(len(n.input) == 2 for kind in ("Split", "Squeeze", "Unsqueeze") for n in _nodes(proto, kind))
    assert _nodes(proto, "Split") and _nodes(proto, "Squeeze") and _nodes(proto, "Unsqueeze")
    _assert_runs_like(model, proto, tt.randn(2, 3, 5, 4), tt.randn(3, 3, 5, 4))


@pytest.mark.parametrize("opset", [13, 16, 17])
def test_layer_norm_is_its_formula_below_opset_17(opset):
    tt.manual_seed(0)
    model = nn.LayerNorm((5, 4), eps=1e-3).eval()
    with tt.no_grad():
        model.weight.copy_(tt.randn(5, 4))
        model.bias.copy_(tt.randn(5, 4))
    proto = _proto(model, tt.randn(2, 3, 5, 4), opset)
    ops = [n.op_type for n in proto.graph.node]
    if opset >= 17:
        assert ops == ["LayerNormalization", "Identity"]
    else:  # PyTorch's symbolic_opset9 layer_norm
        assert ops == ["ReduceMean", "Sub", "Pow", "ReduceMean", "Add", "Sqrt", "Div", "Mul", "Add", "Identity"]
        assert all(_attrs(n)["axes"] == [-2, -1] for n in _nodes(proto, "ReduceMean"))
    _assert_runs_like(model, proto, tt.randn(2, 3, 5, 4), tt.randn(1, 3, 5, 4))


def test_half_precision_layer_norm_is_computed_in_float32_below_opset_17():
    tt.manual_seed(0)
    model = nn.LayerNorm(6).eval().to(tt.float16)
    x = tt.randn(3, 6).to(tt.float16)
    proto = _proto(model, x, 13)
    casts = [_attrs(n)["to"] for n in _nodes(proto, "Cast")]
    assert casts == [onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), model(x).detach().numpy().astype(np.float32),
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("opset", [13, 14])
def test_hardswish_is_x_times_hardsigmoid_before_opset_14(opset):
    model = nn.Hardswish()
    proto = _proto(model, tt.randn(2, 7) * 4.0, opset)
    ops = [n.op_type for n in proto.graph.node]
    assert ops == (["HardSigmoid", "Mul", "Identity"] if opset < 14 else ["HardSwish", "Identity"])
    _assert_runs_like(model, proto, tt.randn(3, 7) * 4.0)


@pytest.mark.parametrize("opset", [13, 14, 15])
def test_resize_to_a_size_reads_the_leading_dims_without_shape_start_before_opset_15(opset):
    model = nn.Upsample(size=(5, 3), mode="bilinear")
    proto = _proto(model, tt.randn(2, 3, 4, 4), opset)
    (shape,) = _nodes(proto, "Shape")
    assert _attrs(shape) == ({} if opset < 15 else {"start": 0, "end": 2})
    assert bool(_nodes(proto, "Slice")) == (opset < 15)
    _assert_runs_like(model, proto, tt.randn(2, 3, 4, 4), tt.randn(4, 3, 4, 4))
