"""unbind / split / split_with_sizes / chunk as one autograd node with several view outputs (ops/multi_view.py):
PyTorch's node names, views of the input, one input-sized gradient buffer (zeros where an output got no
gradient), gradcheck and double backward in float64, cuda (the interpreter) against cpu, and PyTorch's refusal of
an in-place write into such a view while autograd records."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]
INPLACE = (r"Output {} of {} is a view and is being modified inplace\. This view is the output of a function that "
           r"returns multiple views\. Such functions do not allow the output views to be modified inplace\. You "
           r"should replace the inplace operation by an out-of-place one\.")


def _np(t):
    return t.detach().cpu().numpy()


# Each op: (call, the NumPy pieces of an array, grad_fn name); on a (4, 6, 5) input along dim 1.
OPS = {
    "unbind": (lambda x: x.unbind(1), lambda a: [a[:, i] for i in range(6)], "UnbindBackward0"),
    "split": (lambda x: x.split(4, 1), lambda a: [a[:, :4], a[:, 4:]], "SplitBackward0"),
    "split_sizes": (lambda x: tt.split(x, [1, 0, 3, 2], -2),
                    lambda a: [a[:, :1], a[:, 1:1], a[:, 1:4], a[:, 4:]], "SplitWithSizesBackward0"),
    "chunk": (lambda x: x.chunk(4, 1), lambda a: [a[:, 0:2], a[:, 2:4], a[:, 4:6]], "SplitBackward0"),
    "iter": (lambda x: tuple(x), lambda a: list(a), "UnbindBackward0"),  # `for t in x`, `q, k, v = x`
}


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("device", DEVICES)
def test_outputs_are_views_of_one_node(rng, name, device):
    call, pieces, node_name = OPS[name]
    a = rng.standard_normal((4, 6, 5)).astype(np.float32)
    x = tt.tensor(a, device=device, requires_grad=True) * 1  # a non-leaf: its views keep x's history
    outs = call(x)
    want = pieces(a)
    assert len(outs) == len(want)
    for i, (o, w) in enumerate(zip(outs, want)):
        np.testing.assert_array_equal(_np(o), w)
        assert o.grad_fn is outs[0].grad_fn and o.grad_fn.name() == node_name and o._output_nr == i
        assert o.requires_grad and not o.is_leaf and o._base is x
        assert o.untyped_storage() is x.untyped_storage()
        # the view's geometry: NumPy's view of the same memory (strides and offset in elements)
        assert o.stride() == tuple(s // 4 for s in w.strides) or o.numel() == 0
    first = [o for o in outs if o.numel()][0]
    assert first.storage_offset() - x.storage_offset() == (want[0].ctypes.data - a.ctypes.data) // 4
    assert outs[0].grad_fn.next_functions == ((x.grad_fn, 0),)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_fills_one_buffer_with_zeros_where_no_gradient(rng, device):
    a = rng.standard_normal((3, 7, 2))
    x = tt.tensor(a, device=device, requires_grad=True)
    p, q, r = x.split([2, 4, 1], 1)
    (p * 3.0).sum().backward(retain_graph=True)
    want = np.zeros(a.shape)
    want[:, :2] = 3.0
    np.testing.assert_array_equal(_np(x.grad), want)
    ((r * r).sum() + (p * 3.0).sum()).backward()  # a second backward through the same node accumulates
    want[:, 2:6] = 0.0
    want[:, :2] += 3.0
    want[:, 6:] += 2 * a[:, 6:]
    np.testing.assert_allclose(_np(x.grad), want, rtol=1e-12)
    assert q.grad_fn is p.grad_fn


@pytest.mark.parametrize("device", DEVICES)
def test_qkv_backward_is_one_buffer_in_the_input_layout(rng, device):
    # GPT's attention: q, k, v = qkv.view(B, T, 3, H, D).permute(2, 0, 3, 1, 4); the buffer is laid out as the
    # permuted input, so the gradient permuted back is contiguous and the view's backward copies nothing.
    b, t, h, d = 2, 3, 2, 4
    a = rng.standard_normal((b, t, 3 * h * d)).astype(np.float32)
    w = rng.standard_normal((3, b, h, t, d)).astype(np.float32)
    qkv = tt.tensor(a, device=device, requires_grad=True)
    heads = (qkv * 1).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4)
    q, k, v = heads
    loss = (q * tt.tensor(w[0], device=device)).sum() + (k * tt.tensor(w[1], device=device)).sum() \
        + (v * tt.tensor(w[2], device=device)).sum()
    (g,) = tt.autograd.grad(loss, [heads], retain_graph=True)
    assert g.shape == heads.shape and g.stride() == heads.stride()
    np.testing.assert_array_equal(_np(g), w)
    loss.backward()
    np.testing.assert_array_equal(_np(qkv.grad), w.transpose(1, 3, 0, 2, 4).reshape(b, t, 3 * h * d))


@pytest.mark.parametrize("device", DEVICES)
def test_non_dense_input_gets_a_contiguous_buffer(device):
    x = tt.arange(3.0, device=device).requires_grad_()
    rows = x.expand(4, 3)  # stride 0: no layout covers it once
    a, b = rows.split(2)
    (g,) = tt.autograd.grad((a * 2).sum() + b[1].sum(), [rows])
    assert g.is_contiguous()
    np.testing.assert_array_equal(_np(g), [[2.0] * 3, [2.0] * 3, [0.0] * 3, [1.0] * 3])
    (gx,) = tt.autograd.grad((a * 2).sum() + b[1].sum(), [x])
    np.testing.assert_array_equal(_np(gx), [5.0] * 3)


@pytest.mark.parametrize("name", list(OPS))
def test_gradcheck_and_gradgradcheck_float64(rng, name):
    call = OPS[name][0]
    x = tt.tensor(rng.standard_normal((4, 6, 5)), dtype=tt.float64, requires_grad=True)
    weights = [tt.tensor(rng.standard_normal(o.shape)) for o in call(x.detach())]

    def fn(t):
        # every other output only: the others' slices of the gradient stay zero
        return sum((o * o * w).sum() for i, (o, w) in enumerate(zip(call(t), weights)) if i % 2 == 0)

    assert tt.autograd.gradcheck(fn, (x,))
    assert tt.autograd.gradgradcheck(fn, (x,))
    assert tt.autograd.gradcheck(lambda t: call(t * 1), (x,))  # every output a function output


@pytest.mark.parametrize("device", DEVICES)
def test_create_graph_double_backward(rng, device):
    a = rng.standard_normal((5, 4))
    x = tt.tensor(a, device=device, requires_grad=True)
    first, _, last = x.unbind(1)[:3]
    (g,) = tt.autograd.grad((first ** 3).sum() + (last * 2).sum(), [x], create_graph=True)
    assert g.grad_fn.name() == "StackBackward0"
    want = np.zeros_like(a)
    want[:, 0] = 3 * a[:, 0] ** 2
    want[:, 2] = 2.0
    np.testing.assert_allclose(_np(g), want, rtol=1e-12)
    (gg,) = tt.autograd.grad((g * g).sum(), [x])
    want2 = np.zeros_like(a)
    want2[:, 0] = 2 * (3 * a[:, 0] ** 2) * 6 * a[:, 0]
    np.testing.assert_allclose(_np(gg), want2, rtol=1e-12)
    s = x.split(3)[0]
    (g,) = tt.autograd.grad((s ** 2).sum(), [x], create_graph=True)
    assert g.grad_fn.name() == "CatBackward0"
    (gg,) = tt.autograd.grad(g.sum(), [x])
    np.testing.assert_array_equal(_np(gg), [[2.0] * 4] * 3 + [[0.0] * 4] * 2)


@pytest.mark.parametrize("name", list(OPS))
def test_cuda_backward_matches_cpu(rng, name):
    call = OPS[name][0]
    a = rng.standard_normal((4, 6, 5)).astype(np.float32)
    grads = []
    for device in DEVICES:
        x = tt.tensor(a, device=device, requires_grad=True)
        y = x.permute(2, 1, 0).permute(2, 1, 0)  # a dense, non-contiguous-looking path back to x's layout
        outs = call(y)
        loss = sum((o * (i + 1.0)).sum() for i, o in enumerate(outs) if i != 1)
        loss.backward()
        grads.append(_np(x.grad))
    np.testing.assert_array_equal(grads[0], grads[1])
    want = np.zeros_like(a)
    for i, piece in enumerate(OPS[name][1](want)):
        if i != 1:
            piece[...] = i + 1.0
    np.testing.assert_array_equal(grads[0], want)


@pytest.mark.parametrize("device", DEVICES)
def test_hooks_and_retain_grad_on_outputs(device):
    x = tt.ones(3, 2, device=device, requires_grad=True)
    a, b, c = x.unbind()
    b.retain_grad()
    seen = []
    c.register_hook(lambda g: seen.append(_np(g)) or g * 10)
    (a + b * 2 + c * 3).sum().backward()
    np.testing.assert_array_equal(_np(b.grad), [2.0, 2.0])
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(_np(x.grad), [[1.0, 1.0], [2.0, 2.0], [30.0, 30.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_an_output_raises_while_recording(device):
    leaf = tt.zeros(3, 4, device=device, requires_grad=True)
    x = leaf * 1
    # a view of a leaf: the multi-view refusal comes first, as PyTorch's handle_view_on_rebase does
    with pytest.raises(RuntimeError, match=INPLACE.format(2, "UnbindBackward0")):
        leaf.unbind()[2].add_(1)
    for outs, nr, name in ((x.unbind(), 1, "UnbindBackward0"), (x.split(2, 1), 1, "SplitBackward0"),
                           (x.split([1, 2], 0), 1, "SplitWithSizesBackward0"), (x.chunk(2, 1), 1, "SplitBackward0")):
        with pytest.raises(RuntimeError, match=INPLACE.format(nr, name)):
            outs[nr].add_(1)
        with pytest.raises(RuntimeError, match=INPLACE.format(nr, name)):
            outs[nr].mul_(2)
        with pytest.raises(RuntimeError, match=INPLACE.format(nr, name)):
            outs[nr].zero_()
        with pytest.raises(RuntimeError, match=INPLACE.format(nr, name)):
            outs[nr][0] = 5.0
    np.testing.assert_array_equal(_np(leaf), np.zeros((3, 4)))  # raised before anything was written
    np.testing.assert_array_equal(_np(x), np.zeros((3, 4)))


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_an_output_is_allowed_without_grad(device):
    x = tt.zeros(3, 4, device=device, requires_grad=True)
    first, _, _ = x.unbind()
    with tt.no_grad():
        first.add_(1)
        x.split(2, 1)[1].fill_(2.0)
    y = tt.zeros(3, 4, device=device)  # nothing requires grad
    y.chunk(2)[1].add_(3)
    for t in y:
        t.mul_(2)
    np.testing.assert_array_equal(_np(x), [[1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    np.testing.assert_array_equal(_np(y), [[0.0] * 4, [0.0] * 4, [6.0] * 4])


def test_integer_outputs_record_nothing():
    parts = tt.arange(6).reshape(2, 3).unbind(1)
    assert [p.tolist() for p in parts] == [[0, 3], [1, 4], [2, 5]]
    assert all(p.grad_fn is None and not p.requires_grad for p in parts)
    parts[0].add_(1)  # no autograd: allowed
    assert parts[0].tolist() == [1, 4]


def test_split_with_sizes_and_edge_cases():
    x = tt.arange(10.0).reshape(5, 2)
    a, b = tt.split_with_sizes(x, [2, 3])
    assert a.tolist() == [[0.0, 1.0], [2.0, 3.0]] and b.shape == (3, 2)
    assert [p.shape[0] for p in x.split_with_sizes((4, 1))] == [4, 1]
    assert [p.shape[1] for p in x.split(5, 1)] == [2]  # a split size past the end: one piece
    empty = tt.zeros(0, 3)
    assert [p.shape for p in empty.chunk(3)] == [(0, 3)] * 3  # as PyTorch: chunks of an empty dim keep the count
    assert [p.shape for p in empty.split(0)] == [(0, 3)] and empty.unbind() == ()
    scalar = tt.tensor(1.0)
    with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no dimensions"):
        scalar.unbind()
    with pytest.raises(RuntimeError, match="split expects at least a 1-dimensional tensor"):
        scalar.split(1)
    with pytest.raises(RuntimeError, match="split expects at least a 1-dimensional tensor"):
        tt.split_with_sizes(scalar, [1])
    with pytest.raises(RuntimeError, match="chunk expects at least a 1-dimensional tensor"):
        scalar.chunk(1)
    with pytest.raises(RuntimeError, match="split expects split_size be non-negative, but got split_size=-1"):
        x.split(-1)
    with pytest.raises(RuntimeError, match=r"split_with_sizes expects split_sizes have only non-negative entries, "
                                           r"but got split_sizes=\[6, -1\]"):
        x.split([6, -1])
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.unbind(2)
