"""F.interpolate through the op layer: size / scale_factor resolution, cpu and cuda (interpreted) against the
reference, float64 gradcheck of every mode (and of the backward's own backward), cuda backward vs cpu, grad_fn
names and PyTorch's errors."""

import numpy as np
import pytest
from tritensor.kernels import interpolate as K

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck, gradgradcheck

MODES_4D = ["nearest", "nearest-exact", "bilinear", "bicubic", "area"]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_forward_known_values(device):
    x = tt.arange(4.0, device=device).reshape(1, 1, 4)
    y = F.interpolate(x, scale_factor=2, mode="linear")
    np.testing.assert_allclose(y.cpu().numpy()[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-7)
    r = tt.arange(12.0, dtype=tt.float64, device=device).reshape(1, 1, 3, 4)
    y = F.interpolate(r, size=(5, 7), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(y.cpu().numpy()[0, 0], np.arange(5)[:, None] * 2.0 + np.arange(7) * 0.5, atol=1e-6)
    a = F.interpolate(tt.arange(6.0, device=device).reshape(1, 1, 6), scale_factor=0.5, mode="area")
    np.testing.assert_allclose(a.cpu().numpy()[0, 0], [0.5, 2.5, 4.5])


def test_scale_factor_semantics():
    x = tt.arange(4.0).reshape(1, 1, 4)
    # 1/scale_factor maps the source; recompute_scale_factor=True uses in/out instead
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2.6).numpy()[0, 0], [0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2.6, recompute_scale_factor=True).numpy()[0, 0],
                                  [0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    y = F.interpolate(tt.zeros(2, 3, 5, 7, 4), scale_factor=(1.5, 0.5, 2), mode="trilinear")
    assert y.shape == (2, 3, 7, 3, 8)
    assert F.interpolate(tt.zeros(1, 2, 5), size=9).shape == (1, 2, 9)


@pytest.mark.parametrize("mode", MODES_4D)
def test_cpu_cuda_forward_backward_agree(mode, rng):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    g = rng.standard_normal((2, 3, 7, 4)).astype(np.float32)
    outs, grads = [], []
    for device in ("cpu", "cuda"):
        xt = tt.tensor(x, device=device, requires_grad=True)
        y = F.interpolate(xt, size=(7, 4), mode=mode)
        y.backward(tt.tensor(g, device=device))
        outs.append(y.detach().cpu().numpy())
        grads.append(xt.grad.cpu().numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(grads[1], grads[0], rtol=2e-6, atol=4e-6)


GRADCHECK = [
    ("linear", (1, 2, 5), dict(size=7, align_corners=True)),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=1.5)),
    ("bicubic", (1, 1, 3, 4), dict(size=(2, 5))),
    ("trilinear", (1, 1, 3, 2, 3), dict(scale_factor=(1.5, 2, 0.7))),
    ("nearest", (1, 2, 3, 5), dict(size=(5, 2))),
    ("area", (1, 2, 5, 4), dict(size=(3, 3))),
]


@pytest.mark.parametrize("device,mode,shape,kw", [("cpu",) + c for c in GRADCHECK] +
                         [("cuda", "bilinear", (1, 1, 3, 2), dict(size=(2, 3)))])
def test_gradcheck_float64(device, mode, shape, kw, rng):
    x = tt.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, **kw), (x,))


def test_gradgradcheck_and_grad_fn_names(rng):
    x = tt.tensor(rng.standard_normal((1, 1, 3, 4)), requires_grad=True)
    assert gradgradcheck(lambda t: F.interpolate(t, size=(5, 3), mode="bilinear"), (x,))
    names = {"nearest": "UpsampleNearest2DBackward0", "nearest-exact": "UpsampleNearestExact2DBackward0",
             "bilinear": "UpsampleBilinear2DBackward0", "bicubic": "UpsampleBicubic2DBackward0",
             "area": "AdaptiveAvgPool2DBackward0"}
    for mode, name in names.items():
        assert F.interpolate(x, size=(5, 3), mode=mode).grad_fn.name() == name
    assert F.interpolate(tt.zeros(1, 1, 2, requires_grad=True), size=3, mode="linear").grad_fn.name() == \
        "UpsampleLinear1DBackward0"


def test_float16_cuda_matches_reference(rng):
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float16)
    y = F.interpolate(tt.tensor(x, device="cuda"), size=(9, 4), mode="bicubic", align_corners=True)
    scales = [4 / 8, 5 / 3]
    np.testing.assert_allclose(y.cpu().numpy().astype(np.float64),
                               K.interpolate_ref(x, (9, 4), "cubic", True, scales).astype(np.float64), atol=2e-3)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: F.interpolate(x, size=3, scale_factor=2), ValueError, "only one of size or scale_factor should be"),
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor should be defined"),
    (lambda x: F.interpolate(x, size=3, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"),
    (lambda x: F.interpolate(x, size=(3,)), ValueError,
     "Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of"
     " [4, 5] and output size of (3,)."),
    (lambda x: F.interpolate(x, scale_factor=(2, 2, 2)), ValueError,
     "Input and scale_factor must have the same number of spatial dimensions"),
    (lambda x: F.interpolate(x, size=(3, 2.5)), TypeError, "expected size to be one of int or Tuple[int]"),
    (lambda x: F.interpolate(x, size=3, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor is not meaningful with an explicit size."),
    (lambda x: F.interpolate(x, size=3, mode="linear"), NotImplementedError, "Got 4D input, but linear mode needs 3D"),
    (lambda x: F.interpolate(x, size=3, mode="trilinear"), NotImplementedError,
     "Got 4D input, but trilinear mode needs 5D input"),
    (lambda x: F.interpolate(x[0], size=3, mode="bilinear"), NotImplementedError,
     "Got 3D input, but bilinear mode needs 4D input"),
    (lambda x: F.interpolate(x[0], size=3, mode="bicubic"), NotImplementedError,
     "Input Error: Only 3D, 4D and 5D input Tensors supported (got 3D) for the modes"),
    (lambda x: F.interpolate(x, size=3, mode="cubic"), NotImplementedError, "(got cubic)"),
    (lambda x: F.interpolate(x, size=3, mode="nearest", antialias=True), ValueError,
     "Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor as input"),
    (lambda x: F.interpolate(x, size=3, mode="bilinear", antialias=True), NotImplementedError, "antialias=True"),
    (lambda x: F.interpolate(x, size=(0, 3)), RuntimeError,
     "Input and output sizes should be greater than 0, but got input (H: 4, W: 5) output (H: 0, W: 3)"),
    (lambda x: F.interpolate(x.long(), size=3, mode="bilinear"), RuntimeError, "not implemented for 'Long'"),
])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_errors(call, exc, msg, device):
    with pytest.raises(exc) as info:
        call(tt.zeros(1, 2, 4, 5, device=device))
    assert msg in str(info.value)


def test_deprecated_upsample_warns():
    x = tt.arange(4.0).reshape(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="nn.functional.upsample_bilinear` is deprecated"):
        y = F.upsample_bilinear(x, scale_factor=2)
    np.testing.assert_allclose(y.numpy()[0, 0, 0], [0, 1 / 3, 2 / 3, 1], atol=1e-6)
    with pytest.warns(UserWarning, match="nn.functional.upsample` is deprecated"):
        assert F.upsample(x, size=3).shape == (1, 1, 3, 3)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        assert F.upsample_nearest(x, scale_factor=2).shape == (1, 1, 4, 4)
