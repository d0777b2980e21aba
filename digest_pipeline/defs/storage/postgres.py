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
import math
import re
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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

from digest_pipeline.defs.storage.errors import (
    WarehouseError,
    WarehouseUnavailable,
    check_database_url,
    describe_url,
    warehouse_failure,
)
from digest_pipeline.defs.storage.lifeline import exit_with_parent
from digest_pipeline.defs.storage.schema import (
    declared_columns,
    display_select,
    partition_filter,
    quote_ident,
)

# A warehouse that does not answer fails a step within seconds, not minutes: three attempts, 2 s
# apart, all within 10 s (a server restart or a fail-over). Container entrypoints wait longer
# (see main()). Every value can be set on the resources.
CONNECT_ATTEMPTS = 3
CONNECT_WAIT_SECONDS = 2.0
CONNECT_BUDGET_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5  # per attempt; libpq's minimum is 2
# Session limits on every warehouse connection. A writer waiting for a table's advisory lock
# gives up after LOCK_TIMEOUT (a day's reconcile holds it for seconds; five minutes is a stuck
# holder); a session idle inside a transaction (a hung or orphaned worker) is ended by the server,
# releasing its locks. No statement_timeout: a backfill's COPY may rightly take many minutes.
LOCK_TIMEOUT_SECONDS = 300
IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 120
# The server probes an idle client's socket after 60 s, so a vanished host's session ends in
# ~2 minutes rather than the kernel's default two hours.
TCP_KEEPALIVES = {
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "6",
}
# The entrypoint wait (python -m digest_pipeline.defs.storage.postgres): a database container
# starting alongside may take a minute.
ENTRYPOINT_ATTEMPTS = 30

# libpq errors no retry fixes: the server answered and said no, or an option cannot work.
_FINAL_CONNECT_ERRORS = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "password is required",
    "invalid connection option",
    "invalid integer value",
    "invalid sslmode value",
)


@dataclass(frozen=True)
class ConnectPolicy:
    """How to connect: the retry budget and the session limits (see the constants above)."""

    attempts: int = CONNECT_ATTEMPTS
    wait_seconds: float = CONNECT_WAIT_SECONDS
    budget_seconds: float = CONNECT_BUDGET_SECONDS
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS
    idle_in_transaction_timeout_seconds: float = IDLE_IN_TRANSACTION_TIMEOUT_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectPolicy:
        """From a resource's config (fields ``connect_attempts``, ``lock_timeout_seconds``, …)."""
        default = cls()
        return cls(
            attempts=config.get("connect_attempts", default.attempts),
            wait_seconds=config.get("connect_wait_seconds", default.wait_seconds),
            budget_seconds=config.get("connect_budget_seconds", default.budget_seconds),
            lock_timeout_seconds=config.get("lock_timeout_seconds", default.lock_timeout_seconds),
            idle_in_transaction_timeout_seconds=config.get(
                "idle_in_transaction_timeout_seconds", default.idle_in_transaction_timeout_seconds
            ),
        )

    def session_settings(self) -> dict[str, str]:
        """``SET`` values for a new session (milliseconds; 0 turns a limit off)."""
        return {
            "TimeZone": "UTC",
            "lock_timeout": f"{round(self.lock_timeout_seconds * 1000)}ms",
            "idle_in_transaction_session_timeout": (
                f"{round(self.idle_in_transaction_timeout_seconds * 1000)}ms"
            ),
            **TCP_KEEPALIVES,
        }


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


def pg_type(declared: str) -> str:
    """The PostgreSQL type for a declared column type; a one-line error for anything unknown."""
    key = declared.strip().upper()
    if key not in PG_TYPES:
        raise ValueError(
            f"column type {declared!r} has no PostgreSQL mapping (known: {', '.join(PG_TYPES)})"
        )
    return PG_TYPES[key]


def connect_postgres(
    url: str,
    policy: ConnectPolicy = ConnectPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> psycopg.Connection:
    """Connect within ``policy``'s budget and set its session limits.

    A malformed URL fails before any attempt, a rejected login after the first; both raise
    :class:`WarehouseConfigError` / :class:`WarehouseUnavailable`, which Dagster does not retry.
    Errors name ``user@host:port/db``, never the password, and chain no driver exception.
    """
    check_database_url(url)
    failure: WarehouseError | None = None
    began = clock()
    deadline = began + policy.budget_seconds
    attempts = max(policy.attempts, 1)
    for attempt in range(1, attempts + 1):
        remaining = max(deadline - clock(), 0.0)
        timeout = max(2, min(CONNECT_TIMEOUT_SECONDS, math.ceil(remaining)))
        try:
            # Autocommit: transactions are explicit ``conn.transaction()`` blocks.
            conn = psycopg.connect(url, autocommit=True, connect_timeout=timeout)
        except psycopg.Error as e:
            final = any(text in str(e) for text in _FINAL_CONNECT_ERRORS)
            spent = clock() - began
            if final or attempt >= attempts or clock() + policy.wait_seconds >= deadline:
                failure = warehouse_failure(
                    e,
                    url,
                    f"PostgreSQL warehouse {describe_url(url)} "
                    + (
                        "refused the connection"
                        if final
                        else f"is not reachable after {attempt} attempt(s) in {spent:.0f} s"
                    )
                    + " (check DATABASE_URL and that the server is up)",
                    WarehouseUnavailable,
                )
                break
            sleep(policy.wait_seconds)
            continue
        try:
            _configure_session(conn, policy)
        except psycopg.Error as e:
            conn.close()
            failure = warehouse_failure(e, url, f"Setting up a session on {describe_url(url)}")
            break
        return conn
    assert failure is not None
    raise failure  # outside the except block: the driver's exception is not chained


def _configure_session(conn: psycopg.Connection, policy: ConnectPolicy) -> None:
    settings = policy.session_settings()
    if conn.info.server_version >= 140000:
        # A long statement notices a client that went away (PostgreSQL 14+).
        settings["client_connection_check_interval"] = "10s"
    conn.execute(
        "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in settings),
        [value for pair in settings.items() for value in pair],
    )
    # JSON columns come back as their text, as DuckDB returns them.
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)


