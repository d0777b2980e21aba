"""``Warehouse``: direct, parameterized reads and small writes against the digest schema.

Assets exchange DataFrames through the I/O manager; this resource is for what an I/O manager
cannot express — reading a local-day window across hourly partitions, looking up thread parents
from earlier hours, caches and outboxes. SQL uses ``?`` placeholders; values are always bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from digest_pipeline.defs.storage.duckdb import connect_duckdb, ensure_table, qualified
from digest_pipeline.defs.storage.schema import quote_ident


class Warehouse(dg.ConfigurableResource):
    """The warehouse the I/O manager writes, opened for queries."""

    backend: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = "data/digest.duckdb"
    schema_name: str = "digest"

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.backend != "duckdb":
            raise dg.Failure(f"warehouse backend {self.backend!r} is not supported")
        with connect_duckdb(self.duckdb_path) as conn:
            yield conn

    def table_exists(self, name: str) -> bool:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
                [self.schema_name, name],
            ).fetchone()
        return bool(row and row[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a SELECT; ``{schema}`` in the SQL is replaced by the quoted schema name."""
        with self.connection() as conn:
            schema = qualified(conn, self.schema_name)
            return conn.execute(sql.format(schema=schema), list(params)).df()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (``{schema}`` replaced as in :meth:`query`)."""
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
