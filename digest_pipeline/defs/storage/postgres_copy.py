"""pandas in and out of PostgreSQL: binary ``COPY`` by column name, and queries as DataFrames.

Values are converted a column at a time (numpy), not a row at a time: a million tz-aware
``datetime`` objects cost seconds, the microsecond integers the binary format wants do not.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any, LiteralString, cast

import numpy as np
import pandas as pd
import psycopg
from psycopg import pq
from psycopg.adapt import Dumper
from psycopg.types.json import set_json_dumps

from digest_pipeline.defs.storage.schema import quote_ident


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


def trusted_sql(statement: str) -> LiteralString:
    """``statement`` vouched for: built only from our own SQL text and identifiers quoted by
    ``quote_ident``, values passed as parameters. psycopg's types ask for a ``LiteralString``
    to keep values out of SQL text; composed statements need saying so."""
    return cast(LiteralString, statement)


def copy_frame(
    conn: psycopg.Connection, target: str, frame: pd.DataFrame, types: dict[str, str]
) -> int:
    """Bulk-load ``frame`` into ``target`` by column name with binary COPY."""
    if frame.empty:
        return 0
    names = [str(c) for c in frame.columns]
    # pandas is untyped here: one (unique) column name selects a Series.
    columns = [_python_column(cast(pd.Series, frame[name]), types[name]) for name in names]
    cols = ", ".join(quote_ident(n) for n in names)
    with conn.cursor() as cur:
        # JSON columns hold JSON text already: pass it through rather than quote it again.
        set_json_dumps(_json_text, context=cur)
        cur.adapters.register_dumper(_Micros, _MicrosTimestamptzDumper)
        cur.adapters.register_dumper(_Micros, _MicrosTimestampDumper)
        with cur.copy(trusted_sql(f"COPY {target} ({cols}) FROM STDIN (FORMAT BINARY)")) as copy:
            copy.set_types([types[n] for n in names])
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return len(frame)


_TIMESTAMP_OIDS = {1184}  # timestamptz
_NAIVE_TIMESTAMP_OIDS = {1114}


def fetch_frame(conn: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run a query and return a DataFrame; ``timestamptz`` columns as UTC datetimes."""
    with conn.cursor() as cur:
        # Always with a list: SQL from to_pyformat has its literal % doubled, which psycopg
        # undoes only when it formats parameters (even none).
        cur.execute(trusted_sql(sql), list(params))
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
