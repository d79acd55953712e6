"""Spread a pack job's units over its CPU cores: forked worker processes of one thread each.

A pack job (many personas' adapters in one job) pays the imports and the base model load once; on a
CPU its `threads` are better spent as that many single-thread workers than as intra-op threads of one
process: the demo model's small matrices gain 1.15-1.3x from a second torch thread, a second worker
doubles the throughput (benchmarks/README.md, `train_packing.py`). The workers are forked AFTER the
parent has loaded everything, so they share its imports and base model (copy-on-write) and start in
milliseconds; each one is a process of its own, with its own torch random state, so a unit trained
in a worker is exactly the unit trained in the parent.

CUDA cannot be forked once initialised: on a GPU, `workers_for` says 1 (batching is the GPU's way).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# The function the forked workers run: inherited through fork, never pickled (it closes over the
# loaded model and data).
_FORKED: Callable | None = None

__all__ = ["fork_map", "workers_for"]


def workers_for(threads: int, units: int, device: str) -> int:
    """How many forked workers a job of `threads` threads uses for `units` units on `device`."""
    if device != "cpu" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(int(threads), int(units)))


def _init_worker(threads: int) -> None:
    import torch

    from adaptcommand.runtime import die_with_parent

    die_with_parent()  # a killed job takes its workers with it
    torch.set_num_threads(threads)


def _call(item):
    return _FORKED(item)


def fork_map(fn: Callable[[T], R], items: Sequence[T], workers: int, threads: int = 1) -> list[R]:
    """[fn(item) for item in items], computed by `workers` forked processes of `threads` torch threads
    each (items handed out one at a time, results in item order). With one worker, or one item, it
    runs in this process. A worker's exception is re-raised here; the items not yet started are
    cancelled."""
    global _FORKED
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    if _FORKED is not None:
        raise RuntimeError("fork_map does not nest")
    _FORKED = fn
    try:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(threads,),
        )
        try:
            results = list(pool.map(_call, items))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results
    finally:
        _FORKED = None
