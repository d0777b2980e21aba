"""The warehouse I/O manager against a real DuckDB file in tmp_path."""

import dagster as dg
import duckdb
import pandas as pd

from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.schema import table_schema

hours = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
la_days = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="America/Los_Angeles")

EVENTS = table_schema(
    ("id", "VARCHAR", "key"),
    ("timestamp", "TIMESTAMPTZ", "partition column"),
    ("value", "BIGINT", "a number"),
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


def _events_asset(frame_for_key):
    @dg.asset(
        partitions_def=hours,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": EVENTS},
    )
    def events(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frame_for_key(context.partition_key)

    return events


def _count(path: str, sql: str) -> int:
    with duckdb.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


def test_rematerializing_a_partition_replaces_it_without_duplicates(duckdb_path):
    asset = _events_asset(lambda key: _rows(key.replace("-", " ", 2)[:10] + " " + key[-5:], 3))
    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    for key in ["2026-01-01-00:00", "2026-01-01-01:00", "2026-01-01-00:00"]:
        dg.materialize([asset], partition_key=key, resources={"io_manager": io})
    assert _count(duckdb_path, "SELECT count(*) FROM digest.digest.events") == 6
    assert (
        _count(
            duckdb_path, "SELECT count(DISTINCT id || timestamp::VARCHAR) FROM digest.digest.events"
        )
        == 6
    )


def test_an_empty_first_partition_still_creates_the_table_and_clears_old_rows(duckdb_path):
    data = {"n": 2}
    asset = _events_asset(lambda key: _rows("2026-01-01 00:00", data["n"]))
    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    data["n"] = 0
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    assert _count(duckdb_path, "SELECT count(*) FROM digest.digest.events") == 0
    data["n"] = 2
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    data["n"] = 0
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    assert _count(duckdb_path, "SELECT count(*) FROM digest.digest.events") == 0


def test_a_new_declared_column_is_added_not_shifted(duckdb_path):
    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    dg.materialize(
        [_events_asset(lambda key: _rows("2026-01-01 00:00", 2))],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": io},
    )
    wider = table_schema(
        *[(c.name, c.type, c.description or "") for c in EVENTS.columns],
        ("label", "VARCHAR", "added later"),
    )

    @dg.asset(
        partitions_def=hours,
        name="events",
        metadata={"partition_expr": "timestamp", "dagster/column_schema": wider},
    )
    def events_v2() -> pd.DataFrame:
        # Columns in a different order than the table: inserted by name.
        return _rows("2026-01-01 01:00", 2, offset=10).assign(label="x")[
            ["label", "value", "timestamp", "id"]
        ]

    dg.materialize([events_v2], partition_key="2026-01-01-01:00", resources={"io_manager": io})
    with duckdb.connect(duckdb_path) as conn:
        rows = conn.execute(
            "SELECT id, value, label FROM digest.digest.events ORDER BY id"
        ).fetchall()
    assert rows == [("e0", 0, None), ("e1", 1, None), ("e10", 0, "x"), ("e11", 1, "x")]


def test_undeclared_columns_fail_with_a_clear_message(duckdb_path):
    asset = _events_asset(lambda key: _rows("2026-01-01 00:00", 1).assign(extra=1))
    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": io},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "undeclared: ['extra']" in str(failure)


def test_a_local_day_partition_covers_its_utc_hours(duckdb_path):
    """A Los Angeles day is 08:00-08:00 UTC in winter: rows are selected as instants."""

    @dg.asset(
        partitions_def=la_days,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": EVENTS},
    )
    def la_events() -> pd.DataFrame:
        return _rows("2026-01-10 07:55", 3)  # 07:55 belongs to the previous LA day

    @dg.asset(partitions_def=la_days)
    def la_reader(la_events: pd.DataFrame) -> int:
        return len(la_events)

    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    result = dg.materialize(
        [la_events, la_reader],
        partition_key="2026-01-10",
        resources={"io_manager": io},
        selection=[la_events.key],
    )
    assert result.success
    # The delete for 2026-01-10 (LA) spares 07:55 UTC; a re-run keeps exactly 3 rows.
    dg.materialize([la_events], partition_key="2026-01-10", resources={"io_manager": io})
    assert _count(duckdb_path, "SELECT count(*) FROM digest.digest.la_events") == 4


def test_warehouse_replace_rows_upserts_by_key(duckdb_path):
    from digest_pipeline.defs.storage.warehouse import Warehouse

    warehouse = Warehouse(duckdb_path=duckdb_path)
    first = _rows("2026-01-01 00:00", 3)
    assert warehouse.replace_rows("cache", first, key=["id"], schema=EVENTS) == 3
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


def test_a_failure_after_the_delete_leaves_the_previous_partition(duckdb_path):
    """Invalid JSON in the last row fails the insert: the delete is rolled back too."""
    schema = table_schema(*[(c.name, c.type, "") for c in EVENTS.columns], ("doc", "JSON", ""))
    data = {"bad": False}

    @dg.asset(
        name="events",
        partitions_def=hours,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": schema},
    )
    def events() -> pd.DataFrame:
        rows = _rows("2026-01-01 00:00", 12).assign(doc="{}")
        if data["bad"]:
            rows.loc[len(rows) - 1, "doc"] = '{"unterminated'
        return rows

    io = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    dg.materialize([events], partition_key="2026-01-01-00:00", resources={"io_manager": io})
    data["bad"] = True
    result = dg.materialize(
        [events],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": io},
        raise_on_error=False,
    )
    assert not result.success
    assert _count(duckdb_path, "SELECT count(DISTINCT id) FROM digest.digest.events") == 12
    assert _count(duckdb_path, "SELECT count(*) FROM digest.digest.events") == 12


def test_the_table_name_the_ui_shows_pastes_into_duckdb_as_written(tmp_path):
    from digest_pipeline.settings import DEFAULT_DUCKDB_PATH

    assert DEFAULT_DUCKDB_PATH == "data/warehouse.duckdb"  # not named after the schema
    path = str(tmp_path / "warehouse.duckdb")
    asset = _events_asset(lambda key: _rows(key.replace("-00:00", " 00:00"), 3))
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": DuckDBWarehouseIOManager(database=path, schema="digest")},
    )
    event = result.asset_materializations_for_node("events")[0]
    table = event.metadata["dagster/table_name"].value
    assert table == "digest.events"
    with duckdb.connect(path, read_only=True) as conn:  # as an analyst would, no USE
        assert conn.sql(f"SELECT count(*) FROM {table}").fetchall() == [(3,)]
