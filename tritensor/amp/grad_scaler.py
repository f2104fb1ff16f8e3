"""tt.amp.GradScaler: dynamic loss scaling for mixed precision, as torch.amp.GradScaler.

float16 gradients of small magnitude underflow to zero. GradScaler multiplies the loss by a scale factor
before backward, so the gradients are scaled too, and divides them by it (`unscale_`) before the optimizer
uses them. A step whose gradients hold an inf or NaN is skipped and the scale shrinks (`backoff_factor`);
after `growth_interval` clean steps in a row it grows (`growth_factor`).

    scaler = tt.amp.GradScaler("cuda")
    for x, y in data:
        optimizer.zero_grad()
        with tt.autocast("cuda", dtype=tt.float16):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # unscales (if unscale_ was not called), skips the step on inf/NaN
        scaler.update()

The scale and the growth tracker live on the device (a float32 and an int32 tensor): unscaling is one
fused launch per gradient dtype (`tt._amp_foreach_non_finite_check_and_unscale_`), the scale update one tiny
launch (`tt._amp_update_scale_`), and `step` reads the inf flag once (`.item()`) to decide whether to step.
"""

from __future__ import annotations

import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any

from .. import cuda
from ..autograd import no_grad
from ..creation import full
from ..dtypes import float16, float32, int32
from ..ops.amp_scale import _amp_foreach_non_finite_check_and_unscale_, _amp_update_scale_
from ..tensor import Tensor

__all__ = ["GradScaler", "OptState"]


class _MultiDeviceReplicator:
    """Lazily serves copies of a master tensor to the devices that ask for them."""

    def __init__(self, master_tensor: Tensor) -> None:
        self.master = master_tensor
        self._per_device_tensors: dict = {}

    def get(self, device) -> Tensor:
        """The master's copy on `device` (made on first request; a separate tensor even on the master's device)."""
        retval = self._per_device_tensors.get(device, None)
        if retval is None:
            retval = self.master.to(device=device, non_blocking=True)
            if retval is self.master:
                retval = self.master.clone()
            self._per_device_tensors[device] = retval
        return retval


