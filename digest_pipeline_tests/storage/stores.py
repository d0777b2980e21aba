"""The storage tests' tables and a warehouse on each backend: a DuckDB file in tmp_path, or a
fresh PostgreSQL database."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import psycopg

from digest_pipeline.contract import table_schema
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.postgres import PostgresWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse

HOURS = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
LA_DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="America/Los_Angeles")
EVENTS = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("value", "BIGINT", "a number"),
)


def rows(start: str, n: int, offset: int = 0) -> pd.DataFrame:
    """``n`` events 5 minutes apart from ``start`` (UTC), ids ``e<offset>``…"""
    base = pd.Timestamp(start, tz="UTC")
    return pd.DataFrame(
        {
            "id": [f"e{offset + i}" for i in range(n)],
            "timestamp": [base + pd.Timedelta(minutes=5 * i) for i in range(n)],
            "value": list(range(n)),
        }
    )


def hour_of(key: str) -> str:
    """``2026-01-01-05:00`` (an hourly partition key) as ``2026-01-01 05:00``."""
    return key[:10] + " " + key[-5:]


def events_asset(
    frame_for_key: Callable[[str], pd.DataFrame],
    schema: dg.TableSchema = EVENTS,
    name: str = "events",
) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        partitions_def=HOURS,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": schema},
    )
    def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frame_for_key(context.partition_key)

    return events


@dataclass(frozen=True)
class Store:
    """One backend's I/O manager and Warehouse, and a plain client to check what they wrote."""

    backend: str
    io: dg.ConfigurableIOManagerFactory
    warehouse: Warehouse
    sql: Callable[[str], list[tuple[Any, ...]]]  # table names unqualified: schema ``digest``


def duckdb_store(path: str) -> Store:
    def sql(query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(path) as conn:
            # The file is digest.duckdb: a bare digest.table would name the catalog.
            catalog = conn.execute("SELECT current_database()").fetchall()[0][0]
            conn.execute(f'USE "{catalog}".digest')
            return conn.execute(query).fetchall()

    return Store(
        backend="duckdb",
        io=DuckDBWarehouseIOManager(database=path, schema="digest"),
        warehouse=Warehouse(duckdb_path=path),
        sql=sql,
    )


def postgres_store(url: str) -> Store:
    def sql(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            conn.execute("SET search_path TO digest")
            return conn.execute(query).fetchall()

    return Store(
        backend="postgres",
        io=PostgresWarehouseIOManager(database_url=url, schema="digest", connect_attempts=1),
        warehouse=Warehouse(backend="postgres", database_url=url, connect_attempts=1),
        sql=sql,
    )
