"""The tuner with a deterministic fake timer: what it times, what it picks, what it remembers."""

import pytest
from tritensor.autotune import space
from tritensor.autotune.cache import DeviceInfo, TuningCache
from tritensor.autotune.tuner import Tuner

DEVICE = DeviceInfo("Fake GPU", (9, 0))


def cfg(bm, bn, warps=4, stages=3):
    return dict(BLOCK_M=bm, BLOCK_N=bn, num_warps=warps, num_stages=stages)


DEFAULT = [cfg(64, 64), cfg(128, 64), cfg(128, 128, 8), cfg(32, 32)]
WIDE = DEFAULT + [cfg(256, 128, 8), cfg(128, 256, 8, 4), cfg(16, 16)]


def cost(config):
    """A cost model: bigger tiles are faster up to 128x128, w8 helps, 256-wide tiles are best of all."""
    area = config["BLOCK_M"] * config["BLOCK_N"]
    ms = 10.0 / area ** 0.5 + (0.0 if config["num_warps"] == 8 else 0.05)
    return ms - (0.5 if area >= 128 * 256 and config["num_stages"] == 4 else 0.0)


class FakeTimer:
    def __init__(self):
        self.calls = []

    def measure(self, run, config):
        run(config)
        self.calls.append(dict(config))
        return cost(config)


def space_fn(requested):
    def configs(name):
        requested.append(name)
        return {"default": DEFAULT, "max": WIDE}[name]
    return configs


def make(tmp_path, mode="1", pruner=None, timer=None):
    return Tuner(timer=timer or FakeTimer(), cache=TuningCache(tmp_path / "autotune.json"), mode=mode,
                 device=DEVICE, pruner=pruner or (lambda name, configs: configs))


def test_picks_the_cheapest_config_and_stores_it(tmp_path):
    tuner = make(tmp_path)
    launched = []
    best = tuner.select("matmul[fp16]", (128, 128, 64, "float16", False, False), DEFAULT, launched.append)
    assert best == cfg(128, 128, 8)
    assert tuner.timer.calls == DEFAULT  # each candidate timed exactly once
    assert launched == DEFAULT  # run(config) is what the timer launched
    entry = TuningCache(tmp_path / "autotune.json").get("matmul[fp16]", DEVICE,
                                                         (128, 128, 64, "float16", False, False))
    assert entry["config"] == cfg(128, 128, 8)
    assert entry["time_ms"] == pytest.approx(cost(cfg(128, 128, 8)))
    assert entry["space"] == "default"


def test_never_retimes_a_cached_key(tmp_path):
    tuner = make(tmp_path)
    key = (256, 256, 256, "float16", False, True)
    first = tuner.select("matmul[fp16]", key, DEFAULT, lambda c: None)
    n = len(tuner.timer.calls)
    assert n == len(DEFAULT)
    for _ in range(3):
        assert tuner.select("matmul[fp16]", key, DEFAULT, lambda c: None) == first
    assert len(tuner.timer.calls) == n
    # A new process (new tuner, same cache file) finds the winner on disk without timing.
    fresh = make(tmp_path)
    assert fresh.select("matmul[fp16]", list(key), DEFAULT, lambda c: None) == first  # list == tuple key
    assert fresh.timer.calls == []
    # Another key is tuned.
    fresh.select("matmul[fp16]", (512, 256, 256, "float16", False, True), DEFAULT, lambda c: None)
    assert len(fresh.timer.calls) == len(DEFAULT)


def test_keys_are_separate_per_kernel_and_device(tmp_path):
    tuner = make(tmp_path)
    tuner.select("matmul[fp16]", (1,), DEFAULT, lambda c: None)
    tuner.select("matmul[bf16]", (1,), DEFAULT, lambda c: None)
    other = Tuner(timer=FakeTimer(), cache=TuningCache(tmp_path / "autotune.json"), mode="1",
                  device=DeviceInfo("Other GPU", (8, 0)), pruner=lambda n, c: c)
    other.select("matmul[fp16]", (1,), DEFAULT, lambda c: None)
    assert len(tuner.timer.calls) == 2 * len(DEFAULT)
    assert len(other.timer.calls) == len(DEFAULT)
    assert len(TuningCache(tmp_path / "autotune.json").entries()) == 3


