"""tt.accelerator: torch.accelerator's API over tt.cuda (under the test run's interpreter, cuda is available)."""

import warnings

import pytest

import tritensor as tt
from tritensor import accelerator


def test_the_accelerator_is_cuda():
    assert accelerator.is_available() is True
    assert accelerator.current_accelerator() == tt.device("cuda")
    assert accelerator.current_accelerator(check_available=True) == tt.device("cuda")
    assert accelerator.current_accelerator().index is None
    assert accelerator.device_count() == tt.cuda.device_count() >= 1
    assert accelerator.current_device_index() == 0


def test_porting_idiom_moves_a_tensor():
    device = accelerator.current_accelerator().type if accelerator.is_available() else "cpu"
    x = tt.ones(3, device=device)
    accelerator.synchronize()
    accelerator.synchronize(0)
    accelerator.synchronize("cuda:0")
    assert x.device == tt.device("cuda", 0)


def test_device_index_selection():
    accelerator.set_device_index(0)
    accelerator.set_device_index(tt.device("cuda:0"))
    accelerator.set_device_index(-1)  # a negative index is a no-op
    with accelerator.device_index(0):
        assert accelerator.current_device_index() == 0
    with accelerator.device_index(None):
        pass
    with pytest.raises(ValueError, match="cpu doesn't match the current accelerator cuda"):
        accelerator.set_device_index("cpu")
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        accelerator.set_device_index(accelerator.device_count())


def test_streams():
    s = accelerator.current_stream()
    assert s is tt.cuda.current_stream()
    accelerator.set_stream(s)
    assert accelerator.current_stream(0) is s


def test_deprecated_aliases_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert accelerator.current_device_idx() == 0
        accelerator.set_device_idx(0)
    assert [w.category for w in caught] == [FutureWarning, FutureWarning]


def test_without_an_accelerator(monkeypatch):
    monkeypatch.setattr(tt.cuda, "is_available", lambda: False)
    assert accelerator.is_available() is False
    assert accelerator.current_accelerator() is None
    assert accelerator.device_count() == 0
    accelerator.synchronize()  # a no-op
    with pytest.raises(RuntimeError, match="No accelerator is available"):
        accelerator.current_device_index()
