"""Stochastic Weight Averaging and EMA, as torch.optim.swa_utils: AveragedModel (a running average of a
model's parameters, and optionally buffers), the averaging functions, SWALR (anneals the lr to a fixed SWA lr)
and update_bn (recomputes BatchNorm running statistics for the averaged weights)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from typing import Any, Literal

import numpy as np

from ..autograd import no_grad
from ..creation import tensor
from ..dtypes import int64
from ..nn import Module
from ..nn.modules.batchnorm import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler.base import LRScheduler, _format_param
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]

_ParamList = Sequence[Tensor]


def _is_float(t: Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[_ParamList, _ParamList, Any], None]:
    """An in-place EMA over lists of tensors: ema = decay * ema + (1 - decay) * current (lerp for floats)."""
    _check_decay(decay)

    def ema_update(ema_param_list: _ParamList, current_param_list: _ParamList, _: Any) -> None:
        with no_grad():
            if _is_float(ema_param_list[0]):
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    p_ema.lerp_(p_model, 1 - decay)
            else:
                for p_ema, p_model in zip(ema_param_list, current_param_list):
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def _swa_weight(num_averaged: Tensor | int) -> float:
    # PyTorch computes 1 / (n + 1) as a tensor (float32) when n is the n_averaged buffer: the same rounding.
    if isinstance(num_averaged, Tensor):
        return float(np.float32(1.0) / np.float32(int(num_averaged) + 1))
    return 1 / (num_averaged + 1)


def get_swa_multi_avg_fn() -> Callable[[_ParamList, _ParamList, Any], None]:
    """An in-place equal-weight running average over lists of tensors: avg += (current - avg) / (n + 1)."""

    def swa_update(averaged_param_list: _ParamList, current_param_list: _ParamList,
                   num_averaged: Tensor | int) -> None:
        with no_grad():
            if _is_float(averaged_param_list[0]):
                weight = _swa_weight(num_averaged)
                for p_avg, p_model in zip(averaged_param_list, current_param_list):
                    p_avg.lerp_(p_model, weight)
            else:
                n = int(num_averaged) + 1
                for p_avg, p_model in zip(averaged_param_list, current_param_list):
                    p_avg.copy_(p_avg + (p_model - p_avg) / n)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """EMA of one tensor: returns decay * ema + (1 - decay) * current."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """Equal-weight running average of one tensor: returns avg + (current - avg) / (n + 1)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Tensor | int) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A deep copy of `model` (as `self.module`) whose parameters hold a running average (SWA by default, or
    EMA via avg_fn / multi_avg_fn) of the model's, updated by `update_parameters(model)`.

    device: where the copy lives. avg_fn(avg, current, n) returns the new average of one tensor;
    multi_avg_fn(avgs, currents, n) updates lists in place (give at most one). use_buffers: average the buffers
    too (otherwise they are copied from the model). `n_averaged` (an int64 buffer) counts the updates; the first
    update copies the model. avg_fn/multi_avg_fn are not in state_dict.
    """

    def __init__(self, model: Module, device: Any = None,
                 avg_fn: Callable[[Tensor, Tensor, Tensor | int], Tensor] | None = None,
                 multi_avg_fn: Callable[[_ParamList, _ParamList, Tensor | int], None] | None = None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if not (avg_fn is None or multi_avg_fn is None):
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the averaged copy."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Folds `model`'s current parameters (and buffers, with use_buffers) into the average."""
        with no_grad():
            self._update(model)

    def _update(self, model: Module) -> None:
        if self.use_buffers:
            self_params = itertools.chain(self.module.parameters(), self.module.buffers())
            model_params = itertools.chain(model.parameters(), model.buffers())
        else:
            self_params, model_params = self.parameters(), model.parameters()
        averaged, current = [], []
        copy_param = bool(self.n_averaged == 0)
        for p_avg, p_model in zip(self_params, model_params):
            p_model_ = p_model.detach().to(p_avg.device)
            averaged.append(p_avg.detach())
            current.append(p_model_)
            if copy_param:
                p_avg.detach().copy_(p_model_)
        if int(self.n_averaged) > 0:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                # lists of one device and dtype at a time, as PyTorch groups them for its foreach kernels
                groups: dict[tuple[str, Any], tuple[list[Tensor], list[Tensor]]] = {}
                for p_avg, p_model in zip(averaged, current):
                    avgs, curs = groups.setdefault((str(p_avg.device), p_avg.dtype), ([], []))
                    avgs.append(p_avg)
                    curs.append(p_model)
                for (device, _), (avgs, curs) in groups.items():
                    n_averaged = self.n_averaged.to(device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(avgs, curs, n_averaged)
                    elif device.startswith("cuda"):
                        get_swa_multi_avg_fn()(avgs, curs, n_averaged)
                    else:  # PyTorch's non-foreach path on the cpu
                        avg_fn = get_swa_avg_fn()
                        for p_avg, p_model in zip(avgs, curs):
                            p_avg.copy_(avg_fn(p_avg, p_model, n_averaged))
            else:
                for p_avg, p_model in zip(averaged, current):
                    p_avg.copy_(self.avg_fn(p_avg, p_model, self.n_averaged.to(p_avg.device)))
        if not self.use_buffers:
            # buffers are not averaged: keep them in sync with the source model
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged += 1


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recomputes the running mean/var of every BatchNorm layer of `model` with one pass over `loader`.

    Each batch is a tensor, or a list/tuple whose first element is the input. The statistics are reset and
    accumulated as a cumulative average (momentum None); momenta and the training mode are restored after.
    """
    with no_grad():
        momenta = {}
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.reset_running_stats()
                momenta[module] = module.momentum
        if not momenta:
            return
        was_training = model.training
        model.train()
        for module in momenta:
            module.momentum = None
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to its swa_lr over anneal_epochs steps ("cos" or "linear"), then holds it.

    swa_lr: one value for all groups, or one per group (stored in each group as "swa_lr").
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: Literal["cos", "linear"] = "cos", last_epoch: int = -1) -> None:
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        # the lr the annealing started from, recovered from the current lr at fraction alpha
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        """swa_lr * alpha + start_lr * (1 - alpha), alpha = anneal_func(step / anneal_epochs) clipped to 1."""
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer and the anneal function."""
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the attributes and rebuilds the anneal function from the stored strategy."""
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
