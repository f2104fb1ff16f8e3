"""tt.onnx.export of single nn layers (eval mode, dynamic batch), run in onnxruntime against the layer."""

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


class _Interpolate(nn.Module):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(x, **self.kwargs)


class _FusedLinear(nn.Module):
    """tritensor's F.linear(..., activation=...) called directly (a 2-D input exports as Gemm, a 3-D one as MatMul)."""

    def __init__(self, activation: str, bias: bool = True) -> None:
        super().__init__()
        self.linear, self.activation = nn.Linear(5, 4, bias=bias), activation

    def forward(self, x):
        return F.linear(x, self.linear.weight, self.linear.bias, activation=self.activation)


def _trained(module, shape):
    module(tt.randn(*shape))  # training mode: running statistics move away from 0 / 1
    return module


LAYERS = {
    "lp_pool2d": (lambda: nn.LPPool2d(2, 2), (3, 4, 6)),
    "elu": (lambda: nn.ELU(0.7), (3, 5)),
    "hardswish": (lambda: nn.Hardswish(), (3, 5)),
    "softplus": (lambda: nn.Softplus(), (3, 5)),
    "softplus_beta_threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.5), (3, 5)),
    "mish": (lambda: nn.Mish(), (3, 5)),
    "prelu_1": (lambda: nn.PReLU(init=0.3), (3, 5)),
    "prelu_C": (lambda: nn.PReLU(3, init=0.2), (3, 4, 5)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.7), (3, 5)),
    "relu6": (lambda: nn.ReLU6(), (3, 5)),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), (3, 5)),
    "selu": (lambda: nn.SELU(), (3, 5)),
    "celu": (lambda: nn.CELU(0.6), (3, 5)),
    "softsign": (lambda: nn.Softsign(), (3, 5)),
    "logsigmoid": (lambda: nn.LogSigmoid(), (3, 5)),
    "tanhshrink": (lambda: nn.Tanhshrink(), (3, 5)),
    "softmin": (lambda: nn.Softmin(dim=-1), (3, 5)),
    "threshold": (lambda: nn.Threshold(0.1, -2.0), (3, 5)),
    "glu": (lambda: nn.GLU(), (3, 6)),
    "glu_dim1": (lambda: nn.GLU(dim=1), (4, 5)),
    "softshrink": (lambda: nn.Softshrink(0.3), (3, 5)),
    "hardshrink": (lambda: nn.Hardshrink(0.4), (3, 5)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                                                    dilation=2), (4, 7)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                                    output_padding=(1, 0), groups=2), (4, 5, 6)),
    "conv_transpose2d_dilation_nobias": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=3, padding=2, output_padding=2,
                                                                    dilation=2, bias=False), (3, 4, 4)),
    "upsample_nearest_scale": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), (3, 4, 5)),
    "upsample_nearest_size": (lambda: nn.Upsample(size=(7, 3), mode="nearest"), (3, 4, 5)),
    "interpolate_nearest_scales": (lambda: _Interpolate(scale_factor=(1.7, 0.6), mode="nearest"), (3, 7, 9)),
    "upsample_bilinear_scale": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (3, 4, 5)),
    "upsample_bilinear_align_corners": (lambda: nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True),
                                        (3, 4, 5)),
    "interpolate_bilinear_scale_1_5": (lambda: _Interpolate(scale_factor=1.5, mode="bilinear"), (3, 4, 5)),
    "interpolate_bilinear_size_1": (lambda: _Interpolate(size=(1, 3), mode="bilinear"), (3, 4, 5)),
    "interpolate_bilinear_align_corners_scale": (
        lambda: _Interpolate(scale_factor=2.5, mode="bilinear", align_corners=True), (3, 4, 5)),
    "interpolate_linear": (lambda: _Interpolate(scale_factor=2.5, mode="linear"), (3, 7)),
    "adaptive_max_pool2d_1": (lambda: nn.AdaptiveMaxPool2d(1), (3, 4, 6)),
    "adaptive_max_pool2d_divisible": (lambda: nn.AdaptiveMaxPool2d((2, 3)), (3, 4, 6)),
    "group_norm": (lambda: nn.GroupNorm(2, 4), (4, 3, 5)),
    "group_norm_1d_no_affine": (lambda: nn.GroupNorm(3, 6, eps=1e-3, affine=False), (6, 7)),
    "instance_norm2d": (lambda: nn.InstanceNorm2d(4), (4, 3, 5)),
    "instance_norm2d_affine": (lambda: nn.InstanceNorm2d(4, affine=True), (4, 3, 5)),
    "instance_norm2d_running_stats": (lambda: _trained(nn.InstanceNorm2d(4, track_running_stats=True),
                                                       (2, 4, 3, 5)), (4, 3, 5)),
    "linear_relu": (lambda: _FusedLinear("relu"), (5,)),
    "linear_gelu_3d": (lambda: _FusedLinear("gelu"), (3, 5)),
    "linear_gelu_tanh_no_bias": (lambda: _FusedLinear("gelu_tanh", bias=False), (5,)),
    "linear_silu_3d": (lambda: _FusedLinear("silu"), (3, 5)),
    "layer_norm": (lambda: nn.LayerNorm(5), (3, 5)),
    "layer_norm_2d_no_bias": (lambda: nn.LayerNorm((3, 5), eps=1e-3, bias=False), (3, 5)),
    "layer_norm_no_affine": (lambda: nn.LayerNorm(5, elementwise_affine=False), (5,)),
    "rms_norm": (lambda: nn.RMSNorm(5), (3, 5)),
    "rms_norm_2d_eps": (lambda: nn.RMSNorm((3, 5), eps=1e-4), (3, 5)),
}


