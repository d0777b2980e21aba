"""``Warehouse``: direct, parameterized reads and small writes against the digest schema.

Assets exchange DataFrames through the I/O manager; this resource is for what an I/O manager
cannot express — reading a local-day window across hourly partitions, looking up thread parents
from earlier hours, caches and outboxes, views. SQL uses ``?`` placeholders and ``{schema}`` for
the schema on both backends; values are always bound. On PostgreSQL ``?`` becomes ``%s`` (a list
parameter a typed array), so ``WHERE id IN (SELECT unnest(?))`` works on both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import psycopg
from pydantic import Field

from digest_pipeline.defs.storage.backend import Backend, Session
from digest_pipeline.defs.storage.duckdb import DuckDBBackend, DuckDBSession
from digest_pipeline.defs.storage.lifeline import exit_with_parent
from digest_pipeline.defs.storage.postgres import PostgresBackend, PostgresSession
from digest_pipeline.defs.storage.postgres_connection import PostgresConnectionConfig

BACKENDS = ("duckdb", "postgres")


class Warehouse(dg.ConfigurableResource, PostgresConnectionConfig):
    """The warehouse the I/O manager writes, opened for queries."""

    backend: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = "data/warehouse.duckdb"
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL (postgres); bind with dg.EnvVar('DATABASE_URL')"
    )
    schema_name: str = "digest"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.backend == "postgres":
            exit_with_parent()  # a step worker stops writing when its run worker dies

    @property
    def is_postgres(self) -> bool:
        if self.backend not in BACKENDS:
            raise dg.Failure(f"warehouse backend {self.backend!r} is not one of {BACKENDS}")
        return self.backend == "postgres"

    def open_backend(self) -> Backend:
        """The configured backend (:mod:`digest_pipeline.defs.storage.backend`)."""
        if self.is_postgres:
            if not self.database_url:
                raise dg.Failure("Warehouse backend 'postgres' needs DATABASE_URL")
            return PostgresBackend(self.database_url, self.connect_policy)
        return DuckDBBackend(self.duckdb_path)

    def session(self) -> AbstractContextManager[Session]:
        """A session for reads and single statements (on PostgreSQL, one transaction)."""
        return self.open_backend().session()

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection (DuckDB backend only; see :meth:`pg_transaction`)."""
        if self.is_postgres:
            raise dg.Failure("Warehouse.connection() is DuckDB-only; use pg_transaction()")
        with self.open_backend().session() as session:
            assert isinstance(session, DuckDBSession)
            yield session.connection

    @contextmanager
    def pg_transaction(self) -> Iterator[psycopg.Connection]:
        """A PostgreSQL connection in one transaction (PostgreSQL backend only)."""
        if not self.is_postgres or not self.database_url:
            raise dg.Failure("Warehouse.pg_transaction() needs backend='postgres' and DATABASE_URL")
        with self.open_backend().transaction() as session:
            assert isinstance(session, PostgresSession)
            yield session.connection

    def table_exists(self, name: str) -> bool:
        with self.session() as session:
            return bool(session.columns(self.schema_name, name))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a SELECT; ``{schema}`` in the SQL is replaced by the quoted schema name."""
        with self.session() as session:
            return session.query(sql.format(schema=session.qualified(self.schema_name)), params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (``{schema}`` replaced as in :meth:`query`)."""
        with self.session() as session:
            session.execute(sql.format(schema=session.qualified(self.schema_name)), params)

    def replace_rows(
        self, table: str, frame: pd.DataFrame, *, key: Sequence[str], schema: dg.TableSchema
    ) -> int:
        """Upsert ``frame`` into ``table`` by ``key`` in one transaction; create it if needed.

        For side tables that are not assets (caches, outboxes): rows with the same key are
        replaced, others are left alone. Returns the number of rows written.
        """
        columns = {column.name: column.type for column in schema.columns}
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{table}: frame lacks declared columns {missing}")
        with self.open_backend().transaction() as session:
            session.upsert(self.schema_name, table, frame, key=key, columns=columns)
        return len(frame)

    def create_view(self, name: str, sql: str) -> None:
        """Create or replace view ``name`` in the schema; table names in ``sql`` are unqualified
        and resolve in the schema (so a renamed DuckDB file keeps working views)."""
        with self.session() as session:
            session.create_view(self.schema_name, name, sql)
