"""Backend-neutral helpers for warehouse tables: declared columns, identifiers, window filters.

Assets declare their table with ``dagster/column_schema`` (column name, portable SQL type,
description). The I/O managers create tables from it, so the schema the UI shows is the schema the
warehouse has. Types are written in DuckDB's spelling; other backends map them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.storage.db_io_manager import TablePartitionDimension, TableSlice

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_DTYPE_TO_SQL = {
    "bool": "BOOLEAN",
    "int64": "BIGINT",
    "Int64": "BIGINT",
    "int32": "INTEGER",
    "float64": "DOUBLE",
    "datetime64[ns, UTC]": "TIMESTAMPTZ",
    "datetime64[us, UTC]": "TIMESTAMPTZ",
}


def quote_ident(name: str) -> str:
    """Quote a table or column name; refuse anything that is not a plain identifier."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid SQL identifier: {name!r}")
    return f'"{name}"'


def column_names(schema: dg.TableSchema) -> list[str]:
    return [column.name for column in schema.columns]


def table_ddl(target: str, columns: dict[str, str], existing: Collection[str]) -> list[str]:
    """The statements that make table ``target`` hold ``columns`` (name → SQL type): create it if
    nothing ``existing``, else add the columns it lacks. Nothing is ever dropped or retyped."""
    if not existing:
        cols = ", ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in columns.items())
        return [f"CREATE TABLE IF NOT EXISTS {target} ({cols})"]
    return [
        f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {sql_type}"
        for name, sql_type in columns.items()
        if name not in existing
    ]


def declared_columns(context: dg.OutputContext, obj: pd.DataFrame) -> dict[str, str]:
    """The table's columns and SQL types, checked against the DataFrame being written."""
    schema = (context.definition_metadata or {}).get("dagster/column_schema")
    if isinstance(schema, dg.TableSchemaMetadataValue):
        schema = schema.schema
    if not isinstance(schema, dg.TableSchema):
        return {
            str(name): _DTYPE_TO_SQL.get(str(dtype), "VARCHAR")
            for name, dtype in obj.dtypes.items()
        }
    declared = {column.name: column.type for column in schema.columns}
    extra = [c for c in obj.columns if c not in declared]
    missing = [c for c in declared if c not in obj.columns]
    if extra or missing:
        raise dg.Failure(
            f"{context.asset_key.to_user_string()}: output does not match its declared columns"
            f" (missing: {missing or 'none'}; undeclared: {extra or 'none'})"
        )
    return declared


def time_window_filter(
    dimension: TablePartitionDimension, *, placeholder: str
) -> tuple[str, list[Any]]:
    """``expr >= :start AND expr < :end`` with the window's instants as bound parameters."""
    if not isinstance(dimension.partitions, dg.TimeWindow):
        raise ValueError("only time-window partitions are supported by this warehouse")
    start, end = dimension.partitions
    expr = quote_ident(dimension.partition_expr)
    return f"{expr} >= {placeholder} AND {expr} < {placeholder}", [start, end]


def partition_filter(
    dimensions: Sequence[TablePartitionDimension], *, placeholder: str
) -> tuple[str, list[Any]]:
    """All partition dimensions of a table slice as one WHERE clause with bound parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for dim in dimensions:
        sql, values = time_window_filter(dim, placeholder=placeholder)
        clauses.append(sql)
        params.extend(values)
    return " AND ".join(clauses), params


def display_select(table_slice: TableSlice) -> str:
    """The "Query" metadata shown in the UI: a readable statement with literal bounds."""
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
