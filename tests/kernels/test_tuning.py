"""The one tuning path: memoised choices, observers, dry runs, and every launch of a training step going through it."""

import pytest
from tritensor.kernels import tuning
from tritensor.kernels.tuning import Cost, Tunable

import tritensor as tt
from tritensor import autotune

TOY = Tunable("toy.kernel", space=[dict(BLOCK=64, num_warps=4), dict(BLOCK=128, num_warps=8)],
              heuristic=lambda key: dict(BLOCK=64, num_warps=4), cost=lambda n: Cost(8.0 * n, float(n)))


@pytest.fixture
def selector_calls():
    calls = []

    def selector(tunable, key, sizes, run, repeatable):
        calls.append((tunable.name, key, dict(sizes), repeatable))
        return tunable.configs(key)[-1], True

    tuning.install_selector(selector)
    yield calls
    tuning.install_selector(autotune.select_for_launch)


def test_a_key_is_chosen_once_then_looked_up(selector_calls):
    ran = []
    for n in (100, 120, 100):  # both sizes fall in the 128 bucket
        assert tuning.launch(TOY, ("fp32", tuning.next_pow2(n)), dict(n=n), ran.append) == dict(BLOCK=128, num_warps=8)
    assert selector_calls == [("toy.kernel", ("fp32", 128), {"n": 100}, True)]
    assert ran == [dict(BLOCK=128, num_warps=8)] * 3
    tuning.launch(TOY, ("fp32", 256), dict(n=200), ran.append)
    assert len(selector_calls) == 2


def test_in_place_calls_reach_the_selector_as_not_repeatable(selector_calls):
    tuning.launch(TOY, ("fp32", 8, "inplace"), dict(n=8), lambda c: None, repeatable=False)
    once = Tunable("toy.step", space=[dict(B=1)], heuristic=lambda key: dict(B=1), cost=lambda: Cost(0, 0),
                   repeatable=False, single="one block holds every problem")
    tuning.launch(once, (), {}, lambda c: None)
    assert [call[3] for call in selector_calls] == [False, False]


def test_a_space_needs_two_configs_or_a_reason():
    with pytest.raises(ValueError, match="two configs or a reason"):
        Tunable("toy.bad", space=[dict(B=1)], heuristic=lambda key: dict(B=1), cost=lambda: Cost(0, 0))


def test_every_kernel_spec_has_a_space_of_two_configs_or_says_why_one():
    from tritensor.autotune.registry import discover

    found = discover()
    assert not found.errors, found.errors
    modules = {name.split(".")[0] for name in found.module_of}
    assert len(found.specs) > 400 and {"matmul", "softmax", "loss", "optim", "sort", "index_core"} <= modules
    one = [s.name for s in found.specs if len({repr(c) for c in s.space or s.configs}) < 2 and not s.single]
    assert one == []


def test_observers_and_dry_runs():
    seen, ran = [], []
    tuning.add_observer(seen.append)
    old = tuning.set_dry_run(True)
    try:
        config = tuning.launch(TOY, ("fp16", 4), dict(n=4), ran.append)
    finally:
        tuning.set_dry_run(old)
        tuning.remove_observer(seen.append)
    assert ran == [] and config == dict(BLOCK=64, num_warps=4)
    (record,) = seen
    assert (record.tunable, record.key, record.sizes, record.config) == (TOY, ("fp16", 4), {"n": 4}, config)
    assert TOY.cost(**record.sizes) == Cost(32.0, 4.0)


def test_the_interpreter_launches_the_heuristic_without_timing(monkeypatch):
    # The installed selector is the autotuner's; under TRITON_INTERPRET=1 it never asks the timer.
    tuner = autotune.Tuner(mode="1", timer=object())
    monkeypatch.setattr(autotune.tuner, "_default", tuner)
    tuning.forget()
    assert tuning.launch(TOY, ("fp32", 1 << 20), dict(n=1 << 20), lambda c: None) == dict(BLOCK=64, num_warps=4)
    assert tuner.results == []


def test_every_kernel_of_a_training_step_and_of_the_op_families_launches_through_the_tuning_path(monkeypatch):
    from triton.runtime.interpreter import InterpretedFunction

    outside, inside = [], []
    real_run = InterpretedFunction.run

    def checked_run(self, *args, **kwargs):
        (inside if tuning.launching() else outside).append(self.fn.__name__)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(InterpretedFunction, "run", checked_run)
    tt.manual_seed(0)
    model = tt.nn.Sequential(tt.nn.Linear(6, 8), tt.nn.ReLU(), tt.nn.Dropout(0.2), tt.nn.Linear(8, 3)).to("cuda")
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-2)
    x, y = tt.randn(5, 6, device="cuda"), tt.tensor([0, 2, 1, 1, 0], device="cuda")
    for _ in range(2):
        optimizer.zero_grad()
        loss = tt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    sgd = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    z = x.detach().clone()
    z.requires_grad_(True)
    w = z.softmax(-1).log_softmax(0).cumsum(1).sort(-1)[0]
    w = w.gather(1, tt.zeros(5, 2, dtype=tt.int64, device="cuda")).clamp(-1, 1).exp().sum()
    w.backward()
    m = x > 0
    _ = x.masked_fill(m, 0.0), x[m], x.t().contiguous(), x[[0, 2]], x.index_select(0, tt.tensor([1], device="cuda"))
    _ = x.cumprod(1), x.norm(), x.var(0), x.argmax(1), tt.multinomial(x.exp(), 2), tt.bernoulli(x.sigmoid())
    assert inside and outside == []


def test_the_epoch_token_changes_with_whatever_a_plan_relies_on():
    # elementwise_flat's plans compare tuning.epoch_token by identity instead of re-reading the memo, the observers
    # and the dry-run flag: every change to those must replace it, and epoch() is None while launches do more than
    # run.
    def observer(record):
        return None

    seen = [tuning.epoch()]
    assert seen[0] is tuning.epoch_token
    tuning.launch(TOY, ("fp32", 4096, "epoch"), dict(n=4096), lambda c: None)  # a new choice replaces nothing
    assert tuning.epoch_token is seen[0]
    tuning.add_observer(observer)
    try:
        assert tuning.epoch() is None and tuning.epoch_token is not seen[-1]
        seen.append(tuning.epoch_token)
    finally:
        tuning.remove_observer(observer)
    assert tuning.epoch() is tuning.epoch_token and tuning.epoch_token not in seen
    seen.append(tuning.epoch_token)
    old = tuning.set_dry_run(True)
    try:
        assert tuning.epoch() is None
    finally:
        tuning.set_dry_run(old)
    assert tuning.epoch_token not in seen
    seen.append(tuning.epoch_token)
    tuning.forget()
    assert tuning.epoch_token not in seen
    seen.append(tuning.epoch_token)
    selector = tuning._selector
    tuning.install_selector(selector)
    assert tuning.epoch_token not in seen and tuning.epoch() is tuning.epoch_token
