"""What only the PostgreSQL backend does: its column types, the partition index, the connection
retry and the wait command. The behaviour both backends share is in test_io_manager.py."""

import json

import dagster as dg
import pandas as pd
import psycopg
import pytest

from digest_pipeline.contract import table_schema
from digest_pipeline.defs.storage.errors import WarehouseUnavailable
from digest_pipeline.defs.storage.postgres_connection import ConnectPolicy, connect_postgres
from digest_pipeline_tests.storage.stores import HOURS, events_asset, hour_of, postgres_store, rows

pytestmark = pytest.mark.integration

TYPED = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("flag", "BOOLEAN", "a flag"),
    ("score", "DOUBLE", "a float"),
    ("count", "BIGINT", "an integer"),
    ("payload", "JSON", "JSON text"),
    ("note", "VARCHAR", "free text"),
)


def _sql(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_declared_types_map_to_postgres_types_and_values_round_trip(postgres_url):
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2026-01-01 00:00:00.123456", "2026-01-01 00:30:00.0", "2026-01-01 00:59:59.0"],
                utc=True,
            ),
            "flag": [True, False, None],
            "score": [0.1, float("nan"), -1.0],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "payload": [json.dumps({"k": ["v", 1]}), "[]", None],
            "note": ["tab\tnew\nline \\N back\\slash", "", None],
        }
    )

    @dg.asset(
        partitions_def=HOURS,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": TYPED},
    )
    def typed() -> pd.DataFrame:
        return frame

    @dg.asset(partitions_def=HOURS)
    def reader(typed: pd.DataFrame) -> None:
        assert str(typed["timestamp"].dtype).startswith("datetime64")
        assert str(typed["timestamp"].dt.tz) == "UTC"
        assert typed.sort_values("id")["payload"].tolist()[:2] == [frame["payload"][0], "[]"]

    result = dg.materialize(
        [typed, reader],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": postgres_store(postgres_url).io},
    )
    assert result.success
    types = dict(
        _sql(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'digest' AND table_name = 'typed'",
        )
    )
    assert types == {
        "id": "text",
        "timestamp": "timestamp with time zone",
        "flag": "boolean",
        "score": "double precision",
        "count": "bigint",
        "payload": "jsonb",
        "note": "text",
    }
    rows = _sql(
        postgres_url,
        "SELECT id, extract(microseconds FROM timestamp)::bigint % 1000000, flag, score, count,"
        " payload -> 'k' ->> 0, note FROM digest.typed ORDER BY id",
    )
    assert rows == [
        ("a", 123456, True, 0.1, 1, "v", "tab\tnew\nline \\N back\\slash"),
        ("b", 0, False, None, None, None, ""),
        ("c", 0, None, -1.0, 3, None, None),
    ]


def test_the_connection_is_retried_then_fails_with_one_clear_line():
    url = "postgresql://digest:s3cret-pw@127.0.0.1:1/warehouse"
    with pytest.raises(WarehouseUnavailable) as info:
        connect_postgres(url, ConnectPolicy(attempts=2, wait_seconds=0.05))
    message = str(info.value)
    assert "digest@127.0.0.1:1/warehouse" in message and "2 attempt(s)" in message
    assert "s3cret" not in message


def test_the_wait_command_reports_up_or_a_missing_variable(postgres_url, monkeypatch, capsys):
    from digest_pipeline.defs.storage.postgres import main

    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.delenv("DIGEST_UNSET_URL", raising=False)
    assert main([]) == 0
    assert "is up" in capsys.readouterr().err
    assert main(["DIGEST_UNSET_URL"]) == 2


def test_the_partition_column_is_indexed(postgres_url):
    asset = events_asset(lambda key: rows(hour_of(key), 2))
    for key in ["2026-01-01-00:00", "2026-01-01-01:00"]:
        dg.materialize(
            [asset], partition_key=key, resources={"io_manager": postgres_store(postgres_url).io}
        )
    assert _sql(postgres_url, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'digest'") == [
        ('CREATE INDEX events_timestamp_idx ON digest.events USING btree ("timestamp")',)
    ]
