"""nn.MultiheadAttention and F.multi_head_attention_forward against a NumPy implementation of PyTorch's equations
(output and weights) for each option, on cpu and interpreted cuda; float64 gradcheck; PyTorch's state_dict keys,
initialisation, and every error and warning."""

import copy
import math
import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F

E, H = 8, 2


# ---------------------------------------------------------------- the NumPy reference
def _np(t):
    return None if t is None else t.detach().cpu().numpy().astype(np.float64)


def _additive(mask):
    """A bool mask (True = masked out) as 0 / -inf, a float mask as is."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    return np.where(mask, -np.inf, 0.0) if mask.dtype == np.bool_ else mask.astype(np.float64)


def mha_params(m):
    """(w_q, w_k, w_v, b_q, b_k, b_v, w_o, b_o, bias_k, bias_v) of a MultiheadAttention as float64 arrays."""
    if m._qkv_same_embed_dim:
        w_q, w_k, w_v = np.split(_np(m.in_proj_weight), 3)
    else:
        w_q, w_k, w_v = _np(m.q_proj_weight), _np(m.k_proj_weight), _np(m.v_proj_weight)
    b_q = b_k = b_v = None
    if m.in_proj_bias is not None:
        b_q, b_k, b_v = np.split(_np(m.in_proj_bias), 3)
    return (w_q, w_k, w_v, b_q, b_k, b_v, _np(m.out_proj.weight), _np(m.out_proj.bias), _np(m.bias_k),
            _np(m.bias_v))


def _lin(x, w, b):
    return x @ w.T + (0.0 if b is None else b)


def mha_ref(params, num_heads, query, key, value, key_padding_mask=None, attn_mask=None, add_zero_attn=False):
    """PyTorch's multi-head attention of query (L, N, E) over key/value (S, N, *): (output (L, N, E), weights
    per head (N, num_heads, L, S'))."""
    w_q, w_k, w_v, b_q, b_k, b_v, w_o, b_o, bias_k, bias_v = params
    L, N, Em = query.shape
    hd = Em // num_heads
    q, k, v = _lin(query, w_q, b_q), _lin(key, w_k, b_k), _lin(value, w_v, b_v)
    S = k.shape[0]
    mask = np.zeros((N, num_heads, L, S))
    am = _additive(attn_mask)
    if am is not None:
        mask = mask + (am if am.ndim == 2 else am.reshape(N, num_heads, L, S))
    kpm = _additive(key_padding_mask)
    if kpm is not None:
        mask = mask + kpm[:, None, None, :]
    extra = []
    if bias_k is not None:
        extra.append((np.broadcast_to(bias_k, (1, N, Em)), np.broadcast_to(bias_v, (1, N, Em))))
    if add_zero_attn:
        extra.append((np.zeros((1, N, Em)), np.zeros((1, N, Em))))
    for ek, ev in extra:  # each appended key position takes part (mask 0)
        k, v = np.concatenate([k, ek]), np.concatenate([v, ev])
        mask = np.concatenate([mask, np.zeros((N, num_heads, L, 1))], axis=-1)
    heads = lambda t: t.reshape(t.shape[0], N, num_heads, hd).transpose(1, 2, 0, 3)  # noqa: E731
    qh, kh, vh = heads(q), heads(k), heads(v)
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(hd) + mask
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    out = (p @ vh).transpose(2, 0, 1, 3).reshape(L, N, Em)
    return _lin(out, w_o, b_o), p


# ---------------------------------------------------------------- helpers
def _t(a, device, dtype=None):
    if a is None:
        return None
    t = tt.tensor(a, device=device)
    return t if dtype is None or a.dtype == np.bool_ else t.to(dtype)


def _inputs(rng, L=4, S=5, N=3, kdim=E, vdim=E):
    return (rng.standard_normal((L, N, E)).astype(np.float32), rng.standard_normal((S, N, kdim)).astype(np.float32),
            rng.standard_normal((S, N, vdim)).astype(np.float32))


def _masks(rng, L, S, N, kind, three_d=False):
    """A key padding mask (N, S) and an attn_mask (L, S) or (N*H, L, S), bool or float; no row fully masked."""
    kpm = np.zeros((N, S), dtype=bool)
    kpm[:, -1] = True
    kpm[0, 1] = True
    shape = (N * H, L, S) if three_d else (L, S)
    am = rng.random(shape) < 0.3
    am[..., 0] = False
    if kind == "float":
        return np.where(kpm, -5.0, 0.5).astype(np.float32), np.where(am, -np.inf, rng.standard_normal(shape)).astype(
            np.float32)
    return kpm, am


def _check(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=rtol, atol=atol)


OPTIONS = {
    "default": dict(),
    "no_bias": dict(bias=False),
    "bias_kv": dict(add_bias_kv=True),
    "zero_attn": dict(add_zero_attn=True),
    "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True),
    "kdim_vdim": dict(kdim=5, vdim=3),
}


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_options_match_the_equations_cpu(rng, option, need_weights):
    tt.manual_seed(0)
    kw = OPTIONS[option]
    m = nn.MultiheadAttention(E, H, **kw)
    q, k, v = _inputs(rng, kdim=kw.get("kdim", E), vdim=kw.get("vdim", E))
    kpm, am = _masks(rng, 4, 5, 3, "bool")
    out, w = m(tt.tensor(q), tt.tensor(k), tt.tensor(v), key_padding_mask=tt.tensor(kpm), attn_mask=tt.tensor(am),
               need_weights=need_weights, average_attn_weights=False)
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v, kpm, am, add_zero_attn=kw.get("add_zero_attn", False))
    _check(out, want_out)
    if need_weights:
        _check(w, want_w)
    else:
        assert w is None


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("three_d", [False, True])
def test_masks_and_average_weights(rng, kind, three_d):
    tt.manual_seed(1)
    m = nn.MultiheadAttention(E, H)
    q, k, v = _inputs(rng)
    kpm, am = _masks(rng, 4, 5, 3, kind, three_d)
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v, kpm, am)
    for need_weights in (True, False):
        out, w = m(tt.tensor(q), tt.tensor(k), tt.tensor(v), key_padding_mask=tt.tensor(kpm), attn_mask=tt.tensor(am),
                   need_weights=need_weights)
        _check(out, want_out)
        if need_weights:
            _check(w, want_w.mean(1))  # averaged over heads by default
    # each mask alone
    _check(m(tt.tensor(q), tt.tensor(k), tt.tensor(v), attn_mask=tt.tensor(am))[0],
           mha_ref(mha_params(m), H, q, k, v, None, am)[0])
    _check(m(tt.tensor(q), tt.tensor(k), tt.tensor(v), key_padding_mask=tt.tensor(kpm), need_weights=False)[0],
           mha_ref(mha_params(m), H, q, k, v, kpm, None)[0])


