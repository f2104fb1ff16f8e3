"""tritensor.vision.utils: make_grid against a NumPy layout of torchvision's algorithm (cpu, and cuda under the
interpreter), normalisation, errors; save_image round trips through Pillow."""

import io
import math
import sys

import numpy as np
import pytest
from PIL import Image

import tritensor as tt
from tritensor.vision.utils import make_grid, save_image


def grid_ref(batch, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """torchvision's make_grid on a (B, C, H, W) NumPy batch."""
    b = batch.astype(np.float32).copy()
    if b.shape[1] == 1:
        b = np.concatenate([b] * 3, axis=1)
    if normalize:
        def norm(x):
            lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
            x[...] = (np.clip(x, lo, hi) - np.float32(lo)) / np.float32(max(hi - lo, 1e-5))
        for x in (b if scale_each else [b]):
            norm(x)
    if b.shape[0] == 1:
        return b[0]
    n, c, h, w = b.shape
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    grid = np.full((c, (h + padding) * ymaps + padding, (w + padding) * xmaps + padding), pad_value, np.float32)
    for k in range(n):
        y, x = divmod(k, xmaps)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = b[k]
    return grid


@pytest.mark.parametrize("shape,kwargs", [
    ((5, 3, 4, 3), dict(nrow=2, padding=1, pad_value=0.25)),
    ((5, 3, 4, 3), dict()),
    ((3, 1, 2, 5), dict(nrow=3, padding=0)),
    ((7, 3, 3, 3), dict(nrow=3, padding=3, normalize=True)),
    ((4, 2, 3, 3), dict(nrow=10, normalize=True, value_range=(-0.5, 0.5), pad_value=1.0)),
    ((4, 3, 3, 2), dict(nrow=2, normalize=True, scale_each=True)),
    ((3, 3, 2, 2), dict(normalize=True, value_range=(0.0, 1.0), scale_each=True)),
])
def test_make_grid_layout(rng, shape, kwargs):
    x = rng.standard_normal(shape).astype(np.float32)
    t = tt.tensor(x)
    got = make_grid(t, **kwargs)
    ref = grid_ref(x, **kwargs)
    assert tuple(got.shape) == ref.shape and got.dtype == tt.float32
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(t.numpy(), x)  # normalize works on a copy


def test_make_grid_inputs(rng):
    x = rng.random((3, 2, 4, 4)).astype(np.float32)
    as_list = make_grid([tt.tensor(a) for a in x], nrow=2)
    np.testing.assert_array_equal(as_list.numpy(), grid_ref(x, nrow=2))
    single = rng.random((1, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(make_grid(tt.tensor(single)).numpy(), np.concatenate([single] * 3))  # grey -> RGB
    np.testing.assert_array_equal(make_grid(tt.tensor(single[0])).numpy(), np.stack([single[0]] * 3))  # H x W
    rgb = rng.random((1, 3, 2, 2)).astype(np.float32)
    np.testing.assert_array_equal(make_grid(tt.tensor(rgb), padding=5).numpy(), rgb[0])  # one image: no padding
    u8 = make_grid(tt.tensor((x * 255).astype(np.uint8)), nrow=3, pad_value=7)
    assert u8.dtype == tt.uint8
    np.testing.assert_array_equal(u8.numpy(), grid_ref((x * 255).astype(np.uint8), nrow=3, pad_value=7))


def test_make_grid_cuda_matches_cpu(rng):
    x = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    cpu = make_grid(tt.tensor(x), nrow=2, padding=1, normalize=True, pad_value=0.5)
    gpu = make_grid(tt.tensor(x, device="cuda"), nrow=2, padding=1, normalize=True, pad_value=0.5)
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-6, atol=1e-7)


def test_make_grid_errors():
    with pytest.raises(TypeError, match="^tensor or list of tensors expected, got <class 'numpy.ndarray'>$"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="tensor or list of tensors expected, got a list containing <class 'int'>"):
        make_grid([tt.zeros(3, 2, 2), 1])
    with pytest.raises(TypeError, match="^value_range has to be a tuple \\(min, max\\) if specified"):
        make_grid(tt.zeros(2, 3, 2, 2), normalize=True, value_range=[0, 1])


def test_save_image_round_trip(tmp_path, rng):
    x = rng.random((4, 3, 5, 6)).astype(np.float32) * 1.2 - 0.1  # some values outside [0, 1]: clamped
    path = tmp_path / "grid.png"
    save_image(tt.tensor(x), path, nrow=2, padding=1)
    back = np.asarray(Image.open(path))
    ref = np.clip(grid_ref(x, nrow=2, padding=1) * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(back, ref.transpose(1, 2, 0))
    buf = io.BytesIO()
    save_image(tt.tensor(x[0]), buf, format="png")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buf.getvalue()))),
                                  np.clip(x[0] * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
                                  .transpose(1, 2, 0))


def test_save_image_needs_pillow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="save_image needs Pillow"):
        save_image(tt.zeros(3, 2, 2), tmp_path / "x.png")
