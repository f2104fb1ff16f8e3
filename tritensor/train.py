"""The `tritensor train` job: an MLP on Digits or Fashion-MNIST with tritensor's nn, optim and data.

`train()` is the library entry point (it returns the metrics); `tritensor train ...` parses arguments
and calls it. A checkpoint (--save, written atomically after every epoch with tt.save) holds the model,
the optimizer, the shuffling generator's state and the epoch, so --resume continues exactly where the
saved run stopped: the resumed run's numbers are those an uninterrupted run would have printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MODELS = ("mlp", "cnn")
DATASETS = ("digits", "fashion-mnist")
OPTIMIZERS = ("adam", "sgd")

# Per-dataset defaults: enough for the stated accuracy in seconds on a CPU.
DEFAULT_EPOCHS = {"digits": 15, "fashion-mnist": 2}
DEFAULT_HIDDEN = {"digits": 128, "fashion-mnist": 256}
DEFAULT_LR = {("adam", "digits"): 3e-3, ("adam", "fashion-mnist"): 1e-3, ("sgd", "digits"): 0.05,
              ("sgd", "fashion-mnist"): 0.05}
EVAL_BATCH = 1000


class TrainError(Exception):
    """A configuration the job can't run (the CLI prints it and exits with status 2)."""


@dataclass
class Config:
    model: str = "mlp"
    dataset: str = "digits"
    epochs: int | None = None  # default: DEFAULT_EPOCHS[dataset]
    batch_size: int = 64
    lr: float | None = None  # default: DEFAULT_LR[optimizer, dataset]
    optimizer: str = "adam"
    device: str | None = None  # default: cuda when a GPU is present, else cpu
    seed: int = 0
    limit_train: int | None = None  # train on the first N training samples only
    limit_test: int | None = None  # evaluate on the first N test samples only
    hidden: int | None = None  # default: DEFAULT_HIDDEN[dataset]
    save: str | None = None
    resume: str | None = None
    data_root: str | None = None  # Fashion-MNIST folder (default: where Debian's package installs it)


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _default_device() -> str:
    from .cuda import driver

    return "cuda" if driver.device_count() > 0 else "cpu"


def _resolve(config: Config) -> Config:
    if config.model not in MODELS:
        raise TrainError(f"unknown model {config.model!r}; choose from {', '.join(MODELS)}")
    if config.model == "cnn":
        raise TrainError("--model cnn needs convolution and pooling layers (nn.Conv2d, nn.MaxPool2d), which come in "
                         "a later issue; use --model mlp for now")
    if config.dataset not in DATASETS:
        raise TrainError(f"unknown dataset {config.dataset!r}; choose from {', '.join(DATASETS)}")
    if config.optimizer not in OPTIMIZERS:
        raise TrainError(f"unknown optimizer {config.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    resolved = Config(**asdict(config))
    resolved.epochs = DEFAULT_EPOCHS[config.dataset] if config.epochs is None else config.epochs
    resolved.lr = DEFAULT_LR[config.optimizer, config.dataset] if config.lr is None else config.lr
    resolved.hidden = DEFAULT_HIDDEN[config.dataset] if config.hidden is None else config.hidden
    resolved.device = config.device or _default_device()
    if resolved.epochs < 0 or resolved.batch_size <= 0 or resolved.hidden <= 0:
        raise TrainError("--epochs must be >= 0, --batch-size and --hidden > 0")
    if any(n is not None and n <= 0 for n in (resolved.limit_train, resolved.limit_test)):
        raise TrainError("--limit-train and --limit-test must be positive")
    return resolved


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


def build_model(config: Config, in_features: int, classes: int = 10):
    from . import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, config.hidden), nn.ReLU(),
                         nn.Linear(config.hidden, classes))


def build_optimizer(config: Config, params):
    from . import optim

    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr)
    return optim.SGD(params, lr=config.lr, momentum=0.9)


def build_scheduler(optimizer, total_steps: int):
    """Cosine decay of the learning rate to 0 over the whole run, stepped per batch: the last epochs
    average out the minibatch noise instead of ending on a random fluctuation."""
    from .optim.lr_scheduler import CosineAnnealingLR

    return CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))


def evaluate(model, x, y, batch_size: int = EVAL_BATCH) -> float:
    """Top-1 accuracy of model on (x, y)."""
    import tritensor as tt

    correct = 0
    model.eval()
    with tt.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start:start + batch_size])
            correct += int((logits.argmax(1) == y[start:start + batch_size]).sum().item())
    model.train()
    return correct / max(len(x), 1)


def _checkpoint_config(config: Config) -> dict[str, Any]:
    return {"model": config.model, "dataset": config.dataset, "hidden": config.hidden,
            "optimizer": config.optimizer, "limit_train": config.limit_train, "batch_size": config.batch_size,
            "epochs": config.epochs}


