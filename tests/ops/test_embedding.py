"""tt.embedding, embedding_renorm_ and embedding_bag on cpu and interpreted cuda: values, gradients (atomic and
deterministic), gradcheck, errors; tt.use_deterministic_algorithms."""

import numpy as np
import pytest
from tritensor.kernels import embedding as K
from tritensor.kernels import embedding_bag as KB

import tritensor as tt
from tests.ops.indexing_helpers import DEVICES, _np, _t
from tritensor.ops.embedding_bag import embedding_bag


@pytest.fixture
def deterministic():
    tt.use_deterministic_algorithms(True)
    yield
    tt.use_deterministic_algorithms(False)


def test_deterministic_switch():
    assert not tt.are_deterministic_algorithms_enabled()
    tt.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert tt.are_deterministic_algorithms_enabled() and tt.is_deterministic_algorithms_warn_only_enabled()
    finally:
        tt.use_deterministic_algorithms(False)
    assert not tt.are_deterministic_algorithms_enabled() and not tt.is_deterministic_algorithms_warn_only_enabled()
    with pytest.raises(RuntimeError):
        tt.use_deterministic_algorithms(1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
def test_forward(rng, device, idx_dtype):
    w = rng.standard_normal((7, 5)).astype(np.float32)
    idx = np.array([[1, 6, 1], [0, 3, 6]], idx_dtype)
    out = tt.embedding(_t(w, device), _t(idx, device))
    assert out.shape == (2, 3, 5) and out.device.type == device
    np.testing.assert_array_equal(_np(out), w[idx])
    # a non-contiguous weight (columns strided) and a 0-d index
    wt = _t(np.ascontiguousarray(w.T), device).t()
    np.testing.assert_array_equal(_np(tt.embedding(wt, _t(np.array(4), device))), w[4])


@pytest.mark.parametrize("device", DEVICES)
def test_backward_padding_and_scale(rng, device):
    w = rng.standard_normal((6, 4))
    idx = np.array([2, 0, 2, 5, 2, 1], np.int64)
    g = rng.standard_normal((6, 4))
    for pad, scale in ((-1, False), (2, False), (-1, True), (5, True)):
        x = _t(w, device, True)
        out = tt.embedding(x, _t(idx, device), pad, scale)
        (out * _t(g, device)).sum().backward()
        np.testing.assert_allclose(_np(x.grad), K.embedding_backward_ref(g, idx, 6, pad, scale), rtol=1e-12)
        assert out.grad_fn.name() == "EmbeddingBackward0"
        if pad >= 0:
            assert not _np(x.grad)[pad].any()


def test_cuda_backward_matches_cpu_fp32_and_bf16(rng):
    w = rng.standard_normal((9, 12)).astype(np.float32)
    idx = rng.integers(0, 9, size=(5, 4))
    g = rng.standard_normal((5, 4, 12)).astype(np.float32)
    grads = {}
    for device in DEVICES:
        x = _t(w, device, True)
        (tt.embedding(x, _t(idx, device)) * _t(g, device)).sum().backward()
        grads[device] = _np(x.grad)
    np.testing.assert_allclose(grads["cuda"], grads["cpu"], rtol=1e-5, atol=1e-6)
    x = tt.tensor(w, device="cuda", dtype=tt.bfloat16, requires_grad=True)
    tt.embedding(x, _t(idx, "cuda")).backward(tt.tensor(g, device="cuda", dtype=tt.bfloat16))
    assert x.grad.dtype is tt.bfloat16
    np.testing.assert_allclose(_np(x.grad.float()), grads["cpu"], rtol=2e-2, atol=3e-2)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float16])
def test_deterministic_backward_is_bit_identical_and_the_reference(rng, deterministic, dtype):
    w = rng.standard_normal((5, 33)).astype(dtype.np)
    idx = rng.integers(0, 5, size=40)
    g = rng.standard_normal((40, 33)).astype(dtype.np)
    runs = []
    for _ in range(2):
        x = _t(w, "cuda", True)
        tt.embedding(x, _t(idx, "cuda"), 3).backward(_t(g, "cuda"))
        runs.append(_np(x.grad))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], K.embedding_backward_ref(g, idx, 5, 3))
    # embedding_bag's weight gradient goes through the same deterministic scatter
    x = _t(w, "cuda", True)
    bag_grad = g[:8]
    embedding_bag(_t(idx.reshape(8, 5), "cuda"), x, mode="sum").backward(_t(bag_grad, "cuda"))
    np.testing.assert_array_equal(_np(x.grad), K.embedding_backward_ref(np.repeat(bag_grad, 5, axis=0), idx, 5))


