"""The text job of `tritensor train`: a character-level LSTM or GPT on Shakespeare (`--dataset shakespeare`).

Each step draws `batch_size` random windows of `block_size + 1` characters from the training split (a seeded
generator, so a run is repeatable and a checkpoint resumes it exactly) and minimises the next-character
cross-entropy. Every `eval_interval` steps, and at the end, the mean loss over fixed windows of both splits is
logged (nats per character), and the checkpoint (--save) is written with the vocabulary, which `tritensor generate`
needs to turn ids back into text.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from . import train_optim
from .creation import arange, randint
from .data import DataLoader, Dataset, Sampler
from .metrics import MetricsLog, plot_metrics
from .tensor import Tensor
from .train_args import Config, TrainError, checkpoint_config
from .train_control import Interrupted, StopRequest, describe_device
from .train_parallel import DataParallel

__all__ = ["TextMetrics", "build_text_model", "train_text", "EVAL_WINDOWS"]

EVAL_WINDOWS = 256  # windows per split and evaluation: 16k characters, a loss estimate good to about 0.02
EVAL_CHUNK = 64
EVAL_SEED = 1234  # the evaluation windows are the same at every evaluation and in every run
GPT_LAYERS, GPT_HEADS, LSTM_LAYERS = 4, 4, 2
GRAD_CLIP = 1.0


@dataclass
class TextMetrics:
    """What a text run measured; `train()` returns it for --dataset shakespeare."""

    device: str
    steps: int
    val_loss: float
    eval_steps: list[int] = field(default_factory=list)
    eval_train_loss: list[float] = field(default_factory=list)
    eval_val_loss: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)  # since the run's start, at each evaluation
    step_losses: list[float] = field(default_factory=list)
    tokens_per_second: float = 0.0
    seconds: float = 0.0
    start_step: int = 0
    vocab: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The metrics as plain Python data."""
        return asdict(self)


def build_text_model(config: Config, vocab_size: int):
    """config.model's language model: GPT (4 layers, 4 heads, width config.hidden, context config.block_size) or
    CharLSTM (2 layers of config.hidden units)."""
    from .models import GPT, CharLSTM

    if config.model == "gpt":
        return GPT(vocab_size, block_size=config.block_size, n_layer=GPT_LAYERS, n_head=GPT_HEADS,
                   n_embd=config.hidden)
    return CharLSTM(vocab_size, hidden=config.hidden, num_layers=LSTM_LAYERS, sparse=config.optimizer == "sparseadam")


def _optimizer(config: Config, model):
    """config.optimizer at config.lr. Adam/AdamW take AdamW's decoupled weight decay (betas 0.9/0.99, decay 0.1
    on matrices only, as nanoGPT); sparseadam is SparseAdam on the sparse embedding with Adam on the rest; the
    others take their defaults."""
    from . import nn, optim

    if config.optimizer == "sparseadam":
        sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
        dense = [p for p in model.parameters() if all(p is not s for s in sparse)]
        return train_optim.SparseDenseAdam(sparse, dense, config.lr)
    if config.optimizer not in ("adam", "adamw"):
        return train_optim.build_optimizer(config.optimizer, model.parameters(), config.lr)
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))


class _Windows(Dataset):
    """The windows of a split by start offsets: windows[starts] is the (x, y) batch of the block_size-character
    windows at `starts`, y shifted by one character. Indexed by a whole batch of starts (a DataLoader with
    batch_size=None), so a worker builds a batch with one gather."""

    def __init__(self, data: Tensor, block_size: int) -> None:
        self.data, self.offsets = data, arange(block_size + 1, device=data.device)

    def __len__(self) -> int:
        return len(self.data) - len(self.offsets) + 1

    def __getitem__(self, starts: Tensor) -> tuple[Tensor, Tensor]:
        chunk = self.data[starts.to(self.data.device)[:, None] + self.offsets]
        return chunk[:, :-1], chunk[:, 1:]


class _WindowStarts(Sampler):
    """The steps' random window starts (batch_size each), drawn from `generator` in step order. It keeps the
    generator's state before each draw the run has not consumed yet, so a checkpoint records the state of the
    step the run has reached even while workers prefetch batches ahead of it."""

    def __init__(self, generator, high: int, batch_size: int, steps: int) -> None:
        self.generator, self.high, self.batch_size, self.steps = generator, high, batch_size, steps
        self.pending: deque = deque()

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Tensor]:
        for _ in range(self.steps):
            self.pending.append(self.generator.get_state())
            yield randint(0, self.high, (self.batch_size,), generator=self.generator)

    def consumed(self) -> None:
        """The oldest drawn batch was trained on."""
        self.pending.popleft()

    def state(self) -> Any:
        """The generator state that draws the next unconsumed batch."""
        return self.pending[0] if self.pending else self.generator.get_state()


def _logits(output):
    return output[0] if isinstance(output, tuple) else output  # CharLSTM also returns its state


