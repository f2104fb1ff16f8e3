"""Process groups, as torch.distributed's: `init_process_group`, `new_group`, ranks, sizes, `destroy_process_group`.

Every group is an MPI communicator (mpi4py over MPICH): the default group duplicates MPI.COMM_WORLD, a
`new_group` is a sub-communicator of it. mpiexec starts the ranks and MPI says who is who; `init_method="env://"`
and explicit `rank=`/`world_size=` are checked against MPI's answer. A process started without mpiexec is an MPI
singleton: a world of one. The "nccl" backend adds an NCCL communicator (nccl4py) per group, bootstrapped over
that group's MPI communicator.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
import warnings
from datetime import timedelta

from . import backend_mpi

__all__ = [
    "Backend", "GroupMember", "ProcessGroup", "destroy_process_group", "get_backend",
    "get_default_backend_for_device", "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
    "is_available", "is_initialized", "is_mpi_available", "is_nccl_available", "new_group",
]

NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                   "init_process_group.")
_DEFAULT_TIMEOUT = timedelta(minutes=10)


class Backend(str):
    """A backend name, as torch.distributed.Backend: `Backend("MPI") == "mpi"`.

    tritensor has two: `Backend.MPI` (cpu tensors in place; cuda tensors staged through host memory) and
    `Backend.NCCL` (cuda tensors, on a GPU). PyTorch's cpu backend "gloo" names "mpi" here (CPU DDP scripts
    port unchanged under `tritensor run`). Any other name raises ValueError.
    """

    UNDEFINED = "undefined"
    MPI = "mpi"
    NCCL = "nccl"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = cls.MPI if name.lower() == "gloo" else name.lower()
        if value not in (cls.MPI, cls.NCCL, cls.UNDEFINED):
            raise ValueError(f"Invalid backend: '{name}'. tritensor.distributed supports 'mpi' (PyTorch's 'gloo' is "
                             "an alias of it) and 'nccl'")
        return str.__new__(cls, value)


class ProcessGroup:
    """A group of ranks that communicate together: an MPI communicator (and, for "nccl", an NCCL one).

    Made by `init_process_group` (the default group, `group.WORLD`) and `new_group`; pass it as `group=`.
    `rank()` and `size()` are this process's rank in the group and the group's size.
    """

    def __init__(self, comm, ranks: list[int], backend: str, timeout: timedelta, group_name: str) -> None:
        self._comm = comm
        self._ranks = list(ranks)
        self._group_rank = {g: i for i, g in enumerate(self._ranks)}
        self._rank = comm.Get_rank()
        self._backend = Backend(backend)
        self.timeout = timeout
        self.group_name = group_name
        self._nccl = None          # the nccl4py Communicator of a "nccl" group (backend_nccl)
        self._pg_options = None
        self._destroyed = False

    def rank(self) -> int:
        """This process's rank within the group."""
        return self._rank

    def size(self) -> int:
        """The number of ranks in the group."""
        return len(self._ranks)

    def name(self) -> str:
        """The backend's name ("mpi" or "nccl")."""
        return str(self._backend)

    def __repr__(self) -> str:
        return (f"<ProcessGroup {self.group_name!r} backend={self._backend} ranks={self._ranks} "
                f"rank={self._rank}>")

    def _to_group_rank(self, global_rank: int, what: str = "rank") -> int:
        """The group rank of a global rank; ValueError naming `what` if it is not a member."""
        if isinstance(global_rank, bool) or not isinstance(global_rank, int):
            raise TypeError(f"{what} must be an int, got {type(global_rank).__name__}")
        r = self._group_rank.get(global_rank)
        if r is None:
            raise ValueError(f"Invalid {what} {global_rank}: global rank {global_rank} is not part of group "
                             f"{self.group_name!r} (ranks {self._ranks})")
        return r


class _State:
    """The module's process-wide state: the default group and every group made since."""

    def __init__(self) -> None:
        self.default: ProcessGroup | None = None
        self.groups: list[ProcessGroup] = []
        self.prev_excepthook = None
        self.group_count = 0


_state = _State()


class _WorldMeta(type):
    @property
    def WORLD(cls) -> ProcessGroup | None:  # noqa: N802 (PyTorch's name)
        """The default process group (None before init_process_group)."""
        return _state.default


class GroupMember(metaclass=_WorldMeta):
    """`GroupMember.WORLD`: the default group; `GroupMember.NON_GROUP_MEMBER`: what `new_group` returns to a
    rank outside the new group (collectives given it return at once with a warning), as PyTorch's."""

    NON_GROUP_MEMBER = -100


class group(metaclass=_WorldMeta):  # noqa: N801 (PyTorch's name)
    """`group.WORLD`: the default process group, as torch.distributed.group.WORLD."""


