"""The training jobs' optimizers and learning-rate schedules, by the names `tritensor train --optimizer NAME
--scheduler NAME` takes: every optimizer and scheduler of tt.optim, each with settings that suit a run of
`total` optimizer steps.

Schedules are stepped once per optimizer step, except `plateau` (ReduceLROnPlateau), which the jobs step
with the evaluation loss after every evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .optim import Adam, Optimizer, SparseAdam
from .tensor import Tensor

# name -> (tt.optim class, its default lr in the jobs, extra constructor arguments). The default lrs are
# PyTorch's, except where a per-dataset default of train_args applies (adam, sgd).
OPTIMIZERS: dict[str, tuple[str, float, dict]] = {
    "adam": ("Adam", 1e-3, {}),
    "adamw": ("AdamW", 1e-3, {}),
    "sgd": ("SGD", 0.05, {"momentum": 0.9}),
    "adagrad": ("Adagrad", 1e-2, {}),
    "rmsprop": ("RMSprop", 1e-3, {}),
    "adadelta": ("Adadelta", 1.0, {}),
    "adamax": ("Adamax", 2e-3, {}),
    "nadam": ("NAdam", 2e-3, {}),
    "radam": ("RAdam", 1e-3, {}),
    "asgd": ("ASGD", 1e-2, {}),
    "rprop": ("Rprop", 1e-3, {}),
    # a few line-searched iterations per batch: LBFGS is a full-batch method, this keeps a minibatch step bounded
    "lbfgs": ("LBFGS", 1.0, {"max_iter": 4, "history_size": 10, "line_search_fn": "strong_wolfe"}),
    "adafactor": ("Adafactor", 1e-2, {}),
    # SparseAdam on the Embedding(sparse=True) weights, Adam on the rest (SparseDenseAdam): --model lstm only
    "sparseadam": ("SparseAdam", 1e-3, {}),
}
SCHEDULERS = ("lambda", "multiplicative", "step", "multistep", "constant", "linear", "exponential", "polynomial",
              "cosine", "chained", "sequential", "plateau", "cyclic", "onecycle", "cosinewarmrestarts", "none")
SCHEDULER_HELP = ("lambda: linear warm-up over 5%% of the steps (at most 100), then cosine decay to a tenth "
                  "(LambdaLR); cosine: cosine decay to 0 (CosineAnnealingLR); step / multistep: x0.1 at a third "
                  "of the run / at 1/2 and 3/4; constant: a third of the lr for the first 10%%; linear / "
                  "polynomial: to 0 linearly / quadratically; exponential / multiplicative: to 1%% "
                  "geometrically; chained: warm-up and exponential decay at once; sequential: warm-up, then "
                  "cosine; plateau: halve the lr when the evaluation loss stops improving; cyclic: triangular "
                  "cycles between lr/10 and lr (8 half-cycles); onecycle: OneCycleLR peaking at lr; "
                  "cosinewarmrestarts: 4 cosine cycles; none: a constant lr")


def build_optimizer(name: str, params, lr: float):
    """The optimizer `name` (a key of OPTIMIZERS) over params (tensors or parameter groups) at lr."""
    from . import optim

    cls, _, extra = OPTIMIZERS[name]
    return getattr(optim, cls)(params, lr=lr, **extra)


class SparseDenseAdam(Optimizer):
    """`--optimizer sparseadam`: SparseAdam over the parameters whose gradients are sparse (the
    nn.Embedding(sparse=True) weights), Adam over the rest, as torch.optim.SparseAdam's documentation pairs them.

    One Optimizer over both, so a scheduler and a checkpoint see one: parameter group 0 is SparseAdam's, group 1
    Adam's, and the two share this optimizer's group dicts and state (kept shared across load_state_dict).
    """

    def __init__(self, sparse_params: Iterable[Tensor], dense_params: Iterable[Tensor], lr: float = 1e-3) -> None:
        self._sparse = SparseAdam(sparse_params, lr=lr)
        self._dense = Adam(dense_params, lr=lr)
        params = self._sparse.param_groups[0]["params"] + self._dense.param_groups[0]["params"]
        super().__init__(params, dict(lr=lr, betas=(0.9, 0.999), eps=1e-8, maximize=False))
        self.__setstate__({"state": self.state,
                           "param_groups": [self._sparse.param_groups[0], self._dense.param_groups[0]]})

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._sparse.param_groups, self._dense.param_groups = self.param_groups[:1], self.param_groups[1:]
        self._sparse.state = self._dense.state = self.state

    def step(self, closure: Callable[[], Any] | None = None):
        """One SparseAdam step of group 0 and one Adam step of group 1; returns the closure's loss."""
        loss = self._closure_loss(closure)
        self._sparse.step()
        self._dense.step()
        return loss


AMP_MODES = ("fp16", "bf16")


