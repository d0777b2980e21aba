"""PostgreSQL warehouse: the production backend, the same shape as the DuckDB one.

Tables are created from the asset's declared column schema (types in DuckDB spelling, mapped by
:data:`PG_TYPES`), new columns are added with ``ALTER TABLE … ADD COLUMN`` (nothing is ever
dropped), rows are bulk-loaded with binary ``COPY`` (psycopg 3) by column name, and a partition is
replaced — delete its window, copy the new rows — in one transaction: a crash or a killed process
leaves the previous rows in place, never half a partition.

Writers of one table take a transaction-scoped advisory lock on it, so two runs writing
overlapping windows (an hourly run and a day's reconcile) queue instead of both deleting first
and then both inserting. DDL (first write, new columns) takes one more lock, because concurrent
``CREATE … IF NOT EXISTS`` can still collide in PostgreSQL's catalog.
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TableSlice,
)
from psycopg import pq
from psycopg.adapt import Dumper
from psycopg.types.json import set_json_dumps
from psycopg.types.string import TextLoader
from pydantic import Field

from digest_pipeline.defs.storage.schema import (
    declared_columns,
    display_select,
    partition_filter,
    quote_ident,
)

CONNECT_ATTEMPTS = 30
CONNECT_WAIT_SECONDS = 2.0

# Declared (DuckDB-spelled) column types and their PostgreSQL equivalents.
PG_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "FLOAT": "double precision",
    "JSON": "jsonb",
}

_DDL_LOCK = "digest:ddl"


class WarehouseUnavailable(dg.Failure):
    """The warehouse database did not answer; the message names host, port and database only."""


def pg_type(declared: str) -> str:
    """The PostgreSQL type for a declared column type; a one-line error for anything unknown."""
    key = declared.strip().upper()
    if key not in PG_TYPES:
        raise ValueError(
            f"column type {declared!r} has no PostgreSQL mapping (known: {', '.join(PG_TYPES)})"
        )
    return PG_TYPES[key]


def describe_url(url: str) -> str:
    """``user@host:port/db`` from a connection URL — never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparseable DATABASE_URL"
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    return f"{user}{host}:{info.get('port') or 5432}/{info.get('dbname') or '(default)'}"


def connect_postgres(
    url: str,
    *,
    attempts: int = CONNECT_ATTEMPTS,
    wait_seconds: float = CONNECT_WAIT_SECONDS,
) -> psycopg.Connection:
    """Connect, retrying while the server starts or is unreachable (``attempts``, ``wait`` apart).

    Authentication failures are not retried. Errors name the server, never the password.
    """
    last: Exception | None = None
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            # Autocommit: transactions are explicit ``conn.transaction()`` blocks.
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as e:
            last = e
            if "authentication failed" in str(e) or attempt >= attempts:
                break
            time.sleep(wait_seconds)
            continue
        conn.execute("SET TIME ZONE 'UTC'")
        # JSON columns come back as their text, as DuckDB returns them.
        conn.adapters.register_loader("jsonb", TextLoader)
        conn.adapters.register_loader("json", TextLoader)
        return conn
    reason = str(last).strip().splitlines()[0] if last else "unknown error"
    raise WarehouseUnavailable(
        f"PostgreSQL warehouse {describe_url(url)} is not reachable after {attempts} attempt(s)"
        f" {wait_seconds:g} s apart: {reason}. Check DATABASE_URL and that the server is up."
    ) from last


@contextmanager
def transaction(url: str, **kwargs: Any) -> Iterator[psycopg.Connection]:
    """One transaction: committed when the block ends, rolled back on any error."""
    conn = connect_postgres(url, **kwargs)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


# --- SQL with ``?`` placeholders, as DuckDB takes them -------------------------------------------

_ARRAY_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean[]"),
    (int, "bigint[]"),
    (float, "double precision[]"),
    (datetime, "timestamptz[]"),
    (date, "date[]"),
    (str, "text[]"),
)


