"""tt._amp_foreach_non_finite_check_and_unscale_, tt._amp_update_scale_ (tritensor/ops/amp_scale.py) and
GradScaler (tritensor/amp/grad_scaler.py) on cpu and interpreted cuda: values against the NumPy references,
PyTorch's errors, one unscale launch per dtype group and no host read but step's one `.item()`, the steps
skipped and the scale's trajectory over a scripted run, state_dict and pickling round trips."""

import pickle

import ml_dtypes
import numpy as np
import pytest
from tritensor.kernels import amp_scale as K
from tritensor.kernels import tuning

import tritensor as tt
from tritensor.amp import grad_scaler as GS
from tritensor.amp.grad_scaler import GradScaler

DEVICES = ["cpu", "cuda"]
INF, NAN = float("inf"), float("nan")


def _np_grads(rng):
    """Host arrays of several dtypes and odd sizes (a 2-d one, an empty one)."""
    return [(rng.standard_normal(n) * 100).astype(dt) for n, dt in
            [(7, np.float32), (5, np.float16), (4100, np.float32), (3, ml_dtypes.bfloat16), (0, np.float32),
             (9, np.float64), (33, np.float16)]]


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """Bit-equal, bfloat16 within an ulp (the interpreter truncates fp32 -> bf16 where a GPU rounds to even)."""
    if got.dtype == ml_dtypes.bfloat16:
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=2.0**-7, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


def _one(value: float, device: str, dtype=tt.float32) -> tt.Tensor:
    return tt.full((), value, dtype=dtype, device=device)


# ================================================================ the unscale op
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("plant", [None, (2, 4099, INF), (1, 0, NAN), (5, 8, -INF)])
def test_unscale_op_mixed_dtypes_against_the_reference(rng, device, plant):
    arrays = _np_grads(rng)
    if plant is not None:
        arrays[plant[0]][plant[1]] = plant[2]
    grads = [tt.tensor(a, device=device) for a in arrays]
    found = _one(0.0, device)
    tt._amp_foreach_non_finite_check_and_unscale_(grads, found, _one(2.0**-10, device))
    want_found = np.zeros((), np.float32)
    K.non_finite_check_and_unscale_ref(arrays, want_found, np.array(2.0**-10, np.float32))
    assert found.item() == want_found == (0.0 if plant is None else 1.0)
    for g, a in zip(grads, arrays):
        assert g.dtype == tt.from_numpy(a).dtype if a.dtype != ml_dtypes.bfloat16 else g.dtype == tt.bfloat16
        _close(g.cpu().numpy(), a)


@pytest.mark.parametrize("device", DEVICES)
def test_unscale_op_never_resets_found_inf_and_bumps_versions(device):
    g = tt.tensor([2.0, 4.0], device=device)
    found = _one(1.0, device)
    version = g._version
    tt._amp_foreach_non_finite_check_and_unscale_([g], found, _one(0.5, device))
    assert found.item() == 1.0 and g.tolist() == [1.0, 2.0] and g._version > version
    found.fill_(0.0)
    tt._amp_foreach_non_finite_check_and_unscale_([g], found, _one(1.0, device))
    assert found.item() == 0.0 and g.tolist() == [1.0, 2.0]
    tt._amp_foreach_non_finite_check_and_unscale_([], found, _one(0.5, device))  # nothing to do
    assert found.item() == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_unscale_op_strided_and_sparse_gradients(device):
    base = tt.arange(12.0, device=device).reshape(3, 4)
    strided = base.t()  # not contiguous: unscaled through a copy, written back
    expanded = tt.tensor([2.0, 4.0], device=device).expand(3, 2)  # one memory element per column
    sparse = tt.sparse_coo_tensor([[0, 2]], tt.tensor([[8.0, INF], [16.0, 32.0]], device=device), (4, 2))
    found = _one(0.0, device)
    tt._amp_foreach_non_finite_check_and_unscale_([strided, expanded, sparse], found, _one(0.5, device))
    assert found.item() == 1.0
    np.testing.assert_array_equal(base.cpu().numpy(), np.arange(12.0).reshape(3, 4) / 2)
    np.testing.assert_array_equal(expanded.cpu().numpy(), [[1.0, 2.0]] * 3)
    np.testing.assert_array_equal(sparse._values().cpu().numpy(), [[4.0, INF], [8.0, 16.0]])


