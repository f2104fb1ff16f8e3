"""nn.Upsample / UpsamplingNearest2d / UpsamplingBilinear2d / PixelShuffle / PixelUnshuffle: no state, PyTorch's
reprs, and forward equal to the functionals; F.affine_grid against a NumPy meshgrid reference (2-D and 3-D, both
align_corners), gradcheck in theta, its warnings and errors."""

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn.functional as F
from tritensor import nn
from tritensor.autograd import gradcheck


def test_upsample_modules(rng):
    x = tt.tensor(rng.standard_normal((1, 2, 3, 4)).astype(np.float32))
    m = nn.Upsample(scale_factor=2, mode="bilinear")
    assert repr(m) == "Upsample(scale_factor=2.0, mode='bilinear')" and m.state_dict() == {}
    np.testing.assert_array_equal(m(x).numpy(), F.interpolate(x, scale_factor=2.0, mode="bilinear").numpy())
    assert repr(nn.Upsample(size=(5, 6))) == "Upsample(size=(5, 6), mode='nearest')"
    m = nn.Upsample(scale_factor=1.7, recompute_scale_factor=True)
    np.testing.assert_array_equal(m(x).numpy(), F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True).numpy())
    near = nn.UpsamplingNearest2d(scale_factor=2)
    assert repr(near) == "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"
    np.testing.assert_array_equal(near(x).numpy(), x.numpy().repeat(2, 2).repeat(2, 3))
    bil = nn.UpsamplingBilinear2d(size=(5, 7))
    assert repr(bil) == "UpsamplingBilinear2d(size=(5, 7), mode='bilinear')" and bil.align_corners is True
    np.testing.assert_array_equal(bil(x).numpy(),
                                  F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True).numpy())
    assert nn.Upsample(scale_factor=2).train().training and not nn.Upsample(scale_factor=2).eval().training


def test_pixel_shuffle_modules():
    x = tt.arange(16.0).reshape(1, 4, 2, 2)
    ps, pu = nn.PixelShuffle(2), nn.PixelUnshuffle(2)
    assert repr(ps) == "PixelShuffle(upscale_factor=2)" and repr(pu) == "PixelUnshuffle(downscale_factor=2)"
    assert ps.state_dict() == {} and pu.state_dict() == {}
    np.testing.assert_array_equal(pu(ps(x)).numpy(), x.numpy())


def _affine_ref(theta: np.ndarray, spatial: tuple, align: bool) -> np.ndarray:
    def lin(n):
        c = np.linspace(-1, 1, n) if n > 1 else np.zeros(n)
        return c if align else c * (n - 1) / n
    axes = [lin(n) for n in reversed(spatial)]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # x varies along the last dim
    base = np.stack(list(mesh) + [np.ones(spatial)], -1)
    return np.einsum("...k,njk->n...j", base, theta)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_values(device, align, rng):
    th = rng.standard_normal((2, 2, 3))
    g = F.affine_grid(tt.tensor(th, device=device), (2, 4, 3, 5), align_corners=align)
    assert g.shape == (2, 3, 5, 2)
    np.testing.assert_allclose(g.cpu().numpy(), _affine_ref(th, (3, 5), align), atol=1e-12)
    th3 = rng.standard_normal((1, 3, 4))
    g3 = F.affine_grid(tt.tensor(th3, device=device), (1, 1, 2, 3, 4), align_corners=align)
    np.testing.assert_allclose(g3.cpu().numpy(), _affine_ref(th3, (2, 3, 4), align), atol=1e-12)


def test_affine_grid_gradcheck_and_warnings(rng):
    th = tt.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 2), align_corners=False), (th,))
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.affine_grid(th.detach(), (2, 1, 3, 2))
    with pytest.warns(UserWarning, match="affine_grid behavior has changed for unit-size grids"):
        F.affine_grid(th.detach(), (2, 1, 1, 2), align_corners=True)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.affine_grid(tt.zeros(1, 2, 3, dtype=tt.int64), (1, 1, 2, 2), False), ValueError,
     "Expected theta to have floating point type, but got tritensor.int64"),
    (lambda: F.affine_grid(tt.zeros(1, 3, 3), (1, 1, 2, 2), False), ValueError,
     "Expected a batch of 2D affine matrices of shape Nx2x3 for size [1, 1, 2, 2]. Got"),
    (lambda: F.affine_grid(tt.zeros(1, 2, 3), (1, 1, 2, 2, 2), False), ValueError,
     "Expected a batch of 3D affine matrices of shape Nx3x4 for size"),
    (lambda: F.affine_grid(tt.zeros(1, 2, 3), (1, 1, 2), False), NotImplementedError,
     "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. Got size [1, 1, 2]."),
    (lambda: F.affine_grid(tt.zeros(1, 2, 3), (1, 1, 0, 2), False), ValueError,
     "Expected non-zero, positive output size. Got [1, 1, 0, 2]"),
])
def test_affine_grid_errors(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)


def test_fold_modules(rng):
    x = tt.tensor(rng.standard_normal((1, 2, 4, 4)))
    u = nn.Unfold(kernel_size=2, stride=2)
    f = nn.Fold(output_size=(4, 4), kernel_size=2, stride=2)
    assert repr(u) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=2)" and u.state_dict() == {}
    assert repr(f) == "Fold(output_size=(4, 4), kernel_size=2, dilation=1, padding=0, stride=2)"
    np.testing.assert_array_equal(f(u(x)).numpy(), x.numpy())
