"""One training step under `tt.autocast("cpu")` (bfloat16) against the same step in float32, in the same run:
the MLP (784-256-10) and the CNN of `tritensor train` on a batch of 64, Adam. Compare the two means of one group
(the machine is shared); nothing asserts on time.

    python -m pytest bench/test_amp_bench.py --benchmark-only --benchmark-group-by=group

Launches per GradScaler step on cuda are counted by `python bench/launch_counts.py --grad-scaler`.
"""

import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("build", [_mlp, _cnn], ids=["mlp", "cnn"])
def test_train_step(benchmark, build, amp):
    benchmark.group = f"amp step: {build.__name__[1:]}"
    tt.manual_seed(0)
    model = build()
    opt = tt.optim.Adam(model.parameters(), lr=1e-3)
    x, y = tt.randn(64, 1, 28, 28), tt.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        with tt.autocast("cpu", enabled=amp):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    first = step()
    last = benchmark(step)
    assert last < first  # the timed steps keep training the same batch
