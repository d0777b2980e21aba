"""PostgreSQL connections: the retry budget, the session limits, one transaction at a time.

Every warehouse connection is made here, so every one has the same limits: a writer waiting for a
table's advisory lock gives up after ``lock_timeout``, a session idle inside a transaction is ended
by the server, and a connection that fails says ``user@host:port/db`` and never the password (see
:mod:`digest_pipeline.defs.storage.errors`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import psycopg
from psycopg.types.string import TextLoader
from pydantic import Field

from digest_pipeline.defs.storage.errors import (
    WarehouseError,
    WarehouseUnavailable,
    check_database_url,
    describe_url,
    warehouse_failure,
)

# A warehouse that does not answer fails a step within seconds, not minutes: three attempts, 2 s
# apart, all within 10 s (a server restart or a fail-over). Container entrypoints wait longer
# (see postgres.main()). Every value can be set on the resources.
CONNECT_ATTEMPTS = 3
CONNECT_WAIT_SECONDS = 2.0
CONNECT_BUDGET_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5  # per attempt; libpq's minimum is 2
# Session limits on every warehouse connection. A writer waiting for a table's advisory lock
# gives up after LOCK_TIMEOUT (a day's reconcile holds it for seconds; five minutes is a stuck
# holder); a session idle inside a transaction (a hung or orphaned worker) is ended by the server,
# releasing its locks. No statement_timeout: a backfill's COPY may rightly take many minutes.
LOCK_TIMEOUT_SECONDS = 300
IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 120
# The server probes an idle client's socket after 60 s, so a vanished host's session ends in
# ~2 minutes rather than the kernel's default two hours.
TCP_KEEPALIVES = {
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "6",
}
# The entrypoint wait (python -m digest_pipeline.defs.storage.postgres): a database container
# starting alongside may take a minute.
ENTRYPOINT_ATTEMPTS = 30

# libpq errors no retry fixes: the server answered and said no, or an option cannot work.
_FINAL_CONNECT_ERRORS = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "password is required",
    "invalid connection option",
    "invalid integer value",
    "invalid sslmode value",
)


@dataclass(frozen=True)
class ConnectPolicy:
    """How to connect: the retry budget and the session limits (see the constants above)."""

    attempts: int = CONNECT_ATTEMPTS
    wait_seconds: float = CONNECT_WAIT_SECONDS
    budget_seconds: float = CONNECT_BUDGET_SECONDS
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS
    idle_in_transaction_timeout_seconds: float = IDLE_IN_TRANSACTION_TIMEOUT_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectPolicy:
        """From a resource's config (fields ``connect_attempts``, ``lock_timeout_seconds``, …)."""
        default = cls()
        return cls(
            attempts=config.get("connect_attempts", default.attempts),
            wait_seconds=config.get("connect_wait_seconds", default.wait_seconds),
            budget_seconds=config.get("connect_budget_seconds", default.budget_seconds),
            lock_timeout_seconds=config.get("lock_timeout_seconds", default.lock_timeout_seconds),
            idle_in_transaction_timeout_seconds=config.get(
                "idle_in_transaction_timeout_seconds", default.idle_in_transaction_timeout_seconds
            ),
        )

    def session_settings(self) -> dict[str, str]:
        """``SET`` values for a new session (milliseconds; 0 turns a limit off)."""
        return {
            "TimeZone": "UTC",
            "lock_timeout": f"{round(self.lock_timeout_seconds * 1000)}ms",
            "idle_in_transaction_session_timeout": (
                f"{round(self.idle_in_transaction_timeout_seconds * 1000)}ms"
            ),
            **TCP_KEEPALIVES,
        }


