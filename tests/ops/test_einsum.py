"""einsum on cpu and interpreted cuda against np.einsum: explicit and implicit outputs, '...', repeated
subscripts, broadcasting, half precision, gradcheck."""

import numpy as np
import pytest

import tritensor as tt
from tests.ops.matmul_helpers import DEVICES, _close, _f64, _make, _vector_out

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),  # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),  # trace
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij->i", [(1, 4), (3, 4)]),  # a size-1 dim broadcasts
    ("ijk,jl->lik", [(2, 3, 4), (3, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("b...,b->...", [(3, 2, 4), (3,)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("ijk,ikj->i", [(2, 3, 4), (2, 4, 3)]),
    ("ij,kl->", [(2, 3), (4, 5)]),
]


@pytest.mark.parametrize("device", DEVICES)
def test_einsum(rng, device):
    for equation, shapes in EINSUM_CASES:
        pairs = [_make(rng, s, tt.float32, device) for s in shapes]
        r = tt.einsum(equation, *[t for t, _ in pairs])
        expected = np.einsum(equation, *[v for _, v in pairs])
        _close(r, np.asarray(expected), tt.float32, scale=4)
    ta, a = _make(rng, (3, 4), tt.float32, device)
    tb, b = _make(rng, (4, 5), tt.float32, device)
    _close(tt.einsum("ij , jk -> ik", [ta, tb]), a @ b, tt.float32)  # list operands, spaces
    assert tt.einsum("ij->ji", ta).untyped_storage() is ta.untyped_storage()  # a transpose is a view


def test_einsum_half_precision_on_cuda(rng):
    for dtype in (tt.float16, tt.bfloat16):
        ta, a = _make(rng, (2, 3, 7), dtype, "cuda")
        tb, b = _make(rng, (2, 5, 7), dtype, "cuda")
        _close(tt.einsum("bik,bjk->bij", ta, tb), np.einsum("bik,bjk->bij", a, b), dtype)


def test_gradcheck_einsum(rng):
    for equation, shapes in [("ij,jk->ik", [(2, 3), (3, 2)]), ("bij,bkj->bik", [(2, 2, 3), (2, 2, 3)]),
                             ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij,j->", [(2, 3), (3,)]),
                             ("ij,ij->i", [(1, 3), (2, 3)]), ("ij,jk,kl->il", [(2, 2), (2, 3), (3, 2)])]:
        assert tt.autograd.gradcheck(_vector_out(lambda *ops, eq=equation: tt.einsum(eq, *ops)), _f64(rng, *shapes))
