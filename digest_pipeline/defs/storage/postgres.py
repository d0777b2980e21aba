"""PostgreSQL warehouse: the production backend, the same shape as the DuckDB one.

Tables are created from the asset's declared column schema (types in DuckDB spelling, mapped by
:data:`PG_TYPES`), new columns are added with ``ALTER TABLE … ADD COLUMN`` (nothing is ever
dropped), rows are bulk-loaded with binary ``COPY`` (:mod:`.postgres_copy`) by column name, and a
partition is replaced — delete its window, copy the new rows — in one transaction: a crash or a
killed process leaves the previous rows in place, never half a partition.

Writers of one table take a transaction-scoped advisory lock on it, so two runs writing
overlapping windows (an hourly run and a day's reconcile) queue instead of both deleting first
and then both inserting. DDL (first write, new columns) takes one more lock, because concurrent
``CREATE … IF NOT EXISTS`` can still collide in PostgreSQL's catalog.

Connections, their retry budget and session limits live in :mod:`.postgres_connection`; ``?``
placeholders become psycopg's in :mod:`.postgres_params`. ``python -m
digest_pipeline.defs.storage.postgres`` waits for the servers (see :func:`main`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler
from pydantic import Field

from digest_pipeline.defs.storage.backend import Backend, Session
from digest_pipeline.defs.storage.errors import WarehouseError, describe_url
from digest_pipeline.defs.storage.io_manager import PandasWarehouseHandler, warehouse_io_manager
from digest_pipeline.defs.storage.lifeline import exit_with_parent
from digest_pipeline.defs.storage.postgres_connection import (
    ENTRYPOINT_POLICY,
    ConnectPolicy,
    PostgresConnectionConfig,
    connect_postgres,
    transaction,
)
from digest_pipeline.defs.storage.postgres_copy import copy_frame, fetch_frame, trusted_sql
from digest_pipeline.defs.storage.postgres_params import to_pyformat
from digest_pipeline.defs.storage.schema import quote_ident, table_ddl

# Declared (DuckDB-spelled) column types and their PostgreSQL equivalents.
PG_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "FLOAT": "double precision",
    "JSON": "jsonb",
}

_DDL_LOCK = "digest:ddl"


def pg_type(declared: str) -> str:
    """The PostgreSQL type for a declared column type; a one-line error for anything unknown."""
    key = declared.strip().upper()
    if key not in PG_TYPES:
        raise ValueError(
            f"column type {declared!r} has no PostgreSQL mapping (known: {', '.join(PG_TYPES)})"
        )
    return PG_TYPES[key]


def qualified(schema: str, table: str | None = None) -> str:
    return ".".join(quote_ident(p) for p in (schema, table) if p)


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """Existing columns and their type names (``text``, ``timestamptz``, ``int8``, …); empty if
    the table does not exist."""
    rows = conn.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [schema, table],
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _lock(conn: psycopg.Connection, name: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if not exists:
        _lock(conn, _DDL_LOCK)
        conn.execute(trusted_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"))


def ensure_table(
    conn: psycopg.Connection, schema: str, table: str, columns: dict[str, str]
) -> dict[str, str]:
    """Create the table, or add the declared columns it lacks. Returns columns → PG types."""
    wanted = {name: pg_type(kind) for name, kind in columns.items()}
    existing = table_columns(conn, schema, table)
    if existing and all(name in existing for name in wanted):
        return existing
    _lock(conn, _DDL_LOCK)
    existing = table_columns(conn, schema, table)  # another writer may have won the race
    for statement in table_ddl(qualified(schema, table), wanted, existing):
        conn.execute(trusted_sql(statement))
    return table_columns(conn, schema, table)


def ensure_index(conn: psycopg.Connection, schema: str, table: str, column: str) -> None:
    """An index on the partition column: replacing or reading one hour of a table that holds
    years of them must not scan the whole table."""
    name = f"{table}_{column}_idx"[:63]
    exists = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    ).fetchone()
    if not exists:
        _lock(conn, _DDL_LOCK)
        conn.execute(
            trusted_sql(
                f"CREATE INDEX IF NOT EXISTS {quote_ident(name)}"
                f" ON {qualified(schema, table)} ({quote_ident(column)})"
            )
        )


def lock_table(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Serialize writers of one table until the transaction ends (see the module docstring)."""
    _lock(conn, f"digest:write:{schema}.{table}")


