"""kernels/grid_sample.py: the references against known values and central finite differences (input and grid
gradients), then the forward / backward kernels in the interpreter against them: both modes, both paddings,
both align_corners, non-contiguous operands, fp16/bf16/fp64."""

import numpy as np
import pytest
from tritensor.kernels import grid_sample as K

from tests.conftest import as_device


def _identity_grid(h, w, align):
    xs, ys = (np.linspace(-1, 1, n) if align else (np.arange(n) * 2 + 1) / n - 1 for n in (w, h))
    return np.stack(np.meshgrid(xs, ys), -1)[None]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("mode", [0, 1])
def test_reference_identity_grid_and_known_values(align, mode, rng):
    x = rng.standard_normal((1, 2, 3, 5))
    np.testing.assert_allclose(K.grid_sample_ref(x, _identity_grid(3, 5, align), mode, 0, align), x, atol=1e-12)
    # the midpoint of 4 pixels (align_corners=True) averages them; outside with zeros padding reads 0
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    g = np.array([[[[0.0, 0.0], [3.0, 0.0]]]])
    out = K.grid_sample_ref(x, g, 0, 0, True)
    np.testing.assert_allclose(out[0, 0, 0], [1.5, 0.0])
    np.testing.assert_allclose(K.grid_sample_ref(x, g, 0, 1, True)[0, 0, 0], [1.5, 2.0])  # border: clipped to x=1


def test_reference_nearest_rounds_half_to_even():
    x = np.arange(4.0).reshape(1, 1, 1, 4)
    # align_corners=True: x = (g + 1) * 1.5 -> 0.5, 1.5, 2.5 round to 0, 2, 2
    g = np.array([[[[-2 / 3, 0.0], [0.0, 0.0], [2 / 3, 0.0]]]])
    np.testing.assert_array_equal(K.grid_sample_ref(x, g, 1, 0, True)[0, 0, 0], [0, 2, 2])


@pytest.mark.parametrize("pad", [0, 1])
def test_reference_gradients_finite_differences(pad, rng):
    x = rng.standard_normal((1, 2, 4, 3))
    grid = rng.uniform(-1.3, 1.3, (1, 2, 3, 2))
    g = rng.standard_normal((1, 2, 2, 3))
    gin, ggrid = K.grid_sample_backward_ref(g, x, grid, 0, pad, False)
    eps = 1e-6
    for arr, grad in ((x, gin), (grid, ggrid)):
        for idx in [(0, 0, 0, 0), (0, 1, 1, 1), (0, 1, 2, 1)]:
            d = np.zeros_like(arr)
            d[idx] = eps
            args = [(x + d, grid), (x - d, grid)] if arr is x else [(x, grid + d), (x, grid - d)]
            fd = ((K.grid_sample_ref(*args[0], 0, pad, False) - K.grid_sample_ref(*args[1], 0, pad, False)) * g).sum()
            np.testing.assert_allclose(grad[idx], fd / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode,pad,align", [(0, 0, False), (0, 1, True), (1, 0, True), (1, 1, False)])
def test_kernels_match_reference(mode, pad, align, rng):
    x = rng.standard_normal((2, 3, 4, 5)).transpose(0, 1, 3, 2)  # (2, 3, 5, 4), non-contiguous
    grid = rng.uniform(-1.2, 1.2, (2, 2, 3, 7)).transpose(0, 3, 2, 1)  # (2, 7, 3, 2), non-contiguous
    out = np.full((2, 3, 7, 3), np.nan)
    K.grid_sample(as_device(out), as_device(x), as_device(grid), mode, pad, align)
    np.testing.assert_allclose(out, K.grid_sample_ref(x, grid, mode, pad, align), atol=1e-12)
    g = rng.standard_normal((2, 3, 3, 7)).transpose(0, 1, 3, 2)
    gin, ggrid = np.zeros((2, 3, 5, 4)), np.full((2, 7, 3, 2), np.nan)
    K.grid_sample_backward(as_device(gin), as_device(ggrid), as_device(g), as_device(x), as_device(grid), mode, pad,
                           align)
    rgin, rggrid = K.grid_sample_backward_ref(g, x, grid, mode, pad, align)
    np.testing.assert_allclose(gin, rgin, atol=1e-12)
    np.testing.assert_allclose(ggrid, rggrid, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_kernels_half_and_single(dtype, rng):
    x = rng.standard_normal((1, 2, 5, 6)).astype(dtype)
    grid = rng.uniform(-1, 1, (1, 4, 3, 2)).astype(dtype)
    out = np.zeros((1, 2, 4, 3), dtype)
    K.grid_sample(as_device(out), as_device(x), as_device(grid), 0, 0, False)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(out.astype(np.float64), K.grid_sample_ref(x, grid, 0, 0, False).astype(np.float64),
                               rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    gin, ggrid = np.zeros(x.shape, np.float32), np.zeros(grid.shape, dtype)
    K.grid_sample_backward(as_device(gin), as_device(ggrid), as_device(g), as_device(x), as_device(grid), 0, 0, False)
    rgin, rggrid = K.grid_sample_backward_ref(g, x, grid, 0, 0, False)
    np.testing.assert_allclose(gin, rgin.astype(np.float32), rtol=tol, atol=tol)
    np.testing.assert_allclose(ggrid.astype(np.float64), rggrid.astype(np.float64), rtol=tol * 4, atol=tol * 4)
