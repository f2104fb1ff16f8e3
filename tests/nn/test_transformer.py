"""TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder and Transformer against
NumPy compositions of PyTorch's equations (dropout 0, eval), post-norm and norm_first, relu / gelu / a callable,
masks; cuda (interpreted) against the reference; float64 gradcheck; PyTorch's state_dict keys, init and errors."""

import math
import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F

from .test_multihead_attention import _additive, _np, mha_params, mha_ref

D_MODEL, NHEAD, FF = 8, 2, 12
_erf = np.vectorize(math.erf)
ACTS = {"relu": lambda x: np.maximum(x, 0.0), "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        "tanh": np.tanh}


def _ln(x, norm):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + norm.eps) * _np(norm.weight) + _np(norm.bias)


def _ff(layer, x, act):
    h = ACTS[act](x @ _np(layer.linear1.weight).T + _np(layer.linear1.bias))
    return h @ _np(layer.linear2.weight).T + _np(layer.linear2.bias)


def _attn(mha, x, mem, mask, kpm):
    return mha_ref(mha_params(mha), NHEAD, x, mem, mem, kpm, mask)[0]


def enc_ref(layer, x, mask=None, kpm=None, act="relu"):
    """One encoder layer on x (S, N, E)."""
    if layer.norm_first:
        x = x + _attn(layer.self_attn, _ln(x, layer.norm1), _ln(x, layer.norm1), mask, kpm)
        return x + _ff(layer, _ln(x, layer.norm2), act)
    x = _ln(x + _attn(layer.self_attn, x, x, mask, kpm), layer.norm1)
    return _ln(x + _ff(layer, x, act), layer.norm2)


def dec_ref(layer, x, mem, tgt_mask=None, mem_mask=None, tgt_kpm=None, mem_kpm=None, act="relu"):
    """One decoder layer on x (T, N, E) with memory (S, N, E)."""
    if layer.norm_first:
        h = _ln(x, layer.norm1)
        x = x + _attn(layer.self_attn, h, h, tgt_mask, tgt_kpm)
        x = x + _attn(layer.multihead_attn, _ln(x, layer.norm2), mem, mem_mask, mem_kpm)
        return x + _ff(layer, _ln(x, layer.norm3), act)
    x = _ln(x + _attn(layer.self_attn, x, x, tgt_mask, tgt_kpm), layer.norm1)
    x = _ln(x + _attn(layer.multihead_attn, x, mem, mem_mask, mem_kpm), layer.norm2)
    return _ln(x + _ff(layer, x, act), layer.norm3)


def _check(got, want, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=rtol, atol=atol)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _pad_mask(N, S):
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -1] = True
    return kpm


def _perturb(module, rng):
    """Non-trivial LayerNorm affines (ones / zeros at init would hide a swapped norm)."""
    for name, p in module.named_parameters():
        if "norm" in name:
            p.detach().copy_(tt.tensor((rng.standard_normal(tuple(p.shape)) * 0.3 + (1.0 if "weight" in name else 0.0))
                               .astype(np.float32)))
    return module


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu", "callable"])
def test_encoder_layer_matches_the_composition(rng, norm_first, act):
    tt.manual_seed(0)
    activation = {"relu": F.relu, "gelu": "gelu", "callable": tt.tanh}[act]
    layer = _perturb(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, activation=activation,
                                                norm_first=norm_first), rng).eval()
    x = _x(rng, 5, 3, D_MODEL)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    kpm = _pad_mask(3, 5)
    ref_act = {"callable": "tanh"}.get(act, act)
    want = enc_ref(layer, x.astype(np.float64), _np(mask), kpm, ref_act)
    _check(layer(tt.tensor(x), src_mask=mask, src_key_padding_mask=tt.tensor(_additive(kpm).astype(np.float32))),
           want)
    _check(layer(tt.tensor(x), src_mask=mask.isinf(), src_key_padding_mask=tt.tensor(kpm)), want)  # bool masks
    _check(layer(tt.tensor(x)), enc_ref(layer, x.astype(np.float64), act=ref_act))
    _check(layer(tt.tensor(x[:, 1])), enc_ref(layer, x[:, 1:2].astype(np.float64), act=ref_act)[:, 0])  # unbatched
    assert layer.activation_relu_or_gelu == {"relu": 1, "gelu": 2, "callable": 0}[act]


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_the_composition(rng, norm_first):
    tt.manual_seed(1)
    layer = _perturb(nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, norm_first=norm_first,
                                                activation="gelu"), rng).eval()
    x, mem = _x(rng, 4, 2, D_MODEL), _x(rng, 5, 2, D_MODEL)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4)
    mem_mask = rng.random((4, 5)) < 0.3
    mem_mask[:, 0] = False
    tgt_kpm, mem_kpm = _pad_mask(2, 4), _pad_mask(2, 5)
    want = dec_ref(layer, x.astype(np.float64), mem.astype(np.float64), _np(tgt_mask), mem_mask, tgt_kpm, mem_kpm,
                   act="gelu")
    got = layer(tt.tensor(x), tt.tensor(mem), tgt_mask=tgt_mask.isinf(), memory_mask=tt.tensor(mem_mask),
                tgt_key_padding_mask=tt.tensor(tgt_kpm), memory_key_padding_mask=tt.tensor(mem_kpm),
                tgt_is_causal=True)
    _check(got, want)


