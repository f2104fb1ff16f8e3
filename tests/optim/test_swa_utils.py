"""optim.swa_utils: AveragedModel (SWA and EMA, avg_fn / multi_avg_fn, use_buffers) against NumPy running
averages, its state_dict, SWALR's lr sequence against the annealing formula, and update_bn against NumPy batch
statistics."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn, optim
from tritensor.optim import swa_utils as swa


def _model(seed=0):
    tt.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _np_params(model):
    return [p.detach().numpy().astype(np.float64) for p in model.parameters()]


def _snapshots(model, k, seed=1):
    """k parameter (and running-stat buffer) settings of `model`, each written into it in turn (yielded)."""
    rng = np.random.default_rng(seed)
    for _ in range(k):
        with tt.no_grad():
            for p in model.parameters():
                p.copy_(tt.tensor(rng.normal(size=tuple(p.shape)).astype(np.float32)))
            bn = model[1]
            bn.running_mean.copy_(tt.tensor(rng.normal(size=4).astype(np.float32)))
            bn.running_var.copy_(tt.tensor(rng.uniform(0.5, 2, size=4).astype(np.float32)))
            bn.num_batches_tracked += 3
        yield [p.detach().numpy().astype(np.float64) for p in model.parameters()], \
            [b.detach().numpy() for b in model.buffers()]


@pytest.mark.parametrize("how", ["default", "swa_multi", "swa_fn"])
def test_swa_is_the_mean_of_the_snapshots(how):
    model = _model()
    kwargs = {"default": {}, "swa_multi": {"multi_avg_fn": swa.get_swa_multi_avg_fn()},
              "swa_fn": {"avg_fn": swa.get_swa_avg_fn()}}[how]
    averaged = swa.AveragedModel(model, **kwargs)
    seen = []
    for params, buffers in _snapshots(model, 5):
        averaged.update_parameters(model)
        seen.append(params)
        means = [np.mean([snap[i] for snap in seen], axis=0) for i in range(len(params))]
        for got, ref in zip(_np_params(averaged.module), means):
            np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6)
        # buffers are not averaged: they follow the model
        for got, ref in zip(averaged.module.buffers(), buffers):
            np.testing.assert_array_equal(got.numpy(), ref)
    assert int(averaged.n_averaged) == 5 and averaged.n_averaged.dtype == tt.int64


@pytest.mark.parametrize("how", ["multi", "single"])
def test_ema_against_numpy(how):
    model = _model()
    fn = {"multi": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.8)}, "single": {"avg_fn": swa.get_ema_avg_fn(0.8)}}
    averaged = swa.AveragedModel(model, **fn[how])
    ema = None
    for params, _ in _snapshots(model, 6):
        averaged.update_parameters(model)
        ema = params if ema is None else [0.8 * e + 0.2 * p for e, p in zip(ema, params)]  # first update copies
        for got, ref in zip(_np_params(averaged.module), ema):
            np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6)


def test_use_buffers_averages_the_running_stats():
    model = _model()
    averaged = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.5), use_buffers=True)
    ema_p, ema_b = None, None
    for params, buffers in _snapshots(model, 4):
        averaged.update_parameters(model)
        if ema_p is None:
            ema_p, ema_b = params, [b.astype(np.float64) for b in buffers]
        else:
            ema_p = [0.5 * e + 0.5 * p for e, p in zip(ema_p, params)]
            # the int64 count is averaged in float and truncated back, as PyTorch's non-float path does
            ema_b = [np.trunc(0.5 * e + 0.5 * b) if b.dtype == np.int64 else 0.5 * e + 0.5 * b
                     for e, b in zip(ema_b, buffers)]
        for got, ref in zip(_np_params(averaged.module), ema_p):
            np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6)
        for got, ref in zip(averaged.module.buffers(), ema_b):
            np.testing.assert_allclose(got.numpy().astype(np.float64), ref, rtol=2e-6, atol=1e-6)


def test_state_dict_forward_and_errors():
    model = _model()
    averaged = swa.AveragedModel(model, device="cpu")
    keys = list(averaged.state_dict().keys())
    assert keys[0] == "n_averaged" and set(keys[1:]) == {"module." + k for k in model.state_dict()}
    assert averaged.module is not model and isinstance(averaged, nn.Module)
    x = tt.tensor(np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32))
    model.eval()
    averaged.eval()
    np.testing.assert_array_equal(averaged(x).detach().numpy(), model(x).detach().numpy())
    other = swa.AveragedModel(model)
    averaged.update_parameters(model)
    averaged.update_parameters(model)
    other.load_state_dict(averaged.state_dict())
    assert int(other.n_averaged) == 2
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        swa.AveragedModel(model, avg_fn=swa.get_swa_avg_fn(), multi_avg_fn=swa.get_swa_multi_avg_fn())
    for make in (swa.get_ema_avg_fn, swa.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\] "
                                             "range."):
            make(1.5)


# ------------------------------------------------------------------------------------------------------ SWALR
def _swalr_ref(k, lr0, swa_lr, epochs, cos):
    t = min(1.0, k / max(1, epochs))
    alpha = (1 - math.cos(math.pi * t)) / 2 if cos else t
    return swa_lr * alpha + lr0 * (1 - alpha)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_sequence(strategy):
    lrs = (0.5, 0.2)
    opt = optim.SGD([{"params": [tt.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=0.5)
    s = swa.SWALR(opt, swa_lr=[0.05, 0.1], anneal_epochs=12, anneal_strategy=strategy)
    got = []
    for _ in range(30):
        got.append(s.get_last_lr())
        opt.step()
        s.step()
    ref = [[_swalr_ref(k, lr0, sl, 12, strategy == "cos") for lr0, sl in zip(lrs, (0.05, 0.1))] for k in range(30)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert [g["swa_lr"] for g in opt.param_groups] == [0.05, 0.1]
    state = s.state_dict()
    assert "anneal_func" not in state and state["_anneal_strategy"] == strategy
    s2 = swa.SWALR(opt, swa_lr=0.3, anneal_strategy="linear" if strategy == "cos" else "cos")
    s2.load_state_dict(state)
    assert s2.anneal_func(0.5) == pytest.approx(0.5) and s2.anneal_func(0.25) == pytest.approx(
        (1 - math.cos(math.pi * 0.25)) / 2 if strategy == "cos" else 0.25)


def test_swalr_zero_anneal_epochs_and_errors():
    opt = optim.SGD([tt.zeros(1, requires_grad=True)], lr=1.0)
    s = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=0)
    assert s.get_last_lr() == [0.05]  # jumps to swa_lr at once
    opt.step()
    s.step()
    assert s.get_last_lr() == [0.05]
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear', instead got exp"):
        swa.SWALR(opt, 0.1, anneal_strategy="exp")
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match=f"anneal_epochs must be equal or greater than 0, got {bad}"):
            swa.SWALR(opt, 0.1, anneal_epochs=bad)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        swa.SWALR(opt, [0.1, 0.2])
    with pytest.warns(UserWarning, match=r"please use `get_last_lr\(\)`"):
        s.get_lr()


# -------------------------------------------------------------------------------------------------- update_bn
def test_update_bn_recomputes_running_stats():
    model = _model()
    rng = np.random.default_rng(3)
    batches = [rng.normal(2.0, 3.0, size=(6, 3)).astype(np.float32) for _ in range(3)]
    loader = [(tt.tensor(b), tt.tensor(np.zeros(6, np.float32))) for b in batches]
    w = model[0].weight.detach().numpy().astype(np.float64)
    b = model[0].bias.detach().numpy().astype(np.float64)
    hidden = [x.astype(np.float64) @ w.T + b for x in batches]
    with tt.no_grad():
        model[1].running_mean.fill_(5.0)  # stale statistics, reset by update_bn
    model.eval()
    swa.update_bn(loader, model, device="cpu")
    bn = model[1]
    # momentum None: the cumulative average over batches of each batch's mean and unbiased variance
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([h.mean(0) for h in hidden], 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([h.var(0, ddof=1) for h in hidden], 0), rtol=1e-5)
    assert int(bn.num_batches_tracked) == 3 and bn.momentum == 0.1 and not model.training and not bn.training
    model.train()
    swa.update_bn([tt.tensor(x) for x in batches[:2]], model)  # plain tensors as batches
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([h.mean(0) for h in hidden[:2]], 0), rtol=1e-5,
                               atol=1e-5)
    assert model.training


def test_update_bn_through_an_averaged_model_and_without_batchnorm():
    model = _model()
    averaged = swa.AveragedModel(model)
    averaged.update_parameters(model)
    x = np.random.default_rng(4).normal(size=(8, 3)).astype(np.float32)
    swa.update_bn([tt.tensor(x)], averaged)
    w = averaged.module[0].weight.detach().numpy().astype(np.float64)
    h = x.astype(np.float64) @ w.T + averaged.module[0].bias.detach().numpy()
    np.testing.assert_allclose(averaged.module[1].running_mean.numpy(), h.mean(0), rtol=1e-5, atol=1e-6)
    plain = nn.Linear(3, 2)
    swa.update_bn([tt.tensor(x)], plain)  # nothing to do: returns at once
    assert plain.training


def test_swalr_state_dict_round_trip_continues_identically():
    def build():
        opt = optim.SGD([{"params": [tt.zeros(1, requires_grad=True)], "lr": lr} for lr in (0.5, 0.2)], lr=0.5)
        return opt, swa.SWALR(opt, swa_lr=0.05, anneal_epochs=9, anneal_strategy="linear")

    def run(opt, s, n):
        out = []
        for _ in range(n):
            out.append(list(s.get_last_lr()))
            opt.step()
            s.step()
        return out

    straight = run(*build(), 20)
    opt, s = build()
    first = run(opt, s, 6)
    state, opt_state = s.state_dict(), opt.state_dict()
    opt2, s2 = build()
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(state)
    assert first + run(opt2, s2, 14) == straight
