"""Independent pieces of work run side by side on the machine's cores.

numpy releases the interpreter lock in its array operations, so threads run them at the same
time. Each task writes only its own results: the outcome does not depend on which finishes first.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


def workers() -> int:
    """How many tasks run at once: the cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_all(*tasks: Callable[[], Any]) -> list[Any]:
    """Call every task, side by side when there are cores for it; their results in the tasks'
    order. The first task's error (in that order) is raised once all have ended."""
    if len(tasks) < 2 or workers() < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(workers(), len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
    return [future.result() for future in futures]
