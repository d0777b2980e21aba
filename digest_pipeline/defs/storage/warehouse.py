"""``Warehouse``: direct, parameterized reads and small writes against the digest schema.

Assets exchange DataFrames through the I/O manager; this resource is for what an I/O manager
cannot express — reading a local-day window across hourly partitions, looking up thread parents
from earlier hours, caches and outboxes, views. SQL uses ``?`` placeholders and ``{schema}`` for
the schema on both backends; values are always bound. On PostgreSQL ``?`` becomes ``%s`` (a list
parameter a typed array), so ``WHERE id IN (SELECT unnest(?))`` works on both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import psycopg
from pydantic import Field

from digest_pipeline.defs.storage import postgres as pg
from digest_pipeline.defs.storage.duckdb import connect_duckdb, ensure_table, qualified
from digest_pipeline.defs.storage.lifeline import exit_with_parent
from digest_pipeline.defs.storage.schema import quote_ident

BACKENDS = ("duckdb", "postgres")


class Warehouse(dg.ConfigurableResource, pg.PostgresConnectionConfig):
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

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection (DuckDB backend only; see :meth:`pg_transaction`)."""
        if self.is_postgres:
            raise dg.Failure("Warehouse.connection() is DuckDB-only; use pg_transaction()")
        with connect_duckdb(self.duckdb_path) as conn:
            yield conn

    @contextmanager
    def pg_transaction(self) -> Iterator[psycopg.Connection]:
        """A PostgreSQL connection in one transaction (PostgreSQL backend only)."""
        if not self.is_postgres or not self.database_url:
            raise dg.Failure("Warehouse.pg_transaction() needs backend='postgres' and DATABASE_URL")
        with pg.transaction(self.database_url, self.connect_policy) as conn:
            yield conn

    def table_exists(self, name: str) -> bool:
        if self.is_postgres:
            with self.pg_transaction() as conn:
                return bool(pg.table_columns(conn, self.schema_name, name))
        with self.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
                [self.schema_name, name],
            ).fetchone()
        return bool(row and row[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a SELECT; ``{schema}`` in the SQL is replaced by the quoted schema name."""
        if self.is_postgres:
            statement, values = pg.to_pyformat(
                sql.format(schema=quote_ident(self.schema_name)), params
            )
            with self.pg_transaction() as conn:
                return pg.fetch_frame(conn, statement, values)
        with self.connection() as conn:
            schema = qualified(conn, self.schema_name)
            return conn.execute(sql.format(schema=schema), list(params)).df()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (``{schema}`` replaced as in :meth:`query`)."""
        if self.is_postgres:
            statement, values = pg.to_pyformat(
                sql.format(schema=quote_ident(self.schema_name)), params
            )
            with self.pg_transaction() as conn:
                conn.execute(statement, values)
            return
        with self.connection() as conn:
            schema = qualified(conn, self.schema_name)
            conn.execute(sql.format(schema=schema), list(params))

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
        if self.is_postgres:
            self._pg_replace_rows(table, frame[list(columns)], key=key, columns=columns)
            return len(frame)
        with self.connection() as conn:
            conn.begin()
            try:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(conn, self.schema_name)}")
                ensure_table(conn, self.schema_name, table, columns)
                if not frame.empty:
                    target = qualified(conn, self.schema_name, table)
                    conn.register("_rows", frame[list(columns)])
                    match = " AND ".join(f"t.{quote_ident(k)} = r.{quote_ident(k)}" for k in key)
                    conn.execute(f"DELETE FROM {target} AS t USING _rows AS r WHERE {match}")
                    names = ", ".join(quote_ident(c) for c in columns)
                    conn.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM _rows")
                    conn.unregister("_rows")
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return len(frame)

    def _pg_replace_rows(
        self, table: str, frame: pd.DataFrame, *, key: Sequence[str], columns: dict[str, str]
    ) -> None:
        with self.pg_transaction() as conn:
            pg.ensure_schema(conn, self.schema_name)
            types = pg.ensure_table(conn, self.schema_name, table, columns)
            if frame.empty:
                return
            pg.lock_table(conn, self.schema_name, table)
            target = pg.qualified(self.schema_name, table)
            conn.execute(
                f"CREATE TEMP TABLE _rows ON COMMIT DROP AS SELECT * FROM {target} WITH NO DATA"
            )
            pg.copy_frame(conn, "_rows", frame, types)
            match = " AND ".join(f"t.{quote_ident(k)} = r.{quote_ident(k)}" for k in key)
            conn.execute(f"DELETE FROM {target} AS t USING _rows AS r WHERE {match}")
            names = ", ".join(quote_ident(c) for c in columns)
            conn.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM _rows")

    def create_view(self, name: str, sql: str) -> None:
        """Create or replace view ``name`` in the schema; table names in ``sql`` are unqualified
        and resolve in the schema (so a renamed DuckDB file keeps working views)."""
        if self.is_postgres:
            target = pg.qualified(self.schema_name, name)
            with self.pg_transaction() as conn:
                pg.ensure_schema(conn, self.schema_name)
                conn.execute(f"SET LOCAL search_path TO {quote_ident(self.schema_name)}")
                try:
                    with conn.transaction():  # a savepoint
                        conn.execute(f"CREATE OR REPLACE VIEW {target} AS {sql}")
                except psycopg.errors.InvalidTableDefinition:
                    # Columns renamed or removed: PostgreSQL only replaces a view that keeps its
                    # columns. Dropping a view drops no data (and fails if analysts built on it).
                    conn.execute(f"DROP VIEW {target}")
                    conn.execute(f"CREATE VIEW {target} AS {sql}")
            return
        with self.connection() as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(conn, self.schema_name)}")
            conn.execute(f"USE {qualified(conn, self.schema_name)}")
            conn.execute(
                f"CREATE OR REPLACE VIEW {qualified(conn, self.schema_name, name)} AS {sql}"
            )
