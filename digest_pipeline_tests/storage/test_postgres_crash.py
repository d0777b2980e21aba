"""Kill a run with SIGKILL while it replaces a partition: the re-run leaves no duplicates and no
half partition, because the delete and the COPY are one transaction.

The writer is a forked process running the real I/O manager (forked, so it does not pay for
importing Dagster again). To kill it at a known point, the test holds an uncommitted row with the
same key as one of the writer's rows under a unique index (test setup, not production code): the
writer's COPY streams the rows before that key, then waits on the lock — after its DELETE, in
the middle of its COPY — and is killed there.
"""

import multiprocessing
import os
import signal
import time

import psycopg
import pytest

from digest_pipeline_tests.storage.crash_writer import frame, write

pytestmark = pytest.mark.integration


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _writer(url: str, go) -> None:
    go.wait(60)
    write(url, frame("2026-01-01 00:00", 1000, prefix="big"))


def test_a_run_killed_mid_copy_leaves_the_previous_partition_and_reruns_cleanly(postgres_url):
    write(postgres_url, frame("2026-01-01 00:00", 3, prefix="old"))
    write(postgres_url, frame("2026-01-01 01:00", 2, prefix="next"), partition="2026-01-01-01:00")
    dbname = postgres_url.rsplit("/", 1)[1]
    fork = multiprocessing.get_context("fork")
    go = fork.Event()
    writer = fork.Process(target=_writer, args=(postgres_url, go), daemon=True)
    writer.start()  # before opening connections, so the child inherits none

    admin = psycopg.connect(postgres_url, autocommit=True)
    admin.execute("CREATE UNIQUE INDEX events_id ON digest.events (id)")
    blocker = psycopg.connect(postgres_url)  # an open transaction holding key big500
    blocker.execute(
        "INSERT INTO digest.events (id, timestamp) VALUES ('big500', '2026-01-01 05:00+00')"
    )

    def copy_waiting() -> bool:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND query LIKE 'COPY%%' AND wait_event_type = 'Lock'",
            [dbname],
        ).fetchone()
        return bool(row and row[0])

    try:
        go.set()
        _wait_for(lambda: copy_waiting() or not writer.is_alive(), 60, "the COPY to block")
        assert writer.is_alive(), f"the writer ended early (exit code {writer.exitcode})"
        os.kill(writer.pid, signal.SIGKILL)  # 500 rows streamed, the old rows deleted
        writer.join(10)
    finally:
        if writer.is_alive():
            writer.kill()
            writer.join(10)
        blocker.rollback()
        blocker.close()
    assert writer.exitcode == -signal.SIGKILL

    def writer_gone() -> bool:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%'",
            [dbname],
        ).fetchone()
        return bool(row) and row[0] == 0

    _wait_for(writer_gone, 30, "the killed backend to roll back")

    def rows() -> list[tuple]:
        return admin.execute(
            "SELECT left(id, 3), count(*), count(DISTINCT id) FROM digest.events GROUP BY 1"
            " ORDER BY 1"
        ).fetchall()

    # The old partition is intact: no new rows, no missing old rows; the next hour untouched.
    assert rows() == [("nex", 2, 2), ("old", 3, 3)]
    write(postgres_url, frame("2026-01-01 00:00", 5, prefix="new"))
    assert rows() == [("new", 5, 5), ("nex", 2, 2)]
    admin.close()
