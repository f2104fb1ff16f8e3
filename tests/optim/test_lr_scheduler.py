"""Learning-rate schedulers against known values (PyTorch's recursive forms and closed forms), their
state_dict round trip, and their warnings and errors."""

import math
import warnings

import numpy as np
import pytest

import tritensor as tt
from tritensor import optim
from tritensor.optim import lr_scheduler as S


def _opt(lr=0.1, groups=1):
    params = [tt.zeros(1, requires_grad=True) for _ in range(groups)]
    return optim.SGD([{"params": [p]} for p in params], lr=lr)


def _lrs(opt, scheduler, epochs):
    """The lr at epochs 0..epochs-1 (optimizer.step before scheduler.step, as in a training loop)."""
    out = []
    for _ in range(epochs):
        out.append(scheduler.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
        opt.step()
        scheduler.step()
    return out


def test_step_lr():
    opt = _opt(0.1)
    s = S.StepLR(opt, step_size=2, gamma=0.5)
    assert _lrs(opt, s, 7) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], rel=1e-12)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and s.base_lrs == [0.1]


def test_cosine_annealing_lr():
    opt = _opt(1.0)
    s = S.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    closed = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(9)]
    # 1, 0.8682, 0.55, 0.2318, 0.1, then back up: the schedule is periodic in 2 * T_max
    assert closed[:5] == pytest.approx([1.0, 0.868198, 0.55, 0.231802, 0.1], abs=1e-6)
    assert _lrs(opt, s, 9) == pytest.approx(closed, rel=1e-9)


def test_lambda_lr_per_group():
    opt = _opt(0.2, groups=2)
    s = S.LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1.0 / (e + 1)])
    for epoch in range(4):
        assert s.get_last_lr() == pytest.approx([0.2 * 0.5 ** epoch, 0.2 / (epoch + 1)])
        opt.step()
        s.step()
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(_opt(groups=2), [lambda e: 1.0])