def train(config: Config | None = None, *, progress: bool = True, log: Callable[[str], None] = print,
          **overrides) -> Metrics:
    """Train (and evaluate after every epoch); returns the metrics. Options as Config's fields, e.g.
    train(dataset="fashion-mnist", epochs=2, device="cpu")."""
    import tritensor as tt

    from . import io
    from .data import DataLoader, TensorDataset
    from .nn import functional as F

    config = _resolve(Config(**{**asdict(config or Config()), **overrides}))
    device = tt.device(config.device)
    if device.type == "cuda" and not tt.cuda.is_available():
        raise TrainError("--device cuda: no CUDA GPU is available (set TRITON_INTERPRET=1 to run the Triton kernels "
                         "in Triton's interpreter instead; slow, for testing)")
    try:
        x_train, y_train, x_test, y_test = load_data(config)
    except (FileNotFoundError, ImportError) as exc:
        raise TrainError(str(exc)) from exc
    device = tt.empty(0, device=device).device  # canonical: cuda -> cuda:0
    log(f"device: {_describe(device)}")
    log(f"data: {config.dataset}, {len(x_train)} train / {len(x_test)} test samples; model: {config.model} "
        f"(hidden {config.hidden}); optimizer: {config.optimizer} (lr {config.lr}); batch {config.batch_size}")

    tt.manual_seed(config.seed)
    in_features = x_train[0].numel()
    model = build_model(config, in_features).to(device)
    optimizer = build_optimizer(config, model.parameters())
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    scheduler = build_scheduler(optimizer, config.epochs * steps_per_epoch)
    shuffle = tt.Generator().manual_seed(config.seed)
    start_epoch = 0
    if config.resume:
        checkpoint = io.load(config.resume, map_location=device)
        saved, wanted = checkpoint.get("config", {}), _checkpoint_config(config)
        if saved != wanted:
            differ = ", ".join(f"{k}={saved.get(k)!r} there, {v!r} here" for k, v in wanted.items()
                               if saved.get(k) != v)
            raise TrainError(f"{config.resume} continues a different run ({differ}): resume with that run's options")
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        shuffle.set_state(checkpoint["shuffle_state"])
        start_epoch = int(checkpoint["epoch"])
        log(f"resumed from {config.resume} after epoch {start_epoch}")

    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=config.batch_size, shuffle=True,
                        generator=shuffle)
    metrics = Metrics(device=str(device), epochs=config.epochs, test_accuracy=float("nan"), start_epoch=start_epoch)
    if start_epoch >= config.epochs:
        metrics.test_accuracy = evaluate(model, x_test, y_test)
    run_start = time.perf_counter()
    samples = 0
    for epoch in range(start_epoch, config.epochs):
        epoch_start = time.perf_counter()
        total_loss, seen = 0.0, 0
        bar = _progress(loader, epoch, config.epochs, progress)
        for x, y in bar:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            value = loss.item()
            metrics.step_losses.append(value)
            total_loss += value * len(y)
            seen += len(y)
            if progress:
                elapsed = time.perf_counter() - epoch_start
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", samples_s=f"{seen / max(elapsed, 1e-9):,.0f}",
                                refresh=False)
        if progress:
            bar.close()
        seconds = time.perf_counter() - epoch_start
        samples += seen
        accuracy = evaluate(model, x_test, y_test)
        metrics.epoch_train_loss.append(total_loss / max(seen, 1))
        metrics.epoch_test_accuracy.append(accuracy)
        metrics.epoch_seconds.append(seconds)
        metrics.test_accuracy = accuracy
        if config.save:
            io.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch + 1,
                     "shuffle_state": shuffle.get_state(), "config": _checkpoint_config(config),
                     "test_accuracy": accuracy}, config.save)
        log(f"epoch {epoch + 1}/{config.epochs}  train loss {total_loss / max(seen, 1):.4f}  test accuracy "
            f"{accuracy:.4f}  ({seconds:.2f} s, {seen / max(seconds, 1e-9):,.0f} samples/s)"
            + ("  [saved]" if config.save else ""))
    metrics.seconds = time.perf_counter() - run_start
    metrics.samples_per_second = samples / max(metrics.seconds, 1e-9)
    done = config.epochs - start_epoch
    log(f"done: {done} epoch{'s' if done != 1 else ''} on {device} in {metrics.seconds:.2f} s "
        f"({metrics.samples_per_second:,.0f} samples/s); test accuracy {metrics.test_accuracy:.4f}"
        + (f"; checkpoint {config.save}" if config.save else ""))
    return metrics


def _describe(device) -> str:
    import tritensor as tt

    if device.type == "cpu":
        return "cpu (NumPy reference ops)"
    if tt.cuda.uses_interpreter():
        return f"{device} (Triton kernels in Triton's interpreter: slow, for testing)"
    from .cuda import driver

    return f"{device} ({driver.name(device.index or 0)}, Triton kernels)"


def _progress(loader, epoch: int, epochs: int, enabled: bool):
    if not enabled:
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False, file=sys.stderr,
                dynamic_ncols=True)


def add_arguments(parser) -> None:
    """The `tritensor train` options."""
    parser.add_argument("--model", choices=MODELS, default="mlp", help="mlp (cnn comes with conv layers later)")
    parser.add_argument("--dataset", choices=DATASETS, default="digits",
                        help="digits: scikit-learn's 8x8 digits (pip install tritensor[datasets]); fashion-mnist: "
                             "Debian's dataset-fashion-mnist package (or --data-root)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"default: {DEFAULT_EPOCHS['digits']} for digits, {DEFAULT_EPOCHS['fashion-mnist']} for "
                             "fashion-mnist")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate, decayed to 0 by a cosine schedule (default: adam 3e-3 on digits, "
                             "1e-3 on fashion-mnist; sgd (momentum 0.9) 0.05)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda when a GPU is present, else cpu (cuda with TRITON_INTERPRET=1 runs the "
                             "Triton kernels in the interpreter: slow, for testing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-train", type=int, default=None, metavar="N", help="train on the first N samples")
    parser.add_argument("--limit-test", type=int, default=None, metavar="N", help="evaluate on the first N samples")
    parser.add_argument("--hidden", type=int, default=None, help="hidden units (default 128 digits, 256 fashion)")
    parser.add_argument("--save", default=None, metavar="CKPT", help="write a checkpoint after every epoch")
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    """Run the job from parsed CLI arguments; returns the exit status."""
    from dataclasses import fields

    config = Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
    try:
        train(config, progress=not args.no_progress)
    except TrainError as exc:
        print(f"tritensor train: error: {exc}", file=sys.stderr)
        return 2
    return 0
