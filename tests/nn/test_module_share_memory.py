"""Module.share_memory: parameters and buffers move into shared memory in place, so a forked worker's updates
(Hogwild training, mnist_hogwild) reach the parent."""

from __future__ import annotations

import multiprocessing

import numpy as np

import tritensor as tt
from tritensor import nn


def _train_in_child(model) -> None:
    with tt.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(7.0)


def test_share_memory_keeps_identity_and_children_write_through():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    before = weight.detach().numpy().copy()
    assert model.share_memory() is model
    assert model[0].weight is weight and weight.is_shared() and model[1].running_mean.is_shared()
    child = multiprocessing.get_context("fork").Process(target=_train_in_child, args=(model,))
    child.start()
    child.join()
    assert child.exitcode == 0
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), before + 1.0)
    np.testing.assert_array_equal(model[1].running_mean.numpy(), [7.0, 7.0])
