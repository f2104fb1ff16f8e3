"""Run bench/overhead_probe.py for this checkout and for an earlier revision, alternately, in one run.

    python bench/compare_revision.py e867681 [--rounds 3]

The revision is checked out into a temporary git worktree and installed (editable, no dependencies) into a
temporary virtual environment that reuses this environment's packages; each round runs both probes in turn
and the figures reported are each side's minimum over the rounds, with after/before ratios (the machine is
shared and noisy: only ratios from the same run mean anything).
"""

from __future__ import annotations

import argparse
import json
import os
import site
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "bench" / "overhead_probe.py"


def _install(revision: str, work: Path) -> Path:
    """A virtual environment whose tritensor is `revision` (other packages come from this environment)."""
    tree, venv = work / "tree", work / "venv"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "parent-env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(tree)], check=True)
    return python


def _probe(python: str, cwd: Path) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TRITON_INTERPRET", None)
    out = subprocess.run([python, str(PROBE)], check=True, capture_output=True, text=True, cwd=cwd, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revision", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before_python = _install(args.revision, work)
        try:
            runs = {"before": [], "after": []}
            for _ in range(args.rounds):
                runs["before"].append(_probe(str(before_python), work))
                runs["after"].append(_probe(sys.executable, work))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "tree")],
                           check=False, capture_output=True)
    best = {side: {k: min(r[k] for r in rs) for k in rs[0]} for side, rs in runs.items()}
    for key in best["after"]:
        ratio = best["after"][key] / best["before"][key]
        print(f"{key:26s} before {best['before'][key]:9.2f}  after {best['after'][key]:9.2f}  ratio {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
