"""The PostgreSQL I/O manager and Warehouse against a fresh database on the test server."""

import json

import dagster as dg
import pandas as pd
import psycopg
import pytest

from digest_pipeline.defs.storage.errors import WarehouseUnavailable
from digest_pipeline.defs.storage.postgres import (
    ConnectPolicy,
    PostgresWarehouseIOManager,
    connect_postgres,
    to_pyformat,
)
from digest_pipeline.defs.storage.schema import table_schema
from digest_pipeline.defs.storage.warehouse import Warehouse

pytestmark = pytest.mark.integration

hours = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
la_days = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="America/Los_Angeles")

EVENTS = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("value", "BIGINT", "a number"),
)
TYPED = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("flag", "BOOLEAN", "a flag"),
    ("score", "DOUBLE", "a float"),
    ("count", "BIGINT", "an integer"),
    ("payload", "JSON", "JSON text"),
    ("note", "VARCHAR", "free text"),
)


def _rows(start: str, n: int, offset: int = 0) -> pd.DataFrame:
    base = pd.Timestamp(start, tz="UTC")
    return pd.DataFrame(
        {
            "id": [f"e{offset + i}" for i in range(n)],
            "timestamp": [base + pd.Timedelta(minutes=5 * i) for i in range(n)],
            "value": list(range(n)),
        }
    )


def _events_asset(frame_for_key, schema: dg.TableSchema = EVENTS, name: str = "events"):
    @dg.asset(
        name=name,
        partitions_def=hours,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": schema},
    )
    def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frame_for_key(context.partition_key)

    return events


def _sql(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _io(url: str) -> PostgresWarehouseIOManager:
    return PostgresWarehouseIOManager(database_url=url, schema="digest", connect_attempts=1)


def _hour(key: str) -> str:
    return key[:10] + " " + key[-5:]


def test_rematerializing_a_partition_replaces_it_without_duplicates(postgres_url):
    asset = _events_asset(lambda key: _rows(_hour(key), 3))
    for key in ["2026-01-01-00:00", "2026-01-01-01:00", "2026-01-01-00:00"]:
        dg.materialize([asset], partition_key=key, resources={"io_manager": _io(postgres_url)})
    assert _sql(
        postgres_url, "SELECT count(*), count(DISTINCT (id, timestamp)) FROM digest.events"
    )[0] == (6, 6)


def test_an_empty_first_partition_still_creates_the_table_and_clears_old_rows(postgres_url):
    data = {"n": 0}
    asset = _events_asset(lambda key: _rows("2026-01-01 00:00", data["n"]))
    io = _io(postgres_url)
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    assert _sql(postgres_url, "SELECT count(*) FROM digest.events") == [(0,)]
    data["n"] = 2
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    data["n"] = 0
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    assert _sql(postgres_url, "SELECT count(*) FROM digest.events") == [(0,)]


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
        partitions_def=hours,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": TYPED},
    )
    def typed() -> pd.DataFrame:
        return frame

    @dg.asset(partitions_def=hours)
    def reader(typed: pd.DataFrame) -> None:
        assert str(typed["timestamp"].dtype).startswith("datetime64")
        assert str(typed["timestamp"].dt.tz) == "UTC"
        assert typed.sort_values("id")["payload"].tolist()[:2] == [frame["payload"][0], "[]"]

    result = dg.materialize(
        [typed, reader],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": _io(postgres_url)},
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


def test_a_new_declared_column_is_added_not_shifted(postgres_url):
    io = _io(postgres_url)
    dg.materialize(
        [_events_asset(lambda key: _rows("2026-01-01 00:00", 2))],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": io},
    )
    wider = table_schema(
        *[(c.name, c.type, c.description or "") for c in EVENTS.columns],
        ("label", "VARCHAR", "added later"),
    )
    # Columns in a different order than the table: copied by name.
    v2 = _events_asset(
        lambda key: _rows("2026-01-01 01:00", 2, offset=10).assign(label="x")[
            ["label", "value", "timestamp", "id"]
        ],
        schema=wider,
    )
    dg.materialize([v2], partition_key="2026-01-01-01:00", resources={"io_manager": io})
    assert _sql(postgres_url, "SELECT id, value, label FROM digest.events ORDER BY id") == [
        ("e0", 0, None),
        ("e1", 1, None),
        ("e10", 0, "x"),
        ("e11", 1, "x"),
    ]


def test_undeclared_columns_fail_with_a_clear_message(postgres_url):
    asset = _events_asset(lambda key: _rows("2026-01-01 00:00", 1).assign(extra=1))
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": _io(postgres_url)},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "undeclared: ['extra']" in str(failure)


def test_a_local_day_partition_covers_its_utc_hours(postgres_url):
    """A Los Angeles day is 08:00-08:00 UTC in winter: rows are selected as instants."""

    @dg.asset(
        partitions_def=la_days,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": EVENTS},
    )
    def la_events() -> pd.DataFrame:
        return _rows("2026-01-10 07:55", 3)  # 07:55 belongs to the previous LA day

    @dg.asset(partitions_def=la_days)
    def la_reader(la_events: pd.DataFrame) -> None:
        assert len(la_events) == 2

    io = _io(postgres_url)
    assert dg.materialize(
        [la_events, la_reader], partition_key="2026-01-10", resources={"io_manager": io}
    ).success
    dg.materialize([la_events], partition_key="2026-01-10", resources={"io_manager": io})
    assert _sql(postgres_url, "SELECT count(*) FROM digest.la_events") == [(4,)]


def test_a_failure_after_the_delete_leaves_the_previous_partition(postgres_url):
    """Invalid JSON in the last row fails the COPY mid-stream: the delete is rolled back too."""
    schema = table_schema(*[(c.name, c.type, "") for c in EVENTS.columns], ("doc", "JSON", ""))
    data = {"bad": False}

    def frame(key: str) -> pd.DataFrame:
        rows = _rows(_hour(key), 500).assign(doc="{}")
        if data["bad"]:
            rows.loc[len(rows) - 1, "doc"] = '{"unterminated'
        return rows

    asset = _events_asset(frame, schema=schema)
    io = _io(postgres_url)
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    data["bad"] = True
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": io},
        raise_on_error=False,
    )
    assert not result.success
    assert _sql(postgres_url, "SELECT count(*), count(DISTINCT id) FROM digest.events") == [
        (500, 500)
    ]


