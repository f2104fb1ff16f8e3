"""einsum, composed of matmul-family ops: it has no kernels module of its own.

An equation is handled in three named steps: `_parse` (subscripts to integer labels, '...' expanded,
the output labels, each label's size), `_plan` (which labels each operand keeps at each step) and
`_contract` (operands merged left to right, each pair as one batched matmul of ops/matmul.py after
permutes and reshapes). Repeated subscripts take a diagonal view (`_Diagonal`); labels no later operand
or the output needs are summed away as early as possible. Everything is a tensor op, so the result is
differentiable (to every order).
"""

from __future__ import annotations

import itertools
import math

from .. import dtypes as D
from ..autograd.function import Function
from ..creation import zeros
from ..tensor import Tensor
from .copy import write_into
from .dispatch import check_same_device
from .matmul import check_dtype, product_nd, require_tensor
from .views import make_view

_ELLIPSIS = -1
_ELLIPSIS_BASE = 256  # '...' expands to labels 256 + j for its j-th (right-aligned) dim


# ---------------------------------------------------------------- diagonals of repeated subscripts
class _Diagonal(Function):
    """x viewed with grouped dims merged into one (x[i, i] -> d[i]); a group's strides add up."""

    differentiable_forward = False

    @staticmethod
    def forward(ctx, x: Tensor, groups: tuple) -> Tensor:
        ctx.in_shape, ctx.groups = x._shape, groups
        return make_view(x, *_diagonal_geometry(x, groups))

    @staticmethod
    def backward(ctx, grad):
        return _DiagonalBackward.apply(grad, ctx.in_shape, ctx.groups), None


class _DiagonalBackward(Function):
    differentiable_forward = False

    @staticmethod
    def forward(ctx, grad: Tensor, in_shape: tuple, groups: tuple) -> Tensor:
        ctx.groups = groups
        out = zeros(in_shape, dtype=grad.dtype, device=grad.device)
        write_into(make_view(out, *_diagonal_geometry(out, groups)), grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return _Diagonal.apply(grad, ctx.groups), None, None


def _diagonal_geometry(x: Tensor, groups: tuple) -> tuple[tuple, tuple, int]:
    st = x.stride()
    return (tuple(x._shape[g[0]] for g in groups), tuple(sum(st[d] for d in g) for g in groups), x._offset)


# ---------------------------------------------------------------- parse: equation -> labels and sizes
def _check_arguments(operands: tuple, terms: list) -> None:
    """PyTorch's errors for the equation's operand count, devices and dtypes."""
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for op in operands[1:]:
        check_same_device(operands[0], op)
        if op.dtype is not operands[0].dtype:
            raise RuntimeError(f"expected scalar type {D.scalar_type_name(operands[0].dtype)} but found "
                               f"{D.scalar_type_name(op.dtype)}")
    check_dtype("einsum", operands[0])


def _parse_term(term: str, start: int) -> list:
    """A term's labels (ord of each letter, _ELLIPSIS for '...'); `start` is its index in the equation."""
    labels: list = []
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == ".":
            if term[i:i + 3] != "..." or _ELLIPSIS in labels:
                raise RuntimeError(f"einsum(): found '.' for operand at index {start + i} that is not part of any "
                                   "ellipsis")
            labels.append(_ELLIPSIS)
            i += 3
            continue
        if not ch.isascii() or not ch.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {start + i} in the "
                               "equation string, subscripts must be in [a-zA-Z]")
        labels.append(ord(ch))
        i += 1
    return labels


def _label_name(label: int) -> str:
    return chr(label) if label < _ELLIPSIS_BASE else "..."


def _ellipsis_dims(parsed: list, operands: tuple) -> list[int]:
    """How many dims each operand's '...' covers (0 without one); checks the subscript counts."""
    counts = []
    for i, (labels, op) in enumerate(zip(parsed, operands)):
        named = len([label for label in labels if label != _ELLIPSIS])
        if _ELLIPSIS in labels:
            if named > op.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) is more than the "
                                   f"number of dimensions ({op.ndim}) for operand {i}")
            counts.append(op.ndim - named)
        elif named != op.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({op.ndim}) for operand {i} and no ellipsis was given")
        else:
            counts.append(0)
    return counts


def _expand_ellipses(parsed: list, counts: list[int], ell_labels: list) -> list[list]:
    """Each term's labels with its '...' replaced by the (right-aligned) broadcast labels it covers."""
    n_ell = len(ell_labels)
    terms = []
    for labels, count in zip(parsed, counts):
        full = []
        for label in labels:
            full.extend(ell_labels[n_ell - count:] if label == _ELLIPSIS else [label])
        terms.append(full)
    return terms


def _output_labels(rhs: str | None, start: int, terms: list[list], ell_labels: list) -> list:
    """The explicit output ('->' given: checked) or the implicit one (broadcast dims, then the labels that
    appear once, sorted)."""
    if rhs is None:
        counts: dict = {}
        for t in terms:
            for label in t:
                counts[label] = counts.get(label, 0) + 1
        return ell_labels + sorted(label for label, c in counts.items() if c == 1 and label < _ELLIPSIS_BASE)
    out_labels: list = []
    for label in _parse_term(rhs, start):
        if label == _ELLIPSIS:
            out_labels.extend(ell_labels)
            continue
        if label in out_labels:
            raise RuntimeError(f"einsum(): output subscript {chr(label)} appears more than once in the output")
        if not any(label in t for t in terms):
            raise RuntimeError(f"einsum(): output subscript {chr(label)} does not appear in the equation for "
                               "any input operand")
        out_labels.append(label)
    return out_labels


