"""The shared index kernels: out-of-range indices never touch memory, and are reported into the device
error word when a launch is given an IndexCheck."""

import numpy as np
import pytest
from tritensor.kernels import advanced_index as A
from tritensor.kernels import gather_scatter as G
from tritensor.kernels import index_core as C
from tritensor.kernels import index_select as S

from tests.conftest import as_device as dev
from tests.kernels.indexing_helpers import data
from tests.kernels.tuning_helpers import repeatable_flags


def test_out_of_range_indices_are_masked(rng):
    x = data(rng, (3, 4), np.float32)
    index = np.array([[0, 5, -1, 2]], np.int64)  # 5 and -1 are out of range for gather on dim 0
    out = np.full((1, 4), 9, np.float32)
    G.gather(dev(out), dev(x), dev(index), 0)
    np.testing.assert_array_equal(out, [[x[0, 0], 0, 0, x[2, 3]]])
    target = np.zeros((3, 4), np.float32)
    G.scatter_add(dev(target), dev(target), dev(index), dev(np.ones((1, 4), np.float32)), 0)
    assert target.sum() == 2 and target[0, 0] == 1 and target[2, 3] == 1
    flat = np.zeros(6, np.float32)
    S.take(dev(out), dev(x), dev(np.array([[12, -13, -12, 11]], np.int64)))
    np.testing.assert_array_equal(out, [[0, 0, x[0, 0], x[2, 3]]])
    S.take_backward(dev(flat), dev(np.ones(3, np.float32)), dev(np.array([6, -7, -6], np.int64)))
    np.testing.assert_array_equal(flat, [1, 0, 0, 0, 0, 0])


# ------------------------------------------------------------------ reporting into the device error word
def _check(*codes):
    """A fresh error word (code, index) and the IndexCheck that reports into it."""
    word = np.zeros(2, np.int64)
    return word, C.IndexCheck(dev(word), codes)


@pytest.mark.parametrize("dt", [np.float32, np.int64, np.bool_])
def test_gather_reports_and_still_masks(rng, dt):
    x = data(rng, (3, 1029), dt)  # two programs; the second one partly masked
    index = np.zeros((1, 1029), np.int64)
    index[0, 1027] = 3
    out = np.ones((1, 1029), dt)
    word, check = _check(7)
    G.gather(dev(out), dev(x), dev(index), 0, check)
    assert word.tolist() == [7, 3]
    expected = x[0].copy()
    expected[1027] = 0
    np.testing.assert_array_equal(out[0], expected)
    index[0, 1027] = 2
    word, check = _check(7)
    G.gather(dev(out), dev(x), dev(index), 0, check)
    assert word.tolist() == [0, 0]  # valid indices (and the lanes past the end) report nothing
    np.testing.assert_array_equal(out, G.gather_ref(x, index, 0))


@pytest.mark.parametrize("reduce", [None, "add", "multiply"])
def test_scatter_reports_negative_and_large(rng, reduce):
    x = data(rng, (4, 3), np.float32)
    src = data(rng, (1, 3), np.float32)
    for bad in (-1, 4):
        index = np.array([[1, bad, 2]], np.int64)
        out = np.zeros_like(x)
        word, check = _check(3)
        G.scatter(dev(out), dev(x), dev(index), dev(src), 0, reduce=reduce, check=check)
        assert word.tolist() == [3, bad]
        keep = np.array([[1, 0, 2]])  # the bad lane is dropped: its column keeps x
        expected = G.scatter_ref(x, keep, src, 0, reduce)
        expected[:, 1] = x[:, 1]
        np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_index_select_index_add_take_report(rng):
    x = data(rng, (4, 5), np.float32)
    out = np.zeros((4, 2), np.float32)
    word, check = _check(11)
    S.index_select(dev(out), dev(x), dev(np.array([4, 5], np.int64)), 1, check)
    assert word.tolist() == [11, 5]
    word, check = _check(11)
    S.index_select(dev(np.zeros((2, 0), np.float32)), dev(np.zeros((5, 0), np.float32)),
                   dev(np.array([1, 6], np.int64)), 0, check)  # empty output: the indices are still checked
    assert word.tolist() == [11, 6]
    word, check = _check(12)
    S.index_add(dev(out), dev(out), dev(np.array([-1], np.int64)), dev(np.ones((1, 2), np.float32)), 0, check=check)
    assert word.tolist() == [12, -1]
    flat = np.zeros(3, np.float32)
    for index, expected in (([-20, 19], [0, 0]), ([-21, 3], [13, -21])):
        word, check = _check(13)
        S.take(dev(flat[:2]), dev(x), dev(np.array(index, np.int64)), check)
        assert word.tolist() == expected


