"""Every warehouse session has limits: a writer waiting on a table's advisory lock gives up after
``lock_timeout`` with a clear error, and a session left idle inside a transaction (a hung or
orphaned worker) is ended by the server, which releases its locks."""

import time

import psycopg
import pytest

from digest_pipeline.defs.storage.errors import WarehouseQueryError
from digest_pipeline.defs.storage.postgres import lock_table
from digest_pipeline.defs.storage.postgres_connection import (
    ConnectPolicy,
    connect_postgres,
    transaction,
)
from digest_pipeline.defs.storage.warehouse import Warehouse

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def _lock_is_free(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            ["digest:write:digest.events"],
        ).fetchone()
        return bool(row and row[0])


def test_every_session_has_the_limits(postgres_url):
    conn = connect_postgres(postgres_url)
    try:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("lock_timeout", "idle_in_transaction_session_timeout", "TimeZone")
        }
    finally:
        conn.close()
    assert shown == {
        "lock_timeout": "5min",
        "idle_in_transaction_session_timeout": "2min",
        "TimeZone": "UTC",
    }


def test_a_writer_waiting_on_a_held_table_lock_gives_up_after_lock_timeout(postgres_url):
    with transaction(postgres_url) as holder:
        lock_table(holder, "digest", "events")
        warehouse = Warehouse(
            backend="postgres", database_url=postgres_url, lock_timeout_seconds=0.5
        )
        began = time.monotonic()
        with pytest.raises(WarehouseQueryError) as info, warehouse.pg_transaction() as waiter:
            lock_table(waiter, "digest", "events")
        waited = time.monotonic() - began
    assert 0.4 < waited < 5
    message = str(info.value)
    assert "lock_timeout" in message and "A stuck run" in message
    assert "canceling statement due to lock timeout" in message
    assert _lock_is_free(postgres_url)  # the holder committed


def test_a_session_idle_in_a_transaction_is_ended_and_its_lock_released(postgres_url):
    policy = ConnectPolicy(idle_in_transaction_timeout_seconds=0.5)
    with pytest.raises(WarehouseQueryError) as info, transaction(postgres_url, policy) as hung:
        lock_table(hung, "digest", "events")
        assert not _lock_is_free(postgres_url)
        time.sleep(1.5)  # a worker stuck between two statements of its write
        assert _lock_is_free(postgres_url)  # released by the server, not by the client
        hung.execute("SELECT 1")
    assert "idle-in-transaction timeout" in str(info.value)
