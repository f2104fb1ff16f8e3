"""Views share storage and follow PyTorch's shape/stride rules; property tests against NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tritensor as tt

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)


def _arange(shape):
    return tt.arange(int(np.prod(shape)), dtype=tt.float32).reshape(shape), np.arange(np.prod(shape),
                                                                                    dtype=np.float32).reshape(shape)


def _shares(a: tt.Tensor, b: tt.Tensor) -> bool:
    return a.untyped_storage() is b.untyped_storage()


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_permute_and_transpose_match_numpy(shape, data):
    t, a = _arange(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    p = t.permute(*perm)
    assert _shares(p, t)
    np.testing.assert_array_equal(p.contiguous().numpy(), a.transpose(perm))
    assert p.stride() == tuple(s // 4 for s in a.transpose(perm).strides)
    np.testing.assert_array_equal(t.mT.contiguous().numpy() if t.ndim >= 2 else t.numpy(),
                                  np.swapaxes(a, -1, -2) if a.ndim >= 2 else a)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_basic_slicing_matches_numpy(shape, data):
    t, a = _arange(shape)
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = data.draw(st.none() | st.integers(-n - 1, n + 1))
            stop = data.draw(st.none() | st.integers(-n - 1, n + 1))
            step = data.draw(st.none() | st.integers(1, 3))
            key.append(slice(start, stop, step))
        else:
            key.append(slice(None))
    if data.draw(st.booleans()):
        key.insert(data.draw(st.integers(0, len(key))), None)
    v = t[tuple(key)]
    expected = a[tuple(key)]
    assert v.shape == expected.shape
    assert v.stride() == tuple(s // 4 for s in expected.strides) or expected.size <= 1
    np.testing.assert_array_equal(v.contiguous().numpy(), expected)
    assert _shares(v, t)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_reshape_views_when_possible_and_copies_otherwise(shape, data):
    t, a = _arange(shape)
    src = t.mT if t.ndim >= 2 and data.draw(st.booleans()) else t
    src_np = np.swapaxes(a, -1, -2) if src is not t else a
    new_shape = data.draw(st.permutations(list(src.shape))).copy()
    r = src.reshape(new_shape)
    np.testing.assert_array_equal(r.contiguous().numpy(), src_np.reshape(new_shape))
    if src.is_contiguous():
        assert _shares(r, t)  # a contiguous reshape never copies
        assert src.view(new_shape).shape == tuple(new_shape)


def test_view_errors_when_strides_do_not_allow():
    t = tt.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(6)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        tt.arange(6.0).view(4, 2)


def test_expand_squeeze_unsqueeze_flatten_unflatten_narrow():
    t = tt.arange(3.0).reshape(3, 1)
    e = t.expand(2, 3, 4)
    assert e.shape == (2, 3, 4) and e.stride() == (0, 1, 0) and _shares(e, t)
    assert t.expand(-1, 5).shape == (3, 5)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        t.expand(4, 4)
    assert t.unsqueeze(0).shape == (1, 3, 1) and t.unsqueeze(-1).shape == (3, 1, 1)
    assert t.squeeze().shape == (3,) and t.squeeze(0).shape == (3, 1) and t.squeeze(1).shape == (3,)
    x = tt.zeros(2, 3, 4, 5)
    assert x.flatten().shape == (120,) and x.flatten(1, 2).shape == (2, 12, 5)
    assert x.flatten(1).unflatten(1, (3, -1)).shape == (2, 3, 20)
    m = tt.arange(60.0).reshape(3, 4, 5).narrow(1, 1, 2)
    assert m.shape == (3, 2, 5) and m.tolist() == np.arange(60.0).reshape(3, 4, 5)[:, 1:3].tolist()
    n = tt.arange(10.0).narrow(0, 2, 3)
    assert n.tolist() == [2.0, 3.0, 4.0] and n.storage_offset() == 2
    with pytest.raises(IndexError, match="exceeds dimension size"):
        tt.arange(4.0).narrow(0, 3, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 4)


def test_as_strided_and_writes_through_views():
    base = tt.arange(9.0)
    w = base.as_strided((3, 3), (3, 1))
    assert w.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    diag = base.as_strided((3,), (4,))
    assert diag.tolist() == [0.0, 4.0, 8.0]
    v = base.view(3, 3)[:, 1]
    v.fill_(-1)
    assert base.tolist() == [0, -1, 2, 3, -1, 5, 6, -1, 8]
    assert base._version == v._version == 1  # one version counter for a storage and its views
    with pytest.raises(RuntimeError, match="out of bounds for storage"):
        base.as_strided((4, 4), (4, 1))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_view_gradients(device):
    x = tt.arange(12.0, device=device).reshape(3, 4).requires_grad_()
    y = x.t()[1:, ::2].unsqueeze(0).expand(2, 3, 2)
    (y * tt.arange(12.0, device=device).reshape(2, 3, 2)).sum().backward()
    w = np.arange(12.0).reshape(2, 3, 2).sum(0)
    expected = np.zeros((4, 3))
    expected[1:, ::2] = w
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected.T)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16])
def test_view_slice_permute_gradients_without_a_graph_equal_the_graph_ones(dtype):
    # backward_fused (no graph: NumPy's zeros written through the key, reshape's steps, the inverse permute) and
    # the tensor-op backward (create_graph=True) give the same gradients.
    base = np.random.default_rng(1).standard_normal((4, 3, 6, 5))
    grads = []
    for create_graph in (False, True):
        x = tt.tensor(base, dtype=dtype, requires_grad=True)
        y = x.permute(2, 0, 3, 1)[1:5:2, None, ..., -1].reshape(2, -1)  # this reshape copies (a Clone node)
        q, k, v = x[:3].unbind(0)
        loss = (y * tt.tensor(np.arange(y.numel()).reshape(y.shape), dtype=dtype)).sum() + (q * k - v).sum()
        (g,) = tt.autograd.grad(loss, [x], create_graph=create_graph)
        grads.append(g.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    want = np.zeros(base.shape)
    want.transpose(2, 0, 3, 1)[1:5:2, ..., -1] = np.arange(2 * 4 * 5).reshape(2, 4, 5)
    want[0] += base[1]
    want[1] += base[0]
    want[2] -= 1
    np.testing.assert_allclose(grads[0].astype(np.float64), want, rtol=1e-2 if dtype is tt.float16 else 1e-6)


def test_basic_index_node_names_are_pytorchs():
    # PyTorch's indexing applies one view op per written entry (select, slice, unsqueeze), skipping the dims the key
    # leaves out and, in a key of several entries, a slice over a whole dim (`:`, `0:n`); its node is the last op's.
    a = tt.ones(3, 4, requires_grad=True)
    y = a * 1
    names = {
        "y[0]": (y[0], "SelectBackward0"), "y[1:]": (y[1:], "SliceBackward0"), "y[:]": (y[:], "SliceBackward0"),
        "y[:, 0]": (y[:, 0], "SelectBackward0"), "y[0, :]": (y[0, :], "SelectBackward0"),
        "y[0, 1]": (y[0, 1], "SelectBackward0"), "y[None]": (y[None], "UnsqueezeBackward0"),
        "y[0, None]": (y[0, None], "UnsqueezeBackward0"), "y[...]": (y[...], "AliasBackward0"),
        "y[..., 0]": (y[..., 0], "SelectBackward0"), "y[0, ...]": (y[0, ...], "SelectBackward0"),
        "y[0, 0:4]": (y[0, 0:4], "SelectBackward0"), "y[0:3, 0:4]": (y[0:3, 0:4], "AliasBackward0"),
        "y[:, :]": (y[:, :], "AliasBackward0"), "y[0, 1:]": (y[0, 1:], "SliceBackward0"),
        "y[0:9, 0]": (y[0:9, 0], "SelectBackward0"), "y.select(1, 2)": (y.select(1, 2), "SelectBackward0"),
        "y.narrow(1, 0, 4)": (y.narrow(1, 0, 4), "SliceBackward0"),
    }
    assert {k: v.grad_fn.name() for k, (v, _) in names.items()} == {k: name for k, (_, name) in names.items()}
    (y[0, 1:] * 2).sum().backward()  # the name changes nothing else: the gradient is the slice's
    np.testing.assert_array_equal(a.grad.numpy(), [[0.0] + [2.0] * 3, [0.0] * 4, [0.0] * 4])
