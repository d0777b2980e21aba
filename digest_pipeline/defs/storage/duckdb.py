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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TablePartitionDimension,
    TableSlice,
)
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBIOManager

from digest_pipeline.defs.storage.schema import (
    declared_columns,
    quote_ident,
    time_window_filter,
)


@contextmanager
def connect_duckdb(path: str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file, waiting politely while another process holds the write lock."""
    conn = backoff(
        fn=duckdb.connect,
        retry_on=(duckdb.IOException,),
        kwargs={"database": path, "read_only": read_only},
        max_retries=12,
        delay_generator=(min(0.25 * 2**i, 5.0) for i in range(100)),
    )
    try:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn
    finally:
        conn.close()


def _where(dimensions: Sequence[TablePartitionDimension]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for dim in dimensions:
        sql, values = time_window_filter(dim, placeholder="?")
        clauses.append(sql)
        params.extend(values)
    return " AND ".join(clauses), params


class DuckDBWarehouseClient(DbClient):
    @staticmethod
    def delete_table_slice(
        context: dg.OutputContext, table_slice: TableSlice, connection: duckdb.DuckDBPyConnection
    ) -> None:
        table = f"{quote_ident(table_slice.schema)}.{quote_ident(table_slice.table)}"
        try:
            if table_slice.partition_dimensions:
                where, params = _where(table_slice.partition_dimensions)
                connection.execute(f"DELETE FROM {table} WHERE {where}", params)
            else:
                connection.execute(f"DELETE FROM {table}")
        except duckdb.CatalogException:
            pass  # first write: the table does not exist yet

    @staticmethod
    def ensure_schema_exists(
        context: dg.OutputContext, table_slice: TableSlice, connection: duckdb.DuckDBPyConnection
    ) -> None:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table_slice.schema)}")

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        # Shown in the UI as the "Query" metadata: a readable statement with literal bounds.
        table = f"{table_slice.schema}.{table_slice.table}"
        if not table_slice.partition_dimensions:
            return f"SELECT * FROM {table}"
        parts = []
        for dim in table_slice.partition_dimensions:
            if isinstance(dim.partitions, dg.TimeWindow):
                start, end = dim.partitions
                parts.append(
                    f"{dim.partition_expr} >= TIMESTAMPTZ '{start.isoformat()}' AND "
                    f"{dim.partition_expr} < TIMESTAMPTZ '{end.isoformat()}'"
                )
        return f"SELECT * FROM {table} WHERE " + " AND ".join(parts)

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


def _ensure_table(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str]
) -> None:
    qualified = f"{quote_ident(schema)}.{quote_ident(table)}"
    existing = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    if not existing:
        cols = ", ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in columns.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {qualified} ({cols})")
        return
    for name, sql_type in columns.items():
        if name not in existing:
            conn.execute(f"ALTER TABLE {qualified} ADD COLUMN {quote_ident(name)} {sql_type}")


class DuckDBPandasWarehouseHandler(DbTypeHandler[pd.DataFrame]):
    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: duckdb.DuckDBPyConnection,
    ) -> dict[str, Any]:
        columns = declared_columns(context, obj)
        _ensure_table(connection, table_slice.schema, table_slice.table, columns)
        if not obj.empty:
            connection.register("_digest_rows", obj)
            names = ", ".join(quote_ident(c) for c in obj.columns)
            connection.execute(
                f"INSERT INTO {quote_ident(table_slice.schema)}.{quote_ident(table_slice.table)}"
                f" ({names}) SELECT {names} FROM _digest_rows"
            )
            connection.unregister("_digest_rows")
        row_count = int(obj.shape[0])
        meta = (
            dg.TableMetadataSet(partition_row_count=row_count)
            if context.has_partition_key or context.has_asset_partitions
            else dg.TableMetadataSet(row_count=row_count)
        )
        return {**meta, "storage": "duckdb"}

    def load_input(
        self,
        context: dg.InputContext,
        table_slice: TableSlice,
        connection: duckdb.DuckDBPyConnection,
    ) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        table = f"{quote_ident(table_slice.schema)}.{quote_ident(table_slice.table)}"
        cols = ", ".join(quote_ident(c) for c in table_slice.columns) if table_slice.columns else "*"
        if table_slice.partition_dimensions:
            where, params = _where(table_slice.partition_dimensions)
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

