"""Process-level parallelism for the batch path's partitions (normalising distinct values,
comparing pair partitions).

Partitions are independent by design, so they map onto worker processes as they will later map
onto a distributed engine. Workers are forked so they inherit the read-only inputs (the record
table, the function to apply) instead of receiving them pickled. ``MPI_WORKERS`` (default: the
machine's cores) sets the number; 1 runs everything in-process.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

_TASK: Callable[[Any], Any] | None = None
_IN_WORKER = False


# Starting a kernel's threads costs more than this many string comparisons save (measured with
# rapidfuzz: two threads only break even near 20,000 Jaro-Winkler pairs).
ITEMS_PER_THREAD = 10_000


def threads_per_task(items: int | None = None) -> int:
    """Threads a C-level kernel (rapidfuzz) may use for ``items`` pieces of work: one in a worker
    or for small inputs (the real-time path), else up to all cores, ``ITEMS_PER_THREAD`` each."""
    if _IN_WORKER or (items is not None and items < 2 * ITEMS_PER_THREAD):
        return 1
    n = workers()
    return n if items is None else max(1, min(n, items // ITEMS_PER_THREAD))


def _mark_worker() -> None:
    global _IN_WORKER
    _IN_WORKER = True


def workers() -> int:
    """How many processes to use: ``MPI_WORKERS`` if set, else the available cores."""
    env = os.environ.get("MPI_WORKERS", "")
    if env.strip().isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _can_fork() -> bool:
    return sys.platform != "win32" and "fork" in multiprocessing.get_all_start_methods()


def _run(item: Any) -> Any:
    assert _TASK is not None
    return _TASK(item)


def map_partitions(task: Callable[[Any], Any], items: Sequence[Any], min_items: int = 2) -> list[Any]:
    """``[task(i) for i in items]``, spread over forked workers when there is enough to share.

    ``task`` may be any callable (a closure over large read-only data is fine: workers inherit
    it by forking). Results come back in order.
    """
    global _TASK
    n = workers()
    if n <= 1 or len(items) < min_items or not _can_fork():
        return [task(i) for i in items]
    _TASK = task
    try:
        with multiprocessing.get_context("fork").Pool(min(n, len(items)), initializer=_mark_worker) as pool:
            return pool.map(_run, items, chunksize=1)
    finally:
        _TASK = None