def test_batch_first_layers(rng):
    tt.manual_seed(2)
    enc = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, batch_first=True)
    dec = nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, batch_first=True)
    x, mem = _x(rng, 2, 4, D_MODEL), _x(rng, 2, 5, D_MODEL)
    want = enc_ref(enc, x.transpose(1, 0, 2).astype(np.float64))
    _check(enc(tt.tensor(x)), want.transpose(1, 0, 2))
    want = dec_ref(dec, x.transpose(1, 0, 2).astype(np.float64), mem.transpose(1, 0, 2).astype(np.float64))
    _check(dec(tt.tensor(x), tt.tensor(mem)), want.transpose(1, 0, 2))


def test_interpreted_cuda_encoder_layer(rng):
    tt.manual_seed(3)
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, norm_first=True)
    x = _x(rng, 3, 2, D_MODEL)
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    want = enc_ref(layer, x.astype(np.float64), _np(mask), _pad_mask(2, 3))
    layer.to("cuda")
    got = layer(tt.tensor(x, device="cuda"), src_mask=mask.to("cuda"),
                src_key_padding_mask=tt.tensor(_additive(_pad_mask(2, 3)).astype(np.float32), device="cuda"),
                is_causal=True)
    assert got.device.type == "cuda"
    _check(got, want)


def test_gradcheck_encoder_layer_float64(rng):
    tt.manual_seed(4)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", dtype=tt.float64)
    x = tt.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=tt.float64)

    def f(x, *params):
        return layer(x, src_mask=mask)

    assert tt.autograd.gradcheck(f, (x, *layer.parameters()))


# ---------------------------------------------------------------- stacks and the Transformer
def test_encoder_and_decoder_stacks(rng):
    tt.manual_seed(5)
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D_MODEL))
    assert isinstance(enc.layers, nn.ModuleList) and len(enc.layers) == 2 and enc.use_nested_tensor
    assert enc.layers[0] is not layer and enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(_np(enc.layers[1].linear1.weight), _np(layer.linear1.weight))  # deep copies
    _perturb(enc, rng)
    x = _x(rng, 2, 4, D_MODEL)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    h = x.transpose(1, 0, 2).astype(np.float64)
    for mod in enc.layers:
        h = enc_ref(mod, h, _np(mask))
    want = _ln(h, enc.norm).transpose(1, 0, 2)
    _check(enc(tt.tensor(x), mask=mask), want)  # is_causal detected from the mask
    _check(enc(tt.tensor(x), mask=mask, is_causal=True), want)

    dlayer = nn.TransformerDecoderLayer(D_MODEL, NHEAD, FF, dropout=0.0)
    dec = _perturb(nn.TransformerDecoder(dlayer, 2, norm=nn.LayerNorm(D_MODEL)), rng)
    t, mem = _x(rng, 3, 2, D_MODEL), _x(rng, 4, 2, D_MODEL)
    h = t.astype(np.float64)
    tmask = nn.Transformer.generate_square_subsequent_mask(3)
    for mod in dec.layers:
        h = dec_ref(mod, h, mem.astype(np.float64), _np(tmask))
    _check(dec(tt.tensor(t), tt.tensor(mem), tgt_mask=tmask), _ln(h, dec.norm))


def test_encoder_nested_tensor_warning():
    with pytest.warns(UserWarning, match=r"^enable_nested_tensor is True, but self.use_nested_tensor is False because "
                      r"encoder_layer.norm_first was True$"):
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, norm_first=True), 1)
    assert not enc.use_nested_tensor and enc.enable_nested_tensor
    with pytest.warns(UserWarning, match=r"because encoder_layer.self_attn.num_heads is odd$"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, 1, FF, batch_first=True), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF), 1, enable_nested_tensor=False)
        assert not enc.use_nested_tensor and enc.mask_check


def _transformer(**kw):
    with pytest.warns(UserWarning, match="enable_nested_tensor is True"):
        return nn.Transformer(D_MODEL, NHEAD, 2, 1, FF, dropout=0.0, **kw)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_the_composition(rng, norm_first):
    tt.manual_seed(6)
    model = _perturb(_transformer(norm_first=norm_first), rng).eval()
    src, tgt = _x(rng, 5, 2, D_MODEL), _x(rng, 3, 2, D_MODEL)
    tmask = nn.Transformer.generate_square_subsequent_mask(3)
    skpm = _pad_mask(2, 5)
    h = src.astype(np.float64)
    for mod in model.encoder.layers:
        h = enc_ref(mod, h, None, skpm)
    mem = _ln(h, model.encoder.norm)
    h = tgt.astype(np.float64)
    for mod in model.decoder.layers:
        h = dec_ref(mod, h, mem, _np(tmask), None, None, skpm)
    want = _ln(h, model.decoder.norm)
    got = model(tt.tensor(src), tt.tensor(tgt), tgt_mask=tmask, src_key_padding_mask=tt.tensor(skpm),
                memory_key_padding_mask=tt.tensor(skpm))
    _check(got, want)
    _check(model(tt.tensor(src[:, 0]), tt.tensor(tgt[:, 0]), tgt_mask=tmask),  # unbatched
           model(tt.tensor(src[:, :1]), tt.tensor(tgt[:, :1]), tgt_mask=tmask)[:, 0].detach().numpy())


