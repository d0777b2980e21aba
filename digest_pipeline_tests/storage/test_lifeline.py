"""A step worker whose run worker is killed with SIGKILL stops: first interrupted (so its
transaction rolls back and the failure is recorded), then, if it hangs, ended after the grace."""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from digest_pipeline.defs.storage.lifeline import exit_with_parent

pytestmark = pytest.mark.chaos

FORK = multiprocessing.get_context("fork")


def _step_worker(folder: Path) -> None:
    # As in a Dagster step worker, which handles SIGINT (pytest-xdist workers ignore it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert exit_with_parent(grace_seconds=0.5)
    try:
        while True:  # writing, as a step would
            (folder / "heartbeat").write_text(str(time.monotonic()))
            time.sleep(0.02)
    except KeyboardInterrupt:
        (folder / "interrupted").touch()
        time.sleep(60)  # and then hung: only the hard exit after the grace ends it


def _run_worker(folder: Path) -> None:
    child = FORK.Process(target=_step_worker, args=(folder,))
    child.start()
    (folder / "child.pid").write_text(str(child.pid))
    child.join()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie nobody reaped is not running


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_step_worker_stops_when_its_run_worker_is_killed(tmp_path: Path) -> None:
    run_worker = FORK.Process(target=_run_worker, args=(tmp_path,))  # it has children
    run_worker.start()
    try:
        assert _wait_for(lambda: (tmp_path / "heartbeat").exists(), 10)
        child = int((tmp_path / "child.pid").read_text())

        os.kill(run_worker.pid, signal.SIGKILL)
        run_worker.join(5)

        assert _wait_for(lambda: (tmp_path / "interrupted").exists(), 5)
        assert _wait_for(lambda: not _running(child), 5)
    finally:
        run_worker.kill()
        if (tmp_path / "child.pid").exists() and _running(
            child := int((tmp_path / "child.pid").read_text())
        ):
            os.kill(child, signal.SIGKILL)
    last_beat = (tmp_path / "heartbeat").read_text()
    time.sleep(0.1)
    assert (tmp_path / "heartbeat").read_text() == last_beat


def test_only_multiprocessing_children_are_watched() -> None:
    assert multiprocessing.parent_process() is None
    assert exit_with_parent() is False
