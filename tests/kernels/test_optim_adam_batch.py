"""kernels/optim_adam.py's adam_batch_ref (several parameters sharing one row of scalars, gathered into flat arrays)
against one adam_ref per parameter: the same bits for every flag combination, mixed dtypes and sizes past the
batching limits, and parameters whose memories overlap (updated one by one, in order)."""

import math

import numpy as np
import pytest
from tritensor.kernels import optim_adam as KA

ROW = (0.01, 1 - 1e-3 * 0.01, 0.1, 0.999, 0.001, 1e-3 / (1 - 0.9 ** 3), math.sqrt(1 - 0.999 ** 3), 1e-8)


def _params(rng, shapes, dtypes, n_state):
    ps = [np.array(rng.standard_normal(s), d) for s, d in zip(shapes, dtypes)]  # (np.array: 0-d stays an array)
    gs = [np.array(rng.standard_normal(s), d) for s, d in zip(shapes, dtypes)]
    states = [[np.array(np.abs(rng.standard_normal(s)), d) for _ in range(n_state)] for s, d in zip(shapes, dtypes)]
    return ps, gs, states


def _copy(ps, gs, states):
    return [p.copy() for p in ps], [g.copy() for g in gs], [[s.copy() for s in st] for st in states]


@pytest.mark.parametrize("flags", [0, KA.MAXIMIZE, KA.WEIGHT_DECAY, KA.WEIGHT_DECAY | KA.DECOUPLED,
                                   KA.WEIGHT_DECAY | KA.AMSGRAD, KA.MAXIMIZE | KA.AMSGRAD])
@pytest.mark.parametrize("w1", [0.1, 0.7])  # the two sides of lerp's formula
def test_batch_equals_per_parameter_bits(rng, flags, w1):
    shapes = [(3, 5), (7,), (), (2, 3, 4), (1,), (0, 3), (11, 2)]
    dtypes = [np.float32, np.float32, np.float32, np.float64, np.float64, np.float32, np.float32]
    n_state = 3 if flags & KA.AMSGRAD else 2
    ps, gs, states = _params(rng, shapes, dtypes, n_state)
    ps[-1] = np.asfortranarray(ps[-1])  # a strided member is gathered and written back through its layout
    ref, before = _copy(ps, gs, states), ps[0].copy()
    row = ROW[:2] + (w1,) + ROW[3:]
    KA.adam_batch_ref(ps, gs, states, row, flags)
    for p, g, st in zip(*ref):
        KA.adam_ref(p, g, st, row, flags)
    for a, b in zip(ps + [s for st in states for s in st], ref[0] + [s for st in ref[2] for s in st]):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        assert a.tobytes() == b.tobytes()
    assert not np.array_equal(ps[0], before)  # the step moved the parameters


def test_batch_limits_and_other_dtypes(rng, monkeypatch):
    """Members past the per-parameter limit, batches split at the element limit, a float16 gradient (adam_ref's
    own cast) and a float16 parameter (its slow path): the same bits as per-parameter updates."""
    monkeypatch.setattr(KA, "_BATCH_MEMBER", 20)
    monkeypatch.setattr(KA, "_BATCH_ELEMENTS", 30)
    shapes = [(4, 4), (5, 5), (3,), (6, 3), (2,), (9,), (4,)]
    dtypes = [np.float32, np.float32, np.float32, np.float32, np.float16, np.float32, np.float64]
    ps, gs, states = _params(rng, shapes, dtypes, 2)
    gs[5] = gs[5].astype(np.float16)
    ref = _copy(ps, gs, states)
    KA.adam_batch_ref(ps, gs, states, ROW, 0)
    for p, g, st in zip(*ref):
        KA.adam_ref(p, g, st, ROW, 0)
    for a, b in zip(ps + [s for st in states for s in st], ref[0] + [s for st in ref[2] for s in st]):
        assert a.tobytes() == b.tobytes()


def test_overlapping_parameters_update_in_order(rng):
    """Two parameters viewing one array (here the same memory twice): each update sees the one before it, as
    per-parameter updates do."""
    base = rng.standard_normal(6).astype(np.float32)
    base_before = base.copy()
    ps = [base[:4], base[2:]]
    gs = [np.ones(4, np.float32), np.ones(4, np.float32)]
    states = [[np.zeros(4, np.float32), np.zeros(4, np.float32)] for _ in ps]
    expect = base.copy()
    ref_states = [[np.zeros(4, np.float32), np.zeros(4, np.float32)] for _ in ps]
    KA.adam_ref(expect[:4], gs[0], ref_states[0], ROW, 0)
    KA.adam_ref(expect[2:], gs[1], ref_states[1], ROW, 0)
    KA.adam_batch_ref(ps, gs, states, ROW, 0)
    assert base.tobytes() == expect.tobytes()
    assert np.all(expect[2:4] < base_before[2:4])  # the step moved the shared elements
