"""Shape ops (cat/stack, split/chunk, repeat/tile/repeat_interleave, movedim, flip, roll, tril/triu, pad) on
cpu and interpreted cuda against NumPy, forward and backward."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]
NP_PAD = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _np(t):
    return t.detach().cpu().numpy()


def _t(a, device, requires_grad=False):
    return tt.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def _strided(rng, shape, dtype, device):
    """A non-contiguous tensor (a transpose of its storage) and its values."""
    a = (rng.standard_normal(shape[::-1]) * 4).astype(dtype.np)
    return a.T, tt.tensor(a, device=device).permute(*reversed(range(len(shape))))


def _f64(a):
    return np.asarray(a).astype(np.float64)


# ================================================================ cat / stack
@pytest.mark.parametrize("device", DEVICES)
def test_cat_promotes_skips_empty_and_backward(rng, device):
    a, x = _strided(rng, (2, 3, 4), tt.float32, device)
    b = rng.integers(-5, 5, (2, 5, 4)).astype(np.int32)
    r = tt.cat([x, _t(b, device), tt.zeros(0, device=device)], dim=-2)
    assert r.dtype is tt.float32 and r.shape == (2, 8, 4)
    np.testing.assert_array_equal(_np(r), np.concatenate([a, b.astype(np.float32)], axis=1))
    h = _t(rng.standard_normal((1, 3, 4)).astype(np.float16), device)
    r = tt.concat((x, h), 0)
    assert r.dtype is tt.float32
    np.testing.assert_array_equal(_np(r), np.concatenate([a, _np(h).astype(np.float32)]))
    assert tt.concatenate([tt.zeros(0, device=device), tt.ones(2, device=device)], axis=0).tolist() == [1.0, 1.0]
    # backward: slices of grad, cast back to each input's dtype
    p = _t(rng.standard_normal((2, 3)), device, True)
    q = _t(rng.standard_normal((2, 1)).astype(np.float32), device, True)
    w = rng.standard_normal((2, 4))
    out = tt.cat([p, q], 1)
    assert out.dtype is tt.float64
    (out * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(p.grad), w[:, :3], rtol=1e-12)
    assert q.grad.dtype is tt.float32
    np.testing.assert_allclose(_np(q.grad), w[:, 3:], rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_stack_and_hvd_stack(rng, device):
    arrays = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(3)]
    ts = [_t(a, device).t() for a in arrays]  # non-contiguous
    for dim in (0, 1, -1):
        np.testing.assert_array_equal(_np(tt.stack(ts, dim)), np.stack([a.T for a in arrays], dim))
    np.testing.assert_array_equal(_np(tt.hstack(ts)), np.hstack([a.T for a in arrays]))
    np.testing.assert_array_equal(_np(tt.vstack(ts)), np.vstack([a.T for a in arrays]))
    np.testing.assert_array_equal(_np(tt.dstack(ts)), np.dstack([a.T for a in arrays]))
    v = [_t(np.arange(3.0), device), _t(np.arange(3.0, 6.0), device)]
    np.testing.assert_array_equal(_np(tt.hstack(v)), np.arange(6.0))
    np.testing.assert_array_equal(_np(tt.vstack(v)), np.arange(6.0).reshape(2, 3))
    x = _t(arrays[0], device, True)
    w = np.arange(12.0, dtype=np.float32).reshape(3, 2, 2)
    (tt.stack([x, x * 2], dim=1) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), w[:, 0] + 2 * w[:, 1], rtol=1e-6)


def test_cat_stack_gradcheck(rng):
    a = tt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tt.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda a, b: tt.cat([a, b, a], dim=-1), (a, b))
    assert tt.autograd.gradcheck(lambda a, b: tt.stack([a[:, 1:], b], dim=1), (a, b))
    assert tt.autograd.gradgradcheck(lambda a, b: tt.cat([a * a, b], 1), (a, b))


@pytest.mark.parametrize("device", DEVICES)
def test_cat_stack_errors(device):
    x = tt.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0. Expected size 3 but "
                                           "got size 4 for tensor number 1 in the list"):
        tt.cat([x, tt.zeros(2, 4, device=device)])
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions: got 2 and 3"):
        tt.cat([x, tt.zeros(1, 2, 3, device=device)])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor \\(at position 0\\) cannot be concatenated"):
        tt.cat([tt.tensor(1.0, device=device)])
    with pytest.raises(RuntimeError, match="expected a non-empty list of Tensors"):
        tt.cat([])
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.cat([x, x], dim=2)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size, but got \\[2, 3\\] at entry 0 "
                                           "and \\[3, 2\\] at entry 1"):
        tt.stack([x, x.t()])
    with pytest.raises(TypeError, match="expected Tensor as element 1"):
        tt.cat([x, 1])
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        tt.cat([x, tt.zeros(2, 3, device=other)])


# ================================================================ split / chunk / movedim
@pytest.mark.parametrize("device", DEVICES)
def test_split_chunk_are_views(rng, device):
    a = rng.standard_normal((7, 4)).astype(np.float32)
    x = _t(a, device)
    parts = tt.split(x, 3)
    assert [p.shape[0] for p in parts] == [3, 3, 1]
    assert all(p.untyped_storage() is x.untyped_storage() for p in parts)
    for p, e in zip(x.split([2, 0, 5]), np.split(a, [2, 2])):
        np.testing.assert_array_equal(_np(p), e)
    for p, e in zip(x.chunk(3, dim=-1), np.array_split(a, 2, axis=1)):  # ceil(4 / 3) = 2 per chunk: 2 chunks
        np.testing.assert_array_equal(_np(p), e)
    assert len(x.chunk(3, dim=-1)) == 2 and len(x.chunk(4)) == 4
    w = _t(a, device, True)
    top, bottom = w.split(4)
    (top * 2 + 0).sum().backward()
    assert _np(w.grad).tolist() == [[2.0] * 4] * 4 + [[0.0] * 4] * 3
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 7"):
        x.split([3, 3])
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0, got: 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="split_size can only be 0 if dimension size is 0"):
        x.split(0)


@pytest.mark.parametrize("device", DEVICES)
def test_movedim(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = _t(a, device)
    np.testing.assert_array_equal(_np(tt.movedim(x, 0, -1)), np.moveaxis(a, 0, -1))
    np.testing.assert_array_equal(_np(x.moveaxis((0, 1), (2, 0))), np.moveaxis(a, (0, 1), (2, 0)))
    with pytest.raises(RuntimeError, match="movedim: repeated dim in `source`"):
        tt.movedim(x, (0, 0), (1, 2))


# ================================================================ repeat / tile / repeat_interleave
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.int64, tt.bool])
def test_repeat_tile_repeat_interleave(rng, device, dtype):
    a, x = _strided(rng, (2, 3), dtype, device)
    np.testing.assert_array_equal(_np(x.repeat(2, 1, 2)), np.tile(a, (2, 1, 2)))
    np.testing.assert_array_equal(_np(x.repeat((1, 1))), a)
    assert x.repeat(1, 1).untyped_storage() is not x.untyped_storage()
    np.testing.assert_array_equal(_np(tt.tile(x, (2,))), np.tile(a, (2,)))
    np.testing.assert_array_equal(_np(x.tile((3, 1, 1))), np.tile(a, (3, 1, 1)))
    np.testing.assert_array_equal(_np(x.repeat_interleave(2)), np.repeat(a, 2))
    np.testing.assert_array_equal(_np(tt.repeat_interleave(x, 3, dim=-1)), np.repeat(a, 3, axis=1))
    np.testing.assert_array_equal(_np(x.repeat_interleave(_t([1, 0, 2], device), dim=1)),
                                  np.repeat(a, [1, 0, 2], axis=1))
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be smaller"):
        x.repeat(2)


@pytest.mark.parametrize("device", DEVICES)
def test_repeat_backward(rng, device):
    x = _t(rng.standard_normal((2, 3)), device, True)
    w = rng.standard_normal((2, 4, 3))
    (x.repeat(1, 2, 1) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), w.reshape(2, 2, 2, 3).sum((0, 1)), rtol=1e-12)


def test_repeat_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: x.repeat(2, 1, 2), (x,))
    assert tt.autograd.gradcheck(lambda x: x.repeat_interleave(tt.tensor([2, 0, 1]), dim=1), (x,))


# ================================================================ flip / roll
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64, tt.bool])
def test_flip_roll_match_numpy(rng, device, dtype):
    a, x = _strided(rng, (3, 4, 5), dtype, device)
    for dims in ((0,), (-1, 1), (0, 1, 2)):
        np.testing.assert_array_equal(_f64(_np(tt.flip(x, dims))), _f64(np.flip(a, dims)))
    np.testing.assert_array_equal(_f64(_np(x.flip(0, 2))), _f64(np.flip(a, (0, 2))))
    np.testing.assert_array_equal(_f64(_np(x.fliplr())), _f64(np.fliplr(a)))
    np.testing.assert_array_equal(_f64(_np(x.flipud())), _f64(np.flipud(a)))
    np.testing.assert_array_equal(_f64(_np(tt.roll(x, 7))), _f64(np.roll(a, 7)))
    np.testing.assert_array_equal(_f64(_np(x.roll(-2, -1))), _f64(np.roll(a, -2, -1)))
    np.testing.assert_array_equal(_f64(_np(x.roll((1, -5), (0, 1)))), _f64(np.roll(a, (1, -5), (0, 1))))


@pytest.mark.parametrize("device", DEVICES)
def test_flip_roll_backward(rng, device):
    a, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x = _t(a, device, True)
    (x.flip(-1) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), np.flip(w, -1), rtol=1e-12)
    x = _t(a, device, True)
    (x.roll(5) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), np.roll(w, -5), rtol=1e-12)


def test_flip_roll_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: tt.flip(x.t(), (0, 1)), (x,))
    assert tt.autograd.gradcheck(lambda x: tt.roll(x, (1, -1), (0, 1)), (x,))
    assert tt.autograd.gradgradcheck(lambda x: tt.roll(x * x, 2), (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_flip_roll_errors(device):
    x = tt.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        x.flip(0, -2)
    with pytest.raises(RuntimeError, match="shifts and dimensions must align. shifts: 2, dims:1"):
        x.roll((1, 2), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.roll(1, 2)
    with pytest.raises(RuntimeError, match="Input must be >= 2-d."):
        tt.zeros(3, device=device).fliplr()


# ================================================================ tril / triu
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.float16, tt.int32, tt.bool])
def test_tril_triu(rng, device, dtype):
    a, x = _strided(rng, (2, 3, 4, 5), dtype, device)
    for k in (0, 1, -2, 7):
        np.testing.assert_array_equal(_f64(_np(tt.tril(x, k))), _f64(np.tril(a, k)))
        np.testing.assert_array_equal(_f64(_np(x.triu(diagonal=k))), _f64(np.triu(a, k)))
    y = x.clone()
    y.tril_(-1)
    np.testing.assert_array_equal(_f64(_np(y)), _f64(np.tril(a, -1)))
    y.triu_(-1)
    np.testing.assert_array_equal(_f64(_np(y)), _f64(np.triu(np.tril(a, -1), -1)))
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        tt.tril(tt.zeros(3, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_tril_backward(rng, device):
    x = _t(rng.standard_normal((3, 4)), device, True)
    w = rng.standard_normal((3, 4))
    (x.triu(1) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(_np(x.grad), np.triu(w, 1), rtol=1e-12)


def test_tril_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: tt.tril(x, -1), (x,))
    assert tt.autograd.gradcheck(lambda x: tt.triu(x.t(), 1), (x,))


# ================================================================ pad
PAD_CASES = [
    ("constant", (1, 2)), ("constant", (-1, 2, 0, 1, 1, 0)), ("reflect", (2, 1, 1, 2)),
    ("replicate", (3, 0, 1, 1)), ("circular", (1, 3, 2, 0)),
]


def _np_pad(a, pads, mode, value=0.0):
    if any(p < 0 for p in pads):  # NumPy has no negative padding: pad the positive part, then crop
        a = _np_pad(a, tuple(max(p, 0) for p in pads), mode, value)
        for k in range(len(pads) // 2):
            d = a.ndim - 1 - k
            lo, hi = -min(pads[2 * k], 0), -min(pads[2 * k + 1], 0)
            a = np.take(a, range(lo, a.shape[d] - hi), axis=d)
        return a
    width = [(0, 0)] * a.ndim
    for k in range(len(pads) // 2):
        width[a.ndim - 1 - k] = (pads[2 * k], pads[2 * k + 1])
    kwargs = {"constant_values": value} if mode == "constant" else {}
    return np.pad(a, width, mode=NP_PAD[mode], **kwargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float32, tt.bfloat16, tt.int64])
@pytest.mark.parametrize("mode,pads", PAD_CASES)
def test_pad_matches_numpy(rng, device, dtype, mode, pads):
    a, x = _strided(rng, (2, 3, 4), dtype, device)
    value = 1.5 if dtype.is_floating_point else 7
    r = tt.pad(x, pads, mode=mode, value=value if mode == "constant" else None)
    expected = _np_pad(a, pads, mode, value)
    assert r.shape == expected.shape and r.dtype is dtype
    np.testing.assert_array_equal(_f64(_np(r)), _f64(expected))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,pads", PAD_CASES)
def test_pad_backward(rng, device, mode, pads):
    a = rng.standard_normal((2, 3, 4))
    x = _t(a, device, True)
    out = tt.pad(x, pads, mode=mode)
    w = rng.standard_normal(tuple(out.shape))
    (out * _t(w, device)).sum().backward()
    # the adjoint of padding: <pad(x), w> = <x, grad> for every x, checked on the unit basis
    expected = np.array([(_np_pad(e.reshape(a.shape), pads, mode) * w).sum() for e in np.eye(a.size)])
    np.testing.assert_allclose(_np(x.grad).reshape(-1), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_pad_backward_half_precision(rng, device):
    x = _t(rng.standard_normal((1, 2, 5)).astype(np.float32), device).to(tt.bfloat16).requires_grad_()
    out = tt.pad(x, (4, 4), mode="reflect")
    w = np.round(rng.standard_normal(tuple(out.shape)), 1).astype(np.float32)
    (out * _t(w, device).to(tt.bfloat16)).sum().backward()
    ref = tt.tensor(_np(x).astype(np.float64), requires_grad=True)
    (tt.pad(ref, (4, 4), mode="reflect") * _t(_f64(_np(_t(w, "cpu").to(tt.bfloat16))), "cpu")).sum().backward()
    np.testing.assert_allclose(_f64(_np(x.grad)), _np(ref.grad), rtol=1.6e-2, atol=1.6e-2)


def test_pad_gradcheck(rng):
    x = tt.tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    for mode, pads in PAD_CASES[:1] + PAD_CASES[2:]:
        assert tt.autograd.gradcheck(lambda x, pads=pads, mode=mode: tt.pad(x, pads, mode=mode), (x,)), mode
    assert tt.autograd.gradcheck(lambda x: tt.pad(x, (-1, 2, 1, -1), value=2.0), (x,))
    assert tt.autograd.gradgradcheck(lambda x: tt.pad(x * x, (2, 1), mode="reflect"), (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_pad_errors(device):
    x = tt.zeros(1, 2, 3, device=device)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        tt.pad(x, (1,))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two times the input "
                                           "dimension but got padding length 8 and input of dimension 3"):
        tt.pad(x, (1,) * 8)
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension, but "
                                           "got: padding \\(3, 0\\) at dimension 2 of input \\[1, 2, 3\\]"):
        tt.pad(x, (3, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        tt.pad(x, (0, 4), mode="circular")
    with pytest.raises(RuntimeError, match="resulted in a negative output size"):
        tt.pad(x, (-2, -2))
    with pytest.raises(RuntimeError, match='Padding mode "replicate" doesn\'t take in value argument'):
        tt.pad(x, (1, 1), mode="replicate", value=1.0)
    with pytest.raises(NotImplementedError, match="Only 2D, 3D, 4D, 5D padding with non-constant padding"):
        tt.pad(tt.zeros(3, device=device), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        tt.pad(x, (1, 1), mode="mirror")


def test_cuda_shape_ops_run_triton_kernels_not_numpy(monkeypatch):
    """Under the interpreter, cuda shape ops must go through the Triton kernels: every NumPy reference of
    kernels/shape.py (and NumPy's concatenate) is disabled here."""
    from tritensor.kernels import shape as KS

    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy path ran for a cuda tensor")

    for name in dir(KS):
        if name.endswith("_ref"):
            monkeypatch.setattr(KS, name, forbidden)
    monkeypatch.setattr(np, "concatenate", forbidden)
    x = tt.arange(12.0, device="cuda").reshape(1, 3, 4).requires_grad_()
    y = tt.cat([x, x.flip(-1)], 1).roll(1, 2).tril(1)
    y = tt.pad(y, (1, 2), mode="reflect") + tt.pad(y, (1, 2))
    y.sum().backward()
    assert y.shape == (1, 6, 7) and x.grad.shape == (1, 3, 4)
