"""PyTorch's type promotion: categories, dimension priority and Python scalars."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tritensor as tt
from tritensor import dtypes as D

ALL = list(D.ALL)


@pytest.mark.parametrize("a,b,expected", [
    (tt.uint8, tt.int8, tt.int16), (tt.float16, tt.bfloat16, tt.float32), (tt.int32, tt.float16, tt.float16),
    (tt.bool, tt.uint8, tt.uint8), (tt.int64, tt.float32, tt.float32), (tt.uint8, tt.int32, tt.int32),
    (tt.float64, tt.float16, tt.float64), (tt.bool, tt.bool, tt.bool),
])
def test_promote_types_known_values(a, b, expected):
    assert tt.promote_types(a, b) is expected and tt.promote_types(b, a) is expected


@given(st.sampled_from(ALL), st.sampled_from(ALL), st.sampled_from(ALL))
def test_promote_types_is_commutative_associative_and_idempotent(a, b, c):
    assert D.promote_types(a, b) is D.promote_types(b, a)
    assert D.promote_types(a, a) is a
    assert D.promote_types(D.promote_types(a, b), c) is D.promote_types(a, D.promote_types(b, c))
    r = D.promote_types(a, b)
    assert r.category >= max(a.category, b.category)


@pytest.mark.parametrize("x,other,expected", [
    (tt.ones(2, dtype=tt.int32), 2.5, tt.float32),  # a float scalar lifts ints to the default dtype
    (tt.ones(2, dtype=tt.float16), 2.5, tt.float16),  # ...but never widens floats
    (tt.ones(2, dtype=tt.uint8), 1000, tt.uint8),  # int scalars never widen ints
    (tt.ones(2, dtype=tt.bool), 3, tt.int64),
    (tt.ones(2, dtype=tt.int32), tt.tensor(1.0, dtype=tt.float64), tt.float64),  # 0-dim of higher category
    (tt.ones(2, dtype=tt.float16), tt.tensor(1.0, dtype=tt.float64), tt.float16),  # 0-dim, same category
    (tt.ones(2, dtype=tt.int8), tt.ones(2, dtype=tt.uint8), tt.int16),
])
def test_result_type_and_binary_ops(x, other, expected):
    assert tt.result_type(x, other) is expected
    assert (x + other).dtype is expected
    assert (x * other).dtype is expected


def test_scalar_only_result_type():
    assert D.result_type(1, 2.0) is tt.float32 and D.result_type(True, 1) is tt.int64
