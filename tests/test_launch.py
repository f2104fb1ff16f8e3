"""`tritensor run`: N ranks through mpiexec with PyTorch's rank variables, the script's own argv, scripts and
modules; a failing rank ends the whole job quickly with its error; bad arguments are one-line errors."""

import json
import time

from tritensor import cli, launch

RANK_SCRIPT = """
import json, os, sys
out = {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_PORT")}
out["argv"] = sys.argv[1:]
out["name"] = __name__
with open(os.path.join(OUT, "rank%s.json" % os.environ["RANK"]), "w") as f:
    json.dump(out, f)
"""


def _script(tmp_path, body: str, name: str = "job.py"):
    path = tmp_path / name
    path.write_text(f"OUT = {str(tmp_path)!r}\n" + body)
    return path


def test_ranks_get_pytorchs_variables_and_the_scripts_argv(tmp_path):
    script = _script(tmp_path, RANK_SCRIPT)
    assert cli.main(["run", "--nproc-per-node", "2", str(script), "--epochs", "3", "x"]) == 0
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, seen in enumerate(ranks):
        assert seen == {"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r), "LOCAL_WORLD_SIZE": "2",
                        "MASTER_PORT": "29500", "argv": ["--epochs", "3", "x"], "name": "__main__"}


def test_module_mode(tmp_path, monkeypatch):
    _script(tmp_path, RANK_SCRIPT, "rankmod.py")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert cli.main(["run", "--nproc-per-node", "2", "--master-port", "29611", "-m", "rankmod", "a"]) == 0
    seen = json.loads((tmp_path / "rank1.json").read_text())
    assert seen["argv"] == ["a"] and seen["MASTER_PORT"] == "29611" and seen["RANK"] == "1"


def test_a_failing_rank_ends_the_job_with_its_error(tmp_path, capfd):
    script = _script(tmp_path, "import os, time\n"
                               "if os.environ['RANK'] == '1':\n    raise ValueError('bad batch on rank one')\n"
                               "time.sleep(120)\n")
    start = time.perf_counter()
    status = cli.main(["run", "--nproc-per-node", "2", str(script)])
    elapsed = time.perf_counter() - start
    err = capfd.readouterr().err
    assert status != 0 and elapsed < 30, (status, elapsed)
    assert "rank 1 failed" in err and "ValueError: bad batch on rank one" in err


def test_bad_arguments(tmp_path, capsys):
    assert cli.main(["run", "--nproc-per-node", "2", str(tmp_path / "missing.py")]) == 2
    assert "no such script" in capsys.readouterr().err
    script = _script(tmp_path, "pass\n")
    assert cli.main(["run", "--nproc-per-node", "0", str(script)]) == 2
    assert "--nproc-per-node must be a positive integer, got 0" in capsys.readouterr().err


def test_rank_environment_without_mpiexec_is_rank_0_of_1():
    env = launch.rank_environment({}, 29500)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("0", "1", "0")
    env = launch.rank_environment({"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1"}, 1234)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["MASTER_PORT"]) == ("3", "4", "1", "1234")
