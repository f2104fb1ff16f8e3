"""Test helpers that steer the one tuning path: which configs launch, and which launches may be timed."""

from __future__ import annotations

from contextlib import contextmanager

from tritensor.kernels import tuning


def repeatable_flags(monkeypatch) -> list:
    """(tunable name, repeatable) of every launch while the test runs; the heuristic config runs. A launch
    that is not repeatable (in place, accumulating) must never be timed on a user's tensors."""
    calls = []

    def spy(tunable, key, sizes, run, repeatable):
        calls.append((tunable.name, repeatable and tunable.repeatable))
        return tunable.heuristic(key), False

    tuning.forget()
    monkeypatch.setattr(tuning, "_selector", spy)
    return calls


@contextmanager
def every_config(index: int):
    """Launch each tunable with config `index` of its "max" space for the key (wrapping around), so a test
    can run every config of a space against the reference."""
    saved = tuning._selector

    def select(tunable, key, sizes, run, repeatable):
        configs = tunable.configs(key, "max")
        return configs[index % len(configs)], False

    tuning.install_selector(select)
    try:
        yield
    finally:
        tuning.install_selector(saved)


def split_small_problems(monkeypatch) -> None:
    """Let the split reductions and scans cut problems below their minimum size, so tests exercise the split
    path on shapes the interpreter runs quickly."""
    from tritensor.kernels import reduction_blocks

    monkeypatch.setattr(reduction_blocks, "MIN_SPLIT_NUMEL", 0)
