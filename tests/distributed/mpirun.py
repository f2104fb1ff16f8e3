"""Run a rank script under `mpiexec -n N` (or alone, as an MPI singleton) in a subprocess with a deadline.

The rank scripts print one line per check, `PASS <name> rank=<r>` or `FAIL <name> rank=<r>: <error>`; `checks()`
reads them back so a pytest test can name every check that failed on any rank.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_DROPPED = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCH_DISTRIBUTED_DEBUG")
ROOT = HERE.parents[1]


@dataclass
class Result:
    """What a run left: its exit status, stdout and stderr together, and its wall time in seconds."""

    returncode: int
    output: str
    seconds: float

    def checks(self) -> dict[str, dict[int, str]]:
        """{check name: {rank: "PASS" or the failure text}} from the PASS/FAIL lines."""
        found: dict[str, dict[int, str]] = {}
        for m in re.finditer(r"(PASS|FAIL) (\S+) rank=(\d+)(?::[ \t]*([^\n]*))?", self.output):
            status, name, rank, why = m.groups()
            found.setdefault(name, {})[int(rank)] = "PASS" if status == "PASS" else f"FAIL: {why}"
        return found


def mpiexec() -> str:
    """The mpiexec of the environment running the tests (the mpich wheel puts it beside python)."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise AssertionError("mpiexec not found: install the distributed extra (pip install -e '.[distributed]')")
    return found


def run(script: str, *args: str, n: int | None = 2, timeout: float = 90, env: dict | None = None) -> Result:
    """Run tests/distributed/<script> with `mpiexec -n n` (n=None: plain python, an MPI singleton)."""
    cmd = [sys.executable, str(HERE / script), *args]
    if n is not None:
        cmd = [mpiexec(), "-n", str(n), *cmd]
    full_env = dict(os.environ)
    full_env.update({"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "TRITON_INTERPRET": "1"})
    for name in list(full_env):   # an enclosing MPI job's or launcher's variables would confuse the ranks
        if name in _DROPPED or name.startswith(("PMI_", "HYDRA_")):
            del full_env[name]
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env,
                            cwd=ROOT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the session this run started: mpiexec and its ranks
        out, _ = proc.communicate()
        raise AssertionError(f"{' '.join(cmd)} did not finish within {timeout} s; its output:\n{out}") from None
    return Result(proc.returncode, out, time.monotonic() - start)


def assert_all_passed(result: Result, expected: list[str], ranks: int = 2) -> None:
    """Every expected check printed PASS on every rank, nothing printed FAIL, and the job exited 0."""
    found = result.checks()
    problems = []
    for name in expected:
        for r in range(ranks):
            status = found.get(name, {}).get(r, "not run")
            if status != "PASS":
                problems.append(f"{name} (rank {r}): {status}")
    problems += [f"{name} (rank {r}): {s}" for name, per in found.items() if name not in expected
                 for r, s in per.items() if s != "PASS"]
    if problems or result.returncode != 0:
        raise AssertionError(f"exit status {result.returncode}; failed checks:\n  " + "\n  ".join(problems)
                             + f"\n--- output ---\n{result.output[-6000:]}")
