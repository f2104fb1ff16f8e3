"""tt.save(model) / tt.load: whole modules as safetensors + JSON, rebuilt only from allowed classes, never pickle."""

import io
import json
import pickle

import numpy as np
import pytest
import safetensors

import tritensor as tt
import tritensor.io as tio
from tritensor import nn, optim, serialization
from tritensor.models import GPT, CharLSTM
from tritensor.models.gpt import Block, CausalSelfAttention


class Scaled(nn.Module):
    """A user module with plain-data attributes, a non-persistent buffer and a frozen parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.frozen = nn.Parameter(tt.ones(2), requires_grad=False)
        self.register_buffer("offset", tt.full((2,), 0.5), persistent=False)
        self.scale, self.name, self.flag, self.none = 2.5, "scaled", True, None
        self.config = {"sizes": (3, 2), "tags": ["a", "b"], "dtype": tt.float32, "device": tt.device("cpu")}

    def forward(self, x):
        return self.fc(x) * self.scale * self.frozen + self.offset


@pytest.fixture(autouse=True)
def _clean_allow_list():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


def _buf(model) -> io.BytesIO:
    f = io.BytesIO()
    tt.save(model, f)
    f.seek(0)
    return f


def _structure(f: io.BytesIO) -> dict:
    header = safetensors.deserialize(f.getvalue())  # just checks it parses as safetensors
    assert header is not None
    n = int.from_bytes(f.getvalue()[:8], "little")
    return json.loads(json.loads(f.getvalue()[8:8 + n])["__metadata__"]["tritensor.structure"])


def _classes(model) -> list:
    return list({type(m) for m in model.modules()})


def _load(model, **kw):
    f = _buf(model)
    with serialization.safe_globals(_classes(model)):
        return tio.load(f, **kw)


def _check_params(a, b) -> None:
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert list(pa) == list(pb)
    for k in pa:
        assert isinstance(pb[k], nn.Parameter) and pb[k].is_leaf and pb[k].requires_grad == pa[k].requires_grad
        np.testing.assert_array_equal(pa[k].detach().numpy(), pb[k].detach().numpy())


def _x(*shape):
    return tt.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def test_mlp_round_trip_and_trains_further():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    back = _load(model)
    assert type(back) is nn.Sequential and [type(m) for m in back] == [nn.Linear, nn.ReLU, nn.Linear]
    assert back[0] is not model[0]
    _check_params(model, back)
    x = _x(5, 4)
    np.testing.assert_array_equal(model(x).detach().numpy(), back(x).detach().numpy())
    before = back[0].weight.detach().numpy().copy()
    opt = optim.SGD(back.parameters(), lr=0.1)
    back(x).sum().backward()
    assert back[0].weight.grad is not None
    opt.step()
    assert not np.array_equal(before, back[0].weight.detach().numpy())


def test_cnn_with_batchnorm_keeps_buffers_and_mode():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2))
    x = _x(2, 1, 4, 4)
    model(x)  # updates running stats and num_batches_tracked
    model.eval()
    back = _load(model)
    assert not back.training and not back[1].training
    for k, v in model.named_buffers():
        w = dict(back.named_buffers())[k]
        assert w.dtype is v.dtype and not w.requires_grad
        np.testing.assert_array_equal(v.numpy(), w.numpy())
    assert int(back[1].num_batches_tracked.item()) == 1
    assert back[0].padding == model[0].padding and back[1].eps == model[1].eps
    np.testing.assert_allclose(model(x).detach().numpy(), back(x).detach().numpy(), rtol=0, atol=0)


def test_gpt_weight_tying_survives():
    model = GPT(11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    f = _buf(model)
    assert sum(1 for k in safetensors.deserialize(f.getvalue()) if k[0].endswith("tok_emb.weight")) == 1
    assert not any(name.startswith("head.weight") for name, _ in safetensors.deserialize(f.getvalue()))
    with serialization.safe_globals([GPT, Block, CausalSelfAttention, nn.Embedding, nn.Dropout, nn.ModuleList,
                                     nn.LayerNorm, nn.Linear, nn.Sequential, nn.GELU]):
        back = tio.load(f)
    assert back.head.weight is back.tok_emb.weight
    assert len(list(back.parameters())) == len(list(model.parameters()))
    idx = tt.tensor([[1, 2, 3, 4]])
    np.testing.assert_array_equal(model(idx).detach().numpy(), back(idx).detach().numpy())
    back(idx).sum().backward()
    assert back.tok_emb.weight.grad is not None


def test_char_lstm_and_lstm():
    model = CharLSTM(7, hidden=6, num_layers=2)
    back = _load(model)
    _check_params(model, back)
    idx = tt.tensor([[1, 2, 3]])
    (out_a, (h_a, _)), (out_b, (h_b, _)) = model(idx), back(idx)
    np.testing.assert_array_equal(out_a.detach().numpy(), out_b.detach().numpy())
    np.testing.assert_array_equal(h_a.detach().numpy(), h_b.detach().numpy())
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    back = _load(lstm)
    assert back._flat_weights_names == lstm._flat_weights_names and back.batch_first
    np.testing.assert_array_equal(lstm(_x(1, 2, 3))[0].detach().numpy(), back(_x(1, 2, 3))[0].detach().numpy())


def test_custom_module_plain_data_attributes():
    model = Scaled()
    back = _load(model)
    assert type(back) is Scaled
    assert (back.scale, back.name, back.flag, back.none) == (2.5, "scaled", True, None)
    assert back.config == {"sizes": (3, 2), "tags": ["a", "b"], "dtype": tt.float32, "device": tt.device("cpu")}
    assert back.config["dtype"] is tt.float32
    assert "offset" in back._non_persistent_buffers_set and "offset" not in back.state_dict()
    assert isinstance(back.frozen, nn.Parameter) and not back.frozen.requires_grad
    _check_params(model, back)
    x = _x(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), back(x).detach().numpy())


def test_functions_and_classes_by_name():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    back = _load(layer, weights_only=False)  # safe_globals holds the classes; F.relu is tritensor's own function
    assert back.activation is layer.activation
    with pytest.raises(pickle.UnpicklingError, match="relu"):
        _load(layer)  # weights_only: the function must be allow-listed too
    with serialization.safe_globals([layer.activation]):
        assert _load(layer).activation is layer.activation


def test_loading_without_allowing_the_class_names_it():
    f = _buf(Scaled())
    with pytest.raises(pickle.UnpicklingError, match=r"test_module_checkpoint\.Scaled.*add_safe_globals\(\[Scaled\]\)"):
        tio.load(f)


def test_safe_globals_add_safe_globals_and_weights_only_false_each_allow():
    model = Scaled()
    f = _buf(model)
    others = [nn.Linear]
    with serialization.safe_globals([Scaled, *others]):
        assert type(tio.load(io.BytesIO(f.getvalue()))) is Scaled
    with pytest.raises(pickle.UnpicklingError, match="Scaled"):
        tio.load(io.BytesIO(f.getvalue()))  # the context manager restored the list
    serialization.add_safe_globals([Scaled, *others])
    assert type(tio.load(io.BytesIO(f.getvalue()))) is Scaled
    serialization.clear_safe_globals()
    back = tio.load(io.BytesIO(f.getvalue()), weights_only=False)
    assert type(back) is Scaled and type(back.fc) is nn.Linear


def test_tritensor_classes_are_not_allowed_by_default():
    with pytest.raises(pickle.UnpicklingError, match=r"tritensor\.nn\.modules\.linear\.Linear"):
        tio.load(_buf(nn.Linear(2, 2)))


def test_lambda_attribute_refused_at_save_with_its_path():
    model = nn.Sequential()
    model.encoder = nn.Linear(2, 2)
    model.encoder.hook = lambda x: x
    with pytest.raises(TypeError, match=r"tt\.save: model\.encoder\.hook is a function, not plain data"):
        _buf(model)
    model.encoder.hook = open(__file__, "rb")  # noqa: SIM115
    try:
        with pytest.raises(TypeError, match=r"model\.encoder\.hook is an open file"):
            _buf(model)
    finally:
        model.encoder.hook.close()
    model.encoder.hook = {"deep": [1, object()]}
    with pytest.raises(TypeError, match=r"model\.encoder\.hook\.deep\.1 is a builtins\.object object"):
        _buf(model)


def _forged(class_name: str) -> io.BytesIO:
    f = _buf(nn.Linear(2, 2))
    raw = f.getvalue().replace(b"tritensor.nn.modules.linear:Linear", class_name.encode())
    n = int.from_bytes(raw[:8], "little") + len(raw) - len(f.getvalue())
    return io.BytesIO(n.to_bytes(8, "little") + raw[8:])


def test_a_file_naming_os_system_is_refused():
    f = _forged("os:system")
    with pytest.raises(pickle.UnpicklingError, match=r"os\.system"):
        tio.load(io.BytesIO(f.getvalue()))
    with serialization.safe_globals([nn.Linear]), pytest.raises(pickle.UnpicklingError, match=r"os\.system"):
        tio.load(io.BytesIO(f.getvalue()))
    with pytest.raises(pickle.UnpicklingError, match="os:system"):
        tio.load(io.BytesIO(f.getvalue()), weights_only=False)  # os.system is posix.system: not found by that name
    with pytest.raises(pickle.UnpicklingError, match="not a subclass of tritensor.nn.Module"):
        tio.load(_forged("collections:OrderedDict"), weights_only=False)  # a class, but not a Module
    with serialization.safe_globals([(print, "os.system")]), \
            pytest.raises(pickle.UnpicklingError, match="not a subclass"):
        tio.load(io.BytesIO(f.getvalue()))  # allow-listed, still never called


def test_map_location_and_state_dict_saves_unchanged():
    model = nn.Linear(2, 2)
    back = _load(model, map_location="cpu")
    assert back.weight.device == tt.device("cpu")
    f = io.BytesIO()
    tt.save(model.state_dict(), f)
    f.seek(0)
    sd = tio.load(f)  # a state dict needs no allow-list
    assert list(sd) == ["weight", "bias"] and not isinstance(sd["weight"], nn.Parameter)
    assert "module" not in json.dumps(_structure(f))


def test_shared_submodule_comes_back_shared():
    inner = nn.Linear(2, 2)
    model = nn.Sequential(inner, nn.ReLU(), inner)
    back = _load(model)
    assert back[0] is back[2]
    assert _structure(_buf(model))["module"]["modules"][2][1] == {"module": {"ref": 1}}
