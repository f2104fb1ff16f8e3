"""CyclicLR, OneCycleLR and CosineAnnealingWarmRestarts: 30-step lr (and momentum / beta1) sequences for two
parameter groups against float64 references written from the documented formulas, state_dict round trips,
and the argument errors."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor import optim
from tritensor.optim import lr_scheduler as S
from tritensor.optim.optimizer import Optimizer

STEPS = 30


def _params(lrs):
    return [{"params": [tt.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]


def _sgd(lrs=(0.1, 0.05), momentum=0.9):
    return optim.SGD(_params(lrs), lr=lrs[0], momentum=momentum)


def _adam(lrs=(0.1, 0.05)):
    return optim.Adam(_params(lrs), lr=lrs[0], betas=(0.9, 0.99))


class _Plain(Optimizer):
    """An optimizer with neither momentum nor betas."""

    def __init__(self, params):
        super().__init__(params, {"lr": 0.1})

    def step(self, closure=None):
        return None


def _run(opt, scheduler, steps=STEPS, key="momentum"):
    """(lrs, momenta): per step and group, what the step trains with."""
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append(list(scheduler.get_last_lr()))
        assert [g["lr"] for g in opt.param_groups] == lrs[-1]
        moms.append([g[key] if key == "momentum" else g["betas"][0] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return np.array(lrs), np.array(moms)


# ------------------------------------------------------------------------------------------------- CyclicLR
def _cyclic_ref(i, base, peak, up, down, scale):
    """base + (peak - base) * height * scale: height rises 0 -> 1 over `up` iterations, falls over `down`."""
    total = up + down
    cycle = i // total + 1
    t = i % total
    height = t / up if t <= up else 1 - (t - up) / down
    return base + (peak - base) * height * scale(cycle, i), height * scale(cycle, i)


CYCLIC = {
    "triangular": (dict(mode="triangular"), lambda c, i: 1.0),
    "triangular2": (dict(mode="triangular2"), lambda c, i: 0.5 ** (c - 1)),
    "exp_range": (dict(mode="exp_range", gamma=0.97), lambda c, i: 0.97 ** i),
    "custom_cycle": (dict(scale_fn=lambda x: 1 / x, scale_mode="cycle"), lambda c, i: 1 / c),
    "custom_iterations": (dict(scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode="iterations"),
                          lambda c, i: 1 / (1 + 0.1 * i)),
}


@pytest.mark.parametrize("name", list(CYCLIC))
@pytest.mark.parametrize("adam", [False, True], ids=["sgd_momentum", "adam_beta1"])
def test_cyclic_lr_and_momentum(name, adam):
    kwargs, scale = CYCLIC[name]
    opt = _adam() if adam else _sgd()
    base, peak, up, down = [0.01, 0.002], [0.1, 0.03], 4, 6
    s = S.CyclicLR(opt, base_lr=base, max_lr=peak, step_size_up=up, step_size_down=down, base_momentum=[0.8, 0.7],
                   max_momentum=0.9, **kwargs)
    lrs, moms = _run(opt, s, key="betas" if adam else "momentum")
    ref = np.array([[_cyclic_ref(i, b, p, up, down, scale)[0] for b, p in zip(base, peak)] for i in range(STEPS)])
    np.testing.assert_allclose(lrs, ref, rtol=1e-12, atol=1e-17)
    heights = np.array([_cyclic_ref(i, 0, 1, up, down, scale)[1] for i in range(STEPS)])
    ref_m = np.stack([0.9 - (0.9 - 0.8) * heights, 0.9 - (0.9 - 0.7) * heights], axis=1)
    np.testing.assert_allclose(moms, ref_m, rtol=1e-12, atol=1e-15)
    if adam:
        assert all(g["betas"][1] == 0.99 for g in opt.param_groups)
    assert [g["max_momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert [g["base_momentum"] for g in opt.param_groups] == [0.8, 0.7]


def test_cyclic_lr_defaults_and_without_momentum_cycling():
    opt = _sgd(momentum=0.5)
    s = S.CyclicLR(opt, base_lr=0.001, max_lr=0.006, step_size_up=5, cycle_momentum=False)
    lrs, moms = _run(opt, s)
    ref = [_cyclic_ref(i, 0.001, 0.006, 5, 5, lambda c, i: 1.0)[0] for i in range(STEPS)]
    np.testing.assert_allclose(lrs[:, 0], ref, rtol=1e-12)
    assert (moms == 0.5).all()
    assert s.scale_mode == "cycle" and S.CyclicLR(_sgd(), 0.1, 1.0, mode="exp_range").scale_mode == "iterations"


def test_cyclic_state_dict():
    class Scale:
        def __init__(self):
            self.k = 0.5

        def __call__(self, x):
            return self.k ** x

    def make(o, fn):
        return S.CyclicLR(o, [0.01, 0.02], [0.1, 0.2], step_size_up=3, step_size_down=5, scale_fn=fn)

    opt = _sgd()
    straight = _run(opt, make(opt, Scale()))
    opt = _sgd()
    s = make(opt, Scale())
    first = _run(opt, s, 8)
    state, opt_state = s.state_dict(), opt.state_dict()
    assert "_scale_fn_ref" not in state and state["_scale_fn_custom"] == {"k": 0.5} and "optimizer" not in state
    opt2 = _sgd()
    fresh = Scale()
    fresh.k = 0.1
    s2 = make(opt2, fresh)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    # PyTorch's CyclicLR.load_state_dict pops the key from the caller's dict (unlike LambdaLR): kept as is
    assert fresh.k == 0.5 and "_scale_fn_custom" not in state
    rest = _run(opt2, s2, STEPS - 8)
    for a, b, c in zip(first, rest, straight):
        np.testing.assert_array_equal(np.concatenate([a, b]), c)
    assert make(_sgd(), lambda x: 1.0).state_dict()["_scale_fn_custom"] is None
    plain = S.CyclicLR(_sgd(), 0.01, 0.1, mode="triangular2")
    plain.load_state_dict(plain.state_dict())
    assert plain.scale_fn(3) == 0.25


def test_cyclic_errors():
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(_sgd(), 0.01, 0.1, mode="square")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum` option "
                                         "enabled"):
        S.CyclicLR(_Plain(_params([0.1])), 0.01, 0.1)
    with pytest.raises(ValueError, match=r"base_lr must have the same length as optimizer.param_groups. base_lr "
                                         r"has 3 values, param_groups has 2."):
        S.CyclicLR(_sgd(), [0.1, 0.2, 0.3], 1.0)
    with pytest.raises(ValueError, match="max_momentum must have the same length"):
        S.CyclicLR(_sgd(), 0.1, 1.0, max_momentum=[0.9])
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        S.CyclicLR(3, 0.1, 1.0)


# ----------------------------------------------------------------------------------------------- OneCycleLR
def _one_cycle_ref(step, total, peak, pct, div, final_div, three, cos, base_m=0.85, max_m=0.95):
    """(lr, momentum) at `step` from the 1cycle phases (each phase anneals between its two end points)."""
    start_lr = peak / div
    phases = [(pct * total - 1, start_lr, peak, max_m, base_m)]
    if three:
        phases += [(2 * pct * total - 2, peak, start_lr, base_m, max_m),
                   (total - 1, start_lr, start_lr / final_div, max_m, max_m)]
    else:
        phases += [(total - 1, peak, start_lr / final_div, base_m, max_m)]

    def anneal(a, b, t):
        return b + (a - b) / 2 * (math.cos(math.pi * t) + 1) if cos else a + (b - a) * t

    begin = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            t = (step - begin) / (end - begin)
            return anneal(lr0, lr1, t), anneal(m0, m1, t)
        begin = end


@pytest.mark.parametrize("three", [False, True], ids=["two_phase", "three_phase"])
@pytest.mark.parametrize("cos", [True, False], ids=["cos", "linear"])
def test_one_cycle(three, cos):
    opt = _sgd()
    s = S.OneCycleLR(opt, max_lr=[1.0, 0.4], total_steps=STEPS, pct_start=0.25, div_factor=10.0,
                     final_div_factor=100.0, three_phase=three, anneal_strategy="cos" if cos else "linear")
    lrs, moms = _run(opt, s)
    for g, peak in enumerate([1.0, 0.4]):
        ref = np.array([_one_cycle_ref(i, STEPS, peak, 0.25, 10.0, 100.0, three, cos) for i in range(STEPS)])
        np.testing.assert_allclose(lrs[:, g], ref[:, 0], rtol=1e-12, atol=1e-17)
        np.testing.assert_allclose(moms[:, g], ref[:, 1], rtol=1e-12)
    assert opt.param_groups[1]["initial_lr"] == pytest.approx(0.04) and opt.param_groups[1]["max_lr"] == 0.4
    assert opt.param_groups[1]["min_lr"] == pytest.approx(0.0004)
    assert s.last_epoch == STEPS  # _run's last step reached last_epoch == total_steps, still allowed
    with pytest.raises(ValueError, match="Tried to step 31 times. The specified number of total steps is 30"):
        s.step()


def test_one_cycle_epochs_adam_and_no_momentum():
    opt = _adam()
    s = S.OneCycleLR(opt, max_lr=0.5, epochs=5, steps_per_epoch=6)
    assert s.total_steps == 30
    lrs, betas = _run(opt, s, key="betas")
    ref = np.array([_one_cycle_ref(i, 30, 0.5, 0.3, 25.0, 1e4, False, True) for i in range(STEPS)])
    np.testing.assert_allclose(lrs[:, 1], ref[:, 0], rtol=1e-12)
    np.testing.assert_allclose(betas[:, 0], ref[:, 1], rtol=1e-12)
    assert all(g["betas"][1] == 0.99 for g in opt.param_groups)
    opt = _sgd(momentum=0.3)
    s = S.OneCycleLR(opt, max_lr=0.5, total_steps=10, cycle_momentum=False)
    _, moms = _run(opt, s, 10)
    assert (moms == 0.3).all()


def test_one_cycle_state_dict():
    def make(o):
        return S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS, three_phase=True)

    opt = _sgd()
    straight = _run(opt, make(opt))
    opt = _sgd()
    s = make(opt)
    first = _run(opt, s, 12)
    state, opt_state = s.state_dict(), opt.state_dict()
    assert state["_anneal_func_type"] == "cos" and len(state["_schedule_phases"]) == 3
    opt2 = _sgd()
    s2 = make(opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    rest = _run(opt2, s2, STEPS - 12)
    for a, b, c in zip(first, rest, straight):
        np.testing.assert_array_equal(np.concatenate([a, b]), c)


@pytest.mark.parametrize("kwargs,message", [
    (dict(total_steps=0), "Expected positive integer total_steps, but got 0"),
    (dict(total_steps=2.5), "Expected positive integer total_steps, but got 2.5"),
    (dict(epochs=0, steps_per_epoch=3), "Expected positive integer epochs, but got 0"),
    (dict(epochs=2, steps_per_epoch=-1), "Expected positive integer steps_per_epoch, but got -1"),
    (dict(epochs=2), r"You must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    (dict(total_steps=10, pct_start=1.5), "Expected float between 0 and 1 pct_start, but got 1.5"),
    (dict(total_steps=10, pct_start=1), "Expected float between 0 and 1 pct_start, but got 1"),
    (dict(total_steps=10, anneal_strategy="exp"), "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
])
def test_one_cycle_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.OneCycleLR(_sgd(), max_lr=1.0, **kwargs)


def test_one_cycle_momentum_error():
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(_Plain(_params([0.1])), max_lr=1.0, total_steps=10)


# --------------------------------------------------------------------------------- CosineAnnealingWarmRestarts
def _sgdr_ref(epoch, base, T_0, T_mult, eta_min):
    """Walk the periods T_0, T_0 * T_mult, ... to find T_cur and T_i for a (possibly fractional) epoch."""
    T_i, start = T_0, 0.0
    while epoch >= start + T_i:
        start += T_i
        T_i *= T_mult
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (epoch - start) / T_i)) / 2


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts(T_mult):
    opt = _sgd()
    s = S.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=T_mult, eta_min=0.003)
    lrs, _ = _run(opt, s)
    for g, base in enumerate([0.1, 0.05]):
        ref = [_sgdr_ref(e, base, 4, T_mult, 0.003) for e in range(STEPS)]
        np.testing.assert_allclose(lrs[:, g], ref, rtol=1e-12)


@pytest.mark.parametrize("T_mult", [1, 3])
def test_warm_restarts_fractional_epochs(T_mult):
    opt = _sgd()
    s = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.001)
    epochs = [0.0, 0.25, 1.5, 2.75, 3.0, 3.4, 7.9, 11.2, 12.0, 20.5, 29.99, 5.5]
    for epoch in epochs:
        opt.step()
        s.step(epoch)  # no deprecation warning here: this scheduler documents step(epoch)
        assert s.last_epoch == math.floor(epoch)
        ref = [_sgdr_ref(epoch, base, 3, T_mult, 0.001) for base in (0.1, 0.05)]
        np.testing.assert_allclose(s.get_last_lr(), ref, rtol=1e-12)
    s.step()  # stepping on from a fractional epoch: T_cur + 1
    assert s.last_epoch == 6


def test_warm_restarts_state_dict_and_errors():
    def make(o):
        return S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)

    opt = _sgd()
    straight = _run(opt, make(opt))
    opt = _sgd()
    s = make(opt)
    first = _run(opt, s, 10)
    state, opt_state = s.state_dict(), opt.state_dict()
    assert state["T_i"] == 12 and state["T_cur"] == 1
    opt2 = _sgd()
    s2 = make(opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([first[0], _run(opt2, s2, STEPS - 10)[0]]), straight[0])
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=0)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 2.0"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=2.0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="Expected float or int eta_min, but got x of type <class 'str'>"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=2, eta_min="x")
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        make(_sgd()).step(-1)