def test_unscale_op_is_one_launch_per_dtype_and_reads_the_scale_on_device(monkeypatch):
    grads = [tt.ones(n, device="cuda", dtype=dt) for n, dt in
             [(5, tt.float32), (4100, tt.float16), (3, tt.float32), (9, tt.bfloat16), (2, tt.float16)]]
    runs, reads = [], []
    kernel = K.non_finite_check_and_unscale_kernel
    real_run = kernel.run
    monkeypatch.setattr(kernel, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    real_item = tt.Tensor.item
    monkeypatch.setattr(tt.Tensor, "item", lambda self: reads.append(1) or real_item(self))
    tt._amp_foreach_non_finite_check_and_unscale_(grads, _one(0.0, "cuda"), _one(0.5, "cuda"))
    assert len(runs) == 3 and reads == []  # fp32, fp16, bf16 groups; no host read of the scale or the flag
    assert [g[0].item() for g in grads] == [0.5] * 5


def test_unscale_op_errors():
    g = tt.ones(3, device="cuda")
    cases = [
        (([g], tt.zeros(2, device="cuda"), _one(1.0, "cuda")), "found_inf must be a 1-element tensor."),
        (([g], _one(0.0, "cuda", tt.float64), _one(1.0, "cuda")), "found_inf must be a float tensor."),
        (([g], _one(0.0, "cuda"), tt.ones(2, device="cuda")), "inv_scale must be a 1-element tensor."),
        (([g], _one(0.0, "cuda"), _one(1.0, "cuda", tt.float16)), "inv_scale must be a float tensor."),
        (([g], _one(0.0, "cpu"), _one(1.0, "cuda")), "found at least two devices, cuda:0 and cpu!.*found_inf"),
        (([g], _one(0.0, "cuda"), _one(1.0, "cpu")), "found at least two devices, cuda:0 and cpu!.*inv_scale"),
        (([g, tt.ones(2)], _one(0.0, "cuda"), _one(1.0, "cuda")), "found at least two devices, cuda:0 and cpu!"),
        (([tt.ones(2, dtype=tt.int64)], _one(0.0, "cpu"), _one(1.0, "cpu")),
         "\"_amp_foreach_non_finite_check_and_unscale_cpu\" not implemented for 'Long'"),
    ]
    for args, message in cases:
        with pytest.raises(RuntimeError, match=message):
            tt._amp_foreach_non_finite_check_and_unscale_(*args)
        assert g.tolist() == [1.0, 1.0, 1.0]  # checked before any kernel ran
    with pytest.raises(TypeError, match="must be tuple of Tensors, not Tensor"):
        tt._amp_foreach_non_finite_check_and_unscale_(g, _one(0.0, "cuda"), _one(1.0, "cuda"))


# ================================================================ the update op
@pytest.mark.parametrize("device", DEVICES)
def test_update_scale_op_follows_the_formula(device):
    scale, tracker = _one(8.0, device), _one(0, device, tt.int32)
    seen = []
    for found in [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0]:
        out = tt._amp_update_scale_(scale, tracker, _one(found, device), 2.0, 0.25, 3)
        assert out is scale
        seen.append((scale.item(), tracker.item()))
    assert seen == [(8.0, 1), (8.0, 2), (2.0, 0), (2.0, 1), (2.0, 2), (4.0, 0), (4.0, 1), (1.0, 0)]


def test_update_scale_op_errors():
    s, t, f = _one(1.0, "cuda"), _one(0, "cuda", tt.int32), _one(0.0, "cuda")
    cases = [
        ((s, tt.zeros(2, dtype=tt.int32, device="cuda"), f), "growth_tracker must be a 1-element tensor."),
        ((tt.ones(2, device="cuda"), t, f), "current_scale must be a 1-element tensor."),
        ((s, t, tt.zeros(2, device="cuda")), "found_inf must be a 1-element tensor."),
        ((s, _one(0, "cuda", tt.int64), f), "growth_tracker must be an int tensor."),
        ((_one(1.0, "cuda", tt.float64), t, f), "current_scale must be a float tensor."),
        ((s, t, _one(0.0, "cuda", tt.float16)), "found_inf must be a float tensor."),
        ((s, _one(0, "cpu", tt.int32), f), "found at least two devices, cuda:0 and cpu!.*growth_tracker"),
        ((s, t, _one(0.0, "cpu")), "found at least two devices, cuda:0 and cpu!.*found_inf"),
    ]
    for args, message in cases:
        with pytest.raises(RuntimeError, match=message):
            tt._amp_update_scale_(*args, 2.0, 0.5, 1)
        assert (s.item(), t.item()) == (1.0, 0)


# ================================================================ GradScaler: the scripted run
C = [1.0, 2.0, 3.0]
BAD = [1.0, INF, 3.0]
# growth_interval=3, init_scale=1024, non-finite gradients at steps 2 and 7 (1-based), hand-computed:
SCALES = [1024.0, 512.0, 512.0, 512.0, 1024.0, 1024.0, 512.0, 512.0, 512.0, 1024.0]
TRACKERS = [1, 0, 1, 2, 0, 1, 0, 1, 2, 0]
STEPS_TAKEN = [1, 1, 2, 3, 4, 5, 5, 6, 7, 8]


def _scripted(device: str, scaler: GradScaler, w: tt.Tensor, opt, steps: range, reads: list | None = None):
    """Run the scripted iterations `steps` (1-based) and check every step against the hand-computed run; with
    `reads` (appended to by a patched Tensor.item), also that step reads the host once and update never."""
    for i in steps:
        opt.zero_grad()
        c = tt.tensor(BAD if i in (2, 7) else C, device=device)
        loss = (w * c).sum()
        scaler.scale(loss).backward()
        assert w.grad.tolist() == [x * scaler.get_scale() for x in (BAD if i in (2, 7) else C)]
        before = len(reads) if reads is not None else 0
        scaler.step(opt)
        if reads is not None:
            assert len(reads) - before == 1  # step reads the found-inf flag once
        if i not in (2, 7):
            assert w.grad.tolist() == C  # unscaled in place (the scale is a power of two: exact)
        scaler.update()
        if reads is not None:
            assert len(reads) - before == 1  # update reads nothing
        assert scaler.get_scale() == SCALES[i - 1] and scaler._get_growth_tracker() == TRACKERS[i - 1]
        np.testing.assert_allclose(w.detach().cpu().numpy(), 1.0 - 0.125 * np.array(C) * STEPS_TAKEN[i - 1])


@pytest.mark.parametrize("device", DEVICES)
def test_grad_scaler_skips_exactly_the_non_finite_steps(device, monkeypatch):
    reads = []
    real_item = tt.Tensor.item
    monkeypatch.setattr(tt.Tensor, "item", lambda self: reads.append(1) or real_item(self))
    w = tt.ones(3, device=device, requires_grad=True)
    opt = tt.optim.SGD([w], lr=0.125)
    scaler = GradScaler(device, init_scale=1024.0, growth_interval=3)
    assert scaler.get_scale() == 1024.0 and scaler._scale is None  # lazily created by the first scale()
    _scripted(device, scaler, w, opt, range(1, 11), reads)
    assert scaler._scale.device == w.device and scaler._scale.dtype == tt.float32 and scaler._scale.shape == ()
    assert scaler._growth_tracker.dtype == tt.int32


def test_state_dict_and_pickle_round_trips():
    w = tt.ones(3, device="cuda", requires_grad=True)
    opt = tt.optim.SGD([w], lr=0.125)
    scaler = GradScaler("cuda", init_scale=1024.0, growth_interval=3)
    _scripted("cuda", scaler, w, opt, range(1, 5))
    w_after_4 = w.detach().clone()
    state = scaler.state_dict()
    assert state == {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 3,
                     "_growth_tracker": 2}
    fresh = GradScaler("cuda")  # loaded before its scale exists: the lazy initial values
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh._scale is None
    _scripted("cuda", fresh, w, opt, range(5, 8))  # the run goes on as if never interrupted
    used = GradScaler("cuda")
    used.scale(tt.ones(1, device="cuda"))
    used.load_state_dict(state)  # loaded into existing tensors
    assert used.state_dict() == state
    clone = pickle.loads(pickle.dumps(scaler))
    assert clone.state_dict() == state and clone._scale is None and clone._per_optimizer_states == {}
    w2 = w_after_4.requires_grad_(True)
    _scripted("cuda", clone, w2, tt.optim.SGD([w2], lr=0.125), range(5, 11))


# ================================================================ GradScaler: one launch per dtype group
def test_unscale_of_a_model_is_one_launch_per_dtype_group(monkeypatch):
    model = tt.nn.Sequential(tt.nn.Linear(4, 5), tt.nn.ReLU(), tt.nn.Linear(5, 3), tt.nn.Linear(3, 2)).to("cuda")
    extra16 = [tt.ones(3, device="cuda", dtype=tt.bfloat16, requires_grad=True) for _ in range(2)]
    extra64 = tt.ones(2, device="cuda", dtype=tt.float64, requires_grad=True)
    scaler = GradScaler("cuda", init_scale=256.0)
    loss = model(tt.randn(6, 4, device="cuda")).sum() + sum(e.float().sum() for e in extra16) + extra64.sum()
    scaler.scale(loss).backward()
    opt = tt.optim.SGD(list(model.parameters()) + extra16 + [extra64], lr=0.1)
    runs, seen = [], []
    kernel = K.non_finite_check_and_unscale_kernel
    real_run = kernel.run
    monkeypatch.setattr(kernel, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    tuning.add_observer(seen.append)
    try:
        scaler.unscale_(opt)
    finally:
        tuning.remove_observer(seen.append)
    # 6 fp32 gradients, 2 bf16 and 1 fp64: three dtype groups, three launches
    amp = [r.tunable.name for r in seen if r.tunable.name.startswith("amp_scale.")]
    assert len(runs) == 3 and amp == ["amp_scale.unscale"] * 3
    assert extra64.grad.tolist() == [1.0, 1.0] and extra16[0].grad.float().tolist() == [1.0] * 3
    later = []
    tuning.add_observer(later.append)
    try:
        scaler.step(opt)
        scaler.update()
    finally:
        tuning.remove_observer(later.append)
    amp = [r.tunable.name for r in later if r.tunable.name.startswith("amp_scale.")]
    assert amp == ["amp_scale.update"] and len(runs) == 3  # step did not unscale again; one update launch


def test_one_op_call_per_device_and_one_read_per_step(monkeypatch):
    calls, reads = [], []
    real_op = GS._amp_foreach_non_finite_check_and_unscale_
    monkeypatch.setattr(GS, "_amp_foreach_non_finite_check_and_unscale_",
                        lambda grads, f, i: calls.append((grads[0].device.type, len(grads))) or real_op(grads, f, i))
    a, b = tt.ones(2, requires_grad=True), tt.ones(2, device="cuda", requires_grad=True)
    c = tt.ones(2, device="cuda", dtype=tt.float64, requires_grad=True)
    opt = tt.optim.SGD([a, b, c], lr=1.0)
    scaler = GradScaler("cuda", init_scale=4.0)
    scaler.scale(tt.ones(1, device="cuda"))
    a.grad, b.grad, c.grad = tt.full((2,), 4.0), tt.tensor([4.0, INF], device="cuda"), tt.full((2,), 8.0,
                                                                                              device="cuda",
                                                                                              dtype=tt.float64)
    real_item = tt.Tensor.item
    monkeypatch.setattr(tt.Tensor, "item", lambda self: reads.append(1) or real_item(self))
    scaler.step(opt)
    assert sorted(calls) == [("cpu", 1), ("cuda", 2)] and len(reads) == 1
    assert a.tolist() == [1.0, 1.0] and a.grad.tolist() == [1.0, 1.0]  # the inf on cuda skipped the whole step
    found = scaler._found_inf_per_device(opt)
    assert {d.type: f.item() for d, f in found.items()} == {"cpu": 0.0, "cuda": 1.0}
    scaler.update()
    assert scaler.get_scale() == 2.0


def test_two_optimizers_step_independently_and_update_combines():
    a, b = tt.ones(1, requires_grad=True), tt.ones(1, requires_grad=True)
    opt_a, opt_b = tt.optim.SGD([a], lr=1.0), tt.optim.SGD([b], lr=1.0)
    scaler = GradScaler("cpu", init_scale=8.0, growth_interval=1)
    scaler.scale([a.sum(), (b * INF).sum()])[0].backward()
    (b * INF).sum().mul(8.0).backward()
    scaler.step(opt_a)
    scaler.step(opt_b)
    assert a.item() == 0.0 and b.item() == 1.0  # a stepped by its grad 1; b skipped
    scaler.update()
    assert scaler.get_scale() == 4.0  # b's inf backs the shared scale off


def test_sparse_gradients(rng):
    for device in DEVICES:
        weight = tt.ones(4, 3, device=device, requires_grad=True)
        opt = tt.optim.SGD([weight], lr=1.0)
        scaler = GradScaler(device, init_scale=16.0)
        idx = tt.tensor([0, 2, 0], device=device)
        scaler.scale(tt.nn.functional.embedding(idx, weight, sparse=True).sum()).backward()
        assert weight.grad.is_sparse
        scaler.step(opt)
        scaler.update()
        want = np.ones((4, 3))
        want[0] -= 2.0
        want[2] -= 1.0
        np.testing.assert_array_equal(weight.detach().cpu().numpy(), want)
        opt.zero_grad()
        scaler.scale(tt.nn.functional.embedding(idx, weight, sparse=True).sum() * INF).backward()
        scaler.step(opt)  # the sparse values hold inf: skipped
        scaler.update()
        np.testing.assert_array_equal(weight.detach().cpu().numpy(), want)
        assert scaler.get_scale() == 8.0


# ================================================================ GradScaler: scale(), update(new_scale), disabled
def test_scale_keeps_the_structure_of_its_outputs():
    scaler = GradScaler("cpu", init_scale=4.0)
    x, y = tt.tensor([1.0, 2.0]), tt.tensor([3.0], device="cuda")
    out = scaler.scale([x, (y, [x])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert out[0].tolist() == [4.0, 8.0] and out[1][0].tolist() == [12.0] and out[1][0].device == y.device
    assert scaler._scale.device.type == "cpu"  # created on the first tensor's device
    lazy = scaler.scale(t for t in [x])
    assert not isinstance(lazy, (list, tuple)) and next(lazy).tolist() == [4.0, 8.0]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale([x, 3.0])
    half = scaler.scale(tt.ones(2, dtype=tt.float16))
    assert half.dtype == tt.float16 and half.tolist() == [4.0, 4.0]


def test_update_with_a_new_scale():
    scaler = GradScaler("cuda", init_scale=4.0)
    scaler.scale(tt.ones(1, device="cuda"))
    scaler.update(0.5)
    assert scaler.get_scale() == 0.5
    scaler.update(tt.tensor([32.0], device="cuda"))
    assert scaler.get_scale() == 32.0
    reason = "new_scale should be a float or a 1-element torch.cuda.FloatTensor or torch.FloatTensor"
    for bad in [tt.tensor([2.0]), tt.ones(2, device="cuda"), tt.ones(1, device="cuda", requires_grad=True)]:
        with pytest.raises(AssertionError, match=reason):
            scaler.update(bad)
    assert scaler.get_scale() == 32.0


def test_disabled_scaler_is_transparent():
    w = tt.ones(1, requires_grad=True)
    opt = tt.optim.SGD([w], lr=1.0)
    scaler = GradScaler("cpu", enabled=False)
    loss = (2 * w).sum()
    assert scaler.scale(loss) is loss and not scaler.is_enabled()
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert w.item() == -1.0 and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    scaler.load_state_dict({})  # a no-op when disabled


def test_cuda_unavailable_warns_and_disables(monkeypatch):
    monkeypatch.setattr(tt.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match=r"GradScaler is enabled, but CUDA is not available\.  Disabling\."):
        scaler = GradScaler()
    assert not scaler.is_enabled() and scaler.state_dict() == {}
    assert GradScaler("cpu").is_enabled()


# ================================================================ GradScaler: errors
def _ready(device="cpu"):
    w = tt.ones(2, device=device, requires_grad=True)
    opt = tt.optim.SGD([w], lr=1.0)
    scaler = GradScaler(device, init_scale=2.0)
    scaler.scale((w * 3).sum()).backward()
    return scaler, opt, w


def test_stage_errors():
    scaler, opt, _ = _ready()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer since the last "
                                           r"update\(\)\."):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)\."):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)\."):
        scaler.step(opt)
    with pytest.raises(AssertionError, match="may only be pickled at the beginning of an iteration"):
        pickle.dumps(scaler)
    scaler.update()
    scaler.unscale_(opt)  # a new iteration


def test_step_errors():
    scaler, opt, w = _ready()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported if GradScaler is enabled."):
        scaler.step(opt, closure=lambda: None)
    w.grad = None
    with pytest.raises(AssertionError, match="No inf checks were recorded for this optimizer."):
        scaler.step(opt)
    fresh = GradScaler("cpu")
    with pytest.raises(AssertionError, match="Attempted step but _scale is None."):
        fresh.step(opt)
    with pytest.raises(AssertionError, match="Attempted unscale_ but _scale is None."):
        fresh.unscale_(opt)
    with pytest.raises(AssertionError, match="Attempted update but _scale is None."):
        fresh.update()
    fresh.scale(tt.ones(1))
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update."):
        fresh.update()


def test_fp16_gradients_and_constructor_errors():
    w = tt.ones(2, dtype=tt.float16, requires_grad=True)
    opt = tt.optim.SGD([w], lr=1.0)
    scaler = GradScaler("cpu", init_scale=2.0)
    scaler.scale(w.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        scaler.step(opt)
    with pytest.raises(AssertionError, match=r"The growth factor must be > 1\.0\."):
        GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match=r"The backoff factor must be < 1\.0\."):
        GradScaler("cpu", backoff_factor=1.0)
    with pytest.raises(RuntimeError, match="The source state dict is empty, possibly because it was saved from a "
                                           "disabled instance of GradScaler."):
        scaler.load_state_dict({})


def test_accessors():
    scaler = GradScaler("cpu", init_scale=3.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=7)
    assert (scaler.get_scale(), scaler.get_growth_factor(), scaler.get_backoff_factor(),
            scaler.get_growth_interval(), scaler.is_enabled()) == (3.0, 4.0, 0.25, 7, True)
    scaler.set_growth_factor(3.0)
    scaler.set_backoff_factor(0.125)
    scaler.set_growth_interval(1)
    scaler.scale(tt.ones(1))
    scaler._per_optimizer_states[0]["found_inf_per_device"] = {tt.device("cpu"): tt.zeros(())}
    scaler.update()
    assert scaler.get_scale() == 9.0 and scaler.state_dict()["growth_interval"] == 1
    scaler._per_optimizer_states[0]["found_inf_per_device"] = {tt.device("cpu"): tt.ones(())}
    scaler.update()
    assert scaler.get_scale() == 9.0 * 0.125