class _TextRun:
    """One text run: the splits, model, optimizer, schedule, batch generator and position."""

    def __init__(self, config: Config, progress: bool, log: Callable[[str], None]) -> None:
        import tritensor as tt

        from .data.shakespeare import Shakespeare

        # --nproc: one rank of a data-parallel run; rank 0 alone logs, draws progress and writes checkpoints
        self.parallel = DataParallel(config.nproc, config.batch_size)
        log = self.parallel.log(log)
        self.config, self.progress, self.log = config, progress and self.parallel.is_main, log
        try:
            self.train_set = Shakespeare("train", block_size=config.block_size)
            self.val_set = Shakespeare("val", block_size=config.block_size, vocab=self.train_set.vocab)
        except (ImportError, OSError) as exc:
            raise TrainError(str(exc)) from exc
        self.device = tt.empty(0, device=config.device).device
        log(f"device: {describe_device(self.device)}")
        train_chars = len(self.train_set.text) if config.limit_train is None else \
            min(config.limit_train, len(self.train_set.text))
        if train_chars <= config.block_size:
            raise TrainError(f"--limit-train {config.limit_train} leaves no window of --block-size "
                             f"{config.block_size} characters")
        self.train_data = self.train_set.data[:train_chars].to(self.device)
        self.val_data = self.val_set.data.to(self.device)
        log(f"data: shakespeare, {train_chars:,} train / {len(self.val_set.text):,} validation characters, "
            f"vocabulary {self.train_set.vocab_size}; model: {config.model} (width {config.hidden}, context "
            f"{config.block_size}); optimizer: {config.optimizer} (lr {config.lr}); batch {config.batch_size}")
        tt.manual_seed(config.seed)
        model = build_text_model(config, self.train_set.vocab_size).to(self.device)
        self.optimizer = _optimizer(config, model)
        self.model = self.parallel.wrap(model)
        if self.parallel.active:
            log(f"data parallel: {self.parallel.world} ranks (mpi), {config.batch_size // self.parallel.world} "
                "windows per rank and step")
        self.scheduler = train_optim.build_scheduler(config.scheduler, self.optimizer, config.steps)
        self.amp = train_optim.MixedPrecision(config.amp, self.device.type)
        if config.amp:
            log(self.amp.describe())
        # each rank draws its own windows (rank 0 those of a single-process run); together they make the batch
        self.batches = tt.Generator().manual_seed(config.seed + self.parallel.rank)
        evaluation = tt.Generator().manual_seed(EVAL_SEED)
        self.eval_starts = [tt.randint(0, len(data) - config.block_size, (EVAL_WINDOWS,), generator=evaluation)
                            for data in (self.train_data, self.val_data)]
        self.step, elapsed = 0, 0.0
        if config.resume:
            elapsed = self._restore()
        # Workers gather the windows from host memory (pinned for the copy to a GPU); in-process batches are
        # gathered from the device copy directly. Either way the starts come from self.batches in step order.
        train_data = self.train_set.data[:train_chars] if config.workers else self.train_data
        self.starts = _WindowStarts(self.batches, len(self.train_data) - config.block_size,
                                    config.batch_size // self.parallel.world, config.steps - self.step)
        self.loader = DataLoader(_Windows(train_data, config.block_size), batch_size=None, sampler=self.starts,
                                 num_workers=config.workers,
                                 pin_memory=config.workers > 0 and self.device.type == "cuda")
        main = self.parallel.is_main
        self.metrics_log = MetricsLog(config.metrics if main else None,
                                      tensorboard=config.tensorboard if main else None,
                                      resume_step=self.step if config.resume else None)
        self.start = time.perf_counter() - elapsed

    def _restore(self) -> float:
        from . import io

        checkpoint = io.load(self.config.resume, map_location=self.device)
        if checkpoint.get("vocab") != self.train_set.vocab:
            raise TrainError(f"--resume {self.config.resume}: its vocabulary differs from this dataset's")
        self.parallel.unwrap(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        train_optim.load_scaler(self.amp, checkpoint)
        states = checkpoint["shuffle_state"]  # one per rank in a data-parallel run
        self.batches.set_state(states[self.parallel.rank] if isinstance(states, list) else states)
        self.step = int(checkpoint["step_in_epoch"])
        self.log(f"resumed from {self.config.resume} at step {self.step}/{self.config.steps}")
        return float(checkpoint.get("elapsed_s", 0.0))

    def save(self, val_loss: float | None) -> None:
        """Write the checkpoint of the current position, with the vocabulary."""
        from . import io

        shuffle_state = self.parallel.gather(self.starts.state())  # every rank's generator, on every rank
        if not self.parallel.is_main:
            return
        io.save({"model": self.parallel.unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.amp.scaler.state_dict(), "epoch": 0,
                 "step_in_epoch": self.step,
                 "shuffle_state": shuffle_state, "config": checkpoint_config(self.config),
                 "vocab": self.train_set.vocab, "elapsed_s": time.perf_counter() - self.start,
                 "val_loss": val_loss}, self.config.save)

    def split_loss(self, data, starts) -> float:
        """Mean next-character cross-entropy over the windows at `starts`."""
        import tritensor as tt

        from .nn import functional as F

        total, windows = 0.0, _Windows(data, self.config.block_size)
        with tt.no_grad():
            for begin in range(0, len(starts), EVAL_CHUNK):
                x, y = windows[starts[begin:begin + EVAL_CHUNK]]
                logits = _logits(self.model(x))
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                         reduction="sum").item()
        return total / (len(starts) * self.config.block_size)

    def evaluate(self, metrics: TextMetrics, tokens_per_second: float) -> float:
        """Log train and validation loss at the current step; returns the validation loss."""
        self.model.eval()
        train_loss, val_loss = (self.split_loss(data, starts) for data, starts in
                                zip((self.train_data, self.val_data), self.eval_starts))
        self.model.train()
        now = time.perf_counter() - self.start
        metrics.eval_steps.append(self.step)
        metrics.eval_train_loss.append(train_loss)
        metrics.eval_val_loss.append(val_loss)
        metrics.eval_seconds.append(now)
        metrics.val_loss = val_loss
        if not train_optim.steps_per_step(self.config.scheduler):
            self.scheduler.step(val_loss)
        self.metrics_log.add("eval", epoch=None, step=self.step, loss=val_loss, train_loss=train_loss,
                             accuracy=None, lr=self.optimizer.param_groups[0]["lr"], time_s=now)
        if self.config.save:
            self.save(val_loss)
        self.log(f"step {self.step}/{self.config.steps}  train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
                 f"({now:.1f} s, {tokens_per_second:,.0f} tokens/s)" + ("  [saved]" if self.config.save else ""))
        return val_loss

    def _bar(self):
        batches = iter(self.loader)
        if not self.progress:
            return batches
        from tqdm import tqdm

        return tqdm(batches, desc="train", unit="step", leave=False, file=sys.stderr, dynamic_ncols=True,
                    total=self.config.steps, initial=self.step)

    def train_step(self, x: Tensor, y: Tensor) -> float:
        """One optimizer step on the batch (x, y) of windows; returns its loss."""
        from .nn import functional as F
        from .nn.utils import clip_grad_norm_

        config = self.config
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

        def closure():
            self.optimizer.zero_grad()
            with self.amp.autocast():
                logits = _logits(self.model(x))
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            self.amp.backward(loss)
            self.amp.unscale_(self.optimizer)  # clip the true gradients, not fp16's scaled ones
            # sparse gradients (sparseadam's embedding) are not clipped: PyTorch's norms do not take them either
            clip_grad_norm_([p for p in self.model.parameters() if p.grad is None or not p.grad.is_sparse],
                            GRAD_CLIP)
            return loss

        loss = self.amp.step(self.optimizer, closure)
        if train_optim.steps_per_step(config.scheduler):
            self.scheduler.step()
        return self.parallel.mean(loss.item())

    def run(self, stop: StopRequest, metrics: TextMetrics) -> None:
        """Train to config.steps, evaluating every eval_interval steps and at the end."""
        config, tokens, began = self.config, 0, time.perf_counter()
        bar = self._bar()
        try:
            for x, y in bar:
                value = self.train_step(x, y)
                self.starts.consumed()
                self.step += 1
                tokens += config.batch_size * config.block_size
                rate = tokens / max(time.perf_counter() - began, 1e-9)
                metrics.step_losses.append(value)
                self.metrics_log.add("step", epoch=None, step=self.step, loss=value, accuracy=None,
                                     lr=self.optimizer.param_groups[0]["lr"], time_s=time.perf_counter() - self.start)
                if self.progress:
                    bar.set_postfix(loss=f"{value:.4f}", tokens_s=f"{rate:,.0f}", refresh=False)
                if self.step % config.eval_interval == 0 or self.step == config.steps:
                    self.evaluate(metrics, rate)
                if stop.requested and self.step < config.steps:
                    if config.save:
                        self.save(None)
                    raise Interrupted(0, self.step, config.steps, 1, config.save)
        finally:
            if self.progress:
                bar.close()
        metrics.tokens_per_second = tokens / max(time.perf_counter() - began, 1e-9)


def train_text(config: Config, progress: bool, log: Callable[[str], None]) -> TextMetrics:
    """Run a resolved text config (see `tritensor.train.train`); returns the metrics."""
    run = _TextRun(config, progress, log)
    metrics = TextMetrics(device=str(run.device), steps=config.steps, val_loss=float("nan"), start_step=run.step,
                          vocab=run.train_set.vocab, records=run.metrics_log.records)
    start = time.perf_counter()
    try:
        with StopRequest() as stop:
            if run.step >= config.steps:
                run.evaluate(metrics, 0.0)
            else:
                run.run(stop, metrics)
    finally:
        run.metrics_log.close()
        run.parallel.close()
    metrics.seconds = time.perf_counter() - start
    log = run.log
    log(f"done: {config.steps - metrics.start_step} steps on {run.device} in {metrics.seconds:.2f} s "
        f"({metrics.tokens_per_second:,.0f} tokens/s); validation loss {metrics.val_loss:.4f} nats/char"
        + (f"; checkpoint {config.save}" if config.save else ""))
    if config.plot and run.parallel.is_main:
        plot_metrics(metrics.records, config.plot, title=f"tritensor train: {config.model} on shakespeare")
        log(f"plot: {config.plot}")
    return metrics
