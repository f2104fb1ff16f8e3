"""tritensor.distributed on two ranks through mpiexec (the rank scripts beside this file), and as a singleton.

Each mpiexec run batches many checks; the test names every check that failed on any rank.
"""

from __future__ import annotations

from tests.distributed import mpirun, ranks_collectives, ranks_misc


def test_collectives_against_numpy_on_two_ranks():
    result = mpirun.run("ranks_collectives.py")
    mpirun.assert_all_passed(result, ranks_collectives.checks.names)


def test_p2p_groups_objects_errors_and_debug_checks_on_two_ranks():
    result = mpirun.run("ranks_misc.py")
    mpirun.assert_all_passed(result, ranks_misc.checks.names)


def test_a_rank_that_raises_ends_the_whole_job_quickly():
    result = mpirun.run("ranks_raise.py", timeout=60)
    assert result.returncode != 0, result.output
    assert "[rank 1] uncaught ValueError: boom from rank 1" in result.output, result.output
    assert "MPI_Abort" in result.output, result.output
    assert "rank 0 was not aborted" not in result.output, result.output
    assert result.seconds < 30, f"the job took {result.seconds:.1f} s to end"


def test_a_collective_a_peer_joins_late_times_out_naming_the_operation():
    result = mpirun.run("ranks_timeout.py", timeout=60)
    found = result.checks()
    assert found == {"async_timeout": {0: "PASS"}, "late_completion": {0: "PASS", 1: "PASS"},
                     "sync_timeout": {1: "PASS"}}, result.output
    assert result.returncode == 0 and "done rank=0" in result.output and "done rank=1" in result.output, \
        result.output


def test_a_process_without_mpiexec_is_a_world_of_one():
    result = mpirun.run("single_process.py", n=None, timeout=60)
    assert result.returncode == 0 and "PASS single_process rank=0" in result.output, result.output
