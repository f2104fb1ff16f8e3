"""Ops and a training step on the real-GPU code path (fake GPU, interpreted kernels) against the cpu path."""

import gc

import numpy as np
import pytest
from tritensor.kernels import tuning

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor import optim
from tritensor.cuda import driver


def test_cuda_tensors_live_in_device_memory(gpu):
    x = tt.tensor([1.0, 2.0, 3.0], device="cuda")
    storage = x._get_storage()
    assert storage.host is None
    assert isinstance(storage.device_storage, driver.DeviceStorage)
    assert gpu.is_device_address(x._get_storage().data_ptr())
    with pytest.raises(TypeError, match="can't convert cuda"):
        x.numpy()
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 2.0, 3.0])
    assert gpu.entries("htod") and gpu.entries("dtoh")


def test_the_fake_refuses_a_device_address_as_host_memory(gpu):
    x = tt.zeros(4, device="cuda")
    y = tt.zeros(4, device="cuda")
    stream = int(driver.current_stream(0).handle)
    with pytest.raises(AssertionError, match="passed as host memory"):
        gpu.cuMemcpyHtoDAsync(y._get_storage().data_ptr(), x._get_storage().data_ptr(), 16, stream)
    with pytest.raises(AssertionError, match="passed as host memory"):
        gpu.cuMemcpyDtoHAsync(y._get_storage().data_ptr(), x._get_storage().data_ptr(), 16, stream)


@pytest.mark.parametrize("op", ["add", "matmul", "sum", "softmax"])
def test_ops_match_the_cpu(gpu, op):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3) if op == "matmul" else (5, 7)).astype(np.float32)
    fns = {"add": lambda x, y: x + y, "matmul": tt.matmul, "sum": lambda x, y: (x * y).sum(dim=1),
           "softmax": lambda x, y: tt.softmax(x - y, dim=-1)}
    expected = fns[op](tt.tensor(a), tt.tensor(b)).numpy()
    out = fns[op](tt.tensor(a, device="cuda"), tt.tensor(b, device="cuda"))
    assert out.device == tt.device("cuda", 0)
    assert out._get_storage().host is None
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=1e-5, atol=1e-5)


def _mlp_step(device):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    x = tt.tensor(rng.standard_normal((4, 6)).astype(np.float32), device=device)
    target = tt.tensor(rng.integers(0, 3, 4), device=device)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


def test_a_training_step_matches_the_cpu(gpu):
    cpu_losses, cpu_params = _mlp_step("cpu")
    cuda_losses, cuda_params = _mlp_step("cuda")
    np.testing.assert_allclose(cuda_losses, cpu_losses, rtol=1e-5)
    assert cpu_losses[1] < cpu_losses[0]
    for got, want in zip(cuda_params, cpu_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert all(e[3] == 0 for e in gpu.entries("allocate"))


def test_launches_go_to_the_device_of_their_operands(gpu):
    seen = []

    def observer(record):
        seen.append(gpu.current)

    x0 = tt.ones(8, device="cuda:0")
    w0 = tt.full((8,), 5.0, device="cuda:0")
    x1 = tt.ones(8, device="cuda:1")
    tuning.add_observer(observer)
    try:
        y1 = x1 + x1  # cuda:1 used last ...
        y0 = x0 + x0  # ... then a launch meant for cuda:0 must go to cuda:0
        z1 = y1 * 3.0
        x0.copy_(w0)  # allocates nothing: its operands make cuda:0 current
    finally:
        tuning.remove_observer(observer)
    assert seen == [1, 0, 1, 0]
    np.testing.assert_array_equal(x0.cpu().numpy(), np.full(8, 5.0))
    assert y0.device == tt.device("cuda", 0) and z1.device == tt.device("cuda", 1)
    np.testing.assert_array_equal(y0.cpu().numpy(), np.full(8, 2.0))
    np.testing.assert_array_equal(z1.cpu().numpy(), np.full(8, 6.0))
    # The fake refuses legacy-stream work for a device that is not current: every allocation and copy above
    # ran on its own device, and each allocation's device is the one its tensor is on.
    assert {e[3] for e in gpu.entries("allocate")} == {0, 1}
    y0.cpu()  # cuda:0 is current when cuda:1's memory is freed: each free switches there and back
    gc.collect()  # the interpreter's argument copies sit in a reference cycle until collected
    start = len(gpu.log)
    del x1, y1, z1
    gc.collect()
    tail = gpu.log[start:]
    assert [e[0] for e in tail] == ["set_current", "free", "set_current"] * 3
    assert [e[1] for e in tail if e[0] == "set_current"] == [1, 0] * 3
    assert gpu.current == 0