# ---------------------------------------------------------------------------------------------- availability
def is_mpi_available() -> bool:
    """True if mpi4py is installed (`pip install tritensor[distributed]`); MPI itself starts at init."""
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    """True if nccl4py (`import nccl.core`) and mpi4py, which bootstraps it, are installed."""
    return is_mpi_available() and importlib.util.find_spec("nccl") is not None


def is_available() -> bool:
    """True if tritensor.distributed can run here: mpi4py is installed (every backend needs MPI)."""
    return is_mpi_available()


def is_initialized() -> bool:
    """True once init_process_group has run (and destroy_process_group has not)."""
    return _state.default is not None


# ---------------------------------------------------------------------------------------------- init
def _check_init_args(backend, init_method, timeout, store) -> Backend:
    """Argument checks of init_process_group, all before MPI starts."""
    if _state.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")
    if store is not None:
        raise ValueError("store= is not supported: tritensor.distributed bootstraps through MPI (launch the ranks "
                         "with mpiexec) and has no Store")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_method {init_method!r} is not supported: tritensor.distributed takes the ranks "
                         "from MPI; launch with mpiexec and pass init_method=None or 'env://'")
    return Backend(backend if backend is not None else Backend.MPI)


def _check_agreement(name: str, value: int, mpi_value: int, source: str) -> None:
    if value != -1 and value != mpi_value:
        raise ValueError(f"{source} gives {name} {value}, but MPI (mpiexec) says this process has {name} "
                         f"{mpi_value}: launch with `mpiexec -n <world_size>` and leave {name} unset, or make "
                         "them agree")


def _env_int(name: str) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return -1
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def _install_excepthook(rank: int, world_size: int) -> None:
    """An uncaught exception on any rank prints it with the rank, then aborts the whole MPI job (no hang)."""
    if _state.prev_excepthook is not None:
        return
    prev = sys.excepthook

    def hook(exc_type, exc, tb) -> None:
        if world_size == 1:            # nobody to wait for: Python's own report and exit
            prev(exc_type, exc, tb)
            return
        try:
            sys.stderr.write(f"[rank {rank}] uncaught {exc_type.__name__}: {exc}\n")
            sys.stderr.write("".join(f"[rank {rank}] {line}" for line in
                                     "".join(traceback.format_exception(exc_type, exc, tb)).splitlines(True)))
            sys.stderr.write(f"[rank {rank}] aborting the MPI job (MPI_Abort)\n")
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            backend_mpi.mpi().COMM_WORLD.Abort(1)

    _state.prev_excepthook = prev
    sys.excepthook = hook


def _restore_excepthook() -> None:
    if _state.prev_excepthook is not None:
        sys.excepthook = _state.prev_excepthook
        _state.prev_excepthook = None


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta = _DEFAULT_TIMEOUT, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    """Initialise the default process group, as torch.distributed.init_process_group.

    Launch the ranks with `mpiexec -n N python script.py`: MPI gives every process its rank and the world's size.
    `backend`: "mpi" (the default; cpu tensors are communicated in place, cuda tensors through host memory) or
    "nccl" (cuda tensors on a GPU, via nccl4py; its unique id is broadcast over MPI). `init_method` None or
    "env://": RANK and WORLD_SIZE from the environment, when set, and `rank`/`world_size`, when not -1, must agree
    with MPI's (MASTER_ADDR/MASTER_PORT are not needed: MPI is the rendezvous). A process started without mpiexec
    is a world of one. `timeout`: how long a collective may wait for its peers before it raises RuntimeError
    (mpi backend). `device_id` (nccl): the cuda device this rank uses. After init, an uncaught exception on any
    rank prints the rank and the error and ends the whole job (MPI_Abort) instead of leaving the others waiting.
    """
    backend = _check_init_args(backend, init_method, timeout, store)
    env_rank, env_world = _env_int("RANK"), _env_int("WORLD_SIZE")
    if backend == Backend.NCCL:
        from . import backend_nccl
        backend_nccl.check_available(device_id)
    MPI = backend_mpi.mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    _check_agreement("rank", env_rank, mpi_rank, "The environment (RANK)")
    _check_agreement("world_size", env_world, mpi_size, "The environment (WORLD_SIZE)")
    _check_agreement("rank", rank, mpi_rank, "init_process_group(rank=...)")
    _check_agreement("world_size", world_size, mpi_size, "init_process_group(world_size=...)")
    comm = world.Dup()         # the library's own communicator: a user's mpi4py traffic never matches ours
    pg = ProcessGroup(comm, list(range(mpi_size)), backend, timeout, group_name or "0")
    if backend == Backend.NCCL:
        from . import backend_nccl
        backend_nccl.attach(pg, device_id)
    pg._pg_options = pg_options
    _state.default = pg
    _state.groups = [pg]
    _state.group_count = 1
    _install_excepthook(mpi_rank, mpi_size)