@contextmanager
def transaction(url: str, policy: ConnectPolicy = ConnectPolicy()) -> Iterator[psycopg.Connection]:
    """One transaction: committed when the block ends, rolled back on any error.

    Driver errors inside the block come out as :class:`WarehouseQueryError` with a redacted
    message (a lock wait past ``lock_timeout`` says so); other exceptions pass unchanged.
    """
    conn = connect_postgres(url, policy)
    failure: WarehouseError | None = None
    try:
        with conn.transaction():
            yield conn
    except psycopg.errors.LockNotAvailable as e:
        failure = warehouse_failure(
            e,
            url,
            f"Gave up waiting {policy.lock_timeout_seconds:g} s (lock_timeout) for a lock on the"
            " warehouse: another writer, or a dead session, holds it (docs/runbook.md, 'A stuck"
            " run')",
        )
    except psycopg.Error as e:
        failure = warehouse_failure(e, url, f"Warehouse statement failed on {describe_url(url)}")
    finally:
        conn.close()
    if failure is not None:
        raise failure


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
    def get_table_name(table_slice: TableSlice) -> str:
        """``schema.table`` as the UI shows it: it pastes unchanged into the DuckDB CLI, Python
        and psql (the default DuckDB file is not named after the schema, see settings)."""
        return f"{table_slice.schema}.{table_slice.table}"

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
        with transaction(config["database_url"], ConnectPolicy.from_config(config)) as conn:
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


class PostgresConnectionConfig(dg.Config):
    """The connection budget and session limits, the same fields on both warehouse resources."""

    connect_attempts: int = Field(
        default=CONNECT_ATTEMPTS, ge=1, description="Connection attempts before failing"
    )
    connect_wait_seconds: float = Field(
        default=CONNECT_WAIT_SECONDS, ge=0, description="Seconds between connection attempts"
    )
    connect_budget_seconds: float = Field(
        default=CONNECT_BUDGET_SECONDS, gt=0, description="Seconds all attempts may take"
    )
    lock_timeout_seconds: float = Field(
        default=LOCK_TIMEOUT_SECONDS, ge=0, description="A lock wait fails after this (0: never)"
    )
    idle_in_transaction_timeout_seconds: float = Field(
        default=IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
        ge=0,
        description="The server ends a session idle in a transaction this long (0: never)",
    )

    @property
    def connect_policy(self) -> ConnectPolicy:
        return ConnectPolicy(
            attempts=self.connect_attempts,
            wait_seconds=self.connect_wait_seconds,
            budget_seconds=self.connect_budget_seconds,
            lock_timeout_seconds=self.lock_timeout_seconds,
            idle_in_transaction_timeout_seconds=self.idle_in_transaction_timeout_seconds,
        )


class PostgresWarehouseIOManager(dg.ConfigurableIOManagerFactory, PostgresConnectionConfig):
    """Pandas DataFrames in PostgreSQL, one table per asset in schema ``digest``.

    Partitioned assets need ``partition_expr`` metadata (the timestamp column of the window).
    """

    database_url: str = Field(description="PostgreSQL URL; bind with dg.EnvVar('DATABASE_URL')")
    schema_: str = Field(default="digest", alias="schema", description="Schema of the tables")

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PostgresPandasWarehouseHandler()]

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        exit_with_parent()  # a step worker stops writing when its run worker dies
        return DbIOManager(
            db_client=PostgresWarehouseClient(),
            database="postgres",
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=pd.DataFrame,
            io_manager_name="PostgresWarehouseIOManager",
        )


ENTRYPOINT_POLICY = ConnectPolicy(
    attempts=ENTRYPOINT_ATTEMPTS,
    wait_seconds=CONNECT_WAIT_SECONDS,
    budget_seconds=ENTRYPOINT_ATTEMPTS * (CONNECT_WAIT_SECONDS + 1),
)


def wait_for_postgres(url: str, policy: ConnectPolicy = ENTRYPOINT_POLICY) -> str:
    """Block until the server answers (for container entrypoints); returns its version.

    A SQLAlchemy URL (``postgresql+psycopg2://``, as DAGSTER_POSTGRES_URL) is read as libpq's."""
    conn = connect_postgres(re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url), policy)
    try:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m digest_pipeline.defs.storage.postgres [VAR …]``: wait for the servers named by
    the environment variables (default DATABASE_URL), 30 attempts 2 s apart (at most 90 s); for
    entrypoints that start the webserver, the daemon or the code server once the database is up."""
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
        except WarehouseError as e:
            sys.stderr.write(f"{name}: {e.description}\n")
            return 1
        sys.stderr.write(f"{name}: PostgreSQL {version} at {describe_url(url)} is up\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
