"""Training steps of the models `tritensor autotune --model` and `tritensor selftest` run.

Each model builds what one step needs on a device and returns a `Step`: calling it runs forward,
loss, backward and the optimizer step once. Models land here as their layers do (cnn after the
convolution kernels, lstm and gpt after the recurrent and attention ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tritensor as tt

PLANNED = ("cnn", "lstm", "gpt")  # accepted names whose layers have not landed yet


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


def mlp_step(device: str, batch: int = 64, in_features: int = 64, hidden: int = 128, classes: int = 10,
             seed: int = 0) -> Step:
    """The `tritensor train` MLP (Flatten, Linear, ReLU, Linear) with cross-entropy and Adam."""
    tt.manual_seed(seed)
    model = tt.nn.Sequential(tt.nn.Flatten(), tt.nn.Linear(in_features, hidden), tt.nn.ReLU(),
                             tt.nn.Linear(hidden, classes)).to(device)
    x = tt.randn(batch, in_features, device=device)
    y = tt.randint(0, classes, (batch,), device=device)
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
    criterion = tt.nn.CrossEntropyLoss()

    def run() -> float:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        run.nodes = graph_nodes(loss)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    run.nodes = 0
    return Step(model, run, list(model.parameters()))


MODELS = {"mlp": mlp_step}


def build_step(name: str, device: str) -> Step:
    """The Step of model `name` on `device` (ValueError names the models there are)."""
    check_model(name)
    return MODELS[name](device)


def check_model(name: str) -> None:
    """ValueError unless `name` is a model this job can run (the message names those there are)."""
    if name in MODELS:
        return
    if name in PLANNED:
        raise ValueError(f"--model {name}: its layers have not landed yet; models available now: "
                         + ", ".join(MODELS))
    raise ValueError(f"unknown model {name!r}; choose from: {', '.join(MODELS)}")
