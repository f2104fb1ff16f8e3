"""Learning-rate schedulers against known values (PyTorch's recursive forms and closed forms), their
state_dict round trip, and their warnings and errors."""

import math
import warnings

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
