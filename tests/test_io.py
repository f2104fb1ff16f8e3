"""tt.save / tt.load: checkpoints as safetensors files with a JSON structure, never pickle."""

import io
import json
import os
import pickle
from collections import OrderedDict

import ml_dtypes
import numpy as np
import pytest
import safetensors
from safetensors import safe_open

import tritensor as tt
import tritensor.io as tio
from tritensor import optim


def _state(device="cpu"):
    g = np.random.default_rng(0)
    w = tt.tensor(g.standard_normal((4, 3)).astype(np.float32), device=device, requires_grad=True)
    b = tt.tensor(g.standard_normal(4).astype(np.float32), device=device, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.01, amsgrad=True)
    w.grad, b.grad = tt.ones_like(w), tt.ones_like(b)
    opt.step()
    model = OrderedDict([("fc.weight", w.detach()), ("fc.bias", b.detach())])
    return {"model": model, "optimizer": opt.state_dict(), "epoch": 3, "note": "ok", "best": None,
            "history": [0.5, float("inf"), float("-inf")], "shape": (2, 3)}


def _same(a, b):
    if isinstance(a, tt.Tensor):
        assert isinstance(b, tt.Tensor) and a.dtype is b.dtype and a.shape == b.shape and a.device == b.device
        np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_round_trip_model_and_optimizer_state(tmp_path, device):
    obj = _state(device)
    path = tmp_path / "ckpt.safetensors"
    tio.save(obj, path)
    back = tio.load(path)
    _same(obj, back)
    assert isinstance(back["model"], OrderedDict) and isinstance(back["optimizer"]["param_groups"][0]["betas"], tuple)
    assert list(back["optimizer"]["state"]) == [0, 1]  # integer keys survive
    assert back["model"]["fc.weight"].device.type == device
    cpu = tio.load(path, map_location="cpu")
    assert cpu["model"]["fc.weight"].device == tt.device("cpu")
    # a fresh optimizer takes the loaded state
    w = tt.zeros(4, 3, device=device, requires_grad=True)
    b = tt.zeros(4, device=device, requires_grad=True)
    opt = optim.Adam([w, b])
    opt.load_state_dict(back["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.01 and opt.state[w]["step"].item() == 1.0


def test_map_location_forms(tmp_path):
    path = tmp_path / "x.safetensors"
    tio.save({"a": tt.ones(2, device="cuda"), "b": tt.ones(2)}, path)
    assert tio.load(path)["a"].device == tt.device("cuda:0")
    assert tio.load(path, map_location=tt.device("cpu"))["a"].device == tt.device("cpu")
    mapped = tio.load(path, map_location={"cuda:0": "cpu"})
    assert mapped["a"].device == tt.device("cpu") and mapped["b"].device == tt.device("cpu")
    seen = []
    tio.load(path, map_location=lambda t, loc: seen.append(loc) or t)
    assert sorted(seen) == ["cpu", "cuda:0"]
    assert tio.load(path, map_location="cuda")["b"].device == tt.device("cuda:0")
    with pytest.raises(TypeError, match="map_location should be"):
        tio.load(path, map_location=3)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.float16, tt.bfloat16, tt.int64, tt.int32, tt.int16,
                                   tt.int8, tt.uint8, tt.bool])
def test_dtypes(tmp_path, dtype):
    values = np.array([[0, 1, 2], [3, 250, 7]]) if dtype is tt.uint8 else np.array([[0, 1, -2], [3, 2**40, -7]])
    if dtype.is_floating_point:
        values = np.array([[0.5, -1.25, 3.0e-3], [1e4, -0.0, 7.75]])
    t = tt.tensor(values).to(dtype)
    tio.save({"t": t, "scalar": tt.tensor(2.5, dtype=tt.float32) if dtype.is_floating_point else tt.tensor(3)},
             tmp_path / "d")
    back = tio.load(tmp_path / "d")
    _same(t, back["t"])
    assert back["scalar"].shape == ()
    if dtype is tt.bfloat16:
        assert back["t"].numpy().dtype == ml_dtypes.bfloat16
        with open(tmp_path / "d", "rb") as f:
            header = json.loads(f.read(8 + int.from_bytes(open(tmp_path / "d", "rb").read(8), "little"))[8:])
        assert header["t"]["dtype"] == "BF16"


