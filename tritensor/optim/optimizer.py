"""Optimizer: PyTorch's base class — param_groups, per-parameter state, zero_grad, step hooks, state_dict.

`state_dict()` has PyTorch's layout: `{"state": {index: {...}}, "param_groups": [{..., "params": [index,
...]}]}` with parameters numbered in group order, so a checkpoint maps onto a freshly built model and
optimizer by position, and `tt.save` can store it.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

from ..autograd import enable_grad, no_grad
from ..tensor import RemovableHandle, Tensor


class _RequiredParameter:
    """Singleton marking a hyper-parameter a subclass's defaults leave for each group to give."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks: OrderedDict = OrderedDict()
_global_step_post_hooks: OrderedDict = OrderedDict()


def scalar_lr(lr) -> float:
    """An optimizer's lr argument as a number: a 1-element Tensor is read once (PyTorch's tensor lr)."""
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        return lr.item()
    return lr


def params_and_grads(group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
    """A group's parameters that have a gradient, and those gradients (one read of each .grad)."""
    params, grads = [], []
    for p in group["params"]:
        g = p.grad
        if g is not None:
            params.append(p)
            grads.append(g)
    return params, grads


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """A hook run before every optimizer's step: hook(optimizer, args, kwargs) -> None or (args, kwargs)."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """A hook run after every optimizer's step: hook(optimizer, args, kwargs) -> None."""
    return _add_hook(_global_step_post_hooks, hook)


def _add_hook(hooks: OrderedDict, hook: Callable, prepend: bool = False) -> RemovableHandle:
    handle = RemovableHandle(None)
    key = id(handle)
    hooks[key] = hook
    if prepend:
        hooks.move_to_end(key, last=False)
    handle._remove = lambda: hooks.pop(key, None)
    return handle


def _with_step_hooks(step: Callable) -> Callable:
    """step wrapped with the pre/post hooks; marks the optimizer as stepped (for LR schedulers' order check)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self._in_step:  # a subclass's step calling super().step(): hooks run once, around the outer call
            return step(self, *args, **kwargs)
        for hook in chain(_global_step_pre_hooks.values(), self._step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), but got "
                                       f"{result}.")
                args, kwargs = result
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        self._opt_called = True
        self._step_count_total += 1
        for hook in chain(self._step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._with_step_hooks = True
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of Tensors, or of dicts (parameter groups: {"params": [...], option: value}).
    defaults: the options a group gets when it does not set them.
    """

    _in_step = False
    _opt_called = False
    _step_count_total = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_with_step_hooks", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {params.type_name()}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to optimize."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(param).__module__}.{type(param).__name__}")
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors: drop them (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Performs one update of every parameter with a gradient; subclasses implement it.

        `closure`, if given, re-evaluates the model and returns the loss; step returns that loss.
        """
        raise NotImplementedError

    @staticmethod
    def _closure_loss(closure: Callable[[], Any] | None):
        """Run the closure (it recomputes the loss and calls backward) with grad mode on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), run before each step."""
        return _add_hook(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """hook(optimizer, args, kwargs) -> None, run after each step."""
        return _add_hook(self._step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) -> None, run before state_dict() builds its result."""
        return _add_hook(self._state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) -> None or a new state_dict, run on state_dict()'s result."""
        return _add_hook(self._state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) -> None or a state_dict to load instead, run before load_state_dict()."""
        return _add_hook(self._load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) -> None, run after load_state_dict()."""
        return _add_hook(self._load_state_dict_post_hooks, hook, prepend)

    def _init_hooks(self) -> None:
        for name in ("_step_pre_hooks", "_step_post_hooks", "_state_dict_pre_hooks", "_state_dict_post_hooks",
                     "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict[str, Any]:
        """{"state": {param index: state dict}, "param_groups": [options + "params": [indices]]}.

        As in PyTorch the state tensors are the optimizer's own (not copies): save or deep-copy the
        result before stepping again if it must keep this moment's values.
        """
        for pre_hook in self._state_dict_pre_hooks.values():
            pre_hook(self)
        param_mappings: dict[int, int] = {}
        start_index = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start_index):
                param_mappings.setdefault(id(p), i)
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by state_dict() (parameters are matched by position).

        State tensors are copied onto each parameter's device (floating ones also to its dtype), so
        the loaded optimizer never shares buffers with the dict it came from.
        """
        state_dict = dict(state_dict)
        for pre_hook in self._load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param: Tensor, value, key=None):
            if isinstance(value, Tensor):
                return self._process_state_value(param, value, key)
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._load_state_dict_post_hooks.values():
            post_hook(self)

    @staticmethod
    def _process_state_value(param: Tensor, value: Tensor, key) -> Tensor:
        """A loaded state tensor placed for `param`: the step count stays a float32 scalar on the cpu, other
        floating state takes the parameter's dtype and device."""
        from .. import dtypes

        if key == "step":
            return value.detach().to(device="cpu", dtype=dtypes.float32, copy=True)
        if param.is_floating_point() and value.is_floating_point():
            return value.detach().to(device=param.device, dtype=param.dtype, copy=True)
        return value.detach().to(device=param.device, copy=True)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_hooks()

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ------------------------------------------------------------------ helpers for subclasses
    @staticmethod
    def _params_with_grad(group: dict[str, Any]) -> Iterable[Tensor]:
        return (p for p in group["params"] if p.grad is not None)