def test_advanced_index_reports_each_index_arrays_code(rng):
    x = data(rng, (4, 5, 3), np.float32)
    i0, i1 = np.array([0, -4, 3], np.int64), np.array([[4], [-6]], np.int64)  # i1 = -6 is out of range for 5
    out = np.zeros((2, 3, 3), np.float32)
    word, check = _check(21, 22)
    A.index(dev(out), dev(x), [dev(i0), dev(i1)], check)
    assert word.tolist() == [22, -6]
    np.testing.assert_array_equal(out[0], x[i0, 4])
    word, check = _check(21)
    A.index_put(dev(x), dev(x), [dev(np.array([4], np.int64))], 1.0, check=check)
    assert word.tolist() == [21, 4]
    word, check = _check(21, 22)
    A.index_put(dev(x), dev(x), [dev(i0), dev(np.array([1, 1, 1], np.int64))], dev(np.ones(3, np.float32)),
                accumulate=True, check=check)
    assert word.tolist() == [0, 0]
    with pytest.raises(ValueError, match="one code per index array"):
        A.index(dev(out), dev(x), [dev(i0), dev(i1)], _check(21)[1])


def test_check_indices_alone():
    for wrap, index, expected in ((False, [0, 2, -1], [5, -1]), (True, [0, -3, 2], [0, 0]), (True, [-4], [5, -4])):
        word, check = _check(5)
        C.check_indices(dev(np.array(index, np.int64)), 3, wrap, check)
        assert word.tolist() == expected


def test_accumulating_and_in_place_launches_are_never_timed(rng, monkeypatch):
    """The tuner may time a launch on the user's tensors only when repeating it leaves them as they were."""
    calls = repeatable_flags(monkeypatch)
    x = data(rng, (4, 6), np.float32)
    index = np.array([[0, 1, 1, 3, 2, 0]], np.int64)
    src = data(rng, (1, 6), np.float32)
    out = np.zeros_like(x)
    G.gather(dev(np.zeros((1, 6), np.float32)), dev(x), dev(index), 0)
    G.scatter(dev(out), dev(x), dev(index), dev(src), 0)
    assert [c for c in calls if c[0].startswith("index_core")] == [("index_core.gather", True),
                                                                   ("index_core.scatter", True)]
    calls.clear()
    G.scatter_add(dev(out), dev(x), dev(index), dev(src), 0)
    G.scatter(dev(out), dev(x), dev(index), dev(src), 0, reduce="multiply")
    t = x.copy()
    target = dev(t)
    A.index_put(target, target, [dev(np.array([0, 0], np.int64))], dev(np.ones(6, np.float32)))
    assert [c for c in calls if not c[0].startswith("elementwise")] == [
        ("index_core.scatter_add", False), ("gather_scatter.scatter_multiply", False), ("index_core.scatter", True)]
    calls.clear()
    A.index_put(target, target, [dev(np.array([1, 2], np.int64))], target.view_as((2, 6), target.strides))
    assert calls == [("index_core.scatter", False)]  # its source is its target
    np.testing.assert_array_equal(t[1], np.ones(6))  # row 0, set to ones above
