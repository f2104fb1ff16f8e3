"""Epoch time of the `tritensor train` MLPs on the cpu path against a plain NumPy implementation of the same
MLP (same initial weights, same shuffled batches, same Adam/SGD arithmetic), in the same run.

Target (issue 5): tritensor's epoch <= 1.3x NumPy's. Compare the means within each group; the machine is
shared and noisy. Run: python -m pytest bench/test_train_bench.py --benchmark-only -q
"""

import numpy as np
import pytest

import tritensor as tt
from tritensor import optim
from tritensor.data import DataLoader, TensorDataset
from tritensor.nn import functional as F
from tritensor.train import Config, build_model, load_data

CASES = {  # dataset -> (hidden, rounds)
    "digits": (128, 15),
    "fashion-mnist": (256, 2),
}
BATCH = 64
LR = 1e-3


def _setup(dataset: str, opt_name: str):
    hidden, _ = CASES[dataset]
    config = Config(dataset=dataset, hidden=hidden, device="cpu")
    x, y, _, _ = load_data(config)
    tt.manual_seed(0)
    model = build_model(config, x[0].numel())
    params = [p.detach().numpy().copy() for p in model.parameters()]  # the NumPy twin starts identical
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=tt.Generator().manual_seed(1))
    opt = optim.Adam(model.parameters(), lr=LR) if opt_name == "adam" else \
        optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, loader, params, x.numpy().reshape(len(x), -1), y.numpy()


def tritensor_epoch(model, opt, loader) -> list[float]:
    losses = []
    for x, y in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


class NumpyMLP:
    """Flatten -> Linear -> ReLU -> Linear, cross-entropy, hand-written backward, Adam or SGD (momentum)."""

    def __init__(self, params: list[np.ndarray], opt_name: str):
        self.params = params
        self.opt_name = opt_name
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, b1, w2, b2 = self.params
        h = x @ w1.T + b1
        a = np.maximum(h, 0)
        logits = a @ w2.T + b2
        shifted = logits - logits.max(1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(1, keepdims=True)
        n = len(y)
        loss = float(np.log(total[:, 0]).mean() - shifted[np.arange(n), y].mean())
        d_logits = exp / total
        d_logits[np.arange(n), y] -= 1
        d_logits /= n
        d_a = d_logits @ w2
        d_a[h <= 0] = 0
        grads = [d_a.T @ x, d_a.sum(0), d_logits.T @ a, d_logits.sum(0)]
        self.t += 1
        if self.opt_name == "adam":
            bc1, bc2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
            for p, g, m, v in zip(self.params, grads, self.m, self.v):
                m += 0.1 * (g - m)
                v *= 0.999
                v += 0.001 * g * g
                p -= (LR / bc1) * m / (np.sqrt(v) / bc2 ** 0.5 + 1e-8)
        else:
            for p, g, buf in zip(self.params, grads, self.m):
                if self.t == 1:
                    buf[...] = g
                else:
                    buf *= 0.9
                    buf += g
                p -= 0.05 * buf
        return loss


def numpy_epoch(net: NumpyMLP, x: np.ndarray, y: np.ndarray, order: list[np.ndarray]) -> list[float]:
    return [net.step(x[idx], y[idx]) for idx in order]


def _orders(loader, epochs: int) -> list[list[np.ndarray]]:
    """The index batches the loader's sampler draws, epoch by epoch (replayed from a copy of its generator)."""
    from tritensor.data import BatchSampler, RandomSampler

    g = tt.Generator().manual_seed(1)
    sampler = BatchSampler(RandomSampler(loader.dataset, generator=g), BATCH, False)
    return [[np.asarray(b) for b in sampler] for _ in range(epochs)]


@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
@pytest.mark.parametrize("dataset", list(CASES))
def test_numpy_twin_matches(dataset, opt_name):
    """Not a timing: the NumPy twin computes the same losses, so the timings compare like with like."""
    model, opt, loader, params, x, y = _setup(dataset, opt_name)
    net = NumpyMLP(params, opt_name)
    order = _orders(loader, 1)[0][:20]
    ours = []
    for idx in order:
        opt.zero_grad()
        loss = F.cross_entropy(model(tt.from_numpy(x[idx])), tt.from_numpy(y[idx]))
        loss.backward()
        opt.step()
        ours.append(loss.item())
    np.testing.assert_allclose(numpy_epoch(net, x, y, order), ours, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
@pytest.mark.parametrize("dataset", list(CASES))
def test_epoch_tritensor(benchmark, dataset, opt_name):
    benchmark.group = f"epoch {dataset} mlp {opt_name}"
    model, opt, loader, *_ = _setup(dataset, opt_name)
    tritensor_epoch(model, opt, loader)  # warm-up
    losses = benchmark.pedantic(tritensor_epoch, args=(model, opt, loader), rounds=CASES[dataset][1], iterations=1)
    assert np.isfinite(losses).all()


@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
@pytest.mark.parametrize("dataset", list(CASES))
def test_epoch_numpy(benchmark, dataset, opt_name):
    benchmark.group = f"epoch {dataset} mlp {opt_name}"
    _, _, loader, params, x, y = _setup(dataset, opt_name)
    net = NumpyMLP(params, opt_name)
    rounds = CASES[dataset][1]
    orders = iter(_orders(loader, rounds + 1))
    numpy_epoch(net, x, y, next(orders))  # warm-up
    losses = benchmark.pedantic(lambda: numpy_epoch(net, x, y, next(orders)), rounds=rounds, iterations=1)
    assert np.isfinite(losses).all()
