"""nn.DataParallel and the functions it is built from (scatter, replicate, parallel_apply, gather).

Under Triton's interpreter (tests/conftest.py) there is one cuda device, so DataParallel's multi-device path is
driven here through its functions over a cpu and a cuda device: the same scatter/replicate/gather, with real
cross-device copies whose gradients must reach the original parameters."""

import collections

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import parallel
from tritensor.nn.parallel.data_parallel import scatter_kwargs

from ...emulated.conftest import gpu  # noqa: F401 - the two-device fake GPU fixture

# float32 where a cuda device computes (its matmul kernel has no float64 path): float32 accumulation-order
# differences between devices stay within RTOL.
RTOL = 1e-5


def _linear(seed=0, dtype=tt.float32):
    tt.manual_seed(seed)
    return nn.Linear(3, 2).to(dtype)


def _x(rows=5, dtype=tt.float32):
    return tt.tensor(np.arange(rows * 3, dtype=np.float64).reshape(rows, 3) / 7.0, dtype=dtype)


def _reference(rows=5):
    lin = _linear()
    out = lin(_x(rows))
    out.pow(2).sum().backward()
    return out.detach().numpy(), lin.weight.grad.numpy(), lin.bias.grad.numpy()


def test_without_a_device_the_wrapper_calls_the_module(monkeypatch):
    monkeypatch.setattr(tt.cuda, "is_available", lambda: False)
    lin = _linear()
    dp = nn.DataParallel(lin)
    assert dp.module is lin and dp.device_ids == []
    out = dp(_x())
    want, _, _ = _reference()
    assert out.device.type == "cpu"
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=RTOL)
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        parallel.data_parallel(lin, _x())


def test_one_device_moves_the_module_and_runs_it_there():
    if not tt.cuda.is_available():
        pytest.skip("no cuda device (nor Triton's interpreter)")
    lin = _linear()
    dp = tt.nn.parallel.DataParallel(lin, device_ids=[0])
    assert dp.device_ids == [0] and dp.output_device == 0
    assert lin.weight.device == tt.device("cuda", 0)
    out = dp(_x())  # a cpu input is scattered to the device
    assert out.device == tt.device("cuda", 0)
    out.pow(2).sum().backward()
    want, gw, gb = _reference()
    np.testing.assert_allclose(out.detach().cpu().numpy(), want, rtol=RTOL)
    np.testing.assert_allclose(lin.weight.grad.cpu().numpy(), gw, rtol=RTOL)
    np.testing.assert_allclose(lin.bias.grad.cpu().numpy(), gb, rtol=RTOL)
    fresh = nn.DataParallel(_linear(1), device_ids=["cuda:0"])
    fresh.load_state_dict(dp.state_dict())
    np.testing.assert_array_equal(fresh.module.weight.detach().cpu().numpy(), lin.weight.detach().cpu().numpy())
    got = parallel.data_parallel(lin, _x(), device_ids=[0])
    np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=RTOL)


def test_bad_device_ids_and_misplaced_module():
    if not tt.cuda.is_available():
        pytest.skip("no cuda device (nor Triton's interpreter)")
    count = tt.cuda.device_count()
    with pytest.raises(AssertionError, match="Invalid device id"):
        nn.DataParallel(_linear(), device_ids=[count])
    with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
        nn.DataParallel(_linear(), device_ids=["cpu"])
    with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
        nn.DataParallel(_linear(), device_ids=[0], output_device="cpu")
    dp = nn.DataParallel(_linear(), device_ids=[0])
    dp.module.cpu()
    with pytest.raises(RuntimeError, match=r"module must have its parameters and buffers on device cuda:0 "
                                           r"\(device_ids\[0\]\) but found one of them on device: cpu"):
        dp(_x())


def test_scatter_splits_nested_inputs_and_repeats_the_rest():
    x = _x(5)
    Pair = collections.namedtuple("Pair", "a b")
    parts = parallel.scatter((x, [x[:, 0]], {"k": x}, Pair(x, "tag"), 7), ["cpu", "cpu"])
    assert len(parts) == 2
    (x0, l0, d0, p0, n0), (x1, l1, d1, p1, n1) = parts
    assert tuple(x0.shape) == (3, 3) and tuple(x1.shape) == (2, 3)
    np.testing.assert_array_equal(l1[0].numpy(), x.numpy()[3:, 0])
    np.testing.assert_array_equal(d0["k"].numpy(), x.numpy()[:3])
    assert isinstance(p1, Pair) and p1.b == "tag" and n0 == n1 == 7
    assert len(parallel.scatter((_x(1),), ["cpu", "cpu"])) == 1  # one row: one chunk, one replica
    ins, kws = scatter_kwargs((x,), {"scale": 2.0}, ["cpu", "cpu"], dim=1)
    assert len(ins) == len(kws) == 2 and kws[1] == {"scale": 2.0} and tuple(ins[1][0].shape) == (5, 1)


