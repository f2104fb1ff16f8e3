"""LRScheduler, the base of every learning-rate scheduler, with PyTorch's step-order and get_lr warnings.

A scheduler writes each parameter group's "lr" at every `step()`. `get_lr()` is the chainable (recursive)
form: it derives the next lr from the group's current one, so several schedulers can act on one optimizer;
`_get_closed_form_lr()` (where a scheduler has one) computes the lr from `base_lrs` and `last_epoch` alone and
is used when `step(epoch)` is given an explicit epoch.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from typing import Any

from ...tensor import Tensor
from ..optimizer import Optimizer

__all__ = ["LRScheduler", "_LRScheduler", "EPOCH_DEPRECATION_WARNING"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. "
    "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from "
    "None, the closed form is used instead of the new chainable form, where available. Please open an issue if "
    "you are unable to replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose."
)

_ORDER_URL = "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"


def _format_param(name: str, optimizer: Optimizer, param: Any) -> list[Any]:
    """One value per parameter group: a scalar repeated, or a list/tuple whose length must match."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} has "
                             f"{len(param)} values, param_groups has {len(optimizer.param_groups)}.")
    else:
        param = [param] * len(optimizer.param_groups)
    return [p.clone() if isinstance(p, Tensor) else p for p in param]


def _group_lrs(optimizer: Optimizer) -> list[Any]:
    return [group["lr"] for group in optimizer.param_groups]


def _warn_get_lr_called_within_step(scheduler: LRScheduler) -> None:
    if not scheduler._get_lr_called_within_step:
        warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                      UserWarning, stacklevel=3)


def _track_step_called(optimizer: Optimizer) -> None:
    """Optimizers built on tt.optim.Optimizer mark `_opt_called` in their own step wrapper. A step that was
    replaced on the instance (no such wrapper) gets wrapped here, as PyTorch wraps every optimizer's step."""
    step = optimizer.step
    if getattr(step, "_with_step_hooks", False) or getattr(step, "_wrapped_by_lr_sched", False):
        return
    opt_ref = weakref.ref(optimizer)  # a weak reference: the wrapper must not keep the optimizer alive
    func = getattr(step, "__func__", None)

    @functools.wraps(func or step)
    def wrapper(*args, **kwargs):
        opt = opt_ref()
        opt._opt_called = True
        return func.__get__(opt, opt.__class__)(*args, **kwargs) if func is not None else step(*args, **kwargs)

    wrapper._wrapped_by_lr_sched = True
    optimizer.step = wrapper


class LRScheduler:
    """Base class: sets each group's "lr" from `get_lr()` at every `step()`; `last_epoch` counts the steps.

    optimizer: the wrapped Optimizer. last_epoch: the index of the last epoch; -1 starts the schedule (and
    stores each group's lr as "initial_lr"); any other value resumes it and needs "initial_lr" in every group.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                initial_lr = group["lr"]
                group.setdefault("initial_lr", initial_lr.clone() if isinstance(initial_lr, Tensor) else initial_lr)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming an "
                                   "optimizer")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        _track_step_called(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """Resets the step count and takes the constructor's step (in "initial" mode: a resumed schedule's
        recursive form must not move the lr one step past where it stands)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the scheduler's attributes from `state_dict()`'s output."""
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last step() set, one per parameter group."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """The learning rates of the current step, one per parameter group (chainable form; subclasses).

        Called by `step()`; calling it directly warns, as in PyTorch: read `get_last_lr()` instead.
        """
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advances the schedule one step and writes the new lr into each parameter group.

        Call it after `optimizer.step()`. Passing `epoch` is deprecated (warns) and uses the closed form.
        """
        if self._step_count == 1:
            step = self.optimizer.step
            if not (getattr(step, "_with_step_hooks", False) or getattr(step, "_wrapped_by_lr_sched", False)):
                warnings.warn("Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                              "initialization. Please, make sure to call `optimizer.step()` before "
                              f"`lr_scheduler.step()`. See more details at {_ORDER_URL}", UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 "
                              "and later, you should call them in the opposite order: `optimizer.step()` before "
                              "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
                              f"value of the learning rate schedule. See more details at {_ORDER_URL}",
                              UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(float(lr))
            else:
                group["lr"] = lr
        self._last_lr: list[float] = _group_lrs(self.optimizer)


class _LRScheduler(LRScheduler):
    """The old name of LRScheduler, kept (as a subclass, so its __name__ stays `_LRScheduler`) as PyTorch does."""