class PostgresSession(Session):
    name = "postgres"

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection
        self._types: dict[tuple[str, str], dict[str, str]] = {}

    def qualified(self, schema: str, table: str | None = None) -> str:
        return qualified(schema, table)

    def columns(self, schema: str, table: str) -> dict[str, str]:
        return table_columns(self.connection, schema, table)

    def ensure_schema(self, schema: str) -> None:
        ensure_schema(self.connection, schema)

    def ensure_table(self, schema: str, table: str, columns: dict[str, str]) -> None:
        # The COPY that follows needs the column types: remember them for this transaction.
        self._types[schema, table] = ensure_table(self.connection, schema, table, columns)

    def _column_types(self, schema: str, table: str) -> dict[str, str]:
        if (schema, table) not in self._types:
            self._types[schema, table] = table_columns(self.connection, schema, table)
        return self._types[schema, table]

    def insert(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        copy_frame(
            self.connection, qualified(schema, table), frame, self._column_types(schema, table)
        )

    @contextmanager
    def staged(self, schema: str, table: str, frame: pd.DataFrame) -> Iterator[str]:
        self.connection.execute(
            trusted_sql(
                "CREATE TEMP TABLE _rows ON COMMIT DROP AS"
                f" SELECT * FROM {qualified(schema, table)} WITH NO DATA"
            )
        )
        copy_frame(self.connection, "_rows", frame, self._column_types(schema, table))
        yield "_rows"

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return fetch_frame(self.connection, *to_pyformat(sql, params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        statement, values = to_pyformat(sql, params)
        self.connection.execute(trusted_sql(statement), values)

    def create_view(self, schema: str, name: str, sql: str) -> None:
        target = qualified(schema, name)
        ensure_schema(self.connection, schema)
        self.connection.execute(trusted_sql(f"SET LOCAL search_path TO {quote_ident(schema)}"))
        try:
            with self.connection.transaction():  # a savepoint
                self.connection.execute(trusted_sql(f"CREATE OR REPLACE VIEW {target} AS {sql}"))
        except psycopg.errors.InvalidTableDefinition:
            # Columns renamed or removed: PostgreSQL only replaces a view that keeps its
            # columns. Dropping a view drops no data (and fails if analysts built on it).
            self.connection.execute(trusted_sql(f"DROP VIEW {target}"))
            self.connection.execute(trusted_sql(f"CREATE VIEW {target} AS {sql}"))

    def lock_table(self, schema: str, table: str) -> None:
        lock_table(self.connection, schema, table)

    def index(self, schema: str, table: str, column: str) -> None:
        ensure_index(self.connection, schema, table, column)


class PostgresBackend(Backend):
    """A PostgreSQL database; every session is one transaction within ``policy``'s limits."""

    name = "postgres"

    def __init__(self, url: str, policy: ConnectPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or ConnectPolicy()

    @contextmanager
    def transaction(self) -> Iterator[PostgresSession]:
        with transaction(self.url, self.policy) as conn:
            yield PostgresSession(conn)


class PostgresWarehouseIOManager(dg.ConfigurableIOManagerFactory, PostgresConnectionConfig):
    """Pandas DataFrames in PostgreSQL, one table per asset in schema ``digest``.

    Partitioned assets need ``partition_expr`` metadata (the timestamp column of the window).
    """

    database_url: str = Field(description="PostgreSQL URL; bind with dg.EnvVar('DATABASE_URL')")
    schema_: str = Field(default="digest", alias="schema", description="Schema of the tables")

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PandasWarehouseHandler()]

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        exit_with_parent()  # a step worker stops writing when its run worker dies
        return warehouse_io_manager(
            PostgresBackend(self.database_url, self.connect_policy),
            database="postgres",
            schema=self.schema_,
            name="PostgresWarehouseIOManager",
        )


def wait_for_postgres(url: str, policy: ConnectPolicy = ENTRYPOINT_POLICY) -> str:
    """Block until the server answers (for container entrypoints); returns its version.

    A SQLAlchemy URL (``postgresql+psycopg2://``, as DAGSTER_POSTGRES_URL) is read as libpq's."""
    conn = connect_postgres(re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url), policy)
    try:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m digest_pipeline.defs.storage.postgres [VAR …]``: wait for the servers named by
    the environment variables (default DATABASE_URL), 30 attempts 2 s apart (at most 90 s); for
    entrypoints that start the webserver, the daemon or the code server once the database is up."""
    import os
    import sys

    names = list(argv if argv is not None else sys.argv[1:]) or ["DATABASE_URL"]
    for name in names:
        url = os.environ.get(name)
        if not url:
            sys.stderr.write(f"{name} is not set\n")
            return 2
        try:
            version = wait_for_postgres(url)
        except WarehouseError as e:
            sys.stderr.write(f"{name}: {e.description}\n")
            return 1
        sys.stderr.write(f"{name}: PostgreSQL {version} at {describe_url(url)} is up\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
