"""`tritensor train --nproc N`: the training job as one rank of N data-parallel processes.

`tritensor train --nproc N ...` restarts itself through `tritensor run` (mpiexec) as N ranks; in each,
`DataParallel` joins the process group (backend "mpi"), wraps the model in DistributedDataParallel, gives the
rank its DistributedSampler share of every epoch, and makes rank 0 the only one that logs, draws and writes
checkpoints. `--batch-size` stays the global batch: each rank trains on batch / N samples per step, and the
averaged gradients make every step the single-process step on the global batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .train_args import TrainError


def _silent(line: str) -> None:
    """The log of ranks other than 0."""


class DataParallel:
    """This process's place in a `--nproc` run (nproc 1: a plain single-process run, every method a pass-through)."""

    def __init__(self, nproc: int, batch_size: int) -> None:
        self.world, self.rank = 1, 0
        if nproc == 1:
            return
        launched = os.environ.get("WORLD_SIZE")
        if launched is None:
            raise TrainError(f"--nproc {nproc} runs through the `tritensor train` command, which starts the ranks "
                             "with mpiexec (pip install \"tritensor[distributed]\")")
        if int(launched) != nproc:
            raise TrainError(f"--nproc {nproc} does not match the {launched} ranks this process was started with")
        if batch_size % nproc:
            raise TrainError(f"--batch-size {batch_size} must be a multiple of --nproc {nproc} (each rank trains on "
                             "an equal share of the global batch)")
        from . import distributed as dist

        try:
            if not dist.is_initialized():
                dist.init_process_group("mpi")
        except ImportError as exc:
            raise TrainError(str(exc)) from exc
        self.world, self.rank = dist.get_world_size(), dist.get_rank()

    @property
    def active(self) -> bool:
        """True in a run of more than one rank."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that logs and writes checkpoints."""
        return self.rank == 0

    def log(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """`log` on rank 0, a silent one elsewhere."""
        return log if self.is_main else _silent

    def wrap(self, model):
        """The model in DistributedDataParallel (which broadcasts rank 0's weights), or itself."""
        if not self.active:
            return model
        from .nn.parallel import DistributedDataParallel

        try:
            return DistributedDataParallel(model)
        except NotImplementedError as exc:  # sparse gradients (--optimizer sparseadam's embedding)
            raise TrainError(f"--nproc: {exc}") from exc

    @staticmethod
    def unwrap(model):
        """The trained module itself (checkpoints hold its state_dict, without DDP's `module.` prefix)."""
        return getattr(model, "module", model)

    def sampler(self, dataset, seed: int):
        """This rank's DistributedSampler share of `dataset` (None in a single-process run)."""
        if not self.active:
            return None
        from .data import DistributedSampler

        return DistributedSampler(dataset, num_replicas=self.world, rank=self.rank, shuffle=True, seed=seed)

    def mean(self, value: float) -> float:
        """value averaged over the ranks (a step's loss over the global batch)."""
        if not self.active:
            return value
        import tritensor as tt

        from . import distributed as dist

        t = tt.tensor([value], dtype=tt.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def gather(self, state):
        """Every rank's `state`, in rank order (a list), on every rank; `state` itself in a single-process run."""
        if not self.active:
            return state
        from . import distributed as dist

        states = [None] * self.world
        dist.all_gather_object(states, state)
        return states

    def close(self) -> None:
        """Leave the process group at the end of the run."""
        if self.active:
            from . import distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