def _array_cast(values: Sequence[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    for kind, sql_type in _ARRAY_TYPES:
        if sample is None or isinstance(sample, kind):
            return sql_type
    return "text[]"


def to_pyformat(sql: str, params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
    """Translate ``?`` placeholders to psycopg's ``%s`` (and ``%`` to ``%%``).

    ``?`` inside string literals, quoted identifiers, dollar quotes and comments is left alone. A
    list or tuple parameter becomes a typed array (``CAST(%s AS text[])``), so DuckDB's
    ``IN (SELECT unnest(?))`` works unchanged: PostgreSQL cannot infer an untyped array's type.
    """
    out: list[str] = []
    values = list(params)
    index = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            escapes = i > 0 and sql[i - 1] in "eE"
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif ch == '"':
            j = sql.find('"', i + 1)
            j = n - 1 if j < 0 else j
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "$" and (match := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            tag = match.group(0)
            j = sql.find(tag, i + len(tag))
            j = n if j < 0 else j + len(tag)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "?":
            if index >= len(values):
                raise ValueError(f"SQL has more ? placeholders than the {len(values)} parameters")
            value = values[index]
            if isinstance(value, list | tuple | np.ndarray):
                values[index] = list(value)
                out.append(f"CAST(%s AS {_array_cast(values[index])})")
            else:
                out.append("%s")
            index += 1
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    if index != len(values):
        raise ValueError(f"SQL has {index} ? placeholders but {len(values)} parameters were given")
    return "".join(out), values


# --- tables ---------------------------------------------------------------------------------------


def qualified(schema: str, table: str | None = None) -> str:
    return ".".join(quote_ident(p) for p in (schema, table) if p)


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    """Existing columns and their type names (``text``, ``timestamptz``, ``int8``, …); empty if
    the table does not exist."""
    rows = conn.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [schema, table],
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _lock(conn: psycopg.Connection, name: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if not exists:
        _lock(conn, _DDL_LOCK)
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")


def ensure_table(
    conn: psycopg.Connection, schema: str, table: str, columns: dict[str, str]
) -> dict[str, str]:
    """Create the table, or add the declared columns it lacks. Returns columns → PG types."""
    wanted = {name: pg_type(kind) for name, kind in columns.items()}
    existing = table_columns(conn, schema, table)
    if existing and all(name in existing for name in wanted):
        return existing
    _lock(conn, _DDL_LOCK)
    existing = table_columns(conn, schema, table)  # another writer may have won the race
    target = qualified(schema, table)
    if not existing:
        cols = ", ".join(f"{quote_ident(name)} {kind}" for name, kind in wanted.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {target} ({cols})")
    else:
        for name, kind in wanted.items():
            if name not in existing:
                conn.execute(f"ALTER TABLE {target} ADD COLUMN {quote_ident(name)} {kind}")
    return table_columns(conn, schema, table)


def ensure_index(conn: psycopg.Connection, schema: str, table: str, column: str) -> None:
    """An index on the partition column: replacing or reading one hour of a table that holds
    years of them must not scan the whole table."""
    name = f"{table}_{column}_idx"[:63]
    exists = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    ).fetchone()
    if not exists:
        _lock(conn, _DDL_LOCK)
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote_ident(name)}"
            f" ON {qualified(schema, table)} ({quote_ident(column)})"
        )


def lock_table(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Serialize writers of one table until the transaction ends (see the module docstring)."""
    _lock(conn, f"digest:write:{schema}.{table}")


# --- pandas in and out ----------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, PostgreSQL's epoch, in Unix microseconds
_INT8 = struct.Struct("!q")


class _Micros:
    """Marker: a timestamp given as microseconds since PostgreSQL's epoch (see below)."""


class _MicrosTimestamptzDumper(Dumper):
    """Binary ``timestamptz`` from an int of microseconds since 2000-01-01 UTC.

    Building a million tz-aware ``datetime`` objects costs seconds; the binary wire format is that
    integer, which numpy computes for the whole column at once.
    """

    format = pq.Format.BINARY
    oid = 1184

    def dump(self, obj: int) -> bytes:
        return _INT8.pack(obj)


class _MicrosTimestampDumper(_MicrosTimestamptzDumper):
    oid = 1114


def _micros(series: pd.Series, *, utc: bool) -> tuple[np.ndarray, np.ndarray]:
    stamps = pd.to_datetime(series, utc=utc)
    if utc:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    mask = stamps.isna().to_numpy()
    nanos = stamps.to_numpy(dtype="datetime64[ns]").view("int64")
    return (nanos // 1000 - _PG_EPOCH_US).astype(object), mask


def _python_column(series: pd.Series, kind: str) -> list[Any]:
    """One column as values the binary COPY dumps to type ``kind``; missing values are None."""
    if kind in ("timestamptz", "timestamp"):
        values, mask = _micros(series, utc=kind == "timestamptz")
    elif kind == "date":
        stamps = pd.to_datetime(series)
        mask = stamps.isna().to_numpy()
        values = np.array([None if m else v.date() for v, m in zip(stamps, mask, strict=True)])
    else:
        mask = series.isna().to_numpy()
        if kind == "bool":
            values = series.astype(object).where(~mask, False).astype(bool).astype(object)
        elif kind in ("int8", "int4", "int2"):
            values = series.astype(object).where(~mask, 0).astype("int64").astype(object)
        elif kind in ("float8", "float4", "numeric"):
            values = series.astype("float64").astype(object)
        elif kind in ("jsonb", "json"):
            values = series.astype(object)
        else:
            values = series.astype(object)
            if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
                values = values.map(lambda v: v if isinstance(v, str) else str(v))
        values = values.to_numpy(dtype=object)
    if mask.any():
        values[mask] = None
    return values.tolist()


def copy_frame(
    conn: psycopg.Connection, target: str, frame: pd.DataFrame, types: dict[str, str]
) -> int:
    """Bulk-load ``frame`` into ``target`` by column name with binary COPY."""
    if frame.empty:
        return 0
    names = [str(c) for c in frame.columns]
    columns = [_python_column(frame[name], types[name]) for name in names]
    cols = ", ".join(quote_ident(n) for n in names)
    with conn.cursor() as cur:
        # JSON columns hold JSON text already: pass it through rather than quote it again.
        set_json_dumps(_json_text, context=cur)
        cur.adapters.register_dumper(_Micros, _MicrosTimestamptzDumper)
        cur.adapters.register_dumper(_Micros, _MicrosTimestampDumper)
        with cur.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[n] for n in names])
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return len(frame)


_TIMESTAMP_OIDS = {1184}  # timestamptz
_NAIVE_TIMESTAMP_OIDS = {1114}


def fetch_frame(conn: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run a query and return a DataFrame; ``timestamptz`` columns as UTC datetimes."""
    with conn.cursor() as cur:
        cur.execute(sql, list(params) if params else None)
        if cur.description is None:
            return pd.DataFrame()
        names = [d.name for d in cur.description]
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=names)
        for d in cur.description:
            if d.type_code in _TIMESTAMP_OIDS:
                frame[d.name] = pd.to_datetime(frame[d.name], utc=True)
            elif d.type_code in _NAIVE_TIMESTAMP_OIDS:
                frame[d.name] = pd.to_datetime(frame[d.name])
    return frame


class PostgresWarehouseClient(DbClient):
    @staticmethod
    def delete_table_slice(
        context: dg.OutputContext, table_slice: TableSlice, connection: psycopg.Connection
    ) -> None:
        lock_table(connection, table_slice.schema, table_slice.table)
        if not table_columns(connection, table_slice.schema, table_slice.table):
            return  # first write: nothing to replace yet
        table = qualified(table_slice.schema, table_slice.table)
        if table_slice.partition_dimensions:
            where, params = partition_filter(table_slice.partition_dimensions, placeholder="%s")
            connection.execute(f"DELETE FROM {table} WHERE {where}", params)
        else:
            connection.execute(f"DELETE FROM {table}")

    @staticmethod
    def ensure_schema_exists(
        context: dg.OutputContext, table_slice: TableSlice, connection: psycopg.Connection
    ) -> None:
        ensure_schema(connection, table_slice.schema)

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        return display_select(table_slice)

    @staticmethod
    @contextmanager
    def connect(
        context: dg.OutputContext | dg.InputContext, table_slice: TableSlice
    ) -> Iterator[psycopg.Connection]:
        config = context.resource_config
        with transaction(
            config["database_url"],
            attempts=config.get("connect_attempts", CONNECT_ATTEMPTS),
            wait_seconds=config.get("connect_wait_seconds", CONNECT_WAIT_SECONDS),
        ) as conn:
            yield conn


class PostgresPandasWarehouseHandler(DbTypeHandler[pd.DataFrame]):
    def handle_output(
        self,
        context: dg.OutputContext,
        table_slice: TableSlice,
        obj: pd.DataFrame,
        connection: psycopg.Connection,
    ) -> dict[str, Any]:
        columns = declared_columns(context, obj)
        types = ensure_table(connection, table_slice.schema, table_slice.table, columns)
        copy_frame(connection, qualified(table_slice.schema, table_slice.table), obj, types)
        # After the COPY: on a first bulk load, building the index once beats maintaining it.
        for dim in table_slice.partition_dimensions:
            ensure_index(connection, table_slice.schema, table_slice.table, dim.partition_expr)
        row_count = int(obj.shape[0])
        if context.has_asset_partitions:
            return {"dagster/partition_row_count": row_count, "storage": "postgres"}
        return {"dagster/row_count": row_count, "storage": "postgres"}

    def load_input(
        self,
        context: dg.InputContext,
        table_slice: TableSlice,
        connection: psycopg.Connection,
    ) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        table = qualified(table_slice.schema, table_slice.table)
        cols = (
            ", ".join(quote_ident(c) for c in table_slice.columns) if table_slice.columns else "*"
        )
        if table_slice.partition_dimensions:
            where, params = partition_filter(table_slice.partition_dimensions, placeholder="%s")
            return fetch_frame(connection, f"SELECT {cols} FROM {table} WHERE {where}", params)
        return fetch_frame(connection, f"SELECT {cols} FROM {table}")

    @property
    def supported_types(self) -> Sequence[type]:
        return [pd.DataFrame]


class PostgresWarehouseIOManager(dg.ConfigurableIOManagerFactory):
    """Pandas DataFrames in PostgreSQL, one table per asset in schema ``digest``.

    Partitioned assets need ``partition_expr`` metadata (the timestamp column of the window).
    """

    database_url: str = Field(description="PostgreSQL URL; bind with dg.EnvVar('DATABASE_URL')")
    schema_: str = Field(default="digest", alias="schema", description="Schema of the tables")
    connect_attempts: int = Field(
        default=CONNECT_ATTEMPTS, description="Connection attempts before failing"
    )
    connect_wait_seconds: float = Field(
        default=CONNECT_WAIT_SECONDS, description="Seconds between connection attempts"
    )

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PostgresPandasWarehouseHandler()]

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        return DbIOManager(
            db_client=PostgresWarehouseClient(),
            database="postgres",
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=pd.DataFrame,
            io_manager_name="PostgresWarehouseIOManager",
        )


def wait_for_postgres(
    url: str, attempts: int = CONNECT_ATTEMPTS, wait_seconds: float = CONNECT_WAIT_SECONDS
) -> str:
    """Block until the server answers (for container entrypoints); returns its version."""
    conn = connect_postgres(url, attempts=attempts, wait_seconds=wait_seconds)
    try:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m digest_pipeline.defs.storage.postgres [VAR …]``: wait for the servers named by
    the environment variables (default DATABASE_URL), 30 attempts 2 s apart; for entrypoints
    that start the webserver, the daemon or the code server only once the database answers."""
    import os
    import sys

    names = list(argv if argv is not None else sys.argv[1:]) or ["DATABASE_URL"]
    for name in names:
        url = os.environ.get(name)
        if not url:
            sys.stderr.write(f"{name} is not set\n")
            return 2
        try:
            version = wait_for_postgres(url)
        except WarehouseUnavailable as e:
            sys.stderr.write(f"{name}: {e.description}\n")
            return 1
        sys.stderr.write(f"{name}: PostgreSQL {version} at {describe_url(url)} is up\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
