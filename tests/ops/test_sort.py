"""sort/argsort/msort/topk on cpu and interpreted cuda against NumPy: stability, NaN/inf/-0.0, edge cases and
errors, backward, gradcheck; and the kernels-not-NumPy check for scan and sort."""

import numpy as np
import pytest
from tritensor.kernels import scan as KS
from tritensor.kernels import sort as KSort

import tritensor as tt
from tests.ops.scan_sort_helpers import DEVICES, _np


def _stable_order(a, axis, descending):
    """Stable argsort with PyTorch's order: NaN last ascending and first descending, ties in input order."""
    a = np.moveaxis(a, axis, -1)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    value = np.where(nan, 0, a).astype(np.float64)
    keys = (-value, ~nan) if descending else (value, nan)  # lexsort: the last key is the primary one
    return np.moveaxis(np.lexsort(keys, axis=-1), -1, axis)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16, tt.int32, tt.int64, tt.uint8,
                                   tt.bool])
def test_sort_argsort_msort_are_stable(rng, device, dtype):
    """Few distinct values, so most elements tie: the indices must be those of a stable sort."""
    a = rng.integers(0, 2 if dtype is tt.bool else 4, (8, 3)).astype(dtype.np)
    x = tt.tensor(a, device=device).t()  # (3, 8), rows strided
    a = a.T
    for dim, descending in ((-1, False), (1, True), (0, False)):
        values, indices = x.sort(dim, descending=descending)
        order = _stable_order(a, dim, descending)
        assert values.dtype is dtype and indices.dtype is tt.int64 and values.shape == x.shape
        np.testing.assert_array_equal(_np(indices), order)
        np.testing.assert_array_equal(_np(values), np.take_along_axis(a, order, dim).astype(_np(values).dtype))
    np.testing.assert_array_equal(_np(tt.argsort(x, 0, descending=True)), _stable_order(a, 0, True))
    np.testing.assert_array_equal(_np(x.argsort(stable=True)), _stable_order(a, -1, False))
    np.testing.assert_array_equal(_np(x.msort()), np.take_along_axis(a, _stable_order(a, 0, False), 0))


@pytest.mark.parametrize("device", DEVICES)
def test_sort_nan_inf_and_signed_zero(device):
    nan, inf = float("nan"), float("inf")
    a = np.array([[3.0, nan, -inf, 0.0, inf, -0.0, nan, -2.5]])
    x = tt.tensor(a, device=device)
    v, i = x.sort()
    assert i.tolist() == [[2, 7, 3, 5, 0, 4, 1, 6]]  # -0.0 and 0.0 tie: input order kept
    assert _np(v)[0, :6].tolist() == [-inf, -2.5, 0.0, 0.0, 3.0, inf] and np.isnan(_np(v)[0, 6:]).all()
    v, i = x.sort(descending=True)
    assert i.tolist() == [[1, 6, 4, 0, 3, 5, 7, 2]]  # NaN first when descending, as PyTorch
    v, i = x.topk(3)
    assert i.tolist() == [[1, 6, 4]] and np.isnan(_np(v)[0, :2]).all() and v[0, 2].item() == inf
    assert x.topk(2, largest=False).indices.tolist() == [[2, 7]]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.int64])
def test_topk(rng, device, dtype):
    a = rng.integers(-4, 5, (5, 4)).astype(dtype.np)  # ties: the lower index comes first
    x = tt.tensor(a, device=device).t()
    a = a.T
    for k, dim, largest in ((1, -1, True), (3, 1, False), (5, 1, True), (2, 0, True), (0, -1, False)):
        values, indices = tt.topk(x, k, dim, largest=largest)
        order = np.take(_stable_order(a, dim, largest), np.arange(k), axis=dim)
        assert values.shape == order.shape and indices.dtype is tt.int64 and values.dtype is dtype
        np.testing.assert_array_equal(_np(indices), order)
        np.testing.assert_array_equal(_np(values), np.take_along_axis(a, order, dim))
    r = x.topk(2, sorted=False)
    assert type(r).__name__ == "topk" and r.values is r[0] and "return_types.topk" in repr(r)