@pytest.mark.parametrize("dtype, pad, scale", [(tt.float32, -1, False), (tt.float32, 2, True),
                                               (tt.float16, 1, False)])
def test_deterministic_backward_of_long_index_vectors(rng, deterministic, monkeypatch, dtype, pad, scale):
    """Index vectors longer than the cuda sort kernel's row are sorted in chunks, and the chunks' run sums are
    added in order (shrunk here to chunks of 4): the same bits every run, and the reference's."""
    import tritensor.ops.embedding as E

    monkeypatch.setattr(E, "MAX_SORT_R", 4)
    w = rng.standard_normal((5, 3)).astype(dtype.np)
    idx = rng.integers(0, 5, size=11)
    g = rng.standard_normal((11, 3)).astype(dtype.np)
    runs = []
    for _ in range(2):
        x = _t(w, "cuda", True)
        tt.embedding(x, _t(idx, "cuda"), pad, scale).backward(_t(g, "cuda"))
        runs.append(_np(x.grad))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], K.embedding_backward_ref(g, idx, 5, pad, scale, chunk=4))
    np.testing.assert_allclose(runs[0].astype(np.float64), K.embedding_backward_ref(g, idx, 5, pad, scale),
                               rtol=2e-3 if dtype is tt.float16 else 1e-6, atol=1e-3 if dtype is tt.float16 else 1e-6)
    # max_norm's renorm walks the chunks too
    x = _t(np.abs(w) + 1, "cuda")
    tt.embedding_renorm_(x, _t(idx, "cuda"), 1.0, 2.0)
    np.testing.assert_allclose(_np(x), K.embedding_renorm_ref(np.abs(w) + 1, idx, 1.0, 2.0),
                               rtol=2e-3 if dtype is tt.float16 else 1e-6)


def test_gradcheck(rng):
    idx = tt.tensor([[0, 2, 2], [3, 0, 1]])
    w = tt.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    # (padding_idx and scale_grad_by_freq alter the true derivative by design: checked against the reference above)
    assert tt.autograd.gradcheck(lambda w: tt.embedding(w, idx), (w,))
    assert tt.autograd.gradgradcheck(lambda w: tt.embedding(w, idx) ** 2, (w,))
    psw = tt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda w, p: embedding_bag(idx, w, mode="sum", per_sample_weights=p, padding_idx=1),
                                 (w, psw))
    for mode in ("mean", "max"):
        assert tt.autograd.gradcheck(lambda w, m=mode: embedding_bag(idx, w, mode=m), (w,))


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    w = _t(np.ones((4, 3), np.float32), device)
    for bad in ([0, 4], [-1]):
        with pytest.raises(IndexError, match="^index out of range in self$"):
            tt.embedding(w, _t(np.array(bad), device))
    with pytest.raises(RuntimeError, match="^'weight' must be 2-D$"):
        tt.embedding(w[0], _t(np.array([0]), device))
    prefix = "torch." if device == "cpu" else r"torch\.cuda\."
    with pytest.raises(RuntimeError, match=f"Long, Int; but got {prefix}FloatTensor instead \\(while checking "
                                           "arguments for embedding\\)"):
        tt.embedding(w, w)
    with pytest.raises(IndexError, match="^index out of range in self$"):
        embedding_bag(_t(np.array([[0, 9]]), device), w)


@pytest.mark.parametrize("device", DEVICES)
def test_renorm_in_place(rng, device):
    w = (rng.standard_normal((5, 4)) * 3).astype(np.float32)
    x = _t(w, device, True)
    idx = np.array([[4, 1], [4, 0]])
    v = x._version
    with tt.no_grad():
        tt.embedding_renorm_(x, _t(idx, device), 1.0, 2.0)
    assert x._version > v
    np.testing.assert_allclose(_np(x), K.embedding_renorm_ref(w, idx, 1.0, 2.0), rtol=1e-6)


