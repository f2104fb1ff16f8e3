"""`tritensor run`: torchrun's role on top of MPICH's mpiexec.

    tritensor run --nproc-per-node 2 train.py --epochs 3
    tritensor run --nproc-per-node 2 -m mypackage.train

mpiexec starts the processes (ranks) and wires them together; each one starts in `child_main`, which turns the
process manager's variables (PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS) into the ones PyTorch programs
read (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and then runs the script or
module as `__main__`. `tt.distributed.init_process_group("mpi")` (or `init_method="env://"`) in the script
then finds its rank. If a rank fails, mpiexec ends the others and the job exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALL = 'pip install "tritensor[distributed]"'
# Where a failing rank writes its report for the launcher to print. A rank's own stderr is not enough: MPI_Abort
# makes mpiexec kill the job, and output still in flight from the rank to mpiexec can be lost with it.
REPORTS_VARIABLE = "TRITENSOR_RUN_REPORTS"


def mpiexec() -> str:
    """The mpiexec of the running environment (the mpich wheel's), else the one on PATH."""
    local = Path(sys.executable).with_name("mpiexec")
    if local.exists():
        return str(local)
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(f"tritensor run starts its processes with MPICH's mpiexec, which is not installed: "
                                f"{INSTALL}")
    return found


def command(nproc: int, target: list[str], module: bool = False, master_port: int = 29500) -> list[str]:
    """The mpiexec command line that runs `target` (script and arguments, or module and arguments) on nproc
    ranks of this machine."""
    child = [sys.executable, "-m", "tritensor.launch", "--master-port", str(master_port)]
    return [mpiexec(), "-n", str(nproc), *child, *(["-m"] if module else []), *target]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `tritensor run` options."""
    parser.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, metavar="N",
                        help="processes (ranks) to start on this machine (default 1)")
    parser.add_argument("--master-port", "--master_port", type=int, default=29500,
                        help="MASTER_PORT given to the ranks (nccl's rendezvous; default 29500)")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the target as a module (python -m), not a script path")
    parser.add_argument("target", help="the script (or, with -m, the module) each rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")


def main(args: argparse.Namespace) -> int:
    """Start the ranks and wait for them; returns mpiexec's exit status (2 for bad arguments)."""
    if args.nproc_per_node < 1:
        print(f"tritensor run: --nproc-per-node must be a positive integer, got {args.nproc_per_node}",
              file=sys.stderr)
        return 2
    if not args.module and not Path(args.target).is_file():
        print(f"tritensor run: no such script: {args.target}", file=sys.stderr)
        return 2
    try:
        cmd = command(args.nproc_per_node, [args.target, *args.args], args.module, args.master_port)
    except FileNotFoundError as exc:
        print(f"tritensor run: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tritensor-run-") as reports:
        try:
            status = subprocess.call(cmd, env={**os.environ, REPORTS_VARIABLE: reports})
        except KeyboardInterrupt:
            status = 130
        for report in sorted(Path(reports).iterdir()):
            sys.stderr.write(report.read_text())
        sys.stderr.flush()
    return status


def rank_environment(env: dict[str, str], master_port: int) -> dict[str, str]:
    """PyTorch's rank variables from the process manager's (a single process without mpiexec is rank 0 of 1)."""
    rank, size = env.get("PMI_RANK", "0"), env.get("PMI_SIZE", "1")
    return {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": env.get("MPI_LOCALRANKID", rank),
            "LOCAL_WORLD_SIZE": env.get("MPI_LOCALNRANKS", size), "MASTER_ADDR": env.get("MASTER_ADDR", "127.0.0.1"),
            "MASTER_PORT": env.get("MASTER_PORT", str(master_port))}


def child_main(argv: list[str]) -> None:
    """One rank: set the rank variables, then run the script or module as __main__ with its own argv."""
    parser = argparse.ArgumentParser(prog="python -m tritensor.launch")
    parser.add_argument("--master-port", type=int, default=29500)
    parser.add_argument("-m", dest="module", action="store_true")
    parser.add_argument("target")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    os.environ.update(rank_environment(dict(os.environ), args.master_port))
    sys.argv = [args.target, *args.args]
    try:  # join the MPI job now, so that a failing rank can end every other rank (see _abort_job)
        from mpi4py import MPI  # noqa: F401
    except ImportError:
        pass
    try:
        if args.module:
            runpy.run_module(args.target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(Path(args.target).resolve().parent))
            runpy.run_path(args.target, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _abort_job(exc)
        raise
    except BaseException as exc:
        _abort_job(exc)


def _abort_job(exc: BaseException) -> None:
    """Report this rank's failure, then end every rank: peers blocked in a collective (or simply still running)
    would otherwise wait forever for this one. MPI_Abort makes mpiexec kill the whole job."""
    import traceback

    rank = os.environ.get("RANK", "?")
    if isinstance(exc, SystemExit):
        detail = f"exit status {exc.code}" if isinstance(exc.code, int) else str(exc.code)
    else:
        detail = "".join(traceback.format_exception(exc)).rstrip()
    report = f"tritensor run: rank {rank} failed, ending the job:\n{detail}\n"
    reports = os.environ.get(REPORTS_VARIABLE)
    if reports:  # the launcher prints it once mpiexec has ended the job (see REPORTS_VARIABLE)
        Path(reports, f"rank{rank}.txt").write_text(report)
    else:
        sys.stderr.write(report)
        sys.stderr.flush()
    try:
        from mpi4py import MPI
    except ImportError:  # no MPI in this process: its own exit status reaches mpiexec
        os._exit(1)
    MPI.COMM_WORLD.Abort(1)


if __name__ == "__main__":
    child_main(sys.argv[1:])