def test_warehouse_api_is_the_same_on_postgres(postgres_url):
    warehouse = Warehouse(backend="postgres", database_url=postgres_url, connect_attempts=1)
    assert not warehouse.table_exists("cache")
    assert warehouse.replace_rows("cache", _rows("2026-01-01 00:00", 3), key=["id"], schema=EVENTS)
    second = _rows("2026-01-01 00:00", 2, offset=2).assign(value=[42, 43])  # e2 replaced, e3 new
    warehouse.replace_rows("cache", second, key=["id"], schema=EVENTS)
    rows = warehouse.query("SELECT id, value FROM {schema}.cache ORDER BY id")
    assert list(rows.itertuples(index=False, name=None)) == [
        ("e0", 0),
        ("e1", 1),
        ("e2", 42),
        ("e3", 43),
    ]
    assert warehouse.table_exists("cache")
    # DuckDB idioms used by other domains: list parameters, ? and % inside literals.
    found = warehouse.query(
        "SELECT id FROM {schema}.cache WHERE id IN (SELECT unnest(?)) AND id <> '?'"
        " AND id LIKE 'e%' ORDER BY id",
        [["e1", "e3", "zz"]],
    )
    assert found["id"].tolist() == ["e1", "e3"]
    warehouse.execute("DELETE FROM {schema}.cache WHERE value > ?", [40])
    window = warehouse.query(
        'SELECT "timestamp" FROM {schema}.cache WHERE "timestamp" >= ? ORDER BY 1',
        [pd.Timestamp("2026-01-01 00:05", tz="UTC")],
    )
    assert str(window["timestamp"].dt.tz) == "UTC" and len(window) == 1


def test_the_connection_is_retried_then_fails_with_one_clear_line():
    url = "postgresql://digest:s3cret-pw@127.0.0.1:1/warehouse"
    with pytest.raises(WarehouseUnavailable) as info:
        connect_postgres(url, ConnectPolicy(attempts=2, wait_seconds=0.05))
    message = str(info.value)
    assert "digest@127.0.0.1:1/warehouse" in message and "2 attempt(s)" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT ? , ?", [1, 2], ("SELECT %s , %s", [1, 2])),
        ("SELECT '?', \"a?\" -- ?\n, ?", [1], ("SELECT '?', \"a?\" -- ?\n, %s", [1])),
        ("SELECT 'it''s ?', ?", [1], ("SELECT 'it''s ?', %s", [1])),
        ("SELECT E'\\' ?', ?", [1], ("SELECT E'\\' ?', %s", [1])),
        ("SELECT $$ ? $$, /* ? */ ?", [1], ("SELECT $$ ? $$, /* ? */ %s", [1])),
        ("SELECT x LIKE 'a%', 5 % ?", [2], ("SELECT x LIKE 'a%%', 5 %% %s", [2])),
        (
            "x IN (SELECT unnest(?))",
            [("a", "b")],
            ("x IN (SELECT unnest(CAST(%s AS text[])))", [["a", "b"]]),
        ),
        ("x = ANY(?)", [[1, 2]], ("x = ANY(CAST(%s AS bigint[]))", [[1, 2]])),
    ],
)
def test_question_marks_become_psycopg_placeholders(sql, params, expected):
    assert to_pyformat(sql, params) == expected


@pytest.mark.parametrize(("sql", "params"), [("SELECT ?", []), ("SELECT 1", [1])])
def test_placeholder_count_mismatches_are_errors(sql, params):
    with pytest.raises(ValueError, match="placeholders"):
        to_pyformat(sql, params)


def test_the_wait_command_reports_up_or_a_missing_variable(postgres_url, monkeypatch, capsys):
    from digest_pipeline.defs.storage.postgres import main

    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.delenv("DIGEST_UNSET_URL", raising=False)
    assert main([]) == 0
    assert "is up" in capsys.readouterr().err
    assert main(["DIGEST_UNSET_URL"]) == 2


def test_the_partition_column_is_indexed(postgres_url):
    asset = _events_asset(lambda key: _rows(_hour(key), 2))
    for key in ["2026-01-01-00:00", "2026-01-01-01:00"]:
        dg.materialize([asset], partition_key=key, resources={"io_manager": _io(postgres_url)})
    assert _sql(postgres_url, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'digest'") == [
        ('CREATE INDEX events_timestamp_idx ON digest.events USING btree ("timestamp")',)
    ]
