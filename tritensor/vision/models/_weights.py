"""The `weights=` argument of the model builders: None only, as nothing is downloaded."""

from __future__ import annotations

from typing import Any


def check_weights(builder: str, weights: Any) -> None:
    """Raise unless weights is None: tritensor fetches no pretrained weights (torchvision downloads them)."""
    if weights is not None:
        raise ValueError(f"{builder}(weights={weights!r}): pretrained weights are not supported, tritensor downloads "
                         "nothing; use weights=None, then load a state_dict you have (its keys are torchvision's) "
                         "with model.load_state_dict(...).")
