"""Training steps of the models `tritensor autotune --model` and `tritensor selftest` run.

Each model builds what one step needs on a device and returns a `Step`: calling it runs forward,
loss, backward and the optimizer step once. The models are those `tritensor train` trains, at sizes that keep a
step in Triton's interpreter to seconds (`tritensor selftest --quick` runs each on cpu and interpreted cuda);
launch counts per step do not depend on the sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tritensor as tt


@dataclass
class Step:
    """One training step of a model, and what it is made of."""

    model: object
    run: Callable[[], float]  # one step; returns the loss
    parameters: list


def graph_nodes(loss) -> int:
    """Autograd nodes the forward pass recorded (the ops a step records, leaves excluded)."""
    seen, stack = set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(next_node for next_node, _ in node.next_functions)
    return sum(1 for _ in seen)


def _classifier_step(model, x, y) -> Step:
    """Cross-entropy of model(x) against labels y (for a (B, T, V) output: per position), with Adam."""
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> float:
        optimizer.zero_grad()
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out  # CharLSTM also returns its state
        loss = tt.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        run.nodes = graph_nodes(loss)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    run.nodes = 0
    return Step(model, run, list(model.parameters()))


def mlp_step(device: str, batch: int = 64, in_features: int = 64, hidden: int = 128, classes: int = 10,
             seed: int = 0) -> Step:
    """The `tritensor train` MLP (Flatten, Linear, ReLU, Linear) with cross-entropy and Adam."""
    tt.manual_seed(seed)
    model = tt.nn.Sequential(tt.nn.Flatten(), tt.nn.Linear(in_features, hidden), tt.nn.ReLU(),
                             tt.nn.Linear(hidden, classes)).to(device)
    x = tt.randn(batch, in_features, device=device)
    y = tt.randint(0, classes, (batch,), device=device)
    return _classifier_step(model, x, y)


def cnn_step(device: str, batch: int = 8, size: int = 12, hidden: int = 32, seed: int = 0) -> Step:
    """The `tritensor train --model cnn` network on (batch, size, size) images."""
    from ..train import Config, build_model

    tt.manual_seed(seed)
    model = build_model(Config(model="cnn", hidden=hidden), size * size, image_shape=(size, size)).to(device)
    x = tt.rand(batch, size, size, device=device)
    y = tt.randint(0, 10, (batch,), device=device)
    return _classifier_step(model, x, y)


def _text_step(kind: str, device: str, batch: int, block: int, hidden: int, vocab: int, seed: int) -> Step:
    from ..train_args import Config
    from ..train_text import build_text_model

    tt.manual_seed(seed)
    config = Config(model=kind, dataset="shakespeare", hidden=hidden, block_size=block)
    model = build_text_model(config, vocab).to(device)
    ids = tt.randint(0, vocab, (batch, block + 1), device=device)
    return _classifier_step(model, ids[:, :-1], ids[:, 1:])


def lstm_step(device: str, batch: int = 4, block: int = 16, hidden: int = 32, vocab: int = 40, seed: int = 0) -> Step:
    """The `tritensor train --model lstm` language model (embedding, 2-layer LSTM, linear) on random ids."""
    return _text_step("lstm", device, batch, block, hidden, vocab, seed)


def gpt_step(device: str, batch: int = 4, block: int = 16, hidden: int = 32, vocab: int = 40, seed: int = 0) -> Step:
    """The `tritensor train --model gpt` transformer (4 pre-norm blocks with SDPA, tied head) on random ids."""
    return _text_step("gpt", device, batch, block, hidden, vocab, seed)


MODELS = {"mlp": mlp_step, "cnn": cnn_step, "lstm": lstm_step, "gpt": gpt_step}


def build_step(name: str, device: str) -> Step:
    """The Step of model `name` on `device` (ValueError names the models there are)."""
    check_model(name)
    return MODELS[name](device)


def check_model(name: str) -> None:
    """ValueError unless `name` is a model this job can run (the message names those there are)."""
    if name in MODELS:
        return
    raise ValueError(f"unknown model {name!r}; choose from: {', '.join(MODELS)}")
