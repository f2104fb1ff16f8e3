"""NumPy ufunc calls that give IEEE results (inf, NaN) silently, as PyTorch does, for less than the cost of
a `np.errstate` block (which costs more than a one-element add).

NumPy reads its floating-point error state from a context variable. One prebuilt `contextvars.Context`, in
which that variable says "ignore everything", is entered around the ufunc: cheaper than building an errstate
and setting and resetting the variable per call. A context can be entered by one caller at a time, so a call
that finds it in use (another thread inside a long ufunc, or a finalizer that runs an op while a ufunc runs)
falls back to errstate. The variable is private to NumPy: where it is missing (a future NumPy) every call
uses errstate.
"""

from __future__ import annotations

import contextvars

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # pragma: no cover - a NumPy without the private hook
    _extobj_contextvar = _make_extobj = None


def _errstate_call(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


def _quiet_runner():
    """`Context.run` of a context in which NumPy ignores floating-point errors (errstate where NumPy has none)."""
    if _extobj_contextvar is None:  # pragma: no cover
        return _errstate_call
    context = contextvars.Context()
    context.run(_extobj_contextvar.set, _make_extobj(all="ignore"))
    return context.run


_run = _quiet_runner()


def quiet(ufunc, a, b):
    """`ufunc(a, b)` with NumPy's floating-point warnings off (overflow gives inf, 0 * inf NaN, silently). Two fixed
    arguments, not *args: packing them costs a third of a one-element add."""
    try:
        return _run(ufunc, a, b)
    except RuntimeError as error:
        if "cannot enter context" not in str(error):
            raise
        return _errstate_call(ufunc, a, b)  # the context is in use: another thread, or a nested call


def quiet_one(fn, a):
    """`quiet_call(fn, a)` for one argument: without packing and unpacking *args (a fifth of a small op's cost)."""
    try:
        return _run(fn, a)
    except RuntimeError as error:
        if "cannot enter context" not in str(error):
            raise
        return _errstate_call(fn, a)  # the context is in use: another thread, or a nested call


def quiet_call(fn, *args):
    """`quiet` for any function of NumPy calls (a reference). Entering the context fails before fn runs when
    another thread or an enclosing call holds it (a quiet call inside fn falls back by itself), so fn never
    runs twice."""
    try:
        return _run(fn, *args)
    except RuntimeError as error:
        if "cannot enter context" not in str(error):
            raise
        return _errstate_call(fn, *args)