def _label_sizes(terms: list[list], operands: tuple) -> dict:
    """Each label's size: equal in every operand, or 1 (broadcast)."""
    sizes: dict = {}
    for i, (labels, op) in enumerate(zip(terms, operands)):
        own: dict = {}
        for label, n in zip(labels, op._shape):
            if own.setdefault(label, n) != n:
                raise RuntimeError(f"einsum(): subscript {_label_name(label)} is repeated for operand {i} but the "
                                   f"sizes don't match, {own[label]} != {n}")
            seen = sizes.get(label)
            if seen is None or seen == 1:
                sizes[label] = n
            elif n != 1 and n != seen:
                raise RuntimeError(f"einsum(): operands do not broadcast: subscript {_label_name(label)} has size {n} "
                                   f"for operand {i} which does not broadcast with previously seen size {seen}")
    return sizes


def _parse(lhs: str, rhs: str | None, operands: tuple) -> tuple[list[list], list, dict]:
    """(each operand's labels, the output's labels, each label's size) for the equation lhs -> rhs."""
    terms = lhs.split(",")
    starts = list(itertools.accumulate([0] + [len(t) + 1 for t in terms[:-1]]))
    parsed = [_parse_term(t, start) for t, start in zip(terms, starts)]
    counts = _ellipsis_dims(parsed, operands)
    ell_labels = [_ELLIPSIS_BASE + j for j in range(max(counts))]
    expanded = _expand_ellipses(parsed, counts, ell_labels)
    out_labels = _output_labels(rhs, len(lhs) + 2, expanded, ell_labels)
    return expanded, out_labels, _label_sizes(expanded, operands)


# ---------------------------------------------------------------- plan: what each step keeps
def _plan(items: list, out_labels: list) -> list[set]:
    """keep[i]: the labels still needed once operands 0..i are merged (the output's, and any later operand's)."""
    keep_out = set(out_labels)
    later = [set() for _ in items]
    for i in range(len(items) - 2, -1, -1):
        later[i] = later[i + 1] | set(items[i + 1][1])
    return [keep_out | labels for labels in later]


# ---------------------------------------------------------------- contract: pairwise batched matmuls
def _distinct_labels(x: Tensor, labels: list) -> tuple[Tensor, list]:
    """x with repeated labels merged into their diagonal (a view), and its now-distinct labels."""
    distinct = list(dict.fromkeys(labels))
    if len(distinct) == len(labels):
        return x, labels
    groups = tuple(tuple(d for d, label in enumerate(labels) if label == u) for u in distinct)
    return _Diagonal.apply(x, groups), distinct


def _sum_labels(x: Tensor, labels: list, keep: set) -> tuple[Tensor, list]:
    dims = tuple(d for d, label in enumerate(labels) if label not in keep)
    if not dims:
        return x, labels
    return x.sum(dims), [label for label in labels if label in keep]


def _contract_pair(x: Tensor, lx: list, y: Tensor, ly: list, keep: set, sizes: dict) -> tuple[Tensor, list]:
    """x * y summed over their shared labels that are not kept: one batched matmul (batch, L, C) @ (batch, C, R)."""
    batch = [label for label in lx if label in ly and label in keep]
    contracted = [label for label in lx if label in ly and label not in keep]
    left = [label for label in lx if label not in ly]
    right = [label for label in ly if label not in lx]

    shared = set(contracted)

    def arrange(t: Tensor, lt: list, rows: list, cols: list) -> Tensor:
        order = batch + rows + cols
        t = t.permute(tuple(lt.index(label) for label in order))
        # A contracted label of size 1 here and n there broadcasts: expand it before it is flattened.
        want = tuple(sizes[label] if label in shared else n for label, n in zip(order, t._shape))
        if want != t._shape:
            t = t.expand(want)
        nb, nr = len(batch), len(rows)
        return t.reshape(t._shape[:nb] + (math.prod(t._shape[nb:nb + nr]), math.prod(t._shape[nb + nr:])))

    a = arrange(x, lx, left, contracted)
    b = arrange(y, ly, contracted, right)
    result = product_nd(a, b)
    shape = result._shape[:len(batch)] + tuple(x._shape[lx.index(label)] for label in left) \
        + tuple(y._shape[ly.index(label)] for label in right)
    return result.reshape(shape), batch + left + right


def _contract(operands: tuple, terms: list[list], out_labels: list, sizes: dict) -> Tensor:
    """The operands merged left to right as planned, then laid out (and broadcast) as the output."""
    items = [_distinct_labels(op, labels) for op, labels in zip(operands, terms)]
    keep = _plan(items, out_labels)
    x, lx = _sum_labels(*items[0], keep[0])
    for i in range(1, len(items)):
        y, ly = _sum_labels(*items[i], keep[i] | set(lx))
        x, lx = _contract_pair(x, lx, y, ly, keep[i], sizes)
    x, lx = _sum_labels(x, lx, set(out_labels))
    order = tuple(lx.index(label) for label in out_labels)
    x = x.permute(order) if order != tuple(range(len(order))) else x
    target = tuple(sizes[label] for label in out_labels)
    return x if x._shape == target else x.expand(target)


# ---------------------------------------------------------------- the public op
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: 'ij,jk->ik', implicit outputs ('ij,jk'), '...' broadcast dims, repeated
    subscripts (diagonals, traces), sums and transposes. Operands are contracted left to right, each
    pair as one batched matmul after permutes and reshapes (tensor ops, so the result is differentiable)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    for i, op in enumerate(operands):
        require_tensor("einsum", op, "operands", i + 1)
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    _check_arguments(operands, lhs.split(","))
    terms, out_labels, sizes = _parse(lhs, rhs if arrow else None, operands)
    return _contract(operands, terms, out_labels, sizes)


__all__ = ["einsum"]
METHODS: dict = {}