@pytest.mark.parametrize("device", DEVICES)
def test_sort_edge_cases_and_errors(rng, device):
    s = tt.tensor(1.5, device=device)
    assert s.sort().values.item() == 1.5 and s.sort().indices.item() == 0 and s.topk(1).values.item() == 1.5
    e = tt.zeros(2, 0, device=device)
    assert e.sort().values.shape == (2, 0) and e.topk(0).indices.shape == (2, 0)
    assert tt.zeros(0, 4, device=device).sort(1).indices.shape == (0, 4)
    a = rng.standard_normal((2, 300)).astype(np.float32)
    x = tt.tensor(a, device=device)
    np.testing.assert_array_equal(_np(x.sort(1, descending=True).values), -np.sort(-a, axis=1))
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(301)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sort(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.argsort(-3)
    long = tt.tensor(rng.standard_normal((2, 5000)).astype(np.float32), device=device)
    if device == "cpu":  # NumPy sorts any row length
        np.testing.assert_array_equal(_np(long.sort().values), np.sort(_np(long), axis=1))
        np.testing.assert_array_equal(_np(long.topk(4).indices), np.argsort(-_np(long), axis=1)[:, :4])
    else:
        for call in (long.sort, long.argsort, lambda: long.topk(3)):
            with pytest.raises(NotImplementedError, match=f"limited to {KSort.MAX_SORT_R} elements"):
                call()


@pytest.mark.parametrize("device", DEVICES)
def test_sort_topk_backward(rng, device):
    a = rng.standard_normal((2, 3, 4))
    g_sort, g_top = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))
    for create_graph in (False, True):
        x = tt.tensor(a, device=device).requires_grad_()
        v, i = x.sort(2, descending=True)
        (gx,) = tt.autograd.grad(v, x, tt.tensor(g_sort, device=device), create_graph=create_graph)
        expected = np.zeros_like(a)
        np.put_along_axis(expected, _np(i), g_sort, axis=2)
        np.testing.assert_array_equal(_np(gx), expected)
        v, i = x.permute(0, 2, 1).topk(2, dim=2)  # strided rows; the rest of each row gets zeros
        (gx,) = tt.autograd.grad(v, x, tt.tensor(g_top.transpose(0, 2, 1), device=device),
                                 create_graph=create_graph)
        expected = np.zeros((2, 4, 3))
        np.put_along_axis(expected, _np(i), g_top.transpose(0, 2, 1), axis=2)
        np.testing.assert_array_equal(_np(gx), expected.transpose(0, 2, 1))


def test_sort_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), dtype=tt.float64, requires_grad=True)
    for fn in (lambda t: t.sort(1).values, lambda t: t.sort(0, descending=True).values,
               lambda t: t.topk(2, 1).values, lambda t: t.topk(1, 0, largest=False).values, lambda t: t.msort()):
        assert tt.autograd.gradcheck(fn, (x,))
    assert tt.autograd.gradgradcheck(lambda t: t.sort(1).values, (x,))
    assert tt.autograd.gradgradcheck(lambda t: t.topk(2, 0).values, (x,))


def test_cuda_runs_kernels_not_numpy(rng, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a NumPy reference ran for a cuda tensor")

    for module in (KS, KSort):
        for name in dir(module):
            if name.endswith("_ref"):
                monkeypatch.setattr(module, name, forbidden)
    x = tt.tensor(rng.standard_normal((3, 4)), device="cuda", requires_grad=True)
    loss = x.cumsum(1).sum() + x.cumprod(0).sum() + x.sort(1).values[:, 0].sum() + x.topk(2, 0).values.sum()
    loss.backward()
    assert x.grad.shape == (3, 4) and x.argsort().dtype is tt.int64
