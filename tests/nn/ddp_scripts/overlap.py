"""DDP's first all_reduce starts while backward still computes gradients (run by tests/nn/test_ddp.py via
mpiexec): a bucket holding only the last layer's parameters is launched before backward reaches the input."""

from __future__ import annotations

from buckets import Recorder, data, mlp
from common import done, setup

import tritensor.nn.functional as F
from tritensor.nn.parallel import DistributedDataParallel


def main() -> None:
    rank, world = setup()
    module = mlp()
    rec = Recorder(list(module.parameters()))  # logged before DDP's own hook of the same parameter
    ddp = DistributedDataParallel(module, bucket_cap_mb=1e-9, find_unused_parameters=True)  # a bucket per param
    x, y = data(rank, world)
    x.requires_grad_()
    x.register_hook(lambda g: rec.events.append(("input grad",)))  # the last gradient backward computes
    with rec:
        F.mse_loss(ddp(x), y).backward()
    kinds = [e[0] for e in rec.events]
    assert kinds.index("all_reduce") < kinds.index("input grad"), rec.events
    last_param_grad = max(i for i, k in enumerate(kinds) if k == "grad")
    assert kinds.index("all_reduce") < last_param_grad, rec.events
    done("overlap", rank)


if __name__ == "__main__":
    main()