def test_transformer_init_keys_and_errors():
    tt.manual_seed(7)
    model = _transformer()
    keys = list(model.state_dict())
    assert keys[:12] == [f"encoder.layers.0.{k}" for k in (
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
        "norm2.weight", "norm2.bias")]
    assert keys[24:26] == ["encoder.norm.weight", "encoder.norm.bias"]
    assert keys[26:] == [f"decoder.layers.0.{k}" for k in (
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight",
        "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias")] + [
        "decoder.norm.weight", "decoder.norm.bias"]
    # xavier_uniform_ on every matrix: linear1 (FF, E) is bounded by sqrt(6 / (FF + E)), not kaiming's bound
    w = _np(model.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= math.sqrt(6.0 / (FF + D_MODEL)) and np.abs(w).max() > 1 / math.sqrt(D_MODEL)
    assert (model.d_model, model.nhead, model.batch_first) == (D_MODEL, NHEAD, False)
    src, tgt = tt.zeros(5, 2, D_MODEL), tt.zeros(3, 3, D_MODEL)
    with pytest.raises(RuntimeError, match="^the batch number of src and tgt must be equal$"):
        model(src, tgt)
    with pytest.raises(RuntimeError, match="^the feature number of src and tgt must be equal to d_model$"):
        model(src, tt.zeros(3, 2, 6))
    bf = nn.Transformer(D_MODEL, NHEAD, 1, 1, FF, batch_first=True)
    with pytest.raises(RuntimeError, match="^the batch number of src and tgt must be equal$"):
        bf(tt.zeros(2, 5, D_MODEL), tt.zeros(3, 5, D_MODEL))
    custom = nn.Transformer(D_MODEL, NHEAD, custom_encoder=nn.Identity(), custom_decoder=nn.Identity(),
                            batch_first=True)
    assert isinstance(custom.encoder, nn.Identity) and list(custom.state_dict()) == []


def test_layer_keys_and_activation_errors():
    assert list(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, bias=False).state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "linear2.weight", "norm1.weight",
        "norm2.weight"]
    with pytest.raises(RuntimeError, match="^activation should be relu/gelu, not tanh$"):
        nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation="tanh")
    with pytest.raises(RuntimeError, match="^activation should be relu/gelu, not silu$"):
        nn.TransformerDecoderLayer(D_MODEL, NHEAD, activation="silu")
    assert nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation=nn.GELU()).activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation=nn.ReLU()).activation_relu_or_gelu == 1
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD)
    assert (layer.linear1.out_features, layer.dropout.p, layer.norm1.eps, layer.norm_first) == (2048, 0.1, 1e-5, False)
    with pytest.raises(RuntimeError, match="^Need attn_mask if specifying the is_causal hint"):
        layer(tt.zeros(3, 1, D_MODEL), is_causal=True)


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    want = np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1)
    assert m.dtype == tt.float32 and m.device.type == "cpu"
    np.testing.assert_array_equal(m.numpy(), want)
    m = nn.Transformer.generate_square_subsequent_mask(3, device="cuda", dtype=tt.float64)
    assert m.dtype == tt.float64 and m.device.type == "cuda"
    np.testing.assert_array_equal(m.cpu().numpy(), want[:3, :3])


def test_interpreted_cuda_transformer_matches_cpu(rng):
    tt.manual_seed(8)
    model = nn.Transformer(D_MODEL, NHEAD, 1, 1, FF, dropout=0.0, batch_first=True, activation="gelu")
    src, tgt = _x(rng, 2, 4, D_MODEL), _x(rng, 2, 3, D_MODEL)
    tmask = nn.Transformer.generate_square_subsequent_mask(3)
    kpm = _pad_mask(2, 4)
    want = model(tt.tensor(src), tt.tensor(tgt), tgt_mask=tmask, src_key_padding_mask=tt.tensor(kpm),
                 memory_key_padding_mask=tt.tensor(kpm)).detach().numpy()
    model.to("cuda")
    got = model(tt.tensor(src, device="cuda"), tt.tensor(tgt, device="cuda"), tgt_mask=tmask.to("cuda"),
                src_key_padding_mask=tt.tensor(kpm, device="cuda"),
                memory_key_padding_mask=tt.tensor(kpm, device="cuda"))
    assert got.device.type == "cuda"
    _check(got, want)