class MixedPrecision:
    """`--amp fp16|bf16` (None: float32): the forward under tt.autocast in that dtype; fp16 backward through a
    GradScaler, which skips the steps whose gradients overflowed (bf16 has float32's range and needs none).

    A training step: `with mp.autocast(): loss = ...`, `mp.backward(loss)`, `mp.unscale_(optimizer)` before
    clipping, and `mp.step(optimizer, closure)` for the whole step.
    """

    def __init__(self, mode: str | None, device_type: str) -> None:
        from . import dtypes
        from .amp import GradScaler

        if mode is not None and mode not in AMP_MODES:
            raise ValueError(f"amp mode must be one of {', '.join(AMP_MODES)} or None, got {mode!r}")
        self.mode, self.device_type = mode, device_type
        self.dtype = {"fp16": dtypes.float16, "bf16": dtypes.bfloat16}.get(mode)
        self.scaler = GradScaler(device_type, enabled=mode == "fp16")

    def describe(self) -> str:
        """A line for the job's log."""
        if self.mode is None:
            return "precision: float32"
        scaler = ", GradScaler (dynamic loss scale)" if self.scaler.is_enabled() else ""
        return f"precision: autocast {self.dtype.name}{scaler}"

    def autocast(self):
        """The forward's autocast region (a disabled one in float32)."""
        from .amp import autocast

        return autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward(self, loss: Tensor) -> None:
        """Back-propagate the loss (scaled under fp16)."""
        self.scaler.scale(loss).backward()

    def unscale_(self, optimizer) -> None:
        """Bring fp16's scaled gradients back to their true values (before clipping them)."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(optimizer)

    def step(self, optimizer, closure: Callable[[], object]):
        """One optimizer step; closure zeroes the gradients, computes the loss, back-propagates (with
        `backward`) and returns it. Returns the loss of the step's first evaluation. LBFGS re-evaluates the
        closure itself (never with fp16, whose GradScaler takes no closure); the others take the gradients of
        one evaluation, and fp16 skips the step when they overflowed."""
        from . import optim

        if isinstance(optimizer, optim.LBFGS):
            return optimizer.step(closure)
        loss = closure()
        self.scaler.step(optimizer)
        self.scaler.update()
        return loss


def load_scaler(mp: MixedPrecision, checkpoint: dict) -> None:
    """Resume fp16's loss scale from a checkpoint; a run saved without fp16 (an empty scaler state) starts a
    fresh scale, and a float32 / bf16 run has none to load."""
    state = checkpoint.get("scaler") or {}
    if state and mp.scaler.is_enabled():
        mp.scaler.load_state_dict(state)


def warmup_steps(total: int) -> int:
    """The warm-up length of the warm-up schedules: 5% of the run, at most 100 steps."""
    return max(1, min(100, total // 20))


def _warmup_cosine(total: int) -> Callable[[int], float]:
    warmup = warmup_steps(total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.45 * (1.0 + math.cos(math.pi * progress))

    return factor


def _one(_: int) -> float:
    return 1.0


def _cycles_momentum(optimizer) -> bool:
    return "momentum" in optimizer.defaults and optimizer.defaults["momentum"] > 0 or "betas" in optimizer.defaults


def build_scheduler(name: str, optimizer, total: int):
    """The schedule `name` (one of SCHEDULERS) for a run of `total` optimizer steps."""
    from .optim import lr_scheduler as S

    total = max(total, 1)
    lr = optimizer.param_groups[0]["lr"]
    decay = 0.01 ** (1.0 / total)  # to 1% of the lr over the run
    warmup = warmup_steps(total)
    simple = {
        "lambda": lambda: S.LambdaLR(optimizer, _warmup_cosine(total)),
        "multiplicative": lambda: S.MultiplicativeLR(optimizer, _Factor(decay)),
        "step": lambda: S.StepLR(optimizer, step_size=max(1, total // 3), gamma=0.1),
        "multistep": lambda: S.MultiStepLR(optimizer, milestones=[total // 2, total * 3 // 4], gamma=0.1),
        "constant": lambda: S.ConstantLR(optimizer, factor=1 / 3, total_iters=max(1, total // 10)),
        "linear": lambda: S.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=total),
        "exponential": lambda: S.ExponentialLR(optimizer, gamma=decay),
        "polynomial": lambda: S.PolynomialLR(optimizer, total_iters=total, power=2.0),
        "cosine": lambda: S.CosineAnnealingLR(optimizer, T_max=total),
        "plateau": lambda: S.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0),
        "cyclic": lambda: S.CyclicLR(optimizer, base_lr=lr / 10, max_lr=lr, step_size_up=max(1, total // 8),
                                     cycle_momentum=_cycles_momentum(optimizer)),
        "onecycle": lambda: S.OneCycleLR(optimizer, max_lr=lr, total_steps=total,
                                         cycle_momentum=_cycles_momentum(optimizer)),
        "cosinewarmrestarts": lambda: S.CosineAnnealingWarmRestarts(optimizer, T_0=max(1, total // 4)),
        "none": lambda: S.LambdaLR(optimizer, _one),
    }
    if name in simple:
        return simple[name]()
    if name == "chained":
        return S.ChainedScheduler([S.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
                                   S.ExponentialLR(optimizer, gamma=decay)], optimizer=optimizer)
    if name == "sequential":
        return S.SequentialLR(optimizer, [S.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
                                          S.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup))],
                              milestones=[warmup])
    raise ValueError(f"unknown scheduler {name!r}; choose from {', '.join(SCHEDULERS)}")


class _Factor:
    """MultiplicativeLR's per-step factor as a callable object: its state (the factor) is saved with the
    scheduler, where a lambda's would not be."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, _: int) -> float:
        return self.factor


def steps_per_step(name: str) -> bool:
    """True when the schedule `name` is stepped after every optimizer step (all but plateau)."""
    return name != "plateau"