def test_two_devices_match_one_module_forward_and_backward():
    if not tt.cuda.is_available():
        pytest.skip("no cuda device (nor Triton's interpreter)")
    lin = _linear()
    devices = ["cpu", "cuda"]
    inputs, kwargs = scatter_kwargs((_x(),), None, devices)
    replicas = parallel.replicate(lin, devices)
    assert replicas[0].weight is lin.weight  # the network's own device: the originals
    assert replicas[1].weight.device.type == "cuda" and not replicas[1].weight.is_leaf
    assert list(replicas[1].parameters()) == [] and lin.weight.is_leaf
    outputs = parallel.parallel_apply(replicas, inputs, kwargs, devices)
    assert outputs[1].device.type == "cuda"
    out = parallel.gather(outputs, -1)
    assert out.device.type == "cpu" and tuple(out.shape) == (5, 2)
    out.pow(2).sum().backward()
    want, gw, gb = _reference()
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=RTOL)
    np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=RTOL)
    np.testing.assert_allclose(lin.bias.grad.numpy(), gb, rtol=RTOL)


class _Stats(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 1)

    def forward(self, x, *, shift=0.0):
        y = self.head(self.norm(x)) + shift
        return {"y": y, "mean": y.mean(), "skip": None}


def test_replicas_share_structure_and_gather_nested_outputs():
    net = _Stats()
    devices = ["cpu", "cpu"]
    inputs, kwargs = scatter_kwargs((_x(4),), {"shift": 1.0}, devices)
    replicas = parallel.replicate(net, devices)
    assert replicas[1].norm is not net.norm and replicas[1].norm.running_mean is net.norm.running_mean
    with pytest.warns(UserWarning, match="all input tensors were scalars"):
        out = parallel.gather(parallel.parallel_apply(replicas, inputs, kwargs), "cpu")
    assert out["skip"] is None and tuple(out["y"].shape) == (4, 1) and tuple(out["mean"].shape) == (2,)
    halves = [net.head(nn.functional.batch_norm(h, None, None, net.norm.weight, net.norm.bias, training=True))
              for h in (_x(4)[:2], _x(4)[2:])]
    np.testing.assert_allclose(out["y"].detach().numpy(), tt.cat(halves).detach().numpy() + 1.0, rtol=RTOL)
    assert int(net.norm.num_batches_tracked.item()) == 2  # both replicas updated the shared statistics


def test_parallel_apply_names_the_failing_replica():
    def boom(x):
        raise ValueError("bad input")

    class Boom(nn.Module):
        def forward(self, x):
            return boom(x)

    with pytest.raises(ValueError, match="bad input") as info:
        parallel.parallel_apply([Boom(), Boom()], [(_x(),), (_x(),)], None, ["cpu", "cpu"])
    assert "Caught ValueError in replica 0 on device cpu." in info.value.__notes__


def _fake_properties(memory):
    """get_device_properties for the fake GPU (it has no cuDeviceGet): `memory[i]` bytes on device i."""
    def properties(index):
        return collections.namedtuple("Props", "total_memory multi_processor_count")(memory[index], 132)

    return properties


@pytest.mark.usefixtures("gpu")
def test_data_parallel_over_two_fake_gpus(monkeypatch):
    """The real-GPU path on tests/emulated's two-device fake GPU: the batch is split over cuda:0 and cuda:1,
    the replica on cuda:1 gets copies of the parameters, the outputs come back to cuda:0, and backward sums
    both replicas' gradients into the module's parameters."""
    assert tt.cuda.device_count() == 2
    monkeypatch.setattr(tt.cuda, "get_device_properties", _fake_properties([80 << 30, 40 << 30]))
    with pytest.warns(UserWarning, match="exclude GPU 1 which\n    has less than 75% of the memory or cores of GPU 0"):
        nn.DataParallel(_linear())
    monkeypatch.setattr(tt.cuda, "get_device_properties", _fake_properties([80 << 30, 80 << 30]))
    lin = _linear()
    dp = nn.DataParallel(lin)
    assert dp.device_ids == [0, 1] and dp.output_device == 0
    lin.to("cuda:0")
    x = _x().to("cuda:0")
    inputs, _ = dp.scatter((x,), None, dp.device_ids)
    assert [a[0].device for a in inputs] == [tt.device("cuda", 0), tt.device("cuda", 1)]
    out = dp(x)
    assert out.device == tt.device("cuda", 0) and tuple(out.shape) == (5, 2)
    out.pow(2).sum().backward()
    want, gw, gb = _reference()
    np.testing.assert_allclose(out.detach().cpu().numpy(), want, rtol=RTOL)
    np.testing.assert_allclose(lin.weight.grad.cpu().numpy(), gw, rtol=RTOL)
    np.testing.assert_allclose(lin.bias.grad.cpu().numpy(), gb, rtol=RTOL)
    on_one = nn.DataParallel(lin, device_ids=[1], output_device=1)(x)  # moved to cuda:1, input follows
    assert on_one.device == tt.device("cuda", 1)
    np.testing.assert_allclose(on_one.detach().cpu().numpy(), want, rtol=RTOL)
    del out, on_one, x, lin, dp, inputs