def test_mode_0_returns_the_heuristic_and_never_times(tmp_path):
    tuner = make(tmp_path, mode="0")
    heuristic = cfg(64, 128)
    requested = []
    assert tuner.select("matmul[fp16]", (1,), space_fn(requested), lambda c: None, heuristic=heuristic) == heuristic
    assert tuner.select("matmul[fp16]", (2,), DEFAULT, lambda c: None) == DEFAULT[0]
    assert tuner.timer.calls == [] and requested == []
    assert not (tmp_path / "autotune.json").exists()


def test_mode_0_ignores_env_but_env_sets_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITENSOR_AUTOTUNE", "0")
    assert Tuner(cache=TuningCache(tmp_path / "a.json"), device=DEVICE).mode == "0"
    monkeypatch.setenv("TRITENSOR_AUTOTUNE", "max")
    assert Tuner(cache=TuningCache(tmp_path / "a.json"), device=DEVICE).mode == "max"
    monkeypatch.setenv("TRITENSOR_AUTOTUNE", "1")
    assert Tuner(cache=TuningCache(tmp_path / "a.json"), device=DEVICE).mode == "1"
    monkeypatch.setenv("TRITENSOR_AUTOTUNE", "fast")
    with pytest.raises(ValueError, match="TRITENSOR_AUTOTUNE"):
        Tuner(cache=TuningCache(tmp_path / "a.json"), device=DEVICE)
    with pytest.raises(ValueError, match="mode"):
        Tuner(cache=TuningCache(tmp_path / "a.json"), device=DEVICE, mode="2x")


def test_mode_from_env_defaults(monkeypatch):
    monkeypatch.delenv("TRITENSOR_AUTOTUNE", raising=False)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert space.mode_from_env() == "0"  # the interpreter cannot time anything meaningful
    monkeypatch.delenv("TRITON_INTERPRET")
    assert space.mode_from_env() == "1"
    assert space.mode_from_env(default="max") == "max"
    for text, mode in (("off", "0"), ("ON", "1"), ("Max", "max"), (" 0 ", "0")):
        monkeypatch.setenv("TRITENSOR_AUTOTUNE", text)
        assert space.mode_from_env() == mode


def test_mode_max_searches_the_wide_space(tmp_path):
    requested = []
    tuner = make(tmp_path, mode="max")
    best = tuner.select("matmul[fp16]", (1,), space_fn(requested), lambda c: None)
    assert requested == ["max"]
    assert tuner.timer.calls == WIDE
    assert best == cfg(128, 256, 8, 4)  # only in the wide space
    assert TuningCache(tmp_path / "autotune.json").get("matmul[fp16]", DEVICE, (1,))["space"] == "max"


def test_default_winner_is_retuned_for_max_but_max_winner_serves_mode_1(tmp_path):
    requested = []
    make(tmp_path, mode="1").select("k", (1,), space_fn(requested), lambda c: None)
    wide = make(tmp_path, mode="max")
    assert wide.select("k", (1,), space_fn(requested), lambda c: None) == cfg(128, 256, 8, 4)
    assert len(wide.timer.calls) == len(WIDE)
    assert requested == ["default", "max"]
    # Key 2 tuned wide first: mode 1 takes that winner without timing.
    make(tmp_path, mode="max").select("k", (2,), space_fn(requested), lambda c: None)
    narrow = make(tmp_path, mode="1")
    assert narrow.select("k", (2,), space_fn(requested), lambda c: None) == cfg(128, 256, 8, 4)
    assert narrow.timer.calls == []


def test_heuristic_is_always_a_candidate(tmp_path):
    tuner = make(tmp_path)
    heuristic = cfg(128, 256, 8, 4)  # not in DEFAULT, and the cheapest of all
    assert tuner.select("k", (1,), DEFAULT, lambda c: None, heuristic=heuristic) == heuristic
    assert tuner.timer.calls[0] == heuristic and len(tuner.timer.calls) == len(DEFAULT) + 1


def test_pruned_configs_are_never_timed(tmp_path):
    seen = []

    def pruner(name, configs):
        seen.append(name)
        return [c for c in configs if c["num_warps"] != 8]  # say w8 spills here

    tuner = make(tmp_path, pruner=pruner)
    result = tuner.tune("matmul[fp16]", (1,), DEFAULT, lambda c: None)
    assert seen == ["matmul[fp16]"]
    assert all(c["num_warps"] == 4 for c in tuner.timer.calls)
    assert result.best == cfg(128, 64)
    assert result.pruned == [cfg(128, 128, 8)]


