"""Shared by the indexing ops' tests: devices, conversions, NumPy coordinates of gather/scatter."""

import numpy as np

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, requires_grad=False):
    return tt.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def _along(index, dim):
    """NumPy coordinates of torch.gather/scatter: `index` along dim, the position elsewhere."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def _strided(rng, shape, dtype, device):
    """A non-contiguous tensor (a transpose of its storage) and its values."""
    a = (rng.standard_normal(shape[::-1]) * 4).astype(dtype.np)
    return a.T, tt.tensor(a, device=device).permute(*reversed(range(len(shape))))