class OptState(Enum):
    """Where an optimizer is in the current iteration: READY, UNSCALED (unscale_ ran) or STEPPED."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state() -> dict[str, Any]:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class GradScaler:
    """Dynamic loss scaling, as torch.amp.GradScaler.

    device: the device of the loss ("cuda" or "cpu"); with "cuda" and no cuda available it warns and disables
    itself. init_scale: the first scale. growth_factor (> 1) / backoff_factor (< 1): what the scale is multiplied
    by after growth_interval consecutive steps without inf/NaN gradients / after a step with some. enabled:
    False makes every method a no-op (scale returns its argument, step just steps).

    >>> scaler = tt.amp.GradScaler("cpu", init_scale=4.0)
    >>> w = tt.tensor([1.0], requires_grad=True)
    >>> opt = tt.optim.SGD([w], lr=0.5)
    >>> scaler.scale((w * 3).sum()).backward(); w.grad
    tensor([12.])
    >>> scaler.step(opt); scaler.update(); w
    tensor([-0.5000], requires_grad=True)
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            self._enabled = False

        if self._enabled:
            assert growth_factor > 1.0, "The growth factor must be > 1.0."
            assert backoff_factor < 1.0, "The backoff factor must be < 1.0."

            self._init_scale = init_scale
            # created on the device of the first tensor scale() sees
            self._scale: Tensor | None = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            # created with the scale
            self._growth_tracker: Tensor | None = None
            self._per_optimizer_states: defaultdict = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, f"Attempted {funcname} but _growth_tracker is None.  " + fix
        return (self._scale, self._growth_tracker)

    def _lazy_init_scale_growth_tracker(self, dev) -> None:
        assert self._growth_tracker is None, "_growth_tracker initialized before _scale"
        self._scale = full((), self._init_scale, dtype=float32, device=dev)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=int32, device=dev)

    # ------------------------------------------------------------------ scaling
    def scale(self, outputs):
        """outputs multiplied by the scale factor: a tensor, or a (nested) list/tuple/iterable of tensors, whose
        structure is kept (a list stays a list, another iterable becomes a map). Returned unmodified when
        disabled. The first call creates the scale and the growth tracker on the first tensor's device."""
        if not self._enabled:
            return outputs

        # One tensor: no replicator needed.
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            assert self._scale is not None
            return outputs * self._scale.to(device=outputs.device, non_blocking=True)

        # Nested outputs: one copy of the scale per device they live on.
        stash: list[_MultiDeviceReplicator] = []  # holds a reference that can be overwritten by apply_scale

        def apply_scale(val):
            if isinstance(val, Tensor):
                if len(stash) == 0:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    assert self._scale is not None
                    stash.append(_MultiDeviceReplicator(self._scale))
                return val * stash[0].get(val.device)
            if isinstance(val, abc.Iterable):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale: Tensor, found_inf: Tensor, allow_fp16: bool) -> dict:
        """Unscale every gradient of the optimizer in place; one op call per device (every dtype in it). Returns
        the per-device found_inf flags."""
        per_device_inv_scale = _MultiDeviceReplicator(inv_scale)
        per_device_found_inf = _MultiDeviceReplicator(found_inf)
        per_device_grads: dict = defaultdict(lambda: defaultdict(list))  # device -> dtype -> gradients
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    assert isinstance(param, Tensor)
                    if param.grad is None:
                        continue
                    if (not allow_fp16) and param.grad.dtype == float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    if param.grad.is_sparse:
                        # Duplicate indices of an uncoalesced fp16 gradient may overflow once summed, so the
                        # coalesced values are the ones checked (PyTorch's reasoning).
                        if param.grad.dtype == float16:
                            param.grad = param.grad.coalesce()
                        to_unscale = param.grad._values()
                    else:
                        to_unscale = param.grad
                    per_device_grads[to_unscale.device][to_unscale.dtype].append(to_unscale)

            for device, per_dtype_grads in per_device_grads.items():
                # One call per device: the op makes one launch per dtype group.
                grads = [g for dtype_grads in per_dtype_grads.values() for g in dtype_grads]
                _amp_foreach_non_finite_check_and_unscale_(grads, per_device_found_inf.get(device),
                                                           per_device_inv_scale.get(device))

        return per_device_found_inf._per_device_tensors

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale in place (e.g. before clipping them) and record
        whether any holds an inf or NaN. At most once per optimizer between update() calls, and before step();
        step() then does not unscale again. Raises ValueError on float16 gradients (unscale the float32 master
        gradients of a float16 model instead)."""
        if not self._enabled:
            return

        self._check_scale_growth_tracker("unscale_")

        optimizer_state = self._per_optimizer_states[id(optimizer)]

        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        elif optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")

        # 1/scale in float64, then rounded once to float32: the inverse PyTorch multiplies by, bit for bit.
        assert self._scale is not None
        inv_scale = self._scale.double().reciprocal().float()
        found_inf = full((), 0.0, dtype=float32, device=self._scale.device)

        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state: dict, *args, **kwargs):
        # The flags of every device summed on the first one's, then read once: one host synchronisation.
        flags = list(optimizer_state["found_inf_per_device"].values())
        found = flags[0]
        for flag in flags[1:]:
            found = found + flag.to(found.device)
        retval = None
        if not found.item():
            retval = optimizer.step(*args, **kwargs)
        return retval

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless the (unscaled) gradients hold an inf or NaN; unscales first if
        unscale_(optimizer) was not called this iteration. Returns what optimizer.step returned, or None for a
        skipped step. Once per optimizer between update() calls; a closure is not supported."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)

        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")

        self._check_scale_growth_tracker("step")

        optimizer_state = self._per_optimizer_states[id(optimizer)]

        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")

        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)

        assert len(optimizer_state["found_inf_per_device"]) > 0, "No inf checks were recorded for this optimizer."

        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)

        optimizer_state["stage"] = OptState.STEPPED

        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Update the scale: set it to new_scale (a float, or a one-element tensor on the scaler's device type
        with requires_grad=False) if given; otherwise back off if any optimizer's step saw inf/NaN gradients this
        iteration, or grow after growth_interval clean steps in a row (on the device, no host synchronisation).
        Call once per iteration, after every step(); it starts the next iteration."""
        if not self._enabled:
            return

        _scale, _growth_tracker = self._check_scale_growth_tracker("update")

        if new_scale is not None:
            assert self._scale is not None
            # The caller's scale replaces the computed one.
            if isinstance(new_scale, float):
                self._scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                assert new_scale.device.type == self._device, reason
                assert new_scale.numel() == 1, reason
                assert new_scale.requires_grad is False, reason
                # PyTorch's copy_ into its 0-d scale refuses a (1,)-shaped tensor; any 1-element one is taken here.
                self._scale.copy_(new_scale.reshape(()))
        else:
            # Every optimizer's inf flags, summed on the scale's device, drive the update.
            found_infs = [found_inf.to(device=_scale.device, non_blocking=True)
                          for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]

            assert len(found_infs) > 0, "No inf checks were recorded prior to update."

            found_inf_combined = found_infs[0]
            if len(found_infs) > 1:
                for i in range(1, len(found_infs)):
                    found_inf_combined += found_infs[i]

            _amp_update_scale_(_scale, _growth_tracker, found_inf_combined, self._growth_factor,
                               self._backoff_factor, self._growth_interval)

        # The next iteration starts with every optimizer READY again.
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    # ------------------------------------------------------------------ accessors
    def _get_scale_async(self) -> Tensor | None:
        return self._scale

    def get_scale(self) -> float:
        """The current scale as a Python float (a host synchronisation); 1.0 when disabled."""
        if self._enabled:
            scale = self._get_scale_async()
            return self._init_scale if scale is None else float(scale.item())
        return 1.0

    def get_growth_factor(self) -> float:
        """The factor the scale is multiplied by after growth_interval clean steps."""
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the growth factor."""
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        """The factor the scale is multiplied by after a step with inf/NaN gradients."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the backoff factor."""
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        """The number of consecutive clean steps after which the scale grows."""
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the growth interval."""
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())
        return 0

    def is_enabled(self) -> bool:
        """Whether this scaler scales (False when constructed disabled, or when cuda was unavailable)."""
        return self._enabled

    # ------------------------------------------------------------------ serialisation
    def state_dict(self) -> dict[str, Any]:
        """{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"} as Python numbers;
        {} when disabled. Call it after update() for the scale of the next iteration."""
        if self._enabled:
            return {
                "scale": self.get_scale(),
                "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker(),
            }
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict() (no-op when disabled; a RuntimeError for the empty dict of a disabled scaler)."""
        if not self._enabled:
            return

        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")

        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self) -> dict[str, Any]:
        """Pickling: the scale and tracker travel as numbers, and are recreated lazily on the next scale()."""
        state = self.__dict__.copy()
        if self._enabled:
            assert len(self._per_optimizer_states) == 0, ("A GradScaler instance may only be pickled at the beginning "
                                                          "of an iteration, or at the end after scaler.update().")
            # The pickle holds the scale and tracker as numbers, not device tensors: the copy recreates them on
            # its first scale().
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled scaler."""
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer) -> dict:
        _scale, _ = self._check_scale_growth_tracker("_check_inf_per_device")

        dummy_inv_scale = full((), 1.0, dtype=float32, device=_scale.device)
        found_inf = full((), 0.0, dtype=float32, device=_scale.device)

        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = self._unscale_grads_(
            optimizer, dummy_inv_scale, found_inf, True)

        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer) -> dict:
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
