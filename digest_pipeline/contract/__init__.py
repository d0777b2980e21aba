"""The table contract: every warehouse table's columns, key and kind, loaded from ``tables.toml``.

The data file beside this module is the one place a table's schema is written; domains take it
from here (``table("messages").schema``), so the columns the code writes, the DDL the I/O
managers and side tables run, and the ``dagster/column_schema`` the UI shows all come from it.
The file is read and checked once, on first use; a wrong entry is a ``ValueError`` naming the
table. Enumerations stay in :mod:`digest_pipeline.contract.enumerations` (``Literal`` types
the models validate with); descriptions name them by placeholder, so their text follows.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from typing import Any, Literal

import dagster as dg

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS, MESSAGE_TYPES

Kind = Literal["asset", "side"]
KINDS: tuple[Kind, ...] = ("asset", "side")
# The SQL types a column may have, in DuckDB's spelling (the PostgreSQL backend maps them).
SQL_TYPES = frozenset({"VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "TIMESTAMPTZ", "JSON"})
CONTRACT_FILE = "tables.toml"


def table_schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    """Build a column schema from ``(name, sql_type, description)`` triples."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=sql_type, description=description)
            for name, sql_type, description in columns
        ]
    )


def _spoken(values: tuple[str, ...]) -> str:
    """``low, medium, high or critical``."""
    return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else "".join(values)


# What a description may name in braces besides the [constants].
ENUMERATIONS: dict[str, str] = {
    "levels": _spoken(LEVELS),
    "categories": _spoken(CATEGORIES),
    "message_types": _spoken(MESSAGE_TYPES),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Table:
    """One warehouse table: its columns in order, natural key, kind and time column."""

    name: str
    kind: Kind
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    time_column: str | None = None

    @cached_property
    def schema(self) -> dg.TableSchema:
        """The column schema the I/O managers create the table from and the UI shows."""
        return table_schema(*((c.name, c.type, c.description) for c in self.columns))

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def sql_types(self) -> dict[str, str]:
        """Column name → SQL type, in column order."""
        return {c.name: c.type for c in self.columns}

    def asset_metadata(self) -> dict[str, Any]:
        """The asset's definition metadata: its column schema and, partitioned, its partition
        column (``partition_expr``)."""
        metadata: dict[str, Any] = {"dagster/column_schema": self.schema}
        if self.time_column:
            metadata["partition_expr"] = self.time_column
        return metadata


@dataclass(frozen=True)
class Contract:
    tables: Mapping[str, Table]
    constants: Mapping[str, int | str]

    def table(self, name: str, kind: Kind | None = None) -> Table:
        found = self.tables.get(name)
        if found is None:
            raise KeyError(f"{CONTRACT_FILE}: no table {name!r}")
        if kind is not None and found.kind != kind:
            raise ValueError(f"{CONTRACT_FILE}: {name} is an {found.kind} table, not {kind}")
        return found


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _filled(where: str, text: str, fill: Mapping[str, object]) -> str:
    """``text`` with each ``{name}`` replaced by its value; other braces (``[{name, count}]``)
    are prose and stay."""

    def value(match: re.Match[str]) -> str:
        if match[1] not in fill:
            raise ValueError(f"{CONTRACT_FILE}: {where}: unknown placeholder {match[0]}")
        return str(fill[match[1]])

    return _PLACEHOLDER.sub(value, text)


def _columns(name: str, raw: Any, fill: Mapping[str, object]) -> tuple[Column, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{CONTRACT_FILE}: [tables.{name}] columns must be a non-empty list")
    out = []
    for entry in raw:
        if not (
            isinstance(entry, list) and len(entry) == 3 and all(isinstance(e, str) for e in entry)
        ):
            raise ValueError(f"{CONTRACT_FILE}: [tables.{name}] bad column {entry!r}")
        column, sql_type, description = entry
        out.append(
            Column(column, sql_type, _filled(f"[tables.{name}] {column}", description, fill))
        )
    return tuple(out)


def _table(
    name: str, raw: Mapping[str, Any], parsed: Mapping[str, Table], fill: Mapping[str, object]
) -> Table:
    inherited: tuple[Column, ...] = ()
    if "extends" in raw:
        base = parsed.get(raw["extends"])
        if base is None:
            raise ValueError(
                f"{CONTRACT_FILE}: [tables.{name}] extends {raw['extends']!r}, not declared"
                " before it"
            )
        inherited = base.columns
    table = Table(
        name=name,
        kind=raw.get("kind"),  # type: ignore[arg-type]  # checked below
        description=str(raw.get("description", "")),
        key=tuple(raw.get("key", ())),
        columns=inherited + _columns(name, raw.get("columns"), fill),
        time_column=raw.get("time_column"),
    )
    check(table)
    return table


def check(table: Table) -> None:
    """Refuse a table whose kind, key, time column or column types make no sense."""
    where = f"{CONTRACT_FILE}: [tables.{table.name}]"
    names = table.column_names
    if table.kind not in KINDS:
        raise ValueError(f"{where} kind {table.kind!r} is not one of {KINDS}")
    if len(set(names)) != len(names):
        raise ValueError(f"{where} declares a column twice")
    if not table.key or any(k not in names for k in table.key):
        raise ValueError(f"{where} key {list(table.key)} must be some of its columns")
    if table.time_column is not None and table.time_column not in names:
        raise ValueError(f"{where} time_column {table.time_column!r} is not a column")
    unknown = sorted({c.type for c in table.columns} - SQL_TYPES)
    if unknown:
        raise ValueError(f"{where} has unknown SQL types {unknown}")


def parse(text: str) -> Contract:
    """The contract in ``text`` (the TOML of ``tables.toml``), checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{CONTRACT_FILE}: {e}") from e
    constants = dict(data.get("constants", {}))
    fill = {**ENUMERATIONS, **constants}
    tables: dict[str, Table] = {}
    for name, raw in data.get("tables", {}).items():
        tables[name] = _table(name, raw, tables, fill)
    return Contract(tables, constants)


@cache
def contract() -> Contract:
    """The packaged contract, read once."""
    return parse(files(__name__).joinpath(CONTRACT_FILE).read_text(encoding="utf-8"))


def table(name: str, kind: Kind | None = None) -> Table:
    """One table of the contract (of ``kind``, when given: a typo'd or misused name fails)."""
    return contract().table(name, kind)


def constant(name: str) -> Any:
    return contract().constants[name]