def _free(pg: ProcessGroup) -> None:
    if pg._destroyed:
        return
    pg._destroyed = True
    if pg._nccl is not None:
        from . import backend_nccl
        backend_nccl.detach(pg)
    backend_mpi.free_comm(pg._comm)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free a process group; with no argument (or group.WORLD) the default group and every other group, after
    which init_process_group may be called again. MPI itself stays up until the process exits."""
    if group == GroupMember.NON_GROUP_MEMBER:
        return
    pg = _state.default if group is None else group
    if pg is None or pg not in _state.groups:
        raise ValueError("Invalid process group specified")
    if pg is _state.default:
        for g in reversed(_state.groups):
            _free(g)
        _state.groups = []
        _state.default = None
        _restore_excepthook()
    else:
        _free(pg)
        _state.groups.remove(pg)


# ---------------------------------------------------------------------------------------------- lookups
def resolve(group) -> ProcessGroup | None:
    """The ProcessGroup a collective's `group=` names (None: the default), or None when this rank is not a
    member (the collective then warns and returns). ValueError before init."""
    default = _state.default
    if default is None:
        raise ValueError(NOT_INITIALIZED)
    if group is None or group is default:
        return default
    if group == GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup returned by new_group, got {type(group).__name__}")
    if group._destroyed or group not in _state.groups:
        raise ValueError("Invalid process group specified")
    return group


def warn_not_in_group(op: str) -> None:
    """PyTorch's warning when a rank calls a collective on a group it is not a member of."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__):
        frame, level = frame.f_back, level + 1      # attribute the warning to the caller's line
    warnings.warn(f"Running {op} on global rank {get_rank()} which does not belong to the given group.",
                  stacklevel=level)


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in `group` (default: the default group), or -1 if it is not a member."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in `group` (default: the default group), or -1 if this rank is not a member."""
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_default_backend_for_device(device) -> str:
    """The backend for a device, as torch.distributed.get_default_backend_for_device: "mpi" for cpu (PyTorch's
    "gloo"), "nccl" for cuda."""
    kind = device if isinstance(device, str) else getattr(device, "type", None)
    kind = kind.split(":")[0] if isinstance(kind, str) else kind
    if kind == "cpu":
        return Backend.MPI
    if kind == "cuda":
        return Backend.NCCL
    raise ValueError(f"Default backend not registered for device : {device}")


def get_backend(group: ProcessGroup | None = None) -> Backend:
    """The backend of `group` (default: the default group): "mpi" or "nccl"."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    """The global ranks of `group`'s members, in group-rank order."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return list(pg._ranks)


def get_global_rank(group: ProcessGroup | None, group_rank: int) -> int:
    """The global rank of rank `group_rank` of `group`."""
    pg = resolve(group)
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return pg._ranks[group_rank]


def get_group_rank(group: ProcessGroup | None, global_rank: int) -> int:
    """The rank within `group` of global rank `global_rank` (ValueError if it is not a member)."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._to_group_rank(global_rank, "global rank")


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None, backend: str | None = None,
              pg_options=None, use_local_synchronization: bool = False, group_desc: str | None = None,
              device_id=None) -> ProcessGroup | int:
    """A new group of the given global ranks (None: all), as torch.distributed.new_group: an MPI sub-communicator.

    Every rank of the default group must call it with the same `ranks`, unless `use_local_synchronization=True`
    (then only the members call it). Group ranks follow the sorted global ranks. A rank outside `ranks` gets
    `GroupMember.NON_GROUP_MEMBER`. `timeout` and `backend` default to the default group's.
    """
    default = resolve(None)
    world_size = default.size()
    ranks = sorted(range(world_size) if ranks is None else ranks)
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < world_size:
            raise ValueError("The new group's rank should be within the world_size set by init_process_group "
                             f"(got rank {r!r}, world_size {world_size})")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks must be distinct, got {ranks}")
    timeout = default.timeout if timeout is None else timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout)}")
    backend = Backend(backend) if backend is not None else default._backend
    if backend == Backend.NCCL:
        from . import backend_nccl
        backend_nccl.check_available(device_id)
    _state.group_count += 1
    name = group_desc or str(_state.group_count - 1)
    member = default.rank() in ranks
    if use_local_synchronization and not member:
        return GroupMember.NON_GROUP_MEMBER
    comm = backend_mpi.sub_comm(default._comm, ranks, collective_over_all=not use_local_synchronization)
    if comm is None:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, backend, timeout, name)
    if backend == Backend.NCCL:
        from . import backend_nccl
        backend_nccl.attach(pg, device_id)
    pg._pg_options = pg_options
    _state.groups.append(pg)
    return pg
