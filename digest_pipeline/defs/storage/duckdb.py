"""DuckDB warehouse: the embedded default.

Built on dagster-duckdb's ``DbIOManager`` plumbing (table slices from partition windows, schema
from config), with a type handler and client of our own because the stock pandas handler:

* skips the write for an empty DataFrame, so a quiet first hour never creates its table and every
  downstream read fails;
* inserts by column *position*, so adding a column later silently shifts data;
* formats time windows as naive strings in the partition's zone, which is wrong for a daily
  partition in ``America/Los_Angeles`` compared against UTC timestamps.

Here tables are created from the asset's declared column schema (``dagster/column_schema``), new
columns are added with ``ALTER TABLE … ADD COLUMN``, rows are inserted by name, windows are bound
parameters compared as instants, and a partition is replaced (delete window + insert) in one
transaction.
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
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TableSlice,
)
from dagster_duckdb import DuckDBIOManager

from digest_pipeline.defs.storage.schema import (
    declared_columns,
    display_select,
    partition_filter,
    quote_ident,
)


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


class DuckDBWarehouseClient(DbClient):
    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        """``schema.table`` as the UI shows it: it pastes unchanged into the DuckDB CLI, Python
        and psql (the default DuckDB file is not named after the schema, see settings)."""
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(
        context: dg.OutputContext, table_slice: TableSlice, connection: duckdb.DuckDBPyConnection
    ) -> None:
        if not _columns(connection, table_slice.schema, table_slice.table):
            return  # first write: nothing to replace yet
        table = qualified(connection, table_slice.schema, table_slice.table)
        if table_slice.partition_dimensions:
            where, params = partition_filter(table_slice.partition_dimensions, placeholder="?")
            connection.execute(f"DELETE FROM {table} WHERE {where}", params)
        else:
            connection.execute(f"DELETE FROM {table}")

    @staticmethod
    def ensure_schema_exists(
        context: dg.OutputContext, table_slice: TableSlice, connection: duckdb.DuckDBPyConnection
    ) -> None:
        connection.execute(
            f"CREATE SCHEMA IF NOT EXISTS {qualified(connection, table_slice.schema)}"
        )

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        return display_select(table_slice)

    @staticmethod
    @contextmanager
    def connect(
        context: dg.OutputContext | dg.InputContext, table_slice: TableSlice
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect_duckdb(context.resource_config["database"]) as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {row[0] for row in rows}


def ensure_table(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str]
) -> None:
    target = qualified(conn, schema, table)
    existing = _columns(conn, schema, table)
    if not existing:
        cols = ", ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in columns.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {target} ({cols})")
    else:
        for name, sql_type in columns.items():
            if name not in existing:
                conn.execute(f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {sql_type}")


class DuckDBPandasWarehouseHandler(DbTypeHandler[pd.DataFrame]):
    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: duckdb.DuckDBPyConnection,
    ) -> dict[str, Any]:
        columns = declared_columns(context, obj)
        ensure_table(connection, table_slice.schema, table_slice.table, columns)
        if not obj.empty:
            connection.register("_digest_rows", obj)
            names = ", ".join(quote_ident(c) for c in obj.columns)
            connection.execute(
                f"INSERT INTO {qualified(connection, table_slice.schema, table_slice.table)}"
                f" ({names}) SELECT {names} FROM _digest_rows"
            )
            connection.unregister("_digest_rows")
        row_count = int(obj.shape[0])
        if context.has_asset_partitions:
            return {"dagster/partition_row_count": row_count, "storage": "duckdb"}
        return {"dagster/row_count": row_count, "storage": "duckdb"}

    def load_input(
        self,
        context: dg.InputContext,
        table_slice: TableSlice,
        connection: duckdb.DuckDBPyConnection,
    ) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        table = qualified(connection, table_slice.schema, table_slice.table)
        cols = (
            ", ".join(quote_ident(c) for c in table_slice.columns) if table_slice.columns else "*"
        )
        if table_slice.partition_dimensions:
            where, params = partition_filter(table_slice.partition_dimensions, placeholder="?")
            return connection.execute(f"SELECT {cols} FROM {table} WHERE {where}", params).df()
        return connection.execute(f"SELECT {cols} FROM {table}").df()

    @property
    def supported_types(self) -> Sequence[type]:
        return [pd.DataFrame]


class DuckDBWarehouseIOManager(DuckDBIOManager):
    """Pandas DataFrames in a DuckDB file, one table per asset in schema ``digest``."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [DuckDBPandasWarehouseHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        return DbIOManager(
            db_client=DuckDBWarehouseClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="DuckDBWarehouseIOManager",
        )
