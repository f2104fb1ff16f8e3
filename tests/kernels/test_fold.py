"""kernels/fold.py: the im2col / col2im references against known values and each other (adjoint), then the
gather kernels in the interpreter against them: odd sizes, stride, padding, dilation, non-contiguous, dtypes."""

import numpy as np
import pytest
from tritensor.kernels import fold as K

from tests.conftest import as_device


def _blocks(size, k, d, p, s):
    return tuple((size[i] + 2 * p[i] - (d[i] * (k[i] - 1) + 1)) // s[i] + 1 for i in range(2))


def test_reference_known_values():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = K.unfold_ref(x, (2, 2), (1, 1), (0, 0), (1, 1), (2, 2))
    np.testing.assert_array_equal(cols[0], [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    # fold of ones counts how many patches cover each pixel
    cover = K.fold_ref(np.ones((1, 4, 4)), (3, 3), (2, 2), (1, 1), (0, 0), (1, 1), (2, 2))
    np.testing.assert_array_equal(cover[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_reference_fold_is_unfold_adjoint(rng):
    geom = ((2, 3), (2, 1), (1, 2), (2, 1))
    blocks = _blocks((6, 5), *geom)
    x = rng.standard_normal((2, 3, 6, 5))
    y = rng.standard_normal((2, 18, blocks[0] * blocks[1]))
    lhs = (K.unfold_ref(x, *geom, blocks) * y).sum()
    rhs = (x * K.fold_ref(y, (6, 5), *geom, blocks)).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


GEOMS = [((2, 2), (1, 1), (0, 0), (1, 1), (5, 7)), ((3, 2), (2, 1), (1, 2), (2, 3), (7, 6)),
         ((1, 3), (1, 3), (0, 1), (1, 2), (4, 9))]


@pytest.mark.parametrize("k,d,p,s,size", GEOMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_kernels_match_reference(k, d, p, s, size, dtype, rng):
    blocks = _blocks(size, k, d, p, s)
    x = rng.standard_normal((2, 3) + size[::-1]).astype(dtype).transpose(0, 1, 3, 2)  # non-contiguous
    cols = np.full((2, 3 * k[0] * k[1], blocks[0] * blocks[1]), np.nan, dtype)
    K.unfold(as_device(cols), as_device(x), k, d, p, s, blocks)
    np.testing.assert_array_equal(cols, K.unfold_ref(x, k, d, p, s, blocks))
    y = np.ascontiguousarray(rng.standard_normal((cols.shape[2], cols.shape[1], 2)).astype(dtype)).transpose(2, 1, 0)
    out = np.full((2, 3) + size, np.nan, dtype)
    K.fold(as_device(out), as_device(y), k, d, p, s, blocks)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(out.astype(np.float64), K.fold_ref(y, size, k, d, p, s, blocks).astype(np.float64),
                               rtol=tol, atol=tol)
