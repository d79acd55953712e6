"""adaptcommand.parallel: a pack job's units over forked single-thread workers."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from adaptcommand.parallel import fork_map, workers_for


def test_workers_share_the_parents_state_and_return_in_order():
    loaded = {"model": list(range(100))}  # what a pack job loads before forking

    def work(i):
        return i, os.getpid(), sum(loaded["model"]) + i

    out = fork_map(work, list(range(6)), workers=2)
    assert [i for i, _, _ in out] == list(range(6))
    assert [s for _, _, s in out] == [4950 + i for i in range(6)]
    pids = {pid for _, pid, _ in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # done in the workers, not here


def test_one_worker_or_one_item_runs_here():
    assert fork_map(lambda i: os.getpid(), [0, 1], workers=1) == [os.getpid()] * 2
    assert fork_map(lambda i: os.getpid(), [0], workers=4) == [os.getpid()]


def test_a_workers_error_is_raised_here():
    def work(i):
        if i == 2:
            raise ValueError(f"unit {i} has no train dialogues")
        return i

    with pytest.raises(ValueError, match="unit 2 has no train dialogues"):
        fork_map(work, list(range(4)), workers=2)
    # and the module is usable again afterwards
    assert fork_map(lambda i: i * 2, [1, 2], workers=2) == [2, 4]


def test_a_killed_worker_fails_the_job_instead_of_hanging():
    def work(i):
        if i == 1:
            os._exit(9)  # as the kernel's OOM killer would
        return i

    with pytest.raises(BrokenProcessPool):
        fork_map(work, [0, 1, 2, 3], workers=2)


def test_worker_count():
    assert workers_for(2, 12, "cpu") == 2
    assert workers_for(4, 3, "cpu") == 3  # never more workers than units
    assert workers_for(1, 12, "cpu") == 1
    assert workers_for(8, 12, "cuda") == 1  # CUDA cannot be forked
