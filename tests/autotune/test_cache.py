"""The on-disk cache: location, atomic writes, concurrent writers, corrupt and foreign files."""

import json
import multiprocessing
import os
import warnings

import pytest
from tritensor.autotune import cache as cache_mod
from tritensor.autotune.cache import CacheWarning, DeviceInfo, TuningCache

A100 = DeviceInfo("NVIDIA A100-SXM4-80GB", (8, 0))
H100 = DeviceInfo("NVIDIA H100 80GB HBM3", (9, 0))
CONFIG = dict(BLOCK_M=128, BLOCK_N=128, num_warps=8, num_stages=3)


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("TRITENSOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_mod.cache_dir() == tmp_path / "home" / ".cache" / "tritensor"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.cache_dir() == tmp_path / "xdg" / "tritensor"
    monkeypatch.setenv("TRITENSOR_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_mod.cache_dir() == tmp_path / "explicit"
    assert TuningCache().path == tmp_path / "explicit" / "autotune.json"


def test_put_get_roundtrip_and_file_format(tmp_path):
    path = tmp_path / "sub" / "autotune.json"  # the directory is created on first write
    c = TuningCache(path)
    assert c.get("matmul[fp16]", A100, (1, 2)) is None
    c.put("matmul[fp16]", A100, (1, 2, "float16"), CONFIG, 0.125)
    got = TuningCache(path).get("matmul[fp16]", A100, [1, 2, "float16"])
    assert got["config"] == CONFIG and got["time_ms"] == 0.125
    assert got["device"] == A100.name and got["capability"] == [8, 0]
    assert got["key"] == [1, 2, "float16"] and got["triton"] == cache_mod.triton_version()
    assert TuningCache(path).get("matmul[fp16]", H100, (1, 2, "float16")) is None  # other device
    assert TuningCache(path).get("matmul[bf16]", A100, (1, 2, "float16")) is None  # other kernel
    data = json.loads(path.read_text())
    assert data["format"] == cache_mod.FORMAT and len(data["entries"]) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["autotune.json", "autotune.json.lock"]


def test_sees_entries_written_by_another_cache_object(tmp_path):
    path = tmp_path / "autotune.json"
    reader = TuningCache(path)
    assert reader.get("k", A100, (1,)) is None
    TuningCache(path).put("k", A100, (1,), CONFIG, 1.0)
    assert reader.get("k", A100, (1,))["config"] == CONFIG


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "autotune.json"
    c = TuningCache(path)
    c.put("k", A100, (1,), CONFIG, 1.0)
    before = path.read_bytes()

    def broken_dump(obj, f, **kw):
        f.write('{"format": 1, "entries": {"trunc')  # a crash half-way through the write
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.json, "dump", broken_dump)
    with pytest.warns(CacheWarning, match="disk full"):
        c.put("k", A100, (2,), CONFIG, 2.0)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left
    assert c.get("k", A100, (2,))["time_ms"] == 2.0  # this process keeps its winner in memory
    assert TuningCache(path).get("k", A100, (2,)) is None


def test_unwritable_location_is_not_fatal(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    c = TuningCache(blocker / "autotune.json")
    with pytest.warns(CacheWarning, match="cannot write"):
        c.put("k", A100, (1,), CONFIG, 1.0)
    assert c.get("k", A100, (1,))["config"] == CONFIG
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not on every put
        c.put("k", A100, (2,), CONFIG, 1.0)


def _writer(path, worker, n):
    c = TuningCache(path)
    for i in range(n):
        c.put("matmul[fp16]", A100, (worker, i), dict(CONFIG, GROUP_M=worker), float(i))


def test_concurrent_writers_keep_every_key(tmp_path):
    path = str(tmp_path / "autotune.json")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    c = TuningCache(path)
    for w in (1, 2):
        for i in range(25):
            entry = c.get("matmul[fp16]", A100, (w, i))
            assert entry is not None, (w, i)
            assert entry["config"]["GROUP_M"] == w and entry["time_ms"] == float(i)
    assert len(c.entries()) == 50


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"entries": {}}', '{"format": 1, "entries": [1]}',
                                  '{"format": 1, "entries": {"x": {"config": 3}}}'])
def test_corrupt_file_warns_and_is_rebuilt(tmp_path, text):
    path = tmp_path / "autotune.json"
    path.write_text(text)
    c = TuningCache(path)
    with pytest.warns(CacheWarning, match="rebuilding"):
        assert c.get("k", A100, (1,)) is None
    assert json.loads(path.read_text()) == {"entries": {}, "format": cache_mod.FORMAT}
    c.put("k", A100, (1,), CONFIG, 1.0)
    assert TuningCache(path).get("k", A100, (1,))["config"] == CONFIG


def test_foreign_format_version_is_rebuilt(tmp_path):
    path = tmp_path / "autotune.json"
    path.write_text(json.dumps({"format": 999, "entries": {"x": {"kernel": "k", "key": 1, "config": {}}}}))
    with pytest.warns(CacheWarning, match="format version 999"):
        assert TuningCache(path).entries() == []
    assert json.loads(path.read_text())["format"] == cache_mod.FORMAT


def test_corrupt_file_found_by_a_writer_is_replaced(tmp_path):
    path = tmp_path / "autotune.json"
    path.write_bytes(b"\xff\xfe garbage")
    c = TuningCache(path)
    c._stamp = c._file_stamp()  # as if loaded before the file went bad: the writer finds it
    with pytest.warns(CacheWarning):
        c.put("k", A100, (1,), CONFIG, 1.0)
    assert len(TuningCache(path).entries()) == 1


def test_foreign_triton_version_is_ignored(tmp_path):
    path = tmp_path / "autotune.json"
    TuningCache(path).put("matmul[fp16]", A100, (1,), CONFIG, 1.0, triton="0.0.1")
    c = TuningCache(path)
    assert c.get("matmul[fp16]", A100, (1,)) is None  # this Triton must tune again
    assert c.get("matmul[fp16]", A100, (1,), triton="0.0.1")["config"] == CONFIG
    c.put("matmul[fp16]", A100, (1,), dict(CONFIG, num_warps=4), 0.5)
    # Both versions' entries live side by side (two virtualenvs can share one cache).
    assert sorted(e["triton"] for e in TuningCache(path).entries()) == sorted(["0.0.1",
                                                                              cache_mod.triton_version()])


def test_foreign_triton_version_is_retuned_by_the_tuner(tmp_path):
    from tritensor.autotune.tuner import Tuner

    path = tmp_path / "autotune.json"
    TuningCache(path).put("k", A100, (1,), CONFIG, 1.0, triton="0.0.1")
    timed = []

    class Timer:
        def measure(self, run, config):
            timed.append(config)
            return 1.0

    tuner = Tuner(timer=Timer(), cache=TuningCache(path), mode="1", device=A100, pruner=lambda n, c: c)
    tuner.select("k", (1,), [CONFIG], lambda c: None)
    assert timed == [CONFIG]


def test_clear(tmp_path):
    c = TuningCache(tmp_path / "autotune.json")
    c.put("k", A100, (1,), CONFIG, 1.0)
    c.clear()
    assert c.entries() == [] and TuningCache(tmp_path / "autotune.json").entries() == []
    assert os.path.exists(tmp_path / "autotune.json")
