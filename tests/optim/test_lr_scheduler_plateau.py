"""ReduceLROnPlateau on scripted metric sequences (patience, cooldown, rel/abs thresholds, min/max modes,
min_lr per group, eps) against hand-worked values and an independent float reference; its state_dict, warnings
and errors."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor import optim
from tritensor.optim import lr_scheduler as S


def _opt(lrs=(1.0, 0.3)):
    return optim.SGD([{"params": [tt.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0])


def _drive(opt, s, metrics):
    """The lrs after each step(metric)."""
    out = []
    for m in metrics:
        opt.step()
        s.step(m)
        out.append([g["lr"] for g in opt.param_groups])
        assert s.get_last_lr() == out[-1]
    return np.array(out)


def _reference(metrics, lrs, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
               cooldown=0, min_lr=0.0, eps=1e-8):
    """The documented rule, written out: a metric improves on `best` when it beats the dynamic threshold;
    more than `patience` non-improving steps (not counted during the cooldown) reduce every lr by `factor`,
    floored at min_lr, unless the reduction is below eps."""
    lrs = list(lrs)
    mins = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(lrs)
    sign = 1 if mode == "min" else -1
    best = math.inf * sign
    bad = cool = 0
    out = []
    for m in metrics:
        if threshold_mode == "rel":
            better = m < best * (1 - sign * threshold) if mode == "min" else m > best * (1 + threshold)
        else:
            better = m < best - threshold if mode == "min" else m > best + threshold
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            for i, lr in enumerate(lrs):
                new = max(lr * factor, mins[i])
                if lr - new > eps:
                    lrs[i] = new
            cool, bad = cooldown, 0
        out.append(list(lrs))
    return np.array(out)


def test_hand_worked_patience_and_rel_threshold():
    opt = _opt((1.0,))
    s = S.ReduceLROnPlateau(opt, factor=0.5, patience=1, threshold=0.1)
    # 9.5 and 9.2 do not beat 10 * 0.9: the second bad step exceeds patience 1 -> 0.5; 8.0 beats 9 (best 10);
    # 7.5, 7.5 do not beat 7.2 -> 0.25; 6.4 beats 7.2; 6.0 bad; 5.0 beats 5.76
    got = _drive(opt, s, [10, 9.5, 9.2, 8.0, 7.5, 7.5, 6.4, 6.0, 5.0])
    assert got[:, 0].tolist() == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert s.best == 5.0 and s.num_bad_epochs == 0 and s.last_epoch == 9


def test_hand_worked_cooldown():
    opt = _opt((1.0,))
    s = S.ReduceLROnPlateau(opt, factor=0.1, patience=0, cooldown=2, threshold=0.0)
    # patience 0: every bad step reduces, except the 2 steps of cooldown after a reduction
    got = _drive(opt, s, [5, 6, 6, 6, 6, 6, 6, 4])
    np.testing.assert_allclose(got[:, 0], [1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01], rtol=1e-15)


RNG = np.random.default_rng(0)
NOISY = (10 - np.arange(40) * 0.2 + RNG.normal(0, 0.6, 40)).tolist()
FLAT = [3.0, 2.0, 2.0, 1.999, 1.9999, 2.5, 1.95, 1.8, 1.8, 1.8, 1.8, 1.79, 1.2, 1.2, 1.3, 1.1, 1.1, 1.1, 1.1]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, threshold=0.05),
    dict(patience=1, factor=0.5, threshold=0.05, threshold_mode="abs"),
    dict(patience=0, factor=0.3, cooldown=3),
    dict(patience=1, factor=0.2, min_lr=[0.05, 0.01]),
    dict(patience=0, factor=0.5, min_lr=0.1),
    dict(patience=0, factor=0.9, eps=0.05),  # reductions below eps are skipped
    dict(mode="max", patience=1, factor=0.5),
    dict(mode="max", patience=2, factor=0.5, threshold=0.2, threshold_mode="abs", cooldown=1),
], ids=["defaults", "patience", "rel", "abs", "cooldown", "min_lr_list", "min_lr_float", "eps", "max_rel",
        "max_abs_cooldown"])
@pytest.mark.parametrize("script", ["noisy", "flat"])
def test_against_reference(kwargs, script):
    metrics = NOISY if script == "noisy" else FLAT
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    opt = _opt()
    got = _drive(opt, S.ReduceLROnPlateau(opt, **kwargs), metrics)
    np.testing.assert_allclose(got, _reference(metrics, (1.0, 0.3), **kwargs), rtol=1e-15, atol=0)


def test_eps_and_min_lr_floor_values():
    opt = _opt((1e-7, 1.0))
    s = S.ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=[0.0, 0.3])
    got = _drive(opt, s, [1, 2, 3, 4])
    # group 0: 1e-7 -> 5e-8 is a change of 5e-8 > 1e-8, then 2.5e-8 (2.5e-8 > eps), then 1.25e-8 > eps... 6.25e-9
    # would change by 6.25e-9 < eps: kept
    assert got[:, 0].tolist() == [1e-7, 5e-8, 2.5e-8, 1.25e-8]
    assert got[:, 1].tolist() == [1.0, 0.5, 0.3, 0.3]
    opt.step()
    s.step(5)
    assert opt.param_groups[0]["lr"] == 1.25e-8


def test_tensor_metric_state_dict_and_resume():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1, cooldown=1)
    metrics = [-m for m in NOISY]
    straight = _drive(opt, s, metrics)
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1, cooldown=1)
    first = _drive(opt, s, [tt.tensor(m) for m in metrics[:17]])  # one-element tensors are read with float()
    state, opt_state = s.state_dict(), opt.state_dict()
    assert "optimizer" not in state and state["mode_worse"] == -math.inf and state["last_epoch"] == 17
    opt2 = _opt()
    s2 = S.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    assert s2.mode == "max" and s2.patience == 1
    np.testing.assert_array_equal(np.concatenate([first, _drive(opt2, s2, metrics[17:])]), straight)


def test_no_constructor_step_and_epoch_warning():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt)
    assert s.last_epoch == 0 and s.get_last_lr() == [1.0, 0.3] and "initial_lr" not in opt.param_groups[0]
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        s.step(1.0, epoch=7)
    assert s.last_epoch == 7


def test_added_param_group():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, patience=0, min_lr=0.2)
    opt.add_param_group({"params": [tt.zeros(1, requires_grad=True)], "lr": 0.5})
    _drive(opt, s, [1, 2])
    assert s.min_lrs == [0.2, 0.2, 0.2] and [g["lr"] for g in opt.param_groups] == [0.2, 0.2, 0.2]
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
    opt.add_param_group({"params": [tt.zeros(1, requires_grad=True)], "lr": 0.5})
    s.step(1)
    with pytest.raises(RuntimeError, match=r"The number of param groups in the `optimizer` \(3\) differs from when "
                                           r"`ReduceLROnPlateau` was initialized \(2\)"):
        s.step(2)


def test_errors():
    with pytest.raises(ValueError, match=r"Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode average is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="average")
    with pytest.raises(ValueError, match="threshold mode pct is unknown!"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        S.ReduceLROnPlateau(_opt(), min_lr=[0.1, 0.1, 0.1])
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.ReduceLROnPlateau([])
