"""tt.set_printoptions and the tensor text it shapes, against the strings PyTorch prints for the same calls."""

import math

import numpy as np
import pytest

import tritensor as tt


@pytest.fixture(autouse=True)
def _default_options():
    tt.set_printoptions(profile="default")
    yield
    tt.set_printoptions(profile="default")


def test_documented_examples():
    tt.set_printoptions(precision=2)
    assert repr(tt.tensor([1.12345])) == "tensor([1.12])"
    tt.set_printoptions(threshold=5)
    assert repr(tt.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    tt.set_printoptions(profile="default")
    assert repr(tt.tensor([1.12345])) == "tensor([1.1235])"
    assert repr(tt.arange(10)) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"


def test_str_is_repr_and_none_keeps_settings():
    tt.set_printoptions(precision=1, edgeitems=1, threshold=3)
    tt.set_printoptions(linewidth=90)  # the others stay as they were
    assert str(tt.tensor([0.25, 0.5, 0.75, 1.25])) == "tensor([0.2,  ..., 1.2])"


def test_short_and_full_profiles():
    tt.set_printoptions(profile="short")
    assert repr(tt.tensor([1.12345])) == "tensor([1.12])"
    assert repr(tt.arange(2000)) == "tensor([   0,    1,  ..., 1998, 1999])"
    tt.set_printoptions(profile="full")
    text = repr(tt.arange(1001))
    # Width 4 plus ", " is 6 columns: (80 - 7) // 6 = 12 values a line, every value shown.
    lines = text.split("\n")
    assert "..." not in text and len(lines) == math.ceil(1001 / 12)
    assert lines[0] == "tensor([" + ", ".join(f"{i:4d}" for i in range(12)) + ","
    assert lines[-1] == "        " + ", ".join(f"{i:4d}" for i in range(996, 1001)) + "])"
    # A profile sets its options first; the options given with it win.
    tt.set_printoptions(profile="short", precision=3)
    assert repr(tt.tensor([1.12345])) == "tensor([1.123])"


def test_linewidth_wraps_rows():
    tt.set_printoptions(linewidth=20)
    assert repr(tt.arange(10)) == "tensor([0, 1, 2, 3,\n        4, 5, 6, 7,\n        8, 9])"


def test_sci_mode_forced_and_reset_by_the_next_call():
    tt.set_printoptions(sci_mode=True)
    assert repr(tt.tensor([1.5, 2.25])) == "tensor([1.5000e+00, 2.2500e+00])"
    tt.set_printoptions(sci_mode=False)
    # The width was fitted for the automatic (scientific) notation, as in PyTorch.
    assert repr(tt.tensor([1e-5, 1.0])) == "tensor([    0.0000,     1.0000])"
    assert repr(tt.tensor([1.0, 10000.0])) == "tensor([        1.,     10000.])"
    tt.set_printoptions(precision=4)  # sci_mode omitted: automatic again
    assert repr(tt.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"


def test_edgeitems_summaries():
    tt.set_printoptions(threshold=5, edgeitems=1)
    assert repr(tt.arange(10)) == "tensor([0,  ..., 9])"
    assert repr(tt.arange(30).reshape(5, 6)) == "tensor([[ 0,  ...,  5],\n        ...,\n        [24,  ..., 29]])"
    assert repr(tt.arange(27).reshape(3, 3, 3)) == (
        "tensor([[[ 0,  ...,  2],\n"
        "         ...,\n"
        "         [ 6,  ...,  8]],\n"
        "\n"
        "        ...,\n"
        "\n"
        "        [[18,  ..., 20],\n"
        "         ...,\n"
        "         [24,  ..., 26]]])")
    tt.set_printoptions(edgeitems=0)
    assert repr(tt.arange(10)) == "tensor([...], size=(10,))"
    assert repr(tt.ones(4, 4)) == "tensor([...], size=(4, 4))"


def test_summary_fits_the_shown_values_only():
    x = np.ones(2001, dtype=np.float32)
    x[1000] = 1e-6  # hidden by the summary: it must not switch the shown values to scientific notation
    assert repr(tt.tensor(x)) == "tensor([1., 1., 1.,  ..., 1., 1., 1.])"
    assert repr(tt.arange(10000)) == "tensor([   0,    1,    2,  ..., 9997, 9998, 9999])"


@pytest.mark.parametrize("values, text", [
    ([0.0, 0.0], "tensor([0., 0.])"),
    ([float("nan"), 1.0], "tensor([nan, 1.])"),
    ([1.5, float("inf")], "tensor([1.5000,    inf])"),
    ([-0.0], "tensor([-0.])"),
    ([1e9], "tensor([1.0000e+09])"),
    ([1.0, 10000.0], "tensor([1.0000e+00, 1.0000e+04])"),
    ([123456.5], "tensor([123456.5000])"),
    ([-1.5, 20.25], "tensor([-1.5000, 20.2500])"),
])
def test_float_notation(values, text):
    assert repr(tt.tensor(values)) == text


def test_int_bool_complex_scalar_and_nested():
    assert repr(tt.tensor([-1, 100])) == "tensor([ -1, 100])"
    assert repr(tt.tensor([True, True])) == "tensor([True, True])"
    assert repr(tt.tensor([True, False])) == "tensor([ True, False])"
    assert repr(tt.tensor([1 + 2j, 3 - 4j])) == "tensor([1.+2.j, 3.-4.j])"
    assert repr(tt.tensor([1.5 - 0.5j])) == "tensor([1.5000-0.5000j])"
    assert repr(tt.tensor(1e-5)) == "tensor(1.0000e-05)"
    assert repr(tt.tensor(2.0)) == "tensor(2.)"
    assert repr(tt.arange(8).reshape(2, 2, 2)) == \
        "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"
    assert repr(tt.tensor([1.0, 2.0], dtype=tt.float16)) == "tensor([1., 2.], dtype=tritensor.float16)"


def test_suffixes_wrap_at_the_line_width():
    x = tt.zeros(17, dtype=tt.float64, requires_grad=True)
    assert repr(x) == "tensor([" + ", ".join(["0."] * 17) + "],\n       dtype=tritensor.float64, requires_grad=True)"
    assert repr(tt.zeros(2, dtype=tt.float64, requires_grad=True)) == \
        "tensor([0., 0.], dtype=tritensor.float64, requires_grad=True)"


def test_cuda_tensor_follows_the_options():
    tt.set_printoptions(precision=2)
    assert repr(tt.tensor([1.12345], device="cuda")) == "tensor([1.12], device='cuda:0')"


def test_unknown_profile_is_ignored_and_the_other_options_apply():
    # PyTorch acts only on "default", "short" and "full": any other profile changes nothing by itself.
    tt.set_printoptions(profile="short")
    tt.set_printoptions(profile="something-unknown")
    assert repr(tt.tensor([1.12345])) == "tensor([1.12])"
    assert repr(tt.arange(2000)) == "tensor([   0,    1,  ..., 1998, 1999])"
    tt.set_printoptions(profile="long", precision=1)
    assert repr(tt.tensor([1.12345])) == "tensor([1.1])"
    tt.set_printoptions(profile=None, edgeitems=1)
    assert repr(tt.arange(2000)) == "tensor([   0,  ..., 1999])"


def test_bad_options_raise_and_change_nothing():
    with pytest.raises(TypeError, match="'precision' must be int"):
        tt.set_printoptions(precision=1.5)
    with pytest.raises(ValueError, match="'edgeitems' must be at least 0"):
        tt.set_printoptions(edgeitems=-1)
    with pytest.raises(TypeError, match="'sci_mode' must be bool or None"):
        tt.set_printoptions(sci_mode="yes")
    assert repr(tt.tensor([1.12345])) == "tensor([1.1235])"
