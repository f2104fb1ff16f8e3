"""tt.set_default_device / tt.get_default_device and `with tt.device(...)`, as PyTorch 2.x defines them.

cuda here is Triton's interpreter on host memory (tests/conftest.py), so results are checked by device and values.
"""

import threading

import numpy as np
import pytest

import tritensor as tt
from tritensor import creation

CUDA = tt.device("cuda", 0)


@pytest.fixture(autouse=True)
def _cpu_default():
    tt.set_default_device(None)
    yield
    tt.set_default_device(None)


def _on(t, device, values):
    assert t.device == device
    np.testing.assert_array_equal(t.cpu().numpy(), np.asarray(values))


def test_initially_cpu_and_no_thread_state_consulted():
    assert tt.get_default_device() == tt.device("cpu")
    assert creation._ANY_DEFAULT is False
    _on(tt.zeros(2), tt.device("cpu"), [0.0, 0.0])


def test_factories_follow_set_default_device():
    tt.set_default_device("cuda")
    assert tt.get_default_device() == CUDA and creation._ANY_DEFAULT is True
    _on(tt.tensor([1.0, 2.0]), CUDA, [1.0, 2.0])
    _on(tt.zeros(2), CUDA, [0.0, 0.0])
    _on(tt.ones(2, dtype=tt.int32), CUDA, [1, 1])
    _on(tt.full((2,), 7), CUDA, [7, 7])
    _on(tt.arange(3), CUDA, [0, 1, 2])
    _on(tt.linspace(0, 1, 3), CUDA, [0.0, 0.5, 1.0])
    _on(tt.logspace(0, 2, 3), CUDA, [1.0, 10.0, 100.0])
    _on(tt.eye(2), CUDA, np.eye(2))
    _on(tt.scalar_tensor(3), CUDA, 3.0)
    _on(tt.tril_indices(2, 2), CUDA, [[0, 1, 1], [0, 0, 1]])
    _on(tt.hann_window(3, periodic=False), CUDA, [0.0, 1.0, 0.0])
    assert tt.empty(2, 3).device == CUDA and tt.empty(2, 3).shape == (2, 3)
    assert tt.empty_strided((2, 2), (1, 2)).device == CUDA
    _ = tt.manual_seed(0)
    r = tt.rand(3)
    _ = tt.manual_seed(0)
    _on(r, CUDA, tt.rand(3, device="cpu").numpy())
    assert tt.randn(2).device == CUDA and tt.randint(0, 5, (4,)).device == CUDA
    _on(tt.randperm(4).sort().values, CUDA, [0, 1, 2, 3])


def test_as_tensor_and_asarray_follow_it_but_sharing_and_like_functions_do_not():
    tt.set_default_device("cuda")
    a = np.array([1.0, 2.0])
    _on(tt.as_tensor(a), CUDA, a)
    _on(tt.as_tensor(tt.tensor([3.0], device="cpu")), CUDA, [3.0])
    _on(tt.asarray([4, 5]), CUDA, [4, 5])
    shared = tt.from_numpy(a)
    assert shared.device == tt.device("cpu")
    a[0] = 9.0
    assert shared.tolist() == [9.0, 2.0]
    x = tt.ones(2, device="cpu")
    _on(tt.zeros_like(x), tt.device("cpu"), [0.0, 0.0])
    _on(x.new_zeros(3), tt.device("cpu"), [0.0, 0.0, 0.0])
    _on(tt.tensor([1, 2], device="cpu"), tt.device("cpu"), [1, 2])  # an explicit device wins
    # PyTorch leaves these out: the legacy constructor and normal with float mean and std stay on cpu.
    assert tt.Tensor([1.0]).device == tt.device("cpu") and tt.Tensor(2).device == tt.device("cpu")
    assert tt.normal(0.0, 1.0, (2,)).device == tt.device("cpu")


def test_reset_with_none():
    tt.set_default_device("cuda")
    tt.set_default_device(None)
    assert tt.get_default_device() == tt.device("cpu") and creation._ANY_DEFAULT is False
    assert tt.zeros(1).device == tt.device("cpu")


def test_device_context_nests_and_restores():
    with tt.device("cuda") as d:
        assert d == tt.device("cuda")
        _on(tt.ones(2), CUDA, [1.0, 1.0])
        with tt.device("cpu"):
            assert tt.get_default_device() == tt.device("cpu")
            _on(tt.ones(1), tt.device("cpu"), [1.0])
        _on(tt.arange(2), CUDA, [0, 1])
    assert tt.get_default_device() == tt.device("cpu") and tt.zeros(1).device == tt.device("cpu")
    assert creation._ANY_DEFAULT is False


def test_context_restored_after_an_exception():
    with pytest.raises(ValueError, match="inside"):
        with tt.device("cuda"):
            raise ValueError("inside")
    assert tt.get_default_device() == tt.device("cpu") and tt.zeros(1).device == tt.device("cpu")


def test_context_overrides_set_default_device_while_open():
    tt.set_default_device("cuda")
    with tt.device("cpu"):
        assert tt.zeros(1).device == tt.device("cpu")
    assert tt.zeros(1).device == CUDA


def test_nn_parameters_created_inside_the_context():
    with tt.device("cuda"):
        layer = tt.nn.Linear(3, 2)
    assert layer.weight.device == CUDA and layer.bias.device == CUDA
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = layer(tt.tensor(x, device="cuda"))
    w, b = layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy()
    np.testing.assert_allclose(out.detach().cpu().numpy(), x @ w.T + b, rtol=1e-5, atol=1e-6)


def test_default_is_per_thread():
    tt.set_default_device("cuda")
    seen = {}

    def worker():
        seen["inherited"] = (tt.get_default_device(), tt.zeros(1).device)
        tt.set_default_device("cuda")  # left set when the thread ends
        seen["own"] = tt.zeros(1).device

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"inherited": (tt.device("cpu"), tt.device("cpu")), "own": CUDA}
    assert tt.zeros(1).device == CUDA  # the main thread's default is its own
    tt.set_default_device(None)
    # The ended thread released its setting: factories are back on the one-lookup path.
    assert creation._ANY_DEFAULT is False


def test_invalid_device_raises_and_keeps_the_setting():
    tt.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda device type"):
        tt.set_default_device("tpu")
    assert tt.get_default_device() == CUDA


def test_device_as_a_decorator():
    @tt.device("cuda")
    def make(n):
        """Makes zeros."""
        return tt.zeros(n)

    _on(make(2), CUDA, [0.0, 0.0])
    assert make.__doc__ == "Makes zeros." and tt.zeros(1).device == tt.device("cpu")