def connect_postgres(
    url: str,
    policy: ConnectPolicy = ConnectPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> psycopg.Connection:
    """Connect within ``policy``'s budget and set its session limits.

    A malformed URL fails before any attempt, a rejected login after the first; both raise
    :class:`WarehouseConfigError` / :class:`WarehouseUnavailable`, which Dagster does not retry.
    Errors name ``user@host:port/db``, never the password, and chain no driver exception.
    """
    check_database_url(url)
    failure: WarehouseError | None = None
    began = clock()
    deadline = began + policy.budget_seconds
    attempts = max(policy.attempts, 1)
    for attempt in range(1, attempts + 1):
        remaining = max(deadline - clock(), 0.0)
        timeout = max(2, min(CONNECT_TIMEOUT_SECONDS, math.ceil(remaining)))
        try:
            # Autocommit: transactions are explicit ``conn.transaction()`` blocks.
            conn = psycopg.connect(url, autocommit=True, connect_timeout=timeout)
        except psycopg.Error as e:
            final = any(text in str(e) for text in _FINAL_CONNECT_ERRORS)
            spent = clock() - began
            if final or attempt >= attempts or clock() + policy.wait_seconds >= deadline:
                failure = warehouse_failure(
                    e,
                    url,
                    f"PostgreSQL warehouse {describe_url(url)} "
                    + (
                        "refused the connection"
                        if final
                        else f"is not reachable after {attempt} attempt(s) in {spent:.0f} s"
                    )
                    + " (check DATABASE_URL and that the server is up)",
                    WarehouseUnavailable,
                )
                break
            sleep(policy.wait_seconds)
            continue
        try:
            _configure_session(conn, policy)
        except psycopg.Error as e:
            conn.close()
            failure = warehouse_failure(e, url, f"Setting up a session on {describe_url(url)}")
            break
        return conn
    assert failure is not None
    raise failure  # outside the except block: the driver's exception is not chained


def _configure_session(conn: psycopg.Connection, policy: ConnectPolicy) -> None:
    settings = policy.session_settings()
    if conn.info.server_version >= 140000:
        # A long statement notices a client that went away (PostgreSQL 14+).
        settings["client_connection_check_interval"] = "10s"
    conn.execute(
        "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in settings),
        [value for pair in settings.items() for value in pair],
    )
    # JSON columns come back as their text, as DuckDB returns them.
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)


@contextmanager
def transaction(url: str, policy: ConnectPolicy = ConnectPolicy()) -> Iterator[psycopg.Connection]:
    """One transaction: committed when the block ends, rolled back on any error.

    Driver errors inside the block come out as :class:`WarehouseQueryError` with a redacted
    message (a lock wait past ``lock_timeout`` says so); other exceptions pass unchanged.
    """
    conn = connect_postgres(url, policy)
    failure: WarehouseError | None = None
    try:
        with conn.transaction():
            yield conn
    except psycopg.errors.LockNotAvailable as e:
        failure = warehouse_failure(
            e,
            url,
            f"Gave up waiting {policy.lock_timeout_seconds:g} s (lock_timeout) for a lock on the"
            " warehouse: another writer, or a dead session, holds it (docs/runbook.md, 'A stuck"
            " run')",
        )
    except psycopg.Error as e:
        failure = warehouse_failure(e, url, f"Warehouse statement failed on {describe_url(url)}")
    finally:
        conn.close()
    if failure is not None:
        raise failure


class PostgresConnectionConfig(dg.Config):
    """The connection budget and session limits, the same fields on both warehouse resources."""

    connect_attempts: int = Field(
        default=CONNECT_ATTEMPTS, ge=1, description="Connection attempts before failing"
    )
    connect_wait_seconds: float = Field(
        default=CONNECT_WAIT_SECONDS, ge=0, description="Seconds between connection attempts"
    )
    connect_budget_seconds: float = Field(
        default=CONNECT_BUDGET_SECONDS, gt=0, description="Seconds all attempts may take"
    )
    lock_timeout_seconds: float = Field(
        default=LOCK_TIMEOUT_SECONDS, ge=0, description="A lock wait fails after this (0: never)"
    )
    idle_in_transaction_timeout_seconds: float = Field(
        default=IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
        ge=0,
        description="The server ends a session idle in a transaction this long (0: never)",
    )

    @property
    def connect_policy(self) -> ConnectPolicy:
        return ConnectPolicy(
            attempts=self.connect_attempts,
            wait_seconds=self.connect_wait_seconds,
            budget_seconds=self.connect_budget_seconds,
            lock_timeout_seconds=self.lock_timeout_seconds,
            idle_in_transaction_timeout_seconds=self.idle_in_transaction_timeout_seconds,
        )


ENTRYPOINT_POLICY = ConnectPolicy(
    attempts=ENTRYPOINT_ATTEMPTS,
    wait_seconds=CONNECT_WAIT_SECONDS,
    budget_seconds=ENTRYPOINT_ATTEMPTS * (CONNECT_WAIT_SECONDS + 1),
)
