"""tritensor.distributed: PyTorch's torch.distributed on real engines (MPI through mpi4py; NCCL through nccl4py).

    # mpiexec -n 2 python train.py
    import tritensor as tt
    import tritensor.distributed as dist

    dist.init_process_group("mpi")
    t = tt.ones(4) * (dist.get_rank() + 1)
    dist.all_reduce(t)                  # every rank: [3., 3., 3., 3.]
    dist.destroy_process_group()

Names, arguments, defaults and errors follow torch.distributed. Install the engines with
`pip install tritensor[distributed]` (mpi4py and the MPICH wheel, which provides `mpiexec`).
"""

from __future__ import annotations

from .collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
)
from .debug import DebugLevel, get_debug_level, set_debug_level, set_debug_level_from_env
from .objects import all_gather_object, broadcast_object_list, gather_object, scatter_object_list
from .p2p import P2POp, batch_isend_irecv, irecv, isend, recv, send
from .process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_default_backend_for_device,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
)
from .reduce_op import ReduceOp
from .scatter_gather import all_to_all, all_to_all_single, gather, scatter
from .work import Work

__all__ = [
    "Backend", "DebugLevel", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier",
    "batch_isend_irecv", "broadcast", "broadcast_object_list", "destroy_process_group", "gather", "gather_object",
    "get_backend", "get_default_backend_for_device", "get_debug_level", "get_global_rank", "get_group_rank",
    "get_process_group_ranks", "get_rank",
    "get_world_size", "group", "init_process_group", "irecv", "is_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "isend", "new_group", "recv", "reduce", "reduce_scatter",
    "reduce_scatter_tensor", "scatter", "scatter_object_list", "send", "set_debug_level",
    "set_debug_level_from_env",
]