@pytest.mark.parametrize("tunable, key, expected", [
    ("elementwise.map_flat", ("_add", "float32", 4, 1 << 20), "elementwise.map_flat[add:fp32:bulk]"),
    ("elementwise.map_flat", ("_mul_backward", "bfloat16", 2, 1 << 20), "elementwise.map_flat[mul_backward:bf16:bulk]"),
    ("dropout.dropout", ("float16", 1 << 20), "dropout[fp16]"),
])
def test_launches_are_pruned_by_the_spec_of_their_key(tmp_path, monkeypatch, tunable, key, expected):
    """A Tunable's launch is AOT-pruned as the KernelSpec of its family that matches the key (not by the
    Tunable's own name, which no spec carries)."""
    import gc

    from tritensor.autotune import tuner as tuner_module
    from tritensor.kernels.tuning import Tunable

    class FlatTimer:
        def measure(self, run, config):
            run(config)
            return 1.0

    target = next(t for t in gc.get_objects() if isinstance(t, Tunable) and t.name == tunable)
    seen = []
    monkeypatch.setattr(tuner_module, "interpreting", lambda: False)
    tuner = make(tmp_path, pruner=lambda name, configs: seen.append(name) or configs, timer=FlatTimer())
    sizes = {name: 64 for name in target.cost.__code__.co_varnames[:target.cost.__code__.co_argcount]}
    tuner.select_launch(target, key, sizes, lambda config: None, True)
    assert seen == [expected]


@pytest.mark.parametrize("tunable, prefix, key, expected", [
    ("reduction.reduce", "reduction.", ("max", 1, 1, False, False, "bfloat16", "bfloat16", "bfloat16"),
     "reduction.max[bf16]"),
    ("matmul.matmul", "matmul", (64, 64, 64, "float16", False, False, False, 1, "big", "ptr"), "matmul[fp16]"),
    ("matmul.matmul", "matmul", (64, 64, 64, "float16", False, False, False, 1, "big", "tma"),
     "matmul_tma[fp16]@sm_90"),
    ("index_core.scatter_add", "index_core.scatter[", ("float32", "1idx", "add"),
     "index_core.scatter[1idx:fp32:add:check]"),
])
def test_a_tunable_family_is_found_by_its_spec_prefix(tunable, prefix, key, expected):
    from tritensor.autotune.registry import spec_for

    assert spec_for(tunable, key, prefix).name == expected


def test_failing_configs_are_skipped(tmp_path):
    def run(config):
        if config["BLOCK_M"] == 128:
            raise RuntimeError("out of resources: shared memory")

    tuner = make(tmp_path)
    result = tuner.tune("k", (1,), DEFAULT, run)
    assert result.best == cfg(64, 64)
    failed = [t for t in result.trials if t.time_ms is None]
    assert len(failed) == 2 and all("out of resources" in t.error for t in failed)


def test_nothing_runs_is_an_error(tmp_path):
    def run(config):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no config ran"):
        make(tmp_path).select("k", (1,), DEFAULT, run)


def test_key_string_is_canonical():
    import numpy as np

    from tritensor import dtypes

    a = space.key_string((np.int64(128), 64, dtypes.float16, (1, 0), True))
    b = space.key_string([128, 64, "float16", [1, 0], True])
    assert a == b == '[128,64,"float16",[1,0],true]'
    assert space.key_string({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_config_helpers():
    c = dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=3)
    assert space.split(c) == ({"BLOCK_M": 64, "BLOCK_N": 32}, {"num_warps": 4, "num_stages": 3})
    assert space.config_id(c) == "BLOCK_M=64 BLOCK_N=32 w4 s3"
    assert space.freeze(c) == space.freeze(dict(reversed(list(c.items()))))
    assert space.dedupe([c, dict(c), cfg(1, 1)]) == [c, cfg(1, 1)]
    assert [space.next_pow2(n) for n in (0, 1, 2, 3, 64, 65, 4097)] == [0, 1, 2, 4, 64, 128, 8192]
    with pytest.raises(ValueError, match="space"):
        space.resolve_space(DEFAULT, "1")
