"""The warehouse backend interface: what the I/O manager and ``Warehouse`` need of a database.

A :class:`Backend` knows where its database is and opens a :class:`Session` on it: one
connection, inside one transaction for writers. A session implements the few things that differ
between databases — naming a table, reading the catalog, DDL from the declared column schema,
bulk-loading a DataFrame by column name, running ``?``-placeholder SQL — and this module builds
on them what is the same everywhere: replacing a partition window, reading one, and upserting
rows by key. ``duckdb.py`` and ``postgres.py`` hold the two implementations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import pandas as pd
from dagster._core.storage.db_io_manager import TablePartitionDimension

from digest_pipeline.defs.storage.schema import partition_filter, quote_ident


class Session(ABC):
    """One open connection to the warehouse. SQL takes ``?`` placeholders on every backend."""

    name: str  # "duckdb" or "postgres": the ``storage`` metadata of a write

    @abstractmethod
    def qualified(self, schema: str, table: str | None = None) -> str:
        """The quoted name of ``schema`` (or of ``table`` in it) as this database resolves it."""

    @abstractmethod
    def columns(self, schema: str, table: str) -> dict[str, str]:
        """The table's columns and their type names; empty if the table does not exist."""

    @abstractmethod
    def ensure_schema(self, schema: str) -> None: ...

    @abstractmethod
    def ensure_table(self, schema: str, table: str, columns: dict[str, str]) -> None:
        """Create the table from declared columns (DuckDB-spelled types), or add those it lacks;
        nothing is ever dropped."""

    @abstractmethod
    def insert(self, schema: str, table: str, frame: pd.DataFrame) -> None:
        """Bulk-load ``frame`` into an existing table by column name (not position)."""

    @abstractmethod
    def staged(self, schema: str, table: str, frame: pd.DataFrame) -> AbstractContextManager[str]:
        """``frame`` as a temporary relation with ``table``'s column types; yields its name."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def create_view(self, schema: str, name: str, sql: str) -> None:
        """Create or replace view ``name``; table names in ``sql`` resolve in ``schema``."""

    @abstractmethod
    def lock_table(self, schema: str, table: str) -> None:
        """Serialize writers of one table until the transaction ends."""

    @abstractmethod
    def index(self, schema: str, table: str, column: str) -> None:
        """An index on a partition column, where the database wants one."""

    # --- built on the above, the same on every backend --------------------------------------------

    def delete_window(
        self, schema: str, table: str, dimensions: Sequence[TablePartitionDimension]
    ) -> None:
        """Delete the rows of a partition window (all rows for an unpartitioned table)."""
        self.lock_table(schema, table)
        if not self.columns(schema, table):
            return  # first write: nothing to replace yet
        target = self.qualified(schema, table)
        if dimensions:
            where, params = partition_filter(dimensions, placeholder="?")
            self.execute(f"DELETE FROM {target} WHERE {where}", params)
        else:
            self.execute(f"DELETE FROM {target}")

    def write_window(
        self,
        schema: str,
        table: str,
        frame: pd.DataFrame,
        columns: dict[str, str],
        partition_columns: Sequence[str] = (),
    ) -> None:
        """Write a window's rows after :meth:`delete_window`: the table is created or widened
        first, so an empty first window still leaves a table for readers."""
        self.ensure_table(schema, table, columns)
        if not frame.empty:
            self.insert(schema, table, frame)
        # After the load: on a first bulk load, building the index once beats maintaining it.
        for column in partition_columns:
            self.index(schema, table, column)

    def read_window(
        self,
        schema: str,
        table: str,
        columns: Sequence[str] | None,
        dimensions: Sequence[TablePartitionDimension],
    ) -> pd.DataFrame:
        """The rows of a partition window (all rows for an unpartitioned table)."""
        target = self.qualified(schema, table)
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        if dimensions:
            where, params = partition_filter(dimensions, placeholder="?")
            return self.query(f"SELECT {cols} FROM {target} WHERE {where}", params)
        return self.query(f"SELECT {cols} FROM {target}")

    def upsert(
        self,
        schema: str,
        table: str,
        frame: pd.DataFrame,
        *,
        key: Sequence[str],
        columns: dict[str, str],
    ) -> None:
        """Replace the rows of ``frame``'s keys, leave the others; create the table if needed."""
        self.ensure_schema(schema)
        self.ensure_table(schema, table, columns)
        if frame.empty:
            return
        self.lock_table(schema, table)
        target = self.qualified(schema, table)
        # pandas is untyped here: a list of columns selects a frame.
        with self.staged(schema, table, cast(pd.DataFrame, frame[list(columns)])) as rows:
            match = " AND ".join(f"t.{quote_ident(k)} = r.{quote_ident(k)}" for k in key)
            self.execute(f"DELETE FROM {target} AS t USING {rows} AS r WHERE {match}")
            names = ", ".join(quote_ident(c) for c in columns)
            self.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {rows}")


class Backend(ABC):
    """Where the warehouse is (a DuckDB file, a PostgreSQL URL) and how to open it."""

    name: str

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""

    def session(self) -> AbstractContextManager[Session]:
        """A session for reads and single statements (by default, also one transaction)."""
        return self.transaction()
