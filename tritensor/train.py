"""The `tritensor train` job: an MLP on Digits or Fashion-MNIST with tritensor's nn, optim and data.

`train()` is the library entry point (it returns the metrics); `tritensor train ...` parses arguments
and calls it. Every option is checked before any work starts. A checkpoint (--save, written atomically
after every epoch with tt.save, and on Ctrl-C) holds the model, the optimizer, the schedule, the shuffling
generator's state and the position in the run, so --resume continues exactly where the saved run stopped,
mid-epoch included: the resumed run's numbers are those an uninterrupted run would have printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import train_optim
from .metrics import MetricsLog, plot_metrics
from .tensor import Tensor
from .train_args import (
    DATASETS,
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN,
    DEFAULT_LR,
    MODELS,
    OPTIMIZERS,
    TEXT_MODELS,
    Config,
    TrainError,
    add_arguments,
    checkpoint_config,
    fashion_mnist_missing,
    resolve,
    resume_command,
)
from .train_control import Interrupted, StopRequest, describe_device, profiling
from .train_parallel import DataParallel
from .train_text import TextMetrics, train_text

__all__ = ["DATASETS", "DEFAULT_EPOCHS", "DEFAULT_HIDDEN", "DEFAULT_LR", "MODELS", "OPTIMIZERS", "Config",
           "Interrupted", "Metrics", "TextMetrics", "TrainError", "add_arguments", "build_model", "build_optimizer",
           "build_scheduler", "evaluate", "load_data", "main", "train"]

EVAL_BATCH = 1000


@dataclass
class Metrics:
    """What a run measured; `train()` returns it and the CLI prints it."""

    device: str
    epochs: int
    test_accuracy: float
    epoch_train_loss: list[float] = field(default_factory=list)
    epoch_test_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    samples_per_second: float = 0.0
    seconds: float = 0.0
    start_epoch: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)  # the --metrics records (metrics.py)

    def as_dict(self) -> dict[str, Any]:
        """The metrics as plain Python data."""
        return asdict(self)


def load_data(config: Config):
    """(x_train, y_train, x_test, y_test) as cpu tensors: float32 images scaled to [0, 1], int64 labels."""
    from . import data

    if config.dataset == "digits":
        train_set, test_set, scale = data.Digits(train=True), data.Digits(train=False), 16.0
    else:
        kwargs = {} if config.data_root is None else {"root": config.data_root}
        train_set, test_set = data.FashionMNIST(train=True, **kwargs), data.FashionMNIST(train=False, **kwargs)
        scale = 255.0
    out = []
    for ds in (train_set, test_set):
        out += [ds.data.float() / scale, ds.targets]
    if config.limit_train is not None:
        out[0], out[1] = out[0][: config.limit_train], out[1][: config.limit_train]
    if config.limit_test is not None:
        out[2], out[3] = out[2][: config.limit_test], out[3][: config.limit_test]
    return tuple(out)


def build_model(config: Config, in_features: int, classes: int = 10, image_shape: tuple | None = None):
    """config.model's network for images of `image_shape` (H, W), in_features = H * W pixels.

    mlp: Flatten, Linear(in_features, hidden), ReLU, Linear(hidden, classes). cnn (LeNet-style): two blocks of
    3x3 Conv2d (16 then 32 channels, padding 1), BatchNorm2d, ReLU and 2x2 MaxPool2d, then the MLP head.
    resnet18: tritensor.vision.models.resnet18 (torchvision's structure and state_dict keys), which takes the
    batches through image_input(config)."""
    from . import nn

    if config.model == "resnet18":
        from .vision.models import resnet18

        return resnet18(num_classes=classes)
    if config.model != "cnn":
        return nn.Sequential(nn.Flatten(), nn.Linear(in_features, config.hidden), nn.ReLU(),
                             nn.Linear(config.hidden, classes))
    h, w = image_shape
    return nn.Sequential(
        nn.Unflatten(1, (1, h)),  # (N, H, W) images -> (N, 1, H, W)
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), config.hidden), nn.ReLU(), nn.Linear(config.hidden, classes))


RESNET_SIZE = 32  # the smallest input ResNet's five stride-2 stages take down to 1x1


def image_input(config: Config) -> Callable[[Tensor], Tensor]:
    """What the model takes from a batch of (N, H, W) images in [0, 1]: the batch itself, or for resnet18 the
    3-channel (N, 3, 32, 32) images ResNet expects (gray copied to RGB, resized bilinearly where smaller)."""
    if config.model != "resnet18":
        return _same

    def to_rgb32(x: Tensor) -> Tensor:
        from .nn import functional as F

        x = x.unsqueeze(1)
        if x.shape[-1] < RESNET_SIZE or x.shape[-2] < RESNET_SIZE:
            x = F.interpolate(x, size=(RESNET_SIZE, RESNET_SIZE), mode="bilinear", align_corners=False)
        return x.expand(-1, 3, -1, -1)

    return to_rgb32


def _same(x: Tensor) -> Tensor:
    return x


def build_optimizer(config: Config, params):
    """config.optimizer (any tt.optim optimizer, train_optim.OPTIMIZERS) at config.lr."""
    return train_optim.build_optimizer(config.optimizer, params, config.lr)


def build_scheduler(optimizer, total_steps: int, name: str = "cosine"):
    """The learning-rate schedule `name` over the whole run, stepped per batch (plateau: per epoch). The
    default decays to 0 by a cosine: the last epochs average out the minibatch noise instead of ending on a
    random fluctuation."""
    return train_optim.build_scheduler(name, optimizer, total_steps)


def evaluate_loss_accuracy(model, x, y, batch_size: int = EVAL_BATCH,
                           prepare: Callable[[Tensor], Tensor] = _same) -> tuple[float, float]:
    """(mean cross-entropy loss, top-1 accuracy) of model on (prepare(x), y)."""
    import tritensor as tt

    from .nn import functional as F

    correct, loss = 0, 0.0
    model.eval()
    with tt.no_grad():
        for start in range(0, len(x), batch_size):
            logits, target = model(prepare(x[start:start + batch_size])), y[start:start + batch_size]
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(1) == target).sum().item())
    model.train()
    return loss / max(len(x), 1), correct / max(len(x), 1)


def evaluate(model, x, y, batch_size: int = EVAL_BATCH, prepare: Callable[[Tensor], Tensor] = _same) -> float:
    """Top-1 accuracy of model on (prepare(x), y)."""
    return evaluate_loss_accuracy(model, x, y, batch_size, prepare)[1]


class _Run:
    """One training run: the data, model, optimizer, schedule and position, and the loop over them."""

    def __init__(self, config: Config, progress: bool, log: Callable[[str], None]) -> None:
        import tritensor as tt

        from .data import DataLoader, TensorDataset

        # --nproc: one rank of a data-parallel run; rank 0 alone logs, draws progress and writes checkpoints
        self.parallel = DataParallel(config.nproc, config.batch_size)
        log = self.parallel.log(log)
        self.config, self.progress, self.log = config, progress and self.parallel.is_main, log
        try:
            x_train, y_train, x_test, y_test = load_data(config)
        except FileNotFoundError as exc:  # files removed since the checks ran
            from .data.datasets import FASHION_MNIST_ROOT

            raise TrainError(fashion_mnist_missing(f"in {config.data_root or FASHION_MNIST_ROOT}")) from exc
        except ValueError as exc:  # a damaged IDX file
            raise TrainError(f"{config.dataset}: {exc}") from exc
        except ImportError as exc:
            raise TrainError(str(exc)) from exc
        self.device = tt.empty(0, device=config.device).device  # canonical: cuda -> cuda:0
        log(f"device: {describe_device(self.device)}")
        log(f"data: {config.dataset}, {len(x_train)} train / {len(x_test)} test samples; model: {config.model} "
            f"(hidden {config.hidden}); optimizer: {config.optimizer} (lr {config.lr}); batch {config.batch_size}")
        tt.manual_seed(config.seed)
        self.model = self.parallel.wrap(
            build_model(config, x_train[0].numel(), image_shape=tuple(x_train[0].shape)).to(self.device))
        if self.parallel.active:
            log(f"data parallel: {self.parallel.world} ranks (mpi), {config.batch_size // self.parallel.world} "
                "samples per rank and step")
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.amp = train_optim.MixedPrecision(config.amp, self.device.type)
        if config.amp:
            log(self.amp.describe())
        batch = config.batch_size // self.parallel.world
        per_rank = -(-len(x_train) // self.parallel.world)  # DistributedSampler pads to equal shares
        self.steps_per_epoch = -(-per_rank // batch)
        self.scheduler = build_scheduler(self.optimizer, config.epochs * self.steps_per_epoch, config.scheduler)
        self.shuffle = tt.Generator().manual_seed(config.seed)
        self.x_test, self.y_test = x_test.to(self.device), y_test.to(self.device)
        self.prepare = image_input(config)
        # Workers build batches from host memory (pinned for the copy to a GPU); in-process batches are sliced
        # from the device copy directly. The loader's generator fixes the order either way.
        workers = config.workers
        train_set = TensorDataset(x_train, y_train) if workers else \
            TensorDataset(x_train.to(self.device), y_train.to(self.device))
        self.sampler = self.parallel.sampler(train_set, config.seed)
        self.loader = DataLoader(train_set, batch_size=batch, shuffle=self.sampler is None, sampler=self.sampler,
                                 generator=self.shuffle,
                                 num_workers=workers, persistent_workers=workers > 0,
                                 pin_memory=workers > 0 and self.device.type == "cuda")
        # Position: `epoch` whole epochs plus `step` steps of the next, and that epoch's running loss.
        self.epoch, self.step, self.loss_sum, self.seen, elapsed = 0, 0, 0.0, 0, 0.0
        self.samples = 0  # trained on by this process (samples/s)
        if config.resume:
            elapsed = self._restore()
        main = self.parallel.is_main
        self.metrics_log = MetricsLog(config.metrics if main else None,
                                      tensorboard=config.tensorboard if main else None,
                                      resume_step=self.global_step if config.resume else None)
        self.start = time.perf_counter() - elapsed

    @property
    def global_step(self) -> int:
        """Optimizer steps since the start of the run (resumed runs included)."""
        return self.epoch * self.steps_per_epoch + self.step

    def _restore(self) -> float:
        from . import io

        checkpoint = io.load(self.config.resume, map_location=self.device)
        self.parallel.unwrap(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        train_optim.load_scaler(self.amp, checkpoint)
        self.shuffle.set_state(checkpoint["shuffle_state"])
        self.epoch, self.step = int(checkpoint["epoch"]), int(checkpoint.get("step_in_epoch", 0))
        self.loss_sum, self.seen = float(checkpoint.get("epoch_loss_sum", 0.0)), int(checkpoint.get("epoch_seen", 0))
        where = f"after epoch {self.epoch}" if self.step == 0 else \
            f"at epoch {self.epoch + 1}, step {self.step}/{self.steps_per_epoch}"
        self.log(f"resumed from {self.config.resume} {where}")
        return float(checkpoint.get("elapsed_s", 0.0))

    def save(self, shuffle_state: dict, accuracy: float | None = None) -> None:
        """Write the checkpoint of the current position (shuffle_state: the generator at the epoch's start)."""
        from . import io

        if not self.parallel.is_main:
            return
        io.save({"model": self.parallel.unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.amp.scaler.state_dict(),
                 "epoch": self.epoch, "step_in_epoch": self.step,
                 "epoch_loss_sum": self.loss_sum, "epoch_seen": self.seen, "shuffle_state": shuffle_state,
                 "config": checkpoint_config(self.config), "elapsed_s": time.perf_counter() - self.start,
                 "test_accuracy": accuracy}, self.config.save)

    def _batches(self):
        """The current epoch's remaining batches (a resumed epoch replays its order and skips the steps done)."""
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)  # every rank draws the same permutation of this epoch
        batches = iter(self.loader)
        for _ in range(self.step):
            next(batches)
        if not self.progress:
            return batches
        from tqdm import tqdm

        return tqdm(batches, desc=f"epoch {self.epoch + 1}/{self.config.epochs}", unit="batch", leave=False,
                    file=sys.stderr, dynamic_ncols=True, total=self.steps_per_epoch, initial=self.step)

    def _interrupt(self, shuffle_state: dict | None) -> Interrupted:
        if shuffle_state is not None and self.config.save:
            self.save(shuffle_state)
        return Interrupted(self.epoch, self.step, self.steps_per_epoch, self.config.epochs, self.config.save)

    def run_epoch(self, stop: StopRequest, metrics: Metrics) -> None:
        """Train to the end of the current epoch (raises Interrupted at a step boundary on Ctrl-C)."""
        from .nn import functional as F

        shuffle_state = self.shuffle.get_state()  # the permutation this epoch is about to draw
        epoch_start = time.perf_counter()
        bar = self._batches()
        try:
            for x, y in bar:
                lr = self.optimizer.param_groups[0]["lr"]
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

                def closure(x=x, y=y):
                    self.optimizer.zero_grad()
                    with self.amp.autocast():
                        loss = F.cross_entropy(self.model(self.prepare(x)), y)
                    self.amp.backward(loss)
                    return loss

                loss = self.amp.step(self.optimizer, closure)
                if train_optim.steps_per_step(self.config.scheduler):
                    self.scheduler.step()
                value = self.parallel.mean(loss.item())
                samples = len(y) * self.parallel.world
                self.step, self.loss_sum, self.seen = self.step + 1, self.loss_sum + value * samples, \
                    self.seen + samples
                self.samples += samples
                metrics.step_losses.append(value)
                self.metrics_log.add("step", epoch=self.epoch + 1, step=self.global_step, loss=value, accuracy=None,
                                     lr=lr, time_s=time.perf_counter() - self.start)
                if self.progress:
                    rate = self.seen / max(time.perf_counter() - epoch_start, 1e-9)
                    bar.set_postfix(loss=f"{self.loss_sum / self.seen:.4f}", samples_s=f"{rate:,.0f}", refresh=False)
                if stop.requested:
                    raise self._interrupt(shuffle_state)
        finally:
            if self.progress:
                bar.close()
        self._end_epoch(metrics, time.perf_counter() - epoch_start)

    def _end_epoch(self, metrics: Metrics, seconds: float) -> None:
        config, seen = self.config, self.seen
        test_loss, accuracy = evaluate_loss_accuracy(self.model, self.x_test, self.y_test, prepare=self.prepare)
        if not train_optim.steps_per_step(config.scheduler):
            self.scheduler.step(test_loss)
        train_loss = self.loss_sum / max(seen, 1)
        self.epoch, self.step, self.loss_sum, self.seen = self.epoch + 1, 0, 0.0, 0
        metrics.epoch_train_loss.append(train_loss)
        metrics.epoch_test_accuracy.append(accuracy)
        metrics.epoch_seconds.append(seconds)
        metrics.test_accuracy = accuracy
        self.metrics_log.add("eval", epoch=self.epoch, step=self.global_step, loss=test_loss, train_loss=train_loss,
                             accuracy=accuracy, lr=self.optimizer.param_groups[0]["lr"],
                             time_s=time.perf_counter() - self.start)
        if config.save:
            self.save(self.shuffle.get_state(), accuracy)
        self.log(f"epoch {self.epoch}/{config.epochs}  train loss {train_loss:.4f}  test accuracy "
                 f"{accuracy:.4f}  ({seconds:.2f} s, {seen / max(seconds, 1e-9):,.0f} samples/s)"
                 + ("  [saved]" if config.save else ""))


def train(config: Config | None = None, *, progress: bool = True, log: Callable[[str], None] = print,
          **overrides) -> Metrics | TextMetrics:
    """Train (and evaluate after every epoch; a text model every eval_interval steps); returns the metrics
    (TextMetrics for --dataset shakespeare). Options as Config's fields, e.g.
    train(dataset="fashion-mnist", epochs=2, device="cpu"). Every option is checked first (TrainError).
    Ctrl-C (SIGINT, in the main thread) stops at the next step boundary, writes the checkpoint when `save`
    is set and raises Interrupted (a KeyboardInterrupt)."""
    config = resolve(Config(**{**asdict(config or Config()), **overrides}))
    with profiling(config.profile, config.device, log):
        return _train(config, progress, log)


def _train(config: Config, progress: bool, log: Callable[[str], None]) -> Metrics | TextMetrics:
    """Run a resolved config (see `train`)."""
    if config.model in TEXT_MODELS:
        return train_text(config, progress, log)
    run = _Run(config, progress, log)
    metrics = Metrics(device=str(run.device), epochs=config.epochs, test_accuracy=float("nan"),
                      start_epoch=run.epoch, records=run.metrics_log.records)
    start = time.perf_counter()
    try:
        with StopRequest() as stop:
            if run.epoch >= config.epochs:
                metrics.test_accuracy = evaluate(run.model, run.x_test, run.y_test, prepare=run.prepare)
            while run.epoch < config.epochs:
                run.run_epoch(stop, metrics)
                if stop.requested and run.epoch < config.epochs:
                    raise run._interrupt(None)  # the epoch's checkpoint was just written
    finally:
        run.metrics_log.close()
        run.parallel.close()
    metrics.seconds = time.perf_counter() - start
    metrics.samples_per_second = run.samples / max(metrics.seconds, 1e-9)
    done, log = config.epochs - metrics.start_epoch, run.log
    log(f"done: {done} epoch{'s' if done != 1 else ''} on {run.device} in {metrics.seconds:.2f} s "
        f"({metrics.samples_per_second:,.0f} samples/s); test accuracy {metrics.test_accuracy:.4f}"
        + (f"; checkpoint {config.save}" if config.save else ""))
    if config.plot and run.parallel.is_main:
        plot_metrics(metrics.records, config.plot, title=f"tritensor train: {config.model} on {config.dataset}")
        log(f"plot: {config.plot}")
    return metrics


def main(args) -> int:
    """Run the job from parsed CLI arguments; returns the exit status (0 done, 2 bad options, 130 Ctrl-C)."""
    from dataclasses import fields

    config = Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
    try:
        train(config, progress=not args.no_progress)
    except TrainError as exc:
        print(f"tritensor train: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        if exc.checkpoint is None:
            print(f"tritensor train: {exc}; nothing saved (--save CKPT makes a run resumable)", file=sys.stderr)
        else:
            command = resume_command(config, exc.checkpoint) + (" --no-progress" if args.no_progress else "")
            print(f"tritensor train: {exc}; checkpoint saved to {exc.checkpoint}; resume with: {command}",
                  file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("tritensor train: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. the disk filled up while writing a checkpoint
        print(f"tritensor train: error: {exc}", file=sys.stderr)
        return 1
    return 0
