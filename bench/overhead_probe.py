"""Per-op overhead and one digits training epoch on the cpu path, for whichever tritensor this interpreter
imports; prints one JSON line. bench/compare_revision.py runs it for two revisions in the same run."""

import json
import timeit

import tritensor as tt
from tritensor import optim
from tritensor.data import DataLoader, TensorDataset
from tritensor.nn import functional as F
from tritensor.train import Config, build_model, load_data


def _best_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def _digits_epoch():
    config = Config(dataset="digits", hidden=128, device="cpu")
    x, y, _, _ = load_data(config)
    tt.manual_seed(0)
    model = build_model(config, x[0].numel())
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=tt.Generator().manual_seed(1))

    def epoch():
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def main() -> None:
    a, b = tt.ones(1), tt.ones(1)
    ag, bg = tt.ones(1, requires_grad=True), tt.ones(1, requires_grad=True)
    epoch = _digits_epoch()
    epoch()  # warm-up: first-call imports and caches
    print(json.dumps({
        "add_us": _best_us(lambda: tt.add(a, b), 20000),
        "add_recording_graph_us": _best_us(lambda: tt.add(ag, b), 20000),
        "add_sum_backward_us": _best_us(lambda: (ag + bg).sum().backward(), 5000),
        "digits_adam_epoch_ms": min(timeit.repeat(epoch, number=1, repeat=5)) * 1e3,
    }))


if __name__ == "__main__":
    main()