def test_self_cross_attention_batch_first_and_unbatched(rng):
    tt.manual_seed(2)
    m = nn.MultiheadAttention(E, H)
    mb = nn.MultiheadAttention(E, H, batch_first=True)
    mb.load_state_dict(m.state_dict())
    q, k, _ = _inputs(rng, S=4)
    tq, tk = tt.tensor(q), tt.tensor(k)
    params = mha_params(m)
    for need_weights in (True, False):
        # self-attention (one packed projection) and encoder-decoder attention (key is value)
        _check(m(tq, tq, tq, need_weights=need_weights)[0], mha_ref(params, H, q, q, q)[0])
        _check(m(tq, tk, tk, need_weights=need_weights)[0], mha_ref(params, H, q, k, k)[0])
        # batch_first: (N, L, E) in and out, the same weights
        bq, bk = tq.transpose(0, 1).contiguous(), tk.transpose(0, 1).contiguous()
        out, w = mb(bq, bq, bq, need_weights=need_weights)
        _check(out, mha_ref(params, H, q, q, q)[0].transpose(1, 0, 2))
        out, w = mb(bq, bk, bk, need_weights=need_weights)
        _check(out, mha_ref(params, H, q, k, k)[0].transpose(1, 0, 2))
        if need_weights:
            _check(w, mha_ref(params, H, q, k, k)[1].mean(1))
        # unbatched: (L, E); batch_first is ignored
        kpm = np.array([False, True, False, False])
        am = np.zeros((H, 4, 4), dtype=bool)
        am[1, :, 2] = True
        out, w = mb(tq[:, 1], tk[:, 1], tk[:, 1], key_padding_mask=tt.tensor(kpm), attn_mask=tt.tensor(am),
                    need_weights=need_weights, average_attn_weights=False)
        ref_out, ref_w = mha_ref(params, H, q[:, 1:2], k[:, 1:2], k[:, 1:2], kpm[None], am)
        _check(out, ref_out[:, 0])
        if need_weights:
            _check(w, ref_w[0])