def test_file_is_valid_safetensors(tmp_path):
    obj = _state()
    path = tmp_path / "ckpt.safetensors"
    tio.save(obj, path)
    with safe_open(str(path), framework="numpy") as f:
        keys = set(f.keys())
        meta = f.metadata()
        np.testing.assert_array_equal(f.get_tensor("model.fc.weight"), obj["model"]["fc.weight"].numpy())
    assert keys == {"model.fc.weight", "model.fc.bias", "optimizer.state.0.step", "optimizer.state.0.exp_avg",
                    "optimizer.state.0.exp_avg_sq", "optimizer.state.0.max_exp_avg_sq", "optimizer.state.1.step",
                    "optimizer.state.1.exp_avg", "optimizer.state.1.exp_avg_sq", "optimizer.state.1.max_exp_avg_sq"}
    assert meta["format"] == "tritensor" and json.loads(meta["tritensor.structure"])
    raw = path.read_bytes()
    assert len(safetensors.deserialize(raw)) == len(keys)
    # a model state_dict alone is a plain safetensors checkpoint keyed like PyTorch's
    tio.save(obj["model"], tmp_path / "model.safetensors")
    from safetensors.numpy import load_file

    assert set(load_file(str(tmp_path / "model.safetensors"))) == {"fc.weight", "fc.bias"}


def test_plain_safetensors_file_loads_as_dict(tmp_path):
    from safetensors.numpy import save_file

    save_file({"x": np.arange(3, dtype=np.int64), "y": np.ones((2, 2), np.float16)}, str(tmp_path / "p"))
    back = tio.load(tmp_path / "p")
    assert set(back) == {"x", "y"} and back["x"].tolist() == [0, 1, 2] and back["y"].dtype is tt.float16


def test_shared_tensors_numpy_and_special_values(tmp_path):
    t = tt.arange(4)
    obj = {"a": t, "b": [t, {"c": t}], 1: np.arange(3, dtype=np.int32), (1, "x"): np.float32(2.5),
           "dtype": tt.bfloat16, "dev": tt.device("cuda", 0), 2.5: True, "nan": float("nan"),
           "requires": tt.ones(2, requires_grad=True)}
    buf = io.BytesIO()
    tio.save(obj, buf)
    back = tio.load(io.BytesIO(buf.getvalue()))
    assert back["a"] is back["b"][0] is back["b"][1]["c"]  # stored once, one tensor after loading
    assert isinstance(back[1], np.ndarray) and back[1].dtype == np.int32 and back[1].tolist() == [0, 1, 2]
    assert isinstance(back[(1, "x")], np.float32) and back[(1, "x")] == 2.5
    assert back["dtype"] is tt.bfloat16 and back["dev"] == tt.device("cuda:0") and back[2.5] is True
    assert np.isnan(back["nan"]) and back["requires"].requires_grad and back["requires"].is_leaf


def test_unsupported_objects_are_refused(tmp_path):
    class Thing:
        pass

    with pytest.raises(TypeError, match=r"found .*Thing at model\.x"):
        tio.save({"model": {"x": Thing()}}, tmp_path / "bad")
    with pytest.raises(TypeError, match="dict key"):
        tio.save({frozenset(): 1}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_atomic_write(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    tio.save({"v": tt.ones(2)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        tio.save({"v": tt.zeros(2)}, path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # the temporary file is gone
    monkeypatch.undo()
    tio.save({"v": tt.zeros(2)}, str(path))
    assert tio.load(path)["v"].tolist() == [0.0, 0.0]
    assert (path.stat().st_mode & 0o777) == (0o666 & ~tio._umask())


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_loading_never_executes_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_Exploit())
    (tmp_path / "pickle.pt").write_bytes(payload)
    with pytest.raises(ValueError, match="never unpickles"):
        tio.load(tmp_path / "pickle.pt")
    # A valid safetensors file whose metadata smuggles a pickle, or an unknown entry kind: refused as data.
    from safetensors.numpy import save

    for structure in ({"pickle": payload.hex()}, {"__reduce__": ["os.system", "touch pwned"]},
                      {"tensor": "missing"}, {"dict": [["k"]]}, {"float": "1e9999"}):
        meta = {"format": "tritensor", "version": "1", "tritensor.structure": json.dumps(structure)}
        (tmp_path / "crafted").write_bytes(save({"x": np.zeros(1, np.float32)}, metadata=meta))
        with pytest.raises(ValueError, match="tt.load"):
            tio.load(tmp_path / "crafted")
    # Corrupt headers and offsets.
    for raw in (b"", b"\x05\x00\x00\x00\x00\x00\x00\x00[1,2]", b"\xff" * 8 + b"{}",
                b"\x02\x00\x00\x00\x00\x00\x00\x00{}" + b"junk",
                b'\x40\x00\x00\x00\x00\x00\x00\x00{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}   '):
        (tmp_path / "corrupt").write_bytes(raw)
        with pytest.raises(ValueError):
            tio.load(tmp_path / "corrupt")
    assert not (tmp_path / "pwned").exists()


def test_version_check(tmp_path):
    from safetensors.numpy import save

    meta = {"format": "tritensor", "version": "99", "tritensor.structure": "1"}
    (tmp_path / "future").write_bytes(save({}, metadata=meta))
    with pytest.raises(ValueError, match="format version '99'"):
        tio.load(tmp_path / "future")


def test_public_names():
    assert tt.save is tio.save and tt.load is tio.load
    assert tt.optim is optim and tt.data.DataLoader is tt.utils.data.DataLoader
