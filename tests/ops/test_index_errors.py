"""Errors of the indexing ops: PyTorch's exception types and messages on cpu and interpreted cuda."""

import re

import numpy as np
import pytest

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np


# ================================================================ errors
@pytest.mark.parametrize("device", DEVICES)
def test_index_errors(device):
    x = tt.zeros(5, 3, device=device)
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"):
        x[tt.tensor([1, 7], device=device)]
    with pytest.raises(IndexError, match="index -6 is out of bounds for dimension 0 with size 5"):
        x[[-6]] = 1.0
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):  # as PyTorch
        x.gather(1, tt.tensor([[0, 3]], device=device))
    with pytest.raises(IndexError, match="^index out of range in self$"):
        x.index_select(0, tt.tensor([5], device=device))
    with pytest.raises(IndexError, match="^out of range: tried to access index 15 on a tensor of 15 elements.$"):
        x.take(tt.tensor([15], device=device))
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[tt.tensor([1.0], device=device)]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[[0], [0], [0]]
    with pytest.raises(IndexError, match="shape of the mask \\[4\\] at index 0 does not match"):
        x[tt.ones(4, dtype=tt.bool, device=device)]
    with pytest.raises(IndexError, match="shape mismatch: indexing tensors could not be broadcast"):
        x[tt.tensor([0, 1], device=device), tt.tensor([0, 1, 2], device=device)]
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape \\[4\\] cannot be broadcast"):
        x[[0, 1]] = tt.zeros(4, device=device)
    with pytest.raises(RuntimeError, match="gather\\(\\): Expected dtype int64 for index"):
        x.gather(0, tt.tensor([[0]], dtype=tt.int32, device=device))
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        x.gather(0, tt.tensor([0], device=device))
    with pytest.raises(RuntimeError, match="Size does not match at dimension 1"):
        x.gather(0, tt.zeros(1, 4, dtype=tt.int64, device=device))
    with pytest.raises(RuntimeError, match="scatter\\(\\): Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, tt.zeros(1, 3, dtype=tt.int64, device=device), tt.zeros(1, 3, dtype=tt.float64, device=device))
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        x.masked_fill(tt.ones(3, device=device), 0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(tt.ones(3, dtype=tt.bool, device=device), tt.zeros(1, device=device))
    with pytest.raises(RuntimeError, match="Number of indices \\(2\\) should be equal to source.size"):
        x.index_add(0, tt.tensor([0, 1], device=device), tt.ones(3, 3, device=device))
    with pytest.raises(RuntimeError, match="index_select\\(\\): Expected dtype int32 or int64"):
        x.index_select(0, tt.tensor([0.0], device=device))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        tt.one_hot(tt.tensor([3], device=device), 3)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        tt.one_hot(tt.tensor([1], dtype=tt.int32, device=device))
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        x.index_put((tt.tensor([0], device=device),), tt.zeros(3, dtype=tt.float64, device=device))
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x.gather(0, tt.zeros(1, 3, dtype=tt.int64, device=other))


def test_cuda_indexing_runs_triton_kernels_not_numpy(monkeypatch):
    """Under the interpreter, cuda indexing ops must go through the Triton kernels: every NumPy reference of
    the indexing kernels modules is disabled here."""
    from tritensor.kernels import advanced_index, gather_scatter, index_select, masked

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    for module in (advanced_index, gather_scatter, index_select, masked):
        for name in dir(module):
            if name.endswith("_ref"):
                monkeypatch.setattr(module, name, forbidden)
    x = tt.arange(12.0, device="cuda").reshape(3, 4).requires_grad_()
    i = tt.tensor([2, 0, 2], device="cuda")
    m = tt.tensor([True, False, True], device="cuda")
    y = x[i].sum() + x[m, 1:].sum() + x.gather(1, i[None]).sum() + x.index_select(1, i).sum() + x.take(i).sum()
    y = y + x.masked_fill(m[:, None], 0.0).sum() + x.masked_select(m[:, None]).sum()
    y = y + x.scatter_add(0, i[None], x).sum()
    y.backward()
    z = x.detach().clone()
    z[i, 1] = 5.0
    assert y.item() > 0 and x.grad.shape == (3, 4) and z[2, 1].item() == 5.0
    assert tt.nonzero(m).tolist() == [[0], [2]] and tt.one_hot(i).tolist()[1] == [1, 0, 0]


# ================================================================ out-of-range indices, op by op
def _setitem(x, key, value):
    x[key] = value


# (name, call(x, i, v) with i(values, dtype) an index tensor and v(values) a value tensor on x's device,
#  PyTorch's cpu exception type, its message). x is arange(15.0).reshape(5, 3).
OUT_OF_RANGE = [
    ("gather", lambda x, i, v: x.gather(1, i([[0, 3]])), RuntimeError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    ("gather rejects negatives", lambda x, i, v: x.gather(0, i([[-1, 0, 0]])), RuntimeError,
     "index -1 is out of bounds for dimension 0 with size 5"),
    ("scatter", lambda x, i, v: x.scatter(0, i([[5, 0, 0]]), x), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 5"),
    ("scatter value", lambda x, i, v: x.scatter(1, i([[0], [-1]]), 2.0), RuntimeError,
     "index -1 is out of bounds for dimension 1 with size 3"),
    ("scatter add", lambda x, i, v: x.scatter(0, i([[0, 7, 0]]), x, reduce="add"), RuntimeError,
     "index 7 is out of bounds for dimension 0 with size 5"),
    ("scatter multiply", lambda x, i, v: x.scatter(0, i([[0, 0, 6]]), x, reduce="multiply"), RuntimeError,
     "index 6 is out of bounds for dimension 0 with size 5"),
    ("scatter_add", lambda x, i, v: x.scatter_add(1, i([[3]]), x), RuntimeError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    ("index_select", lambda x, i, v: x.index_select(0, i([1, 5])), IndexError, "index out of range in self"),
    ("index_select rejects negatives", lambda x, i, v: x.index_select(0, i([-1])), IndexError,
     "index out of range in self"),
    ("index_select dim 1 (PyTorch's fast path)", lambda x, i, v: x.index_select(1, i([3])), RuntimeError,
     "INDICES element is out of DATA bounds, id=3 axis_dim=3"),
    ("index_select 1-d", lambda x, i, v: x[0].index_select(0, i([3], tt.int32)), IndexError,
     "index out of range in self"),
    ("index_select of an empty tensor", lambda x, i, v: x[:, :0].index_select(0, i([5])), RuntimeError,
     "INDICES element is out of DATA bounds, id=5 axis_dim=5"),
    ("index_add (PyTorch's scatter_add path)", lambda x, i, v: x.index_add(0, i([5]), v([[1.0] * 3])), RuntimeError,
     "index 5 is out of bounds for dimension 0 with size 5"),
    ("index_add rejects negatives", lambda x, i, v: x.index_add(1, i([-1]), v([[1.0]] * 5)), RuntimeError,
     "index -1 is out of bounds for dimension 1 with size 3"),
    ("index_add alpha", lambda x, i, v: x.index_add(0, i([5]), v([[1.0] * 3]), alpha=2), IndexError,
     "index out of range in self"),
    ("index_add int32 index", lambda x, i, v: x.index_add(0, i([5], tt.int32), v([[1.0] * 3])), IndexError,
     "index out of range in self"),
    ("index_add 1-d", lambda x, i, v: x[0].index_add(0, i([3]), v([1.0])), IndexError, "index out of range in self"),
    ("index_fill", lambda x, i, v: x.index_fill(1, i([3]), 1.0), IndexError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    ("index_fill negative", lambda x, i, v: x.index_fill(0, i([-6]), v(1.0)), IndexError,
     "index -6 is out of bounds for dimension 0 with size 5"),
    ("take", lambda x, i, v: x.take(i([[15]])), IndexError,
     "out of range: tried to access index 15 on a tensor of 15 elements."),
    ("take negative", lambda x, i, v: x.take(i([-16])), IndexError,
     "out of range: tried to access index -16 on a tensor of 15 elements."),
    ("x[idx]", lambda x, i, v: x[i([1, 7])], IndexError, "index 7 is out of bounds for dimension 0 with size 5"),
    ("x[idx] names the index tensor, not the dim", lambda x, i, v: x[:, i([3])], IndexError,
     "index 3 is out of bounds for dimension 0 with size 3"),
    ("x[i, j]", lambda x, i, v: x[i([1]), i([-4])], IndexError,
     "index -4 is out of bounds for dimension 1 with size 3"),
    ("x[i, j] = v", lambda x, i, v: _setitem(x, (i([0]), i([3])), 1.0), IndexError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    ("x[idx] = tensor", lambda x, i, v: _setitem(x, i([5]), v([0.0, 1.0, 2.0])), IndexError,
     "index 5 is out of bounds for dimension 0 with size 5"),
    ("index_put", lambda x, i, v: x.index_put((i([9]),), v(1.0)), IndexError,
     "index 9 is out of bounds for dimension 0 with size 5"),
    ("index_put accumulate", lambda x, i, v: x.index_put((i([0]), i([-5])), v(1.0), accumulate=True), IndexError,
     "index -5 is out of bounds for dimension 1 with size 3"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", range(len(OUT_OF_RANGE)), ids=[c[0] for c in OUT_OF_RANGE])
def test_out_of_range_raises_pytorch_error(device, case):
    _, call, exc_type, message = OUT_OF_RANGE[case]
    x = tt.arange(15.0, device=device).reshape(5, 3)

    def i(values, dtype=tt.int64):
        return tt.tensor(values, dtype=dtype, device=device)

    def v(values):
        return tt.tensor(values, device=device)

    with pytest.raises(exc_type, match=f"^{re.escape(message)}$") as info:
        call(x, i, v)
    assert type(info.value) is exc_type
    # The error is consumed: valid calls afterwards run and synchronise without raising it again.
    a = np.arange(15.0).reshape(5, 3)
    np.testing.assert_array_equal(_np(x.gather(1, i([[2, 0]] * 5))), a[:, [2, 0]])
    np.testing.assert_array_equal(_np(x[i([-1, 0])]), a[[-1, 0]])
    assert x.sum().item() == a.sum() or "=" in OUT_OF_RANGE[case][0]  # assignments may have written valid lanes


@pytest.mark.parametrize("device", DEVICES)
def test_negative_indices_wrap_where_pytorch_wraps(device):
    a = np.arange(15.0).reshape(5, 3)
    x = tt.tensor(a, dtype=tt.float32, device=device)
    i = tt.tensor([-1, -5], device=device)
    np.testing.assert_array_equal(_np(x[i]), a[[-1, -5]])
    np.testing.assert_array_equal(_np(x.take(tt.tensor([-15, -1], device=device))), [0.0, 14.0])
    expected = a.copy()
    expected[:, -3] = 7
    np.testing.assert_array_equal(_np(x.index_fill(1, tt.tensor([-3], device=device), 7)), expected)
    expected = a.copy()
    expected[[-1, -5], [-3, 2]] = 9
    j = tt.tensor([-3, 2], device=device)
    np.testing.assert_array_equal(_np(x.index_put((i, j), tt.tensor(9.0, device=device))), expected)


def test_cuda_index_ops_read_no_index_back(monkeypatch):
    """On cuda the indices are validated by the kernels (the device error word), not on the host."""
    x = tt.arange(15.0, device="cuda").reshape(5, 3)
    i = tt.tensor([4, -1, 0], device="cuda")
    k = tt.tensor([4, 1, 0], device="cuda")
    c = tt.tensor([2, 1, 0], device="cuda")
    j = tt.tensor([[2, 0, 1]], device="cuda")

    def no_sync(self):
        raise AssertionError("an index op read a cuda tensor back to the host")

    monkeypatch.setattr(tt.Tensor, "_to_host_array", no_sync)
    results = [x.gather(0, j), x.scatter(0, j, x), x.scatter_add(0, j, x), x.index_select(0, k),
               x.index_add(0, k, tt.ones(3, 3, device="cuda")), x.index_fill(1, c, 0.0), x.take(i), x[i],
               x[i, c], x.index_put((i,), tt.zeros(3, device="cuda"), accumulate=True)]
    y = x.clone()
    y[i, 1] = 5.0
    monkeypatch.undo()
    assert [tuple(r.shape) for r in results] == [(1, 3), (5, 3), (5, 3), (3, 3), (5, 3), (5, 3), (3,), (3, 3), (3,),
                                                 (5, 3)]
    assert y[:, 1].tolist() == [5.0, 4.0, 7.0, 10.0, 5.0]


def test_cuda_error_waits_for_a_synchronisation_point(monkeypatch):
    """As on a GPU (no interpreter): the launch only flags the error word; the next synchronisation point
    raises the op's PyTorch error, once."""
    from tritensor import device_errors

    monkeypatch.setattr(device_errors, "interpreting", lambda: False)
    x = tt.zeros(5, 3, device="cuda")
    y = x.index_select(0, tt.tensor([1, 5], device="cuda"))
    z = x.gather(1, tt.tensor([[0, 2]], device="cuda"))  # a valid launch does not clear the flag
    with pytest.raises(IndexError, match="^index out of range in self$"):
        device_errors.raise_if_flagged(x.device)
    device_errors.raise_if_flagged(x.device)
    assert y.shape == (2, 3) and z.shape == (1, 2)


# ================================================================ empty selections
@pytest.mark.parametrize("device", DEVICES)
def test_empty_views_masks_and_index_tensors(device):
    z = tt.zeros(0, 3, device=device)
    assert _np(z[:, 2]).shape == (0,)  # a view of an empty tensor starting inside its storage
    assert z[:, tt.tensor([0, 2], device=device)].shape == (0, 2)
    assert z[tt.zeros(0, 3, dtype=tt.bool, device=device)].shape == (0,)
    assert z.index_select(1, tt.tensor([0, 2], device=device)).shape == (0, 2)
    assert z.gather(0, tt.zeros(0, 3, dtype=tt.int64, device=device)).shape == (0, 3)
    z[:, tt.tensor([1], device=device)] = 1.0
    z[tt.zeros(0, 3, dtype=tt.bool, device=device)] = 2.0
    assert z.shape == (0, 3)
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    x = tt.tensor(a, device=device)
    none = tt.zeros(2, 3, dtype=tt.bool, device=device)
    empty = tt.tensor([], dtype=tt.int64, device=device)
    assert x[none].shape == (0,) and x[none[:, 0]].shape == (0, 3) and x[none, ].shape == (0,)
    assert x[empty].shape == (0, 3) and x[:, empty].shape == (2, 0) and x[empty, empty].shape == (0,)
    x[none] = 1.0
    x[none] = tt.zeros(0, device=device)
    x[none[:, 0]] = 5.0
    x[empty] = 1.0
    x[:, empty] = tt.ones(2, 0, device=device)
    x[empty, empty] = tt.ones(1, device=device)
    np.testing.assert_array_equal(_np(x), a)
    for r in (x.scatter(1, tt.zeros(2, 0, dtype=tt.int64, device=device), 1.0),
              x.index_add(0, empty, tt.zeros(0, 3, device=device)), x.index_fill(1, empty, 1.0),
              x.index_put((empty,), tt.tensor(1.0, device=device)), x.index_put((empty, empty), x[0, :0], True),
              x.masked_fill(none, 1.0), x.masked_scatter(none, tt.zeros(0, device=device))):
        np.testing.assert_array_equal(_np(r), a)
    assert x.index_select(1, empty).shape == (2, 0) and x.take(empty).shape == (0,)
    assert x.gather(1, tt.zeros(2, 0, dtype=tt.int64, device=device)).shape == (2, 0)
    assert x.masked_select(none).shape == (0,) and tt.nonzero(none).shape == (0, 2)


@pytest.mark.parametrize("device", DEVICES)
def test_top_k_filtering_that_filters_nothing(rng, device):
    """nanoGPT's sampling: logits[logits < v[:, [-1]]] = -inf with k = the vocabulary size selects nothing."""
    a = rng.standard_normal((2, 5)).astype(np.float32)
    logits = tt.tensor(a, device=device)
    v, _ = tt.topk(logits, 5)
    logits[logits < v[:, [-1]]] = -float("Inf")
    np.testing.assert_array_equal(_np(logits), a)
    v, _ = tt.topk(logits, 2)
    logits[logits < v[:, [-1]]] = -float("Inf")
    np.testing.assert_array_equal(_np(logits), np.where(a < np.sort(a, 1)[:, -2:-1], -np.inf, a))


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_through_empty_selections(device):
    x = tt.arange(6.0, device=device).reshape(2, 3).requires_grad_()
    none = tt.zeros(2, 3, dtype=tt.bool, device=device)
    empty = tt.tensor([], dtype=tt.int64, device=device)
    y = x[none].sum() + x[:, empty].sum() + x.index_select(0, empty).sum() + x.masked_select(none).sum()
    y = y + x.take(empty).sum() + x.gather(1, tt.zeros(2, 0, dtype=tt.int64, device=device)).sum()
    y.backward()
    assert y.item() == 0 and _np(x.grad).tolist() == [[0.0] * 3] * 2
    w = x * 1.0
    w[none] = 3.0
    w.sum().backward()
    assert _np(x.grad).tolist() == [[1.0] * 3] * 2
