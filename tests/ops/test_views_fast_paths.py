"""View and Permute record their node without Function.apply's generic passes, and view_strides looks contiguous
strides up: the nodes, edges, needs_input_grad, view bookkeeping and strides are those of the general path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tritensor.kernels.device_array import contiguous_strides

import tritensor as tt
from tritensor.autograd.function import Function
from tritensor.ops import views as V


def _shapes_of(numel: int, ndim: int):
    sizes = [1, 2, 3, 4, 6, 12, 0] if numel == 0 else [d for d in range(1, numel + 1) if numel % d == 0]
    for shape in itertools.product(sizes, repeat=ndim):
        if int(np.prod(shape)) == numel:
            yield shape


@pytest.mark.parametrize("numel", [0, 1, 12])
def test_contiguous_lookup_matches_the_stride_walk(numel):
    checked = 0
    for nd_old, nd_new in itertools.product(range(4), range(4)):
        for old in _shapes_of(numel, nd_old):
            for new in _shapes_of(numel, nd_new):
                st = contiguous_strides(old)
                # a list of the same strides takes the walk (the lookup compares tuples)
                assert V.view_strides(old, st, new) == V.view_strides(old, list(st), new), (old, new)
                checked += 1
    assert checked > 10


def test_non_contiguous_strides_still_refuse_or_view():
    x = tt.arange(24.0).reshape(2, 3, 4).transpose(0, 1)
    assert V.view_strides(x._shape, x.stride(), (6, 4)) is None
    assert V.view_strides(x._shape, x.stride(), (3, 2, 2, 2)) == (4, 12, 2, 1)


@pytest.mark.parametrize("op", ["reshape", "view", "permute", "transpose", "squeeze", "unsqueeze", "flatten"])
def test_view_nodes_match_the_general_apply(op, monkeypatch):
    def run():
        x = tt.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
        base = x * 1.0
        call = {"reshape": lambda t: t.reshape(6, 4), "view": lambda t: t.view(4, 6),
                "permute": lambda t: t.permute(2, 0, 1), "transpose": lambda t: t.transpose(0, 2),
                "squeeze": lambda t: t.unsqueeze(0).squeeze(0), "unsqueeze": lambda t: t.unsqueeze(1),
                "flatten": lambda t: t.flatten(1)}[op]
        y = call(base)
        node = y.grad_fn
        meta = (node.name(), node.needs_input_grad, [(type(n).__name__, nr) for n, nr in node.next_functions],
                y.shape, y.stride(), y._base is base, y.is_contiguous(), y._creation_meta)
        (y * tt.arange(float(y.numel())).reshape(y.shape)).sum().backward()
        return meta, x.grad.numpy().copy(), y.detach().numpy().copy()

    fast = run()
    for cls in (V.View, V.Permute):  # the general path: Function.apply itself
        monkeypatch.setattr(cls, "apply", classmethod(Function.apply.__func__))
    general = run()
    assert fast[0] == general[0]
    np.testing.assert_array_equal(fast[1], general[1])
    np.testing.assert_array_equal(fast[2], general[2])


def test_view_under_no_grad_records_nothing_and_is_marked():
    x = tt.ones(2, 3, requires_grad=True)
    with tt.no_grad():
        y = x.reshape(3, 2)
        z = x.permute(1, 0)
    assert y.grad_fn is None and not y.requires_grad and z.grad_fn is None
    with pytest.raises(RuntimeError, match="no_grad mode"):
        y.mul_(2)


def test_view_of_a_leaf_records_its_accumulator_edge():
    x = tt.ones(2, 3, requires_grad=True)
    y = x.view(6)
    assert y.grad_fn.next_functions == ((x._grad_acc, 0),)
    assert y.grad_fn.needs_input_grad == (True, False, False)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2


def test_view_in_anomaly_mode_keeps_the_forward_trace():
    x = tt.ones(2, 3, requires_grad=True)
    with tt.autograd.set_detect_anomaly(True):
        y = x.reshape(3, 2)
    trace = "".join(y.grad_fn.metadata["traceback_"])
    assert "test_view_in_anomaly_mode_keeps_the_forward_trace" in trace
    assert "_link_result" not in trace and "def apply" not in trace
