"""F.scaled_dot_product_attention (ops/attention.py) on cpu and interpreted cuda: values against the NumPy
reference, shapes (2-d to 5-d, broadcast batch dims, GQA, Ev != E), gradcheck in float64 (the float mask's
gradient and double backward included), cuda's backward against cpu's (dropout with one seed included),
the grad_fn name and PyTorch's errors."""

import math

import numpy as np
import pytest
from tritensor.kernels import attention_ref as R

import tritensor as tt
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck, gradgradcheck
from tritensor.ops import attention as ops_attention

DEVICES = ["cpu", "cuda"]
TOL = {tt.float32: 2e-5, tt.float64: 1e-12, tt.float16: 4e-3, tt.bfloat16: 3e-2}
sdpa = F.scaled_dot_product_attention


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _close(got, want, dtype=tt.float32, scale=1.0):
    np.testing.assert_allclose(_np(got), np.asarray(want, np.float64), rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _t(a, device, dtype=tt.float32, grad=False):
    return tt.tensor(a, device=device).to(dtype).requires_grad_(grad)


def test_registration():
    assert "scaled_dot_product_attention" in F.__all__
    assert not hasattr(tt, "scaled_dot_product_attention") and ops_attention.__all__ == []
    assert F.scaled_dot_product_attention.__doc__


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shapes", [
    ((5, 16), (7, 16), (7, 8)),  # 2-d
    ((3, 5, 16), (3, 7, 16), (3, 7, 16)),  # 3-d (heads only)
    ((2, 3, 5, 16), (1, 3, 7, 16), (2, 1, 7, 8)),  # batch and head dims broadcast
    ((2, 2, 2, 5, 16), (2, 1, 2, 7, 16), (2, 1, 2, 7, 16)),  # 5-d, a broadcast middle dim
])
def test_forward_shapes_against_reference(rng, device, shapes):
    a = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out = sdpa(*(_t(x, device) for x in a))
    want = R.attention_forward_ref(*a)[0]
    assert out.shape == want.shape and out.dtype is tt.float32
    _close(out, want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tt.float16, tt.bfloat16, tt.float64])
def test_dtypes(rng, device, dtype):
    a = [rng.standard_normal(s).astype(dtype.np) for s in ((1, 2, 5, 16), (1, 2, 7, 16), (1, 2, 7, 16))]
    out = sdpa(*(_t(x, device, dtype) for x in a), is_causal=True, scale=0.3)
    assert out.dtype is dtype
    _close(out, R.attention_forward_ref(*a, scale=0.3, causal=True)[0], dtype)


def test_gradcheck_cpu_float64(rng):
    q, k, v = (_t(rng.standard_normal(s), "cpu", tt.float64, True) for s in ((1, 4, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)))
    mask = _t(rng.standard_normal((3, 5)), "cpu", tt.float64, True)
    assert gradcheck(lambda a, b, c: sdpa(a, b, c, is_causal=True, enable_gqa=True), (q, k, v))
    assert gradcheck(lambda a, b, c, m: sdpa(a, b, c, attn_mask=m, enable_gqa=True), (q, k, v, mask))

    def dropped(a, b, c):
        tt.manual_seed(3)  # the same Philox mask at every evaluation
        return sdpa(a, b, c, dropout_p=0.3, enable_gqa=True)
    assert gradcheck(dropped, (q, k, v))


def test_double_backward_cpu(rng):
    q, k, v = (_t(rng.standard_normal(s), "cpu", tt.float64, True) for s in ((1, 2, 3, 4), (1, 1, 4, 4), (1, 1, 4, 2)))
    assert gradgradcheck(lambda a, b, c: sdpa(a, b, c, is_causal=True, enable_gqa=True), (q, k, v))


CASES = {
    "plain": dict(),
    "causal_gqa": dict(is_causal=True, enable_gqa=True),
    "bool_mask": dict(mask="bool"),
    "float_mask_grad": dict(mask="float"),
    "dropout": dict(dropout_p=0.25, enable_gqa=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cuda_matches_cpu_forward_and_backward(rng, case):
    kw = dict(CASES[case])
    kind = kw.pop("mask", None)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 4, 9, 16), (2, 2, 11, 16), (2, 2, 11, 16))]
    if kind != "float":
        kw["enable_gqa"] = True
    if kind == "bool":
        m = rng.random((2, 1, 9, 11)) > 0.4
        m[0, 0, 2] = False  # a query row with no key: output and gradient 0
    elif kind == "float":
        m = rng.standard_normal((9, 11)).astype(np.float32)
        arrays = [np.repeat(a, 2, axis=1) if i else a for i, a in enumerate(arrays)]
    grad = rng.standard_normal((2, 4, 9, 16)).astype(np.float32)
    results = {}
    for device in DEVICES:
        ts = [_t(a, device, grad=True) for a in arrays]
        if kind:
            kw["attn_mask"] = _t(m, device, tt.bool if kind == "bool" else tt.float32, kind == "float")
        tt.manual_seed(5)
        out = sdpa(*ts, **kw)
        assert out.grad_fn.name() == "ScaledDotProductAttentionBackward0"
        out.backward(_t(grad, device))
        grads = [t.grad for t in ts] + ([kw["attn_mask"].grad] if kind == "float" else [])
        results[device] = [out] + grads
    if kind == "bool":
        assert np.all(_np(results["cuda"][0])[0, :, 2] == 0) and np.all(_np(results["cuda"][1])[0, :, 2] == 0)
    for got, want in zip(results["cuda"], results["cpu"]):
        _close(got, _np(want), scale=4.0)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_draws_from_the_default_generator(rng, device):
    a = [_t(rng.standard_normal((1, 1, 6, 16)), device) for _ in range(3)]
    tt.manual_seed(1)
    first = sdpa(*a, dropout_p=0.5)
    second = sdpa(*a, dropout_p=0.5)
    tt.manual_seed(1)
    again = sdpa(*a, dropout_p=0.5)
    _close(again, _np(first))
    assert not np.allclose(_np(first), _np(second))
    assert np.all(_np(sdpa(*a, dropout_p=1.0)) == 0)