@pytest.mark.parametrize("need_weights", [True, False])
def test_interpreted_cuda_matches_cpu(rng, need_weights):
    tt.manual_seed(3)
    m = nn.MultiheadAttention(E, H, add_bias_kv=True)
    q, k, v = _inputs(rng, L=3, S=4, N=2)
    kpm, am = _masks(rng, 3, 4, 2, "bool")
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v, kpm, am)
    mc = copy.deepcopy(m).to("cuda")
    out, w = mc(*(tt.tensor(a, device="cuda") for a in (q, k, v)), key_padding_mask=tt.tensor(kpm, device="cuda"),
                attn_mask=tt.tensor(am, device="cuda"), need_weights=need_weights)
    assert out.device.type == "cuda"
    _check(out, want_out, rtol=1e-4, atol=1e-5)
    if need_weights:
        _check(w, want_w.mean(1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("need_weights", [True, False])
def test_interpreted_cuda_separate_weights_zero_attn_batch_first(rng, need_weights):
    tt.manual_seed(8)
    m = nn.MultiheadAttention(E, H, add_zero_attn=True, kdim=5, vdim=3, batch_first=True).to("cuda")
    q, k, v = _inputs(rng, L=3, S=4, N=2, kdim=5, vdim=3)
    kpm, am = _masks(rng, 3, 4, 2, "float", three_d=True)
    out, w = m(*(tt.tensor(a.transpose(1, 0, 2).copy(), device="cuda") for a in (q, k, v)),
               key_padding_mask=tt.tensor(kpm, device="cuda"), attn_mask=tt.tensor(am, device="cuda"),
               need_weights=need_weights, average_attn_weights=False)
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v, kpm, am, add_zero_attn=True)
    _check(out, want_out.transpose(1, 0, 2), rtol=1e-4, atol=1e-5)
    if need_weights:
        _check(w, want_w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("need_weights", [True, False])
def test_gradcheck_float64(rng, need_weights):
    tt.manual_seed(4)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=tt.float64)
    q = tt.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = tt.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    am = tt.tensor(rng.standard_normal((3, 2)))
    kpm = tt.tensor(np.array([[0.0, -np.inf], [0.0, 0.0]]))

    def f(q, k, *params):
        out, w = m(q, k, k, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights)
        return out if w is None else out.sum() + (w * w).sum()

    assert tt.autograd.gradcheck(f, (q, k, *m.parameters()))


def test_is_causal_hint(rng):
    tt.manual_seed(5)
    m = nn.MultiheadAttention(E, H)
    q, _, _ = _inputs(rng, L=4)
    tq = tt.tensor(q)
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    want = mha_ref(mha_params(m), H, q, q, q, None, _np(causal))[0]
    for need_weights in (True, False):
        _check(m(tq, tq, tq, attn_mask=causal, is_causal=True, need_weights=need_weights)[0], want)
    kpm = np.array([[0.0] * 3 + [-np.inf]] * 3, dtype=np.float32)
    _check(m(tq, tq, tq, attn_mask=causal, key_padding_mask=tt.tensor(kpm), is_causal=True, need_weights=False)[0],
           mha_ref(mha_params(m), H, q, q, q, kpm, _np(causal))[0])
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint. You may use the "
                       "Transformer module method `generate_square_subsequent_mask` to create this mask."):
        m(tq, tq, tq, is_causal=True, need_weights=False)


