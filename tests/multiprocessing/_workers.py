"""Module-level functions the multiprocessing tests run in child processes (spawn pickles them by name)."""

import sys

import tritensor.multiprocessing  # noqa: F401 - registers the tensor reduction in the child


def fill_row(i, shared, value):
    """Rank i writes `value + i` into row i of a tensor the parent shares."""
    shared[i] = value + i


def fail_on_rank_one(i):
    """Rank 1 raises; rank 0 returns."""
    if i == 1:
        raise ValueError("rank one failed on purpose")


def exit_with_code(i):
    """Rank 0 exits with code 3 without raising."""
    if i == 0:
        sys.exit(3)


def add_one_and_reply(inbox, outbox):
    """Take a tensor from `inbox`, add 1 to it in place, send it back and report its sum; stay alive until the
    parent says so (a descriptor sent back is fetched from this process when the parent unpickles it)."""
    t = inbox.get(timeout=60)
    t.add_(1)
    outbox.put((float(t.sum().item()), t.is_shared(), t))
    inbox.get(timeout=60)