def test_linear_lr():
    opt = _opt(0.1)
    s = S.LinearLR(opt, start_factor=0.5, end_factor=1.0, total_iters=4)
    assert _lrs(opt, s, 7) == pytest.approx([0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1, 0.1], rel=1e-12)
    opt = _opt(0.1)
    s = S.LinearLR(opt)  # defaults: 1/3 -> 1 over 5 iterations
    assert _lrs(opt, s, 6) == pytest.approx([0.1 * (1 / 3 + 2 / 3 * e / 5) for e in range(6)], rel=1e-12)
    opt = _opt(1.0)
    s = S.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=2)
    assert _lrs(opt, s, 4) == pytest.approx([1.0, 0.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="Starting multiplicative factor expected to be greater than 0"):
        S.LinearLR(_opt(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor expected to be between 0 and 1"):
        S.LinearLR(_opt(), end_factor=1.5)


@pytest.mark.parametrize("make", [lambda o: S.StepLR(o, 3, 0.3), lambda o: S.CosineAnnealingLR(o, 5),
                                  lambda o: S.LinearLR(o, 0.25, 1.0, 6), lambda o: S.LambdaLR(o, lambda e: 0.9 ** e)],
                         ids=["step", "cosine", "linear", "lambda"])
def test_state_dict_resumes_the_schedule(make):
    opt = _opt(0.3)
    s = make(opt)
    straight = _lrs(opt, s, 10)
    opt = _opt(0.3)
    s = make(opt)
    first = _lrs(opt, s, 4)
    sched_state, opt_state = s.state_dict(), opt.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 4
    opt2 = _opt(0.3)
    opt2.load_state_dict(opt_state)
    s2 = make(opt2)
    s2.load_state_dict(sched_state)
    opt2.param_groups[0]["lr"] = s2.get_last_lr()[0]
    assert first + _lrs(opt2, s2, 6) == pytest.approx(straight, rel=1e-12)


def test_lambda_state_dict_keeps_callable_objects_state_not_functions():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = _opt()
    decay = Decay()
    s = S.LambdaLR(opt, decay)
    decay.rate = 0.25
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.25}]
    fresh = Decay()
    s2 = S.LambdaLR(_opt(), fresh)
    s2.load_state_dict(state)
    assert fresh.rate == 0.25
    assert S.LambdaLR(_opt(), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


def test_warnings_and_resume_errors():
    opt = _opt()
    s = S.StepLR(opt, 1)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        s.step()
    opt = _opt()
    s = S.StepLR(opt, 1)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        s.step(4)
    assert s.get_last_lr() == pytest.approx([0.1 * 0.1 ** 4])  # the closed form at epoch 4
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        S.StepLR(_opt(), 2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), 2)


# ---------------------------------------------------------------------------------------------------------------
# Every single-curve scheduler over 30 steps, two parameter groups, against its closed form in float64.

LRS = (0.1, 0.035)
STEPS = 30


def _opt2(lrs=LRS, **kw):
    """SGD with one parameter group per lr."""
    return optim.SGD([{"params": [tt.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0], **kw)


def _seq(opt, scheduler, steps=STEPS):
    """(steps, groups) lrs: the lr each step trains with (optimizer.step, then scheduler.step)."""
    out = []
    for _ in range(steps):
        out.append(list(scheduler.get_last_lr()))
        assert [g["lr"] for g in opt.param_groups] == out[-1]
        opt.step()
        scheduler.step()
    return np.array(out)


def _ref(factor, lrs=LRS, steps=STEPS):
    """base_lr * factor(epoch) for every epoch and group."""
    return np.array([[lr * factor(e) for lr in lrs] for e in range(steps)])


def _mult_ref(e):
    return float(np.prod([0.95 if k % 3 else 0.8 for k in range(1, e + 1)]))


CASES = {
    "lambda": (lambda o: S.LambdaLR(o, lambda e: 1.0 / (1 + 0.3 * e)), lambda e: 1.0 / (1 + 0.3 * e)),
    "multiplicative": (lambda o: S.MultiplicativeLR(o, lambda e: 0.95 if e % 3 else 0.8), _mult_ref),
    "step": (lambda o: S.StepLR(o, step_size=4, gamma=0.7), lambda e: 0.7 ** (e // 4)),
    "multistep": (lambda o: S.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.5),
                  lambda e: 0.5 ** sum(m <= e for m in [3, 7, 7, 15])),
    "constant": (lambda o: S.ConstantLR(o, factor=0.25, total_iters=6), lambda e: 0.25 if e < 6 else 1.0),
    "linear": (lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=12),
               lambda e: 0.2 + 0.7 * min(e, 12) / 12),
    "exponential": (lambda o: S.ExponentialLR(o, gamma=0.9), lambda e: 0.9 ** e),
    "polynomial": (lambda o: S.PolynomialLR(o, total_iters=20, power=1.7), lambda e: (1 - min(e, 20) / 20) ** 1.7),
    "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.002), None),
}


def _cosine_ref(T_max=8, eta_min=0.002, lrs=LRS, steps=STEPS):
    return np.array([[eta_min + (lr - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2 for lr in lrs]
                     for e in range(steps)])


@pytest.mark.parametrize("name", list(CASES))
def test_every_scheduler_against_its_closed_form(name):
    make, factor = CASES[name]
    opt = _opt2()
    got = _seq(opt, make(opt))
    ref = _cosine_ref() if factor is None else _ref(factor)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", [n for n in CASES if n not in ("lambda", "multiplicative")])
def test_step_with_epoch_uses_the_closed_form(name):
    make, factor = CASES[name]
    opt = _opt2()
    s = make(opt)
    opt.step()
    ref = _cosine_ref() if factor is None else _ref(factor)
    for epoch in [5, 2, 17, 29, 11]:
        with pytest.warns(UserWarning, match="epoch parameter"):
            s.step(epoch)
        assert s.last_epoch == epoch
        np.testing.assert_allclose(s.get_last_lr(), ref[epoch], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_identically(name):
    make = CASES[name][0]
    opt = _opt2(momentum=0.9)
    straight = _seq(opt, make(opt))
    opt = _opt2(momentum=0.9)
    s = make(opt)
    first = _seq(opt, s, 11)
    sched_state, opt_state = s.state_dict(), opt.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 11
    opt2 = _opt2(momentum=0.9)
    s2 = make(opt2)  # as a training script resumes: build, then load the optimizer's and scheduler's states
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(sched_state)
    rest = _seq(opt2, s2, STEPS - 11)
    np.testing.assert_array_equal(np.concatenate([first, rest]), straight)


@pytest.mark.parametrize("name", ["exponential", "linear", "polynomial", "cosine", "multiplicative"])
def test_last_epoch_resume_keeps_the_current_lr(name):
    make, _ = CASES[name]
    opt = _opt2()
    s = make(opt)
    straight = _seq(opt, s, 16)
    opt = _opt2()
    s = make(opt)
    _seq(opt, s, 9)
    resumed_opt = _opt2()
    for g, old in zip(resumed_opt.param_groups, opt.param_groups):
        g["initial_lr"], g["lr"] = old["initial_lr"], old["lr"]
    sched = {"exponential": lambda o, k: S.ExponentialLR(o, 0.9, last_epoch=k),
             "linear": lambda o, k: S.LinearLR(o, 0.2, 0.9, 12, last_epoch=k),
             "polynomial": lambda o, k: S.PolynomialLR(o, 20, 1.7, last_epoch=k),
             "cosine": lambda o, k: S.CosineAnnealingLR(o, 8, 0.002, last_epoch=k),
             "multiplicative": lambda o, k: S.MultiplicativeLR(o, lambda e: 0.95 if e % 3 else 0.8, last_epoch=k)}
    # the constructor's step moves last_epoch 8 -> 9 and (initial mode) leaves the lr where it stands
    s2 = sched[name](resumed_opt, 8)
    assert s2.last_epoch == 9 and s2.base_lrs == list(LRS)
    np.testing.assert_allclose(_seq(resumed_opt, s2, 7), straight[9:], rtol=1e-12, atol=0)


def test_chained_scheduler_multiplies_the_factors():
    opt = _opt2()
    s = S.ChainedScheduler([S.ConstantLR(opt, factor=0.1, total_iters=20), S.ExponentialLR(opt, gamma=0.9)],
                           optimizer=opt)
    ref = _ref(lambda e: (0.1 if e < 20 else 1.0) * 0.9 ** e)
    np.testing.assert_allclose(_seq(opt, s), ref, rtol=1e-12, atol=0)
    state = s.state_dict()
    assert "optimizer" not in state and [d["gamma"] for d in state["_schedulers"][1:]] == [0.9]
    opt = _opt2()  # optimizer left out: taken from the first scheduler
    s = S.ChainedScheduler([S.StepLR(opt, 5, 0.5), S.LinearLR(opt, 0.5, 1.0, 10)])
    assert s.optimizer is opt
    ref = _ref(lambda e: 0.5 ** (e // 5) * (0.5 + 0.5 * min(e, 10) / 10))
    np.testing.assert_allclose(_seq(opt, s), ref, rtol=1e-12, atol=0)


def test_chained_state_dict_round_trip():
    def make(o):
        return S.ChainedScheduler([S.LinearLR(o, 0.3, 1.0, 7), S.CosineAnnealingLR(o, 12, 0.001)], optimizer=o)

    opt = _opt2()
    straight = _seq(opt, make(opt))
    opt = _opt2()
    s = make(opt)
    first = _seq(opt, s, 13)
    state, opt_state = s.state_dict(), opt.state_dict()
    opt2 = _opt2()
    s2 = make(opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    assert "_schedulers" in state  # load_state_dict leaves the caller's dict intact
    np.testing.assert_array_equal(np.concatenate([first, _seq(opt2, s2, STEPS - 13)]), straight)


def test_sequential_lr_switches_at_milestones():
    opt = _opt2()
    s = S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.1, total_iters=3), S.ExponentialLR(opt, gamma=0.9)],
                       milestones=[5])
    ref = _ref(lambda e: (0.1 if e < 3 else 1.0) if e < 5 else 0.9 ** (e - 5))
    np.testing.assert_allclose(_seq(opt, s), ref, rtol=1e-12, atol=0)
    opt = _opt2()
    s = S.SequentialLR(opt, [S.LinearLR(opt, 0.25, 1.0, 4), S.StepLR(opt, 3, 0.5), S.CosineAnnealingLR(opt, 10)],
                       milestones=[6, 14])

    def three(e):
        if e < 6:
            return 0.25 + 0.75 * min(e, 4) / 4
        if e < 14:
            return 0.5 ** ((e - 6) // 3)
        return (1 + math.cos(math.pi * (e - 14) / 10)) / 2

    # the cosine stretch starts from the lr StepLR left, as PyTorch's recursive form does
    got = _seq(opt, s)
    np.testing.assert_allclose(got[:14], _ref(three)[:14], rtol=1e-12, atol=0)
    start = got[14] / LRS
    np.testing.assert_allclose(got[14:25], _ref(lambda e: start[0] * three(e))[14:25], rtol=1e-12, atol=1e-17)


def test_sequential_state_dict_round_trip():
    def make(o):
        return S.SequentialLR(o, [S.LinearLR(o, 0.25, 1.0, 4), S.ExponentialLR(o, 0.8)], milestones=[7])

    opt = _opt2()
    straight = _seq(opt, make(opt))
    opt = _opt2()
    s = make(opt)
    first = _seq(opt, s, 5)
    state, opt_state = s.state_dict(), opt.state_dict()
    assert state["_milestones"] == [7] and len(state["_schedulers"]) == 2
    opt2 = _opt2()
    s2 = make(opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([first, _seq(opt2, s2, STEPS - 5)]), straight)


def test_paramwise_scheduler_one_schedule_per_group():
    opt = _opt2()
    s = S.ParamwiseScheduler([S.StepLR(opt, 4, 0.5), S.ExponentialLR(opt, 0.9)])
    got = _seq(opt, s)
    np.testing.assert_allclose(got[:, 0], [LRS[0] * 0.5 ** (e // 4) for e in range(STEPS)], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[:, 1], [LRS[1] * 0.9 ** e for e in range(STEPS)], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="Number of schedulers must match the number of parameter groups in the "
                                         "optimizer. Got 1 schedulers and 2 parameter groups."):
        S.ParamwiseScheduler([S.StepLR(opt, 4)])


def test_composite_errors():
    opt, other = _opt2(), _opt2()
    with pytest.raises(ValueError, match="ChainedScheduler expects at least one scheduler to be chained"):
        S.ChainedScheduler([])
    with pytest.raises(ValueError, match="SequentialLR expects at least one scheduler, but got no scheduler."):
        S.SequentialLR(opt, [], [])
    plateau = S.ReduceLROnPlateau(opt)
    for make in (lambda ss: S.ChainedScheduler(ss, optimizer=opt), lambda ss: S.SequentialLR(opt, ss, [3])):
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau` scheduler .* at index 1"):
            make([S.StepLR(opt, 2), plateau])
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer, but got "
                                             "scheduler StepLR at index 1"):
            make([S.StepLR(opt, 2), S.StepLR(other, 2)])
        with pytest.raises(TypeError, match="at index 0 should have `optimizer` as its attribute."):
            make([object(), S.StepLR(opt, 2)])
    with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers provided to be one "
                                         "more than the number of milestone points, but got number of schedulers 2 "
                                         "and the number of milestones to be equal to 2"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[3, 5])


def test_more_warnings_and_errors():
    opt = _opt2()
    s = S.ExponentialLR(opt, 0.9)
    with pytest.warns(UserWarning, match=r"please use `get_last_lr\(\)`"):
        s.get_lr()
    opt = _opt2()
    s = S.StepLR(opt, 2)
    opt.step = lambda closure=None: None  # replaced after the scheduler wrapped nothing: PyTorch's warning
    with pytest.warns(UserWarning, match=r"`optimizer.step\(\)` has been overridden after learning rate scheduler"):
        s.step()
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got int"):
        S.MultiplicativeLR(_opt2(), 3)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        S.MultiplicativeLR(_opt2(), [abs, abs, abs])
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1."):
        S.ConstantLR(_opt2(), factor=1.5)
    assert S._LRScheduler.__name__ == "_LRScheduler" and issubclass(S._LRScheduler, S.LRScheduler)
    assert issubclass(S.ReduceLROnPlateau, S.LRScheduler)


def test_a_step_replaced_before_the_scheduler_is_wrapped():
    opt = _opt2()
    calls = []
    opt.step = lambda closure=None: calls.append(1)
    s = S.StepLR(opt, 2)  # wraps the replaced step so that it marks the optimizer as stepped
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step()
    assert calls == [1] and opt._opt_called