def _bag_case(rng):
    w = rng.standard_normal((8, 6))
    idx = np.array([3, 1, 1, 7, 0, 2, 5, 5], np.int64)
    offsets = np.array([0, 2, 2, 5], np.int64)  # an empty bag, and a last bag running to the end
    return w, idx, offsets


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(rng, device, mode):
    w, idx, offsets = _bag_case(rng)
    bounds = np.append(offsets, len(idx))
    psw = rng.standard_normal(len(idx)) if mode == "sum" else None
    x = _t(w, device, True)
    p = None if psw is None else _t(psw, device, True)
    out = embedding_bag(_t(idx, device), x, _t(offsets, device), mode=mode, per_sample_weights=p, padding_idx=-3)
    ref, maxpos, _, size = KB.embedding_bag_ref(w, idx, bounds, mode, psw, 5)
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    assert out.grad_fn.name() == "EmbeddingBagBackward0"
    g = rng.standard_normal(ref.shape)
    out.backward(_t(g, device))
    rows = KB.embedding_bag_backward_ref(g, idx, bounds, mode, maxpos, size, psw, 5)
    np.testing.assert_allclose(_np(x.grad), K.embedding_backward_ref(rows, idx, 8, 5), rtol=1e-12, atol=1e-12)
    if p is not None:
        expected = np.array([(g[b] * w[i]).sum() if i != 5 else 0 for i, b in zip(idx, [0, 0, 2, 2, 2, 3, 3, 3])])
        np.testing.assert_allclose(_np(p.grad), expected, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_bag_2d_and_include_last_offset(rng, device):
    w, idx, _ = _bag_case(rng)
    out = embedding_bag(_t(idx.reshape(2, 4), device), _t(w, device), mode="sum")
    np.testing.assert_allclose(_np(out), w[idx].reshape(2, 4, 6).sum(1), rtol=1e-12)
    out = embedding_bag(_t(idx, device), _t(w, device), _t(np.array([0, 3, 6]), device), mode="max",
                        include_last_offset=True)
    np.testing.assert_allclose(_np(out), [w[idx[:3]].max(0), w[idx[3:6]].max(0)], rtol=1e-12)
    # entries after the last offset belong to no bag: no output, no gradient
    x, p = _t(w, device, True), _t(np.arange(1.0, 9.0), device, True)
    out = embedding_bag(_t(idx, device), x, _t(np.array([0, 3, 6]), device), mode="sum", per_sample_weights=p,
                        include_last_offset=True)
    np.testing.assert_allclose(_np(out), [(w[idx[:3]] * [[1], [2], [3]]).sum(0),
                                          (w[idx[3:6]] * [[4], [5], [6]]).sum(0)], rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(_np(p.grad), np.append(w[idx[:6]].sum(1), [0, 0]), rtol=1e-12)
    np.testing.assert_allclose(_np(x.grad), K.embedding_backward_ref(np.arange(1.0, 9.0)[:6, None] * np.ones((6, 6)),
                                                                     idx[:6], 8), rtol=1e-12)


def test_embedding_bag_errors():
    w, i1, i2 = tt.ones(4, 3), tt.tensor([0, 1]), tt.tensor([[0, 1]])
    cases = [
        (ValueError, "offsets has to be a 1D Tensor but got None", lambda: embedding_bag(i1, w)),
        (ValueError, "offsets has to be a 1D Tensor", lambda: embedding_bag(i1, w, tt.tensor([[0]]))),
        (ValueError, "if input is 2D, then offsets has to be None", lambda: embedding_bag(i2, w, i1)),
        (ValueError, "input has to be 1D or 2D Tensor, but got Tensor of dimension 3",
         lambda: embedding_bag(i2[None], w)),
        (ValueError, "mode has to be one of sum, mean or max", lambda: embedding_bag(i2, w, mode="min")),
        (ValueError, "max mode does not support scaling", lambda: embedding_bag(i2, w, mode="max",
                                                                                scale_grad_by_freq=True)),
        (ValueError, "max mode does not support sparse weights", lambda: embedding_bag(i2, w, mode="max",
                                                                                       sparse=True)),
        (NotImplementedError, "per_sample_weights is only supported for mode='sum' \\(got mode='mean'\\)",
         lambda: embedding_bag(i2, w, per_sample_weights=tt.ones(1, 2))),
        (ValueError, "must have the same shape as the input", lambda: embedding_bag(i2, w, mode="sum",
                                                                                    per_sample_weights=tt.ones(2))),
        (RuntimeError, "offsets\\[0\\] has to be 0", lambda: embedding_bag(i1, w, tt.tensor([1]))),
        (RuntimeError, "offsets\\[-1\\] can not be greater than input's length 2, but got 3",
         lambda: embedding_bag(i1, w, tt.tensor([0, 3]))),
        (RuntimeError, "padding_idx must be within the number of embeddings, -4 through 3, but got 4",
         lambda: embedding_bag(i2, w, padding_idx=4)),
        (ValueError, "weight has to be a 2D Tensor, but got Tensor of dimension 1", lambda: embedding_bag(i2, w[0])),
        (RuntimeError, "'indices' to have the same type as tensor for argument #2 'offsets'; but type "
                       "torch.LongTensor does not equal torch.IntTensor",
         lambda: embedding_bag(i1, w, tt.tensor([0], dtype=tt.int32))),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc, match=msg):
            fn()
