"""tt.load on PyTorch's zip checkpoints (torch.save since 1.6), built here from the format's specification.

The pickles name torch's globals through stand-in modules put into sys.modules only while pickling (torch is
never imported): a zip of `<top>/data.pkl`, `<top>/data/<key>` (raw little-endian bytes), `<top>/version`.
"""

import contextlib
import io
import json
import os
import pickle
import sys
import types
import zipfile
from collections import OrderedDict

import ml_dtypes
import numpy as np
import pytest

import tritensor as tt
import tritensor.io as tio
from tritensor import serialization

_MODULES = ("torch", "torch._utils", "torch.nn", "torch.nn.parameter")
_FAKE = {name: types.ModuleType(name) for name in _MODULES}


def _register(module: str, name: str, obj):
    obj.__module__, obj.__qualname__, obj.__name__ = module, name, name
    setattr(_FAKE[module], name, obj)
    return obj


def _rebuild_tensor_v2(*args):  # stand-ins: only their names reach the pickle
    raise AssertionError


def _rebuild_parameter(*args):
    raise AssertionError


REBUILD_V2 = _register("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor_v2)
REBUILD_PARAM = _register("torch._utils", "_rebuild_parameter", _rebuild_parameter)
STORAGE_CLASSES = {dt: _register("torch", name, type(name, (), {})) for dt, name in [
    (np.float32, "FloatStorage"), (np.float16, "HalfStorage"), (ml_dtypes.bfloat16, "BFloat16Storage"),
    (np.int64, "LongStorage"), (np.float64, "DoubleStorage"), (np.complex64, "ComplexFloatStorage")]}
DEVICE = _register("torch", "device", type("device", (), {}))


class _Dtype:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


for _n in ("float32", "int64", "bfloat16"):
    _inst = _Dtype(_n)
    type(_inst).__module__ = "torch"
    setattr(_FAKE["torch"], _n, _inst)


class _Device:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (DEVICE, self.args)


class FakeStorage:
    """A storage to be written as data/<key>."""

    def __init__(self, array: np.ndarray, key: str, location: str = "cpu"):
        self.array, self.key, self.location = np.ascontiguousarray(array).reshape(-1), key, location


class FakeTensor:
    """Pickles as torch does: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, storage, offset, size, stride, requires_grad=False, parameter=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.requires_grad, self.parameter = requires_grad, parameter

    def __reduce_ex__(self, protocol):
        if self.parameter:
            plain = FakeTensor(self.storage, self.offset, self.size, self.stride)
            return (REBUILD_PARAM, (plain, self.requires_grad, OrderedDict()))
        return (REBUILD_V2, (self.storage, self.offset, self.size, self.stride, self.requires_grad, OrderedDict()))

    def numpy(self):
        a = self.storage.array
        return np.lib.stride_tricks.as_strided(a[self.offset:], self.size, [s * a.itemsize for s in self.stride])


_keys = iter(range(10**6))


def tensor(array, **kw) -> FakeTensor:
    """A fake tensor with a storage of its own (C-contiguous)."""
    array = np.asarray(array)
    stride = tuple(s // array.itemsize for s in array.strides) if array.size else (1,) * array.ndim
    return FakeTensor(FakeStorage(array, str(next(_keys))), 0, array.shape, stride, **kw)


class _Pickler(pickle.Pickler):
    def __init__(self, f):
        super().__init__(f, protocol=2)
        self.storages: dict[str, FakeStorage] = {}

    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            self.storages[obj.key] = obj
            cls = STORAGE_CLASSES[obj.array.dtype.type]
            return ("storage", cls, obj.key, obj.location, obj.array.size)
        return None


@contextlib.contextmanager
def _fake_torch():
    saved = {name: sys.modules.get(name) for name in _MODULES}
    sys.modules.update(_FAKE)
    try:
        yield
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


def pickled(obj) -> tuple[bytes, dict]:
    buf = io.BytesIO()
    p = _Pickler(buf)
    with _fake_torch():
        p.dump(obj)
    return buf.getvalue(), p.storages


def write_pt(path, obj=None, *, payload: bytes | None = None, top="archive", skip=(), storages=None):
    """A torch.save-style zip of `obj` (or of a ready-made pickle `payload`)."""
    if payload is None:
        payload, storages = pickled(obj)
    with zipfile.ZipFile(path, "w") as z:  # torch stores entries uncompressed
        z.writestr(f"{top}/data.pkl", payload)
        z.writestr(f"{top}/byteorder", "little")
        for key, st in (storages or {}).items():
            if key not in skip:
                z.writestr(f"{top}/data/{key}", st.array.astype(st.array.dtype.newbyteorder("<")).tobytes())
        z.writestr(f"{top}/version", "3\n")
        z.writestr(f"{top}/.data/serialization_id", "1234567890")
    return path


_seeds = iter(range(1, 10**6))


def _rand(shape, dtype=np.float32):
    g = np.random.default_rng(next(_seeds))
    if np.dtype(dtype).kind == "i":
        return g.integers(-100, 100, shape).astype(dtype)
    return g.standard_normal(shape).astype(dtype)


MODULE_SHAPES = {
    "lin": (lambda: tt.nn.Linear(4, 3), {"weight": (3, 4), "bias": (3,)}),
    "conv": (lambda: tt.nn.Conv2d(2, 4, 3), {"weight": (4, 2, 3, 3), "bias": (4,)}),
    "bn": (lambda: tt.nn.BatchNorm2d(4), {"weight": (4,), "bias": (4,), "running_mean": (4,), "running_var": (4,),
                                          "num_batches_tracked": ()}),
    "ln": (lambda: tt.nn.LayerNorm(4), {"weight": (4,), "bias": (4,)}),
    "emb": (lambda: tt.nn.Embedding(10, 4), {"weight": (10, 4)}),
    "lstm": (lambda: tt.nn.LSTM(4, 5), {"weight_ih_l0": (20, 4), "weight_hh_l0": (20, 5), "bias_ih_l0": (20,),
                                        "bias_hh_l0": (20,)}),
    "mha": (lambda: tt.nn.MultiheadAttention(8, 2), {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                                                     "out_proj.weight": (8, 8), "out_proj.bias": (8,)}),
}


def _module_state():
    state = OrderedDict()
    for prefix, (_, shapes) in MODULE_SHAPES.items():
        for name, shape in shapes.items():
            dtype = np.int64 if name == "num_batches_tracked" else np.float32
            state[f"{prefix}.{name}"] = tensor(np.array(7, np.int64) if shape == () else _rand(shape, dtype))
    return state


def _check(fake, loaded):
    assert isinstance(loaded, tt.Tensor) and loaded.device == tt.device("cpu")
    expected = fake.numpy()
    assert loaded.dtype.np == expected.dtype and tuple(loaded.shape) == expected.shape
    np.testing.assert_array_equal(loaded.numpy(), expected)


def test_module_state_dicts_load_and_fit_tritensor_modules(tmp_path):
    state = _module_state()
    back = tt.load(write_pt(tmp_path / "model.pt", state))
    assert type(back) is OrderedDict and list(back) == list(state)
    for k in state:
        _check(state[k], back[k])
    assert back["bn.num_batches_tracked"].dtype is tt.int64 and back["bn.num_batches_tracked"].shape == ()
    for prefix, (make, shapes) in MODULE_SHAPES.items():
        module = make()
        module.load_state_dict({name: back[f"{prefix}.{name}"] for name in shapes})
        for name, value in module.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), state[f"{prefix}.{name}"].numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16, np.int64, np.float64])
def test_dtypes(tmp_path, dtype):
    fake = tensor(_rand((3, 5), dtype))
    back = tt.load(write_pt(tmp_path / "t.pt", {"w": fake}))
    assert type(back) is dict
    _check(fake, back["w"])
    assert back["w"].dtype.np == np.dtype(dtype)


def test_views_share_one_storage(tmp_path):
    base = FakeStorage(np.arange(24, dtype=np.float32), "0")
    whole = FakeTensor(base, 0, (4, 6), (6, 1))
    row = FakeTensor(base, 6, (6,), (1,))
    transposed = FakeTensor(base, 0, (6, 4), (1, 6))
    strided = FakeTensor(base, 1, (3, 2), (8, 3))
    obj = {"whole": whole, "row": row, "t": transposed, "s": strided, "again": whole}
    back = tt.load(write_pt(tmp_path / "v.pt", obj))
    for k in obj:
        _check(obj[k], back[k])
    assert back["again"] is back["whole"]  # one pickled object stays one tensor
    assert back["t"].stride() == (1, 6) and back["s"].storage_offset() == 1
    back["whole"][1, 2] = 100.0  # one buffer: a write through one view shows in the others
    assert back["row"][2].item() == 100.0 and back["t"][2, 1].item() == 100.0


def test_parameters_requires_grad_and_nested_optimizer_state(tmp_path):
    w = tensor(_rand((3, 2)), parameter=True, requires_grad=True)
    frozen = tensor(_rand(3), parameter=True, requires_grad=False)
    state = {
        "model": OrderedDict([("w", w), ("frozen", frozen)]),
        "optimizer": {"state": {0: {"step": tensor(np.array(5.0, np.float32)), "exp_avg": tensor(_rand((3, 2))),
                                    "exp_avg_sq": tensor(_rand((3, 2)))}},
                      "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                                        "params": [0, 1], "name": None}]},
        "epoch": 3, "tags": {"a", "b"}, "blob": b"\x00\xffbytes", "empty": b"", "dtype": _FAKE["torch"].bfloat16,
        "device": _Device("cuda", 0), "cpu": _Device("cpu"),
    }
    back = tt.load(write_pt(tmp_path / "ckpt.pt", state))
    assert back["model"]["w"].requires_grad and not back["model"]["frozen"].requires_grad
    _check(w, back["model"]["w"].detach())
    opt = back["optimizer"]
    assert list(opt["state"]) == [0] and opt["state"][0]["step"].item() == 5.0
    _check(state["optimizer"]["state"][0]["exp_avg_sq"], opt["state"][0]["exp_avg_sq"])
    assert opt["param_groups"] == [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                                    "params": [0, 1], "name": None}]
    assert back["epoch"] == 3 and back["tags"] == {"a", "b"} and back["blob"] == b"\x00\xffbytes"
    assert back["empty"] == b"" and back["dtype"] is tt.bfloat16
    assert back["device"] == tt.device("cuda:0") and back["cpu"] == tt.device("cpu")


def test_map_location(tmp_path):
    fake = {"w": FakeTensor(FakeStorage(_rand(4), "0", location="cuda:0"), 0, (4,), (1,))}
    path = write_pt(tmp_path / "gpu.pt", fake)
    seen = []
    back = tt.load(path, map_location=lambda t, saved: seen.append(saved) or t)
    assert seen == ["cuda:0"] and back["w"].device == tt.device("cpu")
    for loc in ("cpu", tt.device("cpu"), {"cuda:0": "cpu"}):
        _check(fake["w"], tt.load(path, map_location=loc)["w"])
    on_cuda = tt.load(path)["w"]  # saved on cuda:0 (the interpreter's cuda in these tests)
    assert on_cuda.device.type == "cuda"
    np.testing.assert_array_equal(on_cuda.cpu().numpy(), fake["w"].numpy())
    with pytest.raises(TypeError, match="map_location should be"):
        tt.load(path, map_location=3)


class _Exploit:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


@pytest.mark.parametrize("fn, refused", [(os.system, r"GLOBAL (posix|nt)\.system"),
                                         (eval, r"GLOBAL builtins\.eval")])
def test_malicious_pickles_are_refused_and_never_run(tmp_path, monkeypatch, fn, refused):
    monkeypatch.chdir(tmp_path)
    arg = "touch pwned" if fn is os.system else "open('pwned', 'w').close()"
    for obj in (_Exploit(fn, arg), {"w": tensor(_rand(2)), "x": [_Exploit(fn, arg)]}):
        path = write_pt(tmp_path / "evil.pt", obj)
        with pytest.raises(pickle.UnpicklingError, match=refused + ".*add_safe_globals"):
            tt.load(path)
    assert not (tmp_path / "pwned").exists()
    # The stand-in pickle is what a real exploit looks like: plain pickle.loads would have run it.
    pickle.loads(pickled(_Exploit(fn, arg))[0])
    assert (tmp_path / "pwned").exists()


def test_weights_only_false_is_refused(tmp_path):
    path = write_pt(tmp_path / "m.pt", {"w": tensor(_rand(2))})
    with pytest.raises(ValueError, match="never unpickles arbitrary objects"):
        tt.load(path, weights_only=False)


def test_crafted_opcodes_cannot_alter_tensors_or_fake_storages(tmp_path):
    payload, storages = pickled(tensor(_rand(2)))
    build = payload[:-1] + pickle.EMPTY_DICT + pickle.BUILD + pickle.STOP  # BUILD {} on the tensor
    with pytest.raises(pickle.UnpicklingError, match="BUILD"):
        tt.load(write_pt(tmp_path / "b.pt", payload=build, storages=storages))
    bad_pid = b"\x80\x02(X\x07\x00\x00\x00storageK\x01X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ."
    with pytest.raises(pickle.UnpicklingError, match="not a storage type"):
        tt.load(write_pt(tmp_path / "p.pt", payload=bad_pid))


class Config:
    """A user class a checkpoint may hold once allow-listed."""

    def __init__(self, lr):
        self.lr = lr


def test_safe_globals_allow_a_custom_class(tmp_path):
    path = write_pt(tmp_path / "cfg.pt", {"cfg": Config(0.5), "w": tensor(_rand(2))})
    with pytest.raises(pickle.UnpicklingError, match="test_torch_checkpoint.Config"):
        tt.load(path)
    with serialization.safe_globals([Config]):
        assert serialization.get_safe_globals() == [Config]
        back = tt.load(path)
    assert isinstance(back["cfg"], Config) and back["cfg"].lr == 0.5
    assert serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        tt.load(path)
    serialization.add_safe_globals([(Config, f"{Config.__module__}.Config")])
    try:
        assert tt.load(path)["cfg"].lr == 0.5
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_corrupt_archives(tmp_path):
    state = {"w": tensor(_rand((4, 4))), "b": tensor(_rand(4))}
    good = write_pt(tmp_path / "good.pt", state).read_bytes()
    for n in (len(good) - 10, len(good) // 2, 30):  # truncated: the central directory is gone
        (tmp_path / "cut.pt").write_bytes(good[:n])
        with pytest.raises(ValueError, match="not a valid zip archive"):
            tt.load(tmp_path / "cut.pt")
    key = next(iter(pickled(state)[1]))
    payload, storages = pickled(state)
    with pytest.raises(ValueError, match=r"no entry 'archive/data/\d+'"):
        tt.load(write_pt(tmp_path / "missing.pt", payload=payload, storages=storages, skip={key}))
    with zipfile.ZipFile(tmp_path / "none.pt", "w") as z:
        z.writestr("archive/constants.pkl", b"")
    with pytest.raises(ValueError, match="data.pkl"):
        tt.load(tmp_path / "none.pt")


def test_storage_too_small_and_unknown_dtype(tmp_path):
    small = FakeStorage(np.zeros(6, np.float32), "0")
    for t in (FakeTensor(small, 0, (2, 4), (4, 1)), FakeTensor(small, 4, (3,), (1,)), FakeTensor(small, 0, (2,), (6,))):
        with pytest.raises(ValueError, match=r"storage '0' of 24 bytes cannot hold a float32 tensor of size"):
            tt.load(write_pt(tmp_path / "small.pt", {"w": t}))
    payload, storages = pickled({"w": tensor(_rand(8))})
    storages = {k: FakeStorage(v.array[:3], k) for k, v in storages.items()}  # the entry is shorter than numel
    with pytest.raises(ValueError, match="holds 12 bytes; the pickle says 8 elements"):
        tt.load(write_pt(tmp_path / "short.pt", payload=payload, storages=storages))
    with pytest.raises(ValueError, match="ComplexFloatStorage has no tritensor dtype"):
        tt.load(write_pt(tmp_path / "c.pt", {"z": tensor(np.zeros(2, np.complex64))}))


def test_pytorch_written_safetensors_file(tmp_path):
    """A safetensors file as safetensors.torch.save_file writes it: no tritensor metadata."""
    w, b = _rand((2, 3)), np.arange(4, dtype=np.int64)
    bf = _rand(3, ml_dtypes.bfloat16)
    entries, blobs, offset = {}, [], 0
    for name, arr, code in (("fc.weight", w, "F32"), ("ids", b, "I64"), ("h", bf, "BF16")):
        data = arr.tobytes()
        entries[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    entries["__metadata__"] = {"format": "pt"}
    header = json.dumps(entries).encode()
    header += b" " * (-len(header) % 8)
    (tmp_path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"".join(blobs))
    back = tio.load(tmp_path / "model.safetensors")
    assert sorted(back) == ["fc.weight", "h", "ids"]
    np.testing.assert_array_equal(back["fc.weight"].numpy(), w)
    np.testing.assert_array_equal(back["ids"].numpy(), b)
    assert back["h"].dtype is tt.bfloat16 and back["h"].numpy().tobytes() == bf.tobytes()


def test_save_to_pt_name_writes_safetensors(tmp_path):
    tt.save({"w": tt.ones(2)}, tmp_path / "x.pt")
    raw = (tmp_path / "x.pt").read_bytes()
    assert raw[:4] != b"PK\x03\x04" and json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert "safetensors" in tio.save.__doc__ and "model.pt" in tio.save.__doc__
