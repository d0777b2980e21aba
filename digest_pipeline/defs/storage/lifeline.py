"""Step workers end with their run worker.

Dagster's multiprocess executor runs each step in a child process and offers no option to stop
the children when the run worker dies: after a ``kill -9`` of the run, its step processes carry
on writing (and one may hang on its event queue for ever). The warehouse resources, which every
step writing the warehouse initializes, call :func:`exit_with_parent`: in a process started by
:mod:`multiprocessing` (a step worker, never the run worker itself) a daemon thread waits on the
parent's sentinel — no polling — and when the parent is gone interrupts the step through its
SIGINT handler (Dagster's step workers install one: the transaction rolls back, the failure is
recorded) and, if the process is still alive after ``grace_seconds`` (or SIGINT is ignored),
exits it. Its PostgreSQL session ends with it, releasing its locks.
"""

from __future__ import annotations

import _thread
import multiprocessing
import os
import sys
import threading
import time
from multiprocessing.connection import wait

GRACE_SECONDS = 10.0
EXIT_CODE = 70

_started: set[int] = set()
_lock = threading.Lock()


def exit_with_parent(grace_seconds: float = GRACE_SECONDS) -> bool:
    """Watch this process's :mod:`multiprocessing` parent; True if a watch runs (once a process)."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return False  # not a step worker (the run worker, a test, the webserver)
    with _lock:
        if os.getpid() in _started:
            return True
        _started.add(os.getpid())
    threading.Thread(
        target=_watch,
        args=(parent.sentinel, parent.pid, grace_seconds),
        name="exit-with-parent",
        daemon=True,
    ).start()
    return True


def _watch(sentinel: int, parent_pid: int | None, grace_seconds: float) -> None:
    wait([sentinel])
    sys.stderr.write(
        f"digest_pipeline: run worker {parent_pid} is gone; stopping step worker {os.getpid()}\n"
    )
    _thread.interrupt_main()
    time.sleep(grace_seconds)
    os._exit(EXIT_CODE)
