"""A test-only writer for the crash test: ``python -m … <database_url> <rows>``.

Materializes one hourly partition of ``events`` with many rows through the real PostgreSQL I/O
manager, so the test can SIGKILL the process while the COPY is streaming (after the DELETE).
"""

import sys

import dagster as dg
import pandas as pd

from digest_pipeline.contract import table_schema
from digest_pipeline.defs.storage.postgres import PostgresWarehouseIOManager

PARTITION = "2026-01-01-00:00"
hours = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
EVENTS = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("value", "BIGINT", "a number"),
    ("note", "VARCHAR", "padding, so the COPY takes a while"),
)


def frame(start: str, n: int, prefix: str = "e") -> pd.DataFrame:
    base = pd.Timestamp(start, tz="UTC")
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "timestamp": base + pd.to_timedelta(pd.RangeIndex(n) % 3600, unit="s"),
            "value": range(n),
            "note": "x" * 200,
        }
    )


def events_asset(rows: pd.DataFrame) -> dg.AssetsDefinition:
    @dg.asset(
        name="events",
        partitions_def=hours,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": EVENTS},
    )
    def events() -> pd.DataFrame:
        return rows

    return events


def write(url: str, rows: pd.DataFrame, partition: str = PARTITION) -> None:
    dg.materialize(
        [events_asset(rows)],
        partition_key=partition,
        resources={"io_manager": PostgresWarehouseIOManager(database_url=url, schema="digest")},
    )


if __name__ == "__main__":
    write(sys.argv[1], frame("2026-01-01 00:00", int(sys.argv[2]), prefix="big"))