@pytest.mark.parametrize("device", DEVICES)
def test_no_keys_gives_zeros(device):
    q, k, v = tt.ones(2, 3, 4, device=device), tt.ones(2, 0, 4, device=device), tt.ones(2, 0, 5, device=device)
    out = sdpa(q, k, v)
    assert out.shape == (2, 3, 5) and np.all(_np(out) == 0)


def test_default_scale_is_inverse_sqrt_head_dim(rng):
    a = [rng.standard_normal((1, 1, 3, 9)) for _ in range(3)]
    got = sdpa(*(_t(x, "cpu", tt.float64) for x in a))
    _close(got, R.attention_forward_ref(*a, scale=1 / math.sqrt(9))[0], tt.float64)


def _errors(device):
    q, k, v = tt.ones(1, 2, 3, 4, device=device), tt.ones(1, 2, 5, 4, device=device), tt.ones(1, 2, 5, 4, device=device)
    return q, k, v, [
        (lambda: sdpa(q, 1, v), TypeError,
         "scaled_dot_product_attention(): argument 'key' (position 2) must be Tensor, not int"),
        (lambda: sdpa(q, k.half(), v), RuntimeError,
         "Expected query, key, and value to have the same dtype, but got query.dtype: float key.dtype: c10::Half "
         "and value.dtype: float instead."),
        (lambda: sdpa(tt.ones(4, device=device), k, v), RuntimeError,
         "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: 1 key.dim: 4 and "
         "value.dim: 4 instead."),
        (lambda: sdpa(q, k, v, attn_mask=tt.ones(3, 5, dtype=tt.int64, device=device)), RuntimeError,
         "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: long int "
         "and  query.dtype: float instead."),
        (lambda: sdpa(q, k, v, attn_mask=tt.ones(3, 5, dtype=tt.bool, device=device), is_causal=True), RuntimeError,
         "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"),
        (lambda: sdpa(tt.ones(1, 3, 3, 4, device=device), k, v, enable_gqa=True), RuntimeError,
         "Number of heads in key and value must divide the number of heads in "),
        (lambda: sdpa(tt.ones(3, 4, device=device), tt.ones(5, 4, device=device), tt.ones(5, 4, device=device),
                      enable_gqa=True), IndexError, "Dimension out of range (expected to be in range of [-2, 1], but "
                                                     "got -3)"),
        (lambda: sdpa(tt.ones(1, 3, 3, 4, device=device), k, v), RuntimeError,
         "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"),
        (lambda: sdpa(q, tt.ones(1, 2, 5, 6, device=device), v), RuntimeError,
         "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 6]."),
        (lambda: sdpa(q, k, tt.ones(1, 2, 6, 4, device=device)), RuntimeError,
         "Expected size for first two dimensions of batch2 tensor to be: [2, 5] but got: [2, 6]."),
        (lambda: sdpa(q[0, 0], k[0, 0, :, :3], v[0, 0]), RuntimeError,
         "mat1 and mat2 shapes cannot be multiplied (3x4 and 3x5)"),
        (lambda: sdpa(q, k, v, attn_mask=tt.ones(2, 2, 3, 5, device=device)), RuntimeError,
         "output with shape [1, 2, 3, 5] doesn't match the broadcast shape [2, 2, 3, 5]"),
        (lambda: sdpa(q, k, v, dropout_p=1.5), RuntimeError,
         "dropout probability has to be between 0 and 1, but got 1.5"),
    ]


@pytest.mark.parametrize("device", DEVICES)
def test_errors(device):
    *_, cases = _errors(device)
    for call, exc, message in cases:
        with pytest.raises(exc) as info:
            call()
        assert str(info.value) == message


def test_device_mismatch():
    q = tt.ones(1, 1, 3, 4)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same device type, but got "
                                           "query.device: cpu key.device: cuda"):
        sdpa(q, q.to("cuda"), q)


@pytest.mark.parametrize("size", ["kept", "recomputed"])
def test_cpu_backward_equals_the_reference_exactly(rng, monkeypatch, size):
    # The cpu forward keeps its probabilities for the backward (up to _KEEP_PROBS_BYTES; beyond, the backward
    # recomputes them): either way the gradients are exactly the reference's recomputation.
    if size == "recomputed":
        monkeypatch.setattr(ops_attention, "_KEEP_PROBS_BYTES", 0)
    qkv = rng.standard_normal((2, 6, 3, 2, 4)).astype(np.float32)
    g = rng.standard_normal((2, 2, 6, 4)).astype(np.float32)
    x = tt.tensor(qkv, requires_grad=True)
    q, k, v = x.permute(2, 0, 3, 1, 4)
    out = sdpa(q, k, v, is_causal=True)
    assert (out.grad_fn.probs is None) == (size == "recomputed")
    out.backward(tt.tensor(g))
    qn, kn, vn = qkv.transpose(2, 0, 3, 1, 4)
    dq, dk, dv, _ = R.attention_backward_ref(g, qn, kn, vn, None, 0.5, True)
    want = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4)
    np.testing.assert_array_equal(x.grad.numpy(), want)  # the same values (the engine's sum of the slices' zeros)
