"""Schedulers made of schedulers: ChainedScheduler (all of them at every step), SequentialLR (one after
another at milestones) and ParamwiseScheduler (one per parameter group)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ..optimizer import Optimizer
from .base import LRScheduler, _group_lrs
from .plateau import ReduceLROnPlateau

__all__ = ["ChainedScheduler", "SequentialLR", "ParamwiseScheduler"]


def _check_schedulers(owner: str, schedulers: Sequence[LRScheduler], optimizer: Optimizer) -> None:
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner} at index {i} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                             "kwargs to be specified when calling `step`, but got one at index "
                             f"{i} in the given schedulers sequence.")
        if optimizer != scheduler.optimizer:
            raise ValueError(f"{owner} expects all schedulers to belong to the same optimizer, but got scheduler "
                             f"{scheduler.__class__.__name__} at index {i} has {scheduler.optimizer}, which is "
                             f"different from {optimizer.__class__.__name__}.")


class _Nested:
    """state_dict/load_state_dict of a scheduler holding others: their states nested under "_schedulers"."""

    _schedulers: Sequence[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer; the wrapped schedulers' own state_dicts in "_schedulers"."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the attributes and each wrapped scheduler's state (state_dict is left intact)."""
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        state_dict["_schedulers"] = schedulers
        for scheduler, state in zip(self._schedulers, schedulers):
            scheduler.load_state_dict(state)


class _Undo(_Nested):
    """recursive_undo, which SequentialLR and ParamwiseScheduler have (ChainedScheduler has not)."""

    def recursive_undo(self, sched: Any = None) -> None:
        """Takes back the constructor step of every wrapped scheduler (nested ones included)."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1


class ChainedScheduler(_Nested, LRScheduler):
    """Steps every scheduler of `schedulers` (chainable ones, on one optimizer) at each step()."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError(f"{self.__class__.__name__} expects at least one scheduler to be chained, but got no "
                             "scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers(self.__class__.__name__, schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_lrs(self._schedulers[-1].optimizer)

    def step(self) -> None:  # type: ignore[override]
        """Steps each scheduler in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_lrs(self._schedulers[-1].optimizer)


class SequentialLR(_Undo, LRScheduler):
    """Runs schedulers[0] until milestones[0], then schedulers[1] (restarted from epoch 0), and so on."""

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        if len(schedulers) < 1:
            raise ValueError(f"{self.__class__.__name__} expects at least one scheduler, but got no scheduler.")
        _check_schedulers(self.__class__.__name__, schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                             f"number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to the initial lrs the wrapped constructors moved
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        self._schedulers[0]._initial_step()
        self._last_lr = schedulers[0].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        """Steps the scheduler whose stretch holds the new epoch; at a milestone it starts over at epoch 0."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ParamwiseScheduler(_Undo, LRScheduler):
    """One scheduler per parameter group: group i takes the lr schedulers[i] computes for it."""

    def __init__(self, schedulers: Sequence[LRScheduler]) -> None:
        self._schedulers = schedulers
        self.optimizer = schedulers[0].optimizer
        if len(schedulers) != len(self.optimizer.param_groups):
            raise ValueError("Number of schedulers must match the number of parameter groups in the optimizer. "
                             f"Got {len(schedulers)} schedulers and {len(self.optimizer.param_groups)} parameter "
                             "groups.")
        if not all(s.optimizer is self.optimizer for s in schedulers):
            raise ValueError("All schedulers must use the same optimizer instance.")
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        self._initial_step()
        self._last_lr = _group_lrs(self.optimizer)

    def step(self) -> None:  # type: ignore[override]
        """Steps every scheduler from the same lrs, then gives group i the lr of scheduler i."""
        lrs = _group_lrs(self.optimizer)
        for scheduler in self._schedulers:
            if self._is_initial:
                scheduler._initial_step()
            else:
                scheduler.step()
            for group, lr in zip(self.optimizer.param_groups, lrs):
                group["lr"] = lr
        for i, (group, scheduler) in enumerate(zip(self.optimizer.param_groups, self._schedulers)):
            group["lr"] = scheduler.get_last_lr()[i]
        self._last_lr = _group_lrs(self.optimizer)