def _randomise(model) -> None:
    """Move every parameter off its init (unit scales, zero biases would hide a wrong affine)."""
    with tt.no_grad():
        for p in model.parameters():
            p.copy_(tt.randn(*p.shape) * 0.5 + 0.7)


# The lowerings whose ONNX form changes between opsets 13 and 17 (HardSwish arrives at 14, Shape's start/end at
# 15, LayerNormalization at 17; Resize, Pad, Clip and the Reduce*s are checked at every one).
_BY_OPSET = ["hardswish", "layer_norm", "layer_norm_2d_no_bias", "rms_norm", "upsample_nearest_size",
             "upsample_bilinear_align_corners", "group_norm", "instance_norm2d_running_stats", "hardtanh", "glu"]


def _export_and_compare(name: str, opset: int) -> None:
    make, shape = LAYERS[name]
    tt.manual_seed(0)
    model = make()
    _randomise(model)
    model.eval()
    f = io.BytesIO()
    tonnx.export(model, tt.randn(2, *shape), f, input_names=["x"], output_names=["y"],
                 dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for batch in (2, 3):
        x = tt.randn(batch, *shape)
        want = model(x).detach().numpy()
        (got,) = session.run(None, {"x": x.numpy()})
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_onnxruntime_with_a_dynamic_batch(name, opset):
    _export_and_compare(name, opset)


@pytest.mark.parametrize("opset", [14, 15, 16])
@pytest.mark.parametrize("name", _BY_OPSET)
def test_layers_whose_lowering_depends_on_the_opset(name, opset):
    _export_and_compare(name, opset)


def test_adaptive_max_pool2d_not_a_whole_factor_is_refused_by_name():
    with pytest.raises(tonnx.UnsupportedOperatorError, match="op 'adaptive_max_pool2d' from"):
        tonnx.export(nn.AdaptiveMaxPool2d((3, 4)), tt.randn(2, 3, 5, 6), io.BytesIO())


def test_interpolate_bicubic_is_refused_by_name():
    with pytest.raises(tonnx.UnsupportedOperatorError, match="op 'interpolate' with mode='bicubic'"):
        tonnx.export(_Interpolate(scale_factor=2, mode="bicubic"), tt.randn(2, 3, 4, 4), io.BytesIO())
