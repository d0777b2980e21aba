"""Side tables: warehouse tables that are not assets (caches, outboxes, feedback, posts).

A :class:`SideTable` is one table of the contract (:mod:`digest_pipeline.contract`, kind
``side``) and the few reads and writes domains make of it, built on :class:`Warehouse`: upsert by
the natural key, read rows matching column values, one row by key, rows in a time window, delete.
Before the table's first write every read returns an empty frame with the declared columns, so
callers need no ``table_exists`` guard. Values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import dagster as dg
import pandas as pd

from digest_pipeline.contract import Table
from digest_pipeline.contract import table as contract_table
from digest_pipeline.defs.storage.schema import quote_ident
from digest_pipeline.defs.storage.warehouse import Warehouse

# A ``where`` value: one value (``=``), ``None`` (``IS NULL``), or a collection (``IN``).
Match = Mapping[str, Any]


def _condition(column: str, value: Any) -> tuple[str, list[Any]]:
    name = quote_ident(column)
    if value is None:
        return f"{name} IS NULL", []
    if isinstance(value, Collection) and not isinstance(value, str):
        return f"{name} IN (SELECT unnest(?))", [sorted(set(value))]
    return f"{name} = ?", [value]


def _is_empty_collection(value: Any) -> bool:
    return isinstance(value, Collection) and not isinstance(value, str) and not value


def _conditions(where: Match) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in where.items():
        sql, values = _condition(column, value)
        clauses.append(sql)
        params.extend(values)
    return clauses, params


@dataclass(frozen=True)
class SideTable:
    """One side table: its declared name, schema and key, and its reads and writes."""

    table: Table

    @classmethod
    def declared(cls, name: str) -> SideTable:
        """The contract's side table ``name`` (an asset's name or a typo fails here)."""
        return cls(contract_table(name, "side"))

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def schema(self) -> dg.TableSchema:
        return self.table.schema

    @property
    def key(self) -> tuple[str, ...]:
        return self.table.key

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def exists(self, warehouse: Warehouse) -> bool:
        return warehouse.table_exists(self.name)

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """``rows`` as a frame of the declared columns (absent ones null)."""
        return pd.DataFrame(list(rows), columns=pd.Index(self.columns))

    def upsert(self, warehouse: Warehouse, frame: pd.DataFrame) -> int:
        """Replace the rows of ``frame``'s keys, leave the others; returns rows written."""
        return warehouse.replace_rows(self.name, frame, key=list(self.key), schema=self.schema)

    def read(
        self,
        warehouse: Warehouse,
        where: Match | None = None,
        *,
        order_by: Sequence[str] = (),
        distinct: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """Rows matching every ``where`` entry, with ``since <= time_column < until`` when
        given. The declared columns in order (a column an older table lacks reads as null), or
        only the ``distinct`` combinations of some of them."""
        selected = list(distinct) or self.columns
        where = dict(where or {})
        if any(_is_empty_collection(v) for v in where.values()) or not self.exists(warehouse):
            return pd.DataFrame(columns=pd.Index(selected))
        clauses, params = _conditions(where)
        for bound, op in ((since, ">="), (until, "<")):
            if bound is not None:
                clauses.append(f"{quote_ident(self._time_column())} {op} ?")
                params.append(bound)
        head = (
            "SELECT DISTINCT " + ", ".join(map(quote_ident, distinct)) if distinct else "SELECT *"
        )
        sql = f"{head} FROM {{schema}}.{quote_ident(self.name)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if order_by:
            sql += " ORDER BY " + ", ".join(map(quote_ident, order_by))
        rows = warehouse.query(sql, params)
        for column in selected:
            if column not in rows.columns:
                rows[column] = None
        return cast(pd.DataFrame, rows[selected])  # pandas: columns select a frame

    def get(self, warehouse: Warehouse, key: Match) -> dict[str, Any] | None:
        """The row whose key is ``key`` (every key column given), or None."""
        if sorted(key) != sorted(self.key):
            raise ValueError(f"{self.name}: get() needs its key {list(self.key)}, got {list(key)}")
        rows = self.read(warehouse, key)
        return None if rows.empty else rows.iloc[0].to_dict()

    def window(
        self,
        warehouse: Warehouse,
        start: datetime,
        end: datetime | None = None,
        where: Match | None = None,
    ) -> pd.DataFrame:
        """Rows whose time column is in ``[start, end)`` (open-ended without ``end``)."""
        return self.read(warehouse, where, since=start, until=end, order_by=(self._time_column(),))

    def delete(self, warehouse: Warehouse, where: Match) -> None:
        """Delete the rows matching every ``where`` entry (nothing before the first write)."""
        if not where:
            raise ValueError(f"{self.name}: delete() needs a condition")
        if any(_is_empty_collection(v) for v in where.values()) or not self.exists(warehouse):
            return
        clauses, params = _conditions(where)
        warehouse.execute(
            f"DELETE FROM {{schema}}.{quote_ident(self.name)} WHERE " + " AND ".join(clauses),
            params,
        )

    def _time_column(self) -> str:
        if self.table.time_column is None:
            raise ValueError(f"{self.name} declares no time_column")
        return self.table.time_column