def test_dropout_only_in_training(rng):
    tt.manual_seed(6)
    m = nn.MultiheadAttention(E, H, dropout=0.5)
    q, k, v = _inputs(rng)
    args = [tt.tensor(a) for a in (q, k, v)]
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v)
    m.eval()
    out, w = m(*args)
    _check(out, want_out)
    _check(w, want_w.mean(1))
    m.train()
    _, w = m(*args, average_attn_weights=False)
    w = w.detach().numpy()
    kept = w != 0
    assert 0 < kept.mean() < 1  # some weights dropped, the rest scaled by 1 / (1 - p)
    np.testing.assert_allclose(w[kept], 2 * want_w[kept], rtol=1e-5)


def test_functional_matches_module_with_static_kv(rng):
    tt.manual_seed(7)
    m = nn.MultiheadAttention(E, H)
    q, k, v = _inputs(rng)
    tq, tk, tv = (tt.tensor(a) for a in (q, k, v))
    out, w = F.multi_head_attention_forward(tq, tk, tv, E, H, m.in_proj_weight, m.in_proj_bias, None, None, False,
                                            0.0, m.out_proj.weight, m.out_proj.bias)
    want_out, want_w = mha_ref(mha_params(m), H, q, k, v)
    _check(out, want_out)
    _check(w, want_w.mean(1))
    # static_k / static_v replace the projected keys and values: pass the projections themselves
    w_q, w_k, w_v, b_q, b_k, b_v = mha_params(m)[:6]
    sk = _lin(k, w_k, b_k).reshape(5, 3 * H, E // H).transpose(1, 0, 2).astype(np.float32)
    sv = _lin(v, w_v, b_v).reshape(5, 3 * H, E // H).transpose(1, 0, 2).astype(np.float32)
    out, _ = F.multi_head_attention_forward(tq, tq, tq, E, H, m.in_proj_weight, m.in_proj_bias, None, None, False,
                                            0.0, m.out_proj.weight, m.out_proj.bias, static_k=tt.tensor(sk),
                                            static_v=tt.tensor(sv))
    _check(out, want_out)


# ---------------------------------------------------------------- parameters
def test_state_dict_keys_shapes_and_init():
    tt.manual_seed(0)
    assert list(nn.MultiheadAttention(E, H).state_dict()) == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert list(nn.MultiheadAttention(E, H, bias=False, add_bias_kv=True).state_dict()) == [
        "in_proj_weight", "bias_k", "bias_v", "out_proj.weight"]
    m = nn.MultiheadAttention(E, H, kdim=5, vdim=3, add_bias_kv=True)
    assert list(m.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                    "bias_v", "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight is None and m.q_proj_weight.shape == (E, E) and m.k_proj_weight.shape == (E, 5)
    assert m.v_proj_weight.shape == (E, 3) and m.bias_k.shape == (1, 1, E) and m.in_proj_bias.shape == (3 * E,)
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(m.out_proj, nn.Linear)
    assert nn.MultiheadAttention(E, H).bias_k is None
    big = nn.MultiheadAttention(64, 4)
    w = big.in_proj_weight.detach().numpy()
    bound = math.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ over the packed (3E, E) weight
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not big.in_proj_bias.detach().numpy().any() and not big.out_proj.bias.detach().numpy().any()
    assert (m.head_dim, m.kdim, m.vdim, m._qkv_same_embed_dim) == (4, 5, 3, False)
    c = copy.deepcopy(m)
    assert c.q_proj_weight is not m.q_proj_weight and isinstance(c.q_proj_weight, nn.Parameter)


# ---------------------------------------------------------------- errors
def test_constructor_errors():
    with pytest.raises(AssertionError, match="^embed_dim must be divisible by num_heads$"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"^embed_dim and num_heads must be greater than 0, got embed_dim=0 and "
                       r"num_heads=2 instead$"):
        nn.MultiheadAttention(0, 2)


def _err(m, q, k, v, exc, msg, **kw):
    with pytest.raises(exc) as info:
        m(q, k, v, **kw)
    assert str(info.value) == msg


def test_shape_and_mask_errors():
    m = nn.MultiheadAttention(E, H)
    q3, q2 = tt.zeros(4, 3, E), tt.zeros(4, E)
    k3, k2 = tt.zeros(5, 3, E), tt.zeros(5, E)
    Sz = "tritensor.Size"
    _err(m, q3, k2, k2, AssertionError, "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
         "2-D and 2-D tensors respectively")
    _err(m, q3, k3, k3, AssertionError, "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D "
         "but found 1-D tensor instead", key_padding_mask=tt.zeros(5, dtype=tt.bool))
    _err(m, q3, k3, k3, AssertionError, "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
         "but found 1-D tensor instead", attn_mask=tt.zeros(5, dtype=tt.bool))
    _err(m, q2, k3, k3, AssertionError, "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
         "3-D and 3-D tensors respectively")
    _err(m, q2, k2, k2, AssertionError, "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
         "but found 2-D tensor instead", key_padding_mask=tt.zeros(1, 5, dtype=tt.bool))
    _err(m, q2, k2, k2, AssertionError, "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
         "but found 4-D tensor instead", attn_mask=tt.zeros(1, 1, 4, 5, dtype=tt.bool))
    _err(m, q2, k2, k2, AssertionError, f"Expected `attn_mask` shape to be (2, 4, 5) but got {Sz}([3, 4, 5])",
         attn_mask=tt.zeros(3, 4, 5, dtype=tt.bool))
    _err(m, tt.zeros(E), k2, k2, AssertionError, "query should be unbatched 2D or batched 3D tensor but received 1-D "
         "query tensor")
    _err(m, q3, k3, k3, RuntimeError, f"The shape of the 2D attn_mask is {Sz}([4, 4]), but should be (4, 5).",
         attn_mask=tt.zeros(4, 4, dtype=tt.bool))
    _err(m, q3, k3, k3, RuntimeError, f"The shape of the 3D attn_mask is {Sz}([2, 4, 5]), but should be (6, 4, 5).",
         attn_mask=tt.zeros(2, 4, 5, dtype=tt.bool))
    _err(m, q3, k3, k3, AssertionError, f"expecting key_padding_mask shape of (3, 5), but got {Sz}([3, 4])",
         key_padding_mask=tt.zeros(3, 4, dtype=tt.bool))
    _err(m, q3, k3, k3, AssertionError, "only bool and floating types of key_padding_mask are supported",
         key_padding_mask=tt.zeros(3, 5, dtype=tt.int64))
    _err(m, q3, k3, k3, AssertionError, "only bool and floating types of attn_mask are supported",
         attn_mask=tt.zeros(4, 5, dtype=tt.uint8))
    _err(m, tt.zeros(4, 3, 6), k3, k3, AssertionError, "was expecting embedding dimension of 8, but got 6")
    _err(m, q3, k3, tt.zeros(4, 3, E), AssertionError,
         f"key shape {Sz}([5, 3, 8]) does not match value shape {Sz}([4, 3, 8])")
    ms = nn.MultiheadAttention(E, H, kdim=5, vdim=3)
    _err(ms, q3, tt.zeros(5, 3, 5), tt.zeros(4, 3, 3), AssertionError,
         f"key's sequence and batch dims {Sz}([5, 3]) do not match value's {Sz}([4, 3])")
    _err(ms, q3, tt.zeros(5, 3, 4), tt.zeros(5, 3, 3), AssertionError,
         f"expecting key weights shape of (8, 4), but got {Sz}([8, 5])")


def test_functional_errors():
    q = tt.zeros(4, 3, E)
    w, b, wo = tt.zeros(3 * E, E), tt.zeros(3 * E), tt.zeros(E, E)
    with pytest.raises(AssertionError, match="^embed_dim 8 not divisible by num_heads 3$"):
        F.multi_head_attention_forward(q, q, q, E, 3, w, b, None, None, False, 0.0, wo, None)
    with pytest.raises(AssertionError, match="^use_separate_proj_weight is False but in_proj_weight is None$"):
        F.multi_head_attention_forward(q, q, q, E, H, None, b, None, None, False, 0.0, wo, None)
    with pytest.raises(AssertionError, match="^use_separate_proj_weight is True but q_proj_weight is None$"):
        F.multi_head_attention_forward(q, q, q, E, H, None, b, None, None, False, 0.0, wo, None,
                                       use_separate_proj_weight=True)
    bias = tt.zeros(1, 1, E)
    with pytest.raises(AssertionError, match="^bias cannot be added to static key.$"):
        F.multi_head_attention_forward(q, q, q, E, H, w, b, bias, bias, False, 0.0, wo, None,
                                       static_k=tt.zeros(3 * H, 4, E // H))
    with pytest.raises(AssertionError, match="^expecting static_k.size\\(0\\) of 6, but got 5$"):
        F.multi_head_attention_forward(q, q, q, E, H, w, b, None, None, False, 0.0, wo, None,
                                       static_k=tt.zeros(5, 4, E // H))
    with pytest.raises(AssertionError, match="^expecting static_v.size\\(2\\) of 4, but got 3$"):
        F.multi_head_attention_forward(q, q, q, E, H, w, b, None, None, False, 0.0, wo, None,
                                       static_v=tt.zeros(6, 4, 3))
    with pytest.raises(AssertionError):  # bias_k without bias_v
        F.multi_head_attention_forward(q, q, q, E, H, w, b, bias, None, False, 0.0, wo, None)


def test_mismatched_mask_types_warn(rng):
    m = nn.MultiheadAttention(E, H)
    q = tt.tensor(rng.standard_normal((4, 3, E)).astype(np.float32))
    kpm, am = _masks(rng, 4, 4, 3, "bool")
    with pytest.warns(UserWarning, match="^Support for mismatched key_padding_mask and attn_mask is deprecated. Use "
                      "same type for both instead.$"):
        out = m(q, q, q, key_padding_mask=tt.tensor(kpm), attn_mask=tt.tensor(_additive(am).astype(np.float32)))[0]
    _check(out, mha_ref(mha_params(m), H, q.numpy(), q.numpy(), q.numpy(), kpm, am)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(q, q, q, key_padding_mask=tt.tensor(kpm), attn_mask=tt.tensor(am))


def test_merge_masks():
    m = nn.MultiheadAttention(E, H, batch_first=True)
    q = tt.zeros(2, 3, E)
    kpm = tt.tensor(np.array([[0.0, 0.0, -np.inf], [0.0, -np.inf, 0.0]], dtype=np.float32))
    am = tt.tensor(np.triu(np.full((3, 3), -np.inf, dtype=np.float32), 1))
    assert m.merge_masks(None, None, q) == (None, None)
    merged, kind = m.merge_masks(None, kpm, q)
    assert kind == 1 and merged is kpm
    merged, kind = m.merge_masks(am, kpm, q)
    assert kind == 2 and merged.shape == (2, H, 3, 3)
    want = am.numpy()[None, None] + kpm.numpy()[:, None, None, :]
    np.testing.assert_array_equal(merged.numpy(), np.broadcast_to(want, (2, H, 3, 3)))
