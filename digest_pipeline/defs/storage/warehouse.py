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

from digest_pipeline.defs.storage.duckdb import connect_duckdb, qualified
from digest_pipeline.defs.storage.schema import quote_ident


class Warehouse(dg.ConfigurableResource):
    """The warehouse the I/O manager writes, opened for queries."""

    backend: str = Field(default="duckdb", description="duckdb or postgres")
    duckdb_path: str = "data/digest.duckdb"
    schema_name: str = "digest"

    def table(self, name: str) -> str:
        return f"{quote_ident(self.schema_name)}.{quote_ident(name)}"

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
