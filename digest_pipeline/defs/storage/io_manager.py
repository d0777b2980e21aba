"""One pandas I/O manager over any :class:`~digest_pipeline.defs.storage.backend.Backend`.

Built on Dagster's ``DbIOManager`` plumbing (table slices from partition windows, the schema from
config), with a client and a type handler of our own because the stock ones:

* skip the write for an empty DataFrame, so a quiet first hour never creates its table and every
  downstream read fails;
* insert by column *position*, so adding a column later silently shifts data;
* format time windows as naive strings in the partition's zone, which is wrong for a daily
  partition in ``America/Los_Angeles`` compared against UTC timestamps.

Here tables are created from the asset's declared column schema (``dagster/column_schema``), new
columns are added with ``ALTER TABLE … ADD COLUMN``, rows are loaded by name, windows are bound
parameters compared as instants, and a partition is replaced — delete its window, load the new
rows — in one transaction: a crash or a killed process leaves the previous rows in place, never
half a partition.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.storage.db_io_manager import DbClient, DbIOManager, DbTypeHandler, TableSlice

from digest_pipeline.defs.storage.backend import Backend, Session
from digest_pipeline.defs.storage.schema import declared_columns, display_select


class WarehouseClient(DbClient[Session]):
    """Dagster's client interface over a backend; each ``connect`` is one transaction."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        """``schema.table`` as the UI shows it: it pastes unchanged into the DuckDB CLI, Python
        and psql (the default DuckDB file is not named after the schema, see settings)."""
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(
        context: dg.OutputContext, table_slice: TableSlice, connection: Session
    ) -> None:
        # DbIOManager always passes a list (empty when unpartitioned); the field is optional.
        connection.delete_window(
            table_slice.schema, table_slice.table, table_slice.partition_dimensions or ()
        )

    @staticmethod
    def ensure_schema_exists(
        context: dg.OutputContext, table_slice: TableSlice, connection: Session
    ) -> None:
        connection.ensure_schema(table_slice.schema)

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        return display_select(table_slice)

    @contextmanager
    def connect(  # type: ignore[override]  # an instance method: the client carries its backend
        self, context: dg.OutputContext | dg.InputContext, table_slice: TableSlice
    ) -> Iterator[Session]:
        with self.backend.transaction() as session:
            yield session


class PandasWarehouseHandler(DbTypeHandler[pd.DataFrame]):
    """DataFrames in and out of a partition window, on whichever backend the session is."""

    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: Session,
    ) -> dict[str, Any]:
        connection.write_window(
            table_slice.schema,
            table_slice.table,
            obj,
            declared_columns(context, obj),
            [dim.partition_expr for dim in table_slice.partition_dimensions or ()],
        )
        row_count = int(obj.shape[0])
        if context.has_asset_partitions:
            return {"dagster/partition_row_count": row_count, "storage": connection.name}
        return {"dagster/row_count": row_count, "storage": connection.name}

    def load_input(
        self, context: dg.InputContext, table_slice: TableSlice, connection: Session
    ) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        return connection.read_window(
            table_slice.schema,
            table_slice.table,
            table_slice.columns,
            table_slice.partition_dimensions or (),
        )

    @property
    def supported_types(self) -> Sequence[type]:
        return [pd.DataFrame]


def warehouse_io_manager(
    backend: Backend, *, database: str, schema: str | None, name: str
) -> DbIOManager:
    """The ``DbIOManager`` both I/O manager resources create: DataFrames by default."""
    return DbIOManager(
        db_client=WarehouseClient(backend),
        database=database,
        schema=schema,
        type_handlers=[PandasWarehouseHandler()],
        default_load_type=pd.DataFrame,
        io_manager_name=name,
    )
