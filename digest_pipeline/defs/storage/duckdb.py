"""DuckDB warehouse: the embedded default, one implementation of the backend interface.

A file admits one writer at a time (jobs run their steps in sequence), so a session takes no
table locks; a connection waits politely while another process holds the file's write lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler
from dagster_duckdb import DuckDBIOManager

from digest_pipeline.defs.storage.backend import Backend, Session
from digest_pipeline.defs.storage.io_manager import PandasWarehouseHandler, warehouse_io_manager
from digest_pipeline.defs.storage.schema import quote_ident, table_ddl


def _open(path: str, read_only: bool, attempts: int = 12) -> duckdb.DuckDBPyConnection:
    """Connect, waiting politely while another process holds the file's write lock."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    delay = 0.25
    for attempt in range(attempts):
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


@contextmanager
def connect_duckdb(path: str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = _open(path, read_only)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn
    finally:
        conn.close()


def qualified(conn: duckdb.DuckDBPyConnection, schema: str, table: str | None = None) -> str:
    """``"catalog"."schema"[."table"]``: exact whatever the file is named (a file named
    digest.duckdb makes a catalog "digest" that a bare ``digest.table`` would be ambiguous with;
    the default file is ``data/warehouse.duckdb``, so users can write ``digest.table``)."""
    row = conn.execute("SELECT current_database()").fetchall()[0]
    catalog = quote_ident(str(row[0])) if row else None
    parts = [p for p in (catalog, quote_ident(schema), table and quote_ident(table)) if p]
    return ".".join(parts)


def table_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Existing columns and their types; empty if the table does not exist."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?"
        " ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def ensure_table(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str]
) -> None:
    existing = table_columns(conn, schema, table)
    for statement in table_ddl(qualified(conn, schema, table), columns, existing):
        conn.execute(statement)


class DuckDBSession(Session):
    name = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def qualified(self, schema: str, table: str | None = None) -> str:
        return qualified(self.connection, schema, table)

    def columns(self, schema: str, table: str) -> dict[str, str]:
        return table_columns(self.connection, schema, table)

    def ensure_schema(self, schema: str) -> None:
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {self.qualified(schema)}")

    def ensure_table(self, schema: str, table: str, columns: dict[str, str]) -> None:
        ensure_table(self.connection, schema, table, columns)

    def insert(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        with self.staged(schema, table, frame) as rows:
            names = ", ".join(quote_ident(c) for c in frame.columns)
            self.connection.execute(
                f"INSERT INTO {self.qualified(schema, table)} ({names}) SELECT {names} FROM {rows}"
            )

    @contextmanager
    def staged(self, schema: str, table: str, frame: pd.DataFrame) -> Iterator[str]:
        # DuckDB reads the DataFrame in place; the INSERT casts to the table's types.
        self.connection.register("_digest_rows", frame)
        try:
            yield "_digest_rows"
        finally:
            self.connection.unregister("_digest_rows")

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.connection.execute(sql, list(params)).df()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(sql, list(params))

    def lock_table(self, schema: str, table: str) -> None:
        """Nothing to do: a DuckDB file admits one writer at a time."""

    def index(self, schema: str, table: str, column: str) -> None:
        """None: DuckDB's zone maps already skip row groups outside a time window."""

    def create_view(self, schema: str, name: str, sql: str) -> None:
        self.ensure_schema(schema)
        self.connection.execute(f"USE {self.qualified(schema)}")
        self.connection.execute(f"CREATE OR REPLACE VIEW {self.qualified(schema, name)} AS {sql}")


class DuckDBBackend(Backend):
    """A DuckDB file; reads and single statements run outside a transaction."""

    name = "duckdb"

    def __init__(self, path: str) -> None:
        self.path = path

    @contextmanager
    def session(self) -> Iterator[DuckDBSession]:
        with connect_duckdb(self.path) as conn:
            yield DuckDBSession(conn)

    @contextmanager
    def transaction(self) -> Iterator[DuckDBSession]:
        with connect_duckdb(self.path) as conn:
            conn.begin()
            try:
                yield DuckDBSession(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


class DuckDBWarehouseIOManager(DuckDBIOManager):
    """Pandas DataFrames in a DuckDB file, one table per asset in schema ``digest``."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PandasWarehouseHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        return warehouse_io_manager(
            DuckDBBackend(self.database),
            database=self.database,
            schema=self.schema_,
            name="DuckDBWarehouseIOManager",
        )
