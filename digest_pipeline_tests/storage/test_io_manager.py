"""The warehouse I/O manager on each backend: partitions replaced, never duplicated or shifted."""

import dagster as dg
import duckdb
import pandas as pd

from digest_pipeline.contract import table_schema
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline_tests.storage.stores import (
    EVENTS,
    LA_DAYS,
    Store,
    events_asset,
    hour_of,
    rows,
)

PER_ID_AND_TIME = "SELECT count(*), count(DISTINCT id || CAST(timestamp AS VARCHAR)) FROM events"


def test_rematerializing_a_partition_replaces_it_without_duplicates(store: Store):
    asset = events_asset(lambda key: rows(hour_of(key), 3))
    for key in ["2026-01-01-00:00", "2026-01-01-01:00", "2026-01-01-00:00"]:
        dg.materialize([asset], partition_key=key, resources={"io_manager": store.io})
    assert store.sql(PER_ID_AND_TIME) == [(6, 6)]


def test_an_empty_first_partition_still_creates_the_table_and_clears_old_rows(store: Store):
    data = {"n": 0}
    asset = events_asset(lambda key: rows("2026-01-01 00:00", data["n"]))
    resources = {"io_manager": store.io}
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources=resources)
    assert store.sql("SELECT count(*) FROM events") == [(0,)]
    data["n"] = 2
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources=resources)
    assert store.sql("SELECT count(*) FROM events") == [(2,)]
    data["n"] = 0
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources=resources)
    assert store.sql("SELECT count(*) FROM events") == [(0,)]


def test_a_new_declared_column_is_added_not_shifted(store: Store):
    resources = {"io_manager": store.io}
    first = events_asset(lambda key: rows("2026-01-01 00:00", 2))
    dg.materialize([first], partition_key="2026-01-01-00:00", resources=resources)
    wider = table_schema(
        *[(c.name, c.type, c.description or "") for c in EVENTS.columns],
        ("label", "VARCHAR", "added later"),
    )
    # Columns in a different order than the table: loaded by name.
    v2 = events_asset(
        lambda key: rows("2026-01-01 01:00", 2, offset=10).assign(label="x")[
            ["label", "value", "timestamp", "id"]
        ],
        schema=wider,
    )
    dg.materialize([v2], partition_key="2026-01-01-01:00", resources=resources)
    assert store.sql("SELECT id, value, label FROM events ORDER BY id") == [
        ("e0", 0, None),
        ("e1", 1, None),
        ("e10", 0, "x"),
        ("e11", 1, "x"),
    ]


def test_undeclared_columns_fail_with_a_clear_message(store: Store):
    asset = events_asset(lambda key: rows("2026-01-01 00:00", 1).assign(extra=1))
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": store.io},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "undeclared: ['extra']" in str(failure)


def test_a_local_day_partition_covers_its_utc_hours(store: Store):
    """A Los Angeles day is 08:00-08:00 UTC in winter: rows are selected as instants."""

    @dg.asset(
        partitions_def=LA_DAYS,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": EVENTS},
    )
    def la_events() -> pd.DataFrame:
        return rows("2026-01-10 07:55", 3)  # 07:55 belongs to the previous LA day

    read: list[int] = []

    @dg.asset(partitions_def=LA_DAYS)
    def la_reader(la_events: pd.DataFrame) -> None:
        read.append(len(la_events))

    resources = {"io_manager": store.io}
    assert dg.materialize(
        [la_events, la_reader], partition_key="2026-01-10", resources=resources
    ).success
    assert read == [2]
    # The delete for 2026-01-10 (LA) spares 07:55 UTC; a re-run keeps 2 + 2 rows.
    dg.materialize([la_events], partition_key="2026-01-10", resources=resources)
    assert store.sql("SELECT count(*) FROM la_events") == [(4,)]


def test_a_failure_after_the_delete_leaves_the_previous_partition(store: Store):
    """Invalid JSON in the last row fails the load mid-stream: the delete is rolled back too."""
    schema = table_schema(*[(c.name, c.type, "") for c in EVENTS.columns], ("doc", "JSON", ""))
    data = {"bad": False}

    def frame(key: str) -> pd.DataFrame:
        events = rows(hour_of(key), 500).assign(doc="{}")
        if data["bad"]:
            events.loc[len(events) - 1, "doc"] = '{"unterminated'
        return events

    asset = events_asset(frame, schema=schema)
    resources = {"io_manager": store.io}
    dg.materialize([asset], partition_key="2026-01-01-00:00", resources=resources)
    data["bad"] = True
    result = dg.materialize(
        [asset], partition_key="2026-01-01-00:00", resources=resources, raise_on_error=False
    )
    assert not result.success
    assert store.sql("SELECT count(*), count(DISTINCT id) FROM events") == [(500, 500)]


def test_the_table_name_the_ui_shows_is_what_the_warehouse_answers_to(store: Store):
    asset = events_asset(lambda key: rows(hour_of(key), 3))
    result = dg.materialize(
        [asset], partition_key="2026-01-01-00:00", resources={"io_manager": store.io}
    )
    event = result.asset_materializations_for_node("events")[0]
    assert event.metadata["dagster/table_name"].value == "digest.events"
    assert event.metadata["dagster/partition_row_count"].value == 3
    assert event.metadata["storage"].value == store.backend


def test_the_table_name_pastes_into_duckdb_as_written(tmp_path):
    from digest_pipeline.settings import DEFAULT_DUCKDB_PATH

    assert DEFAULT_DUCKDB_PATH == "data/warehouse.duckdb"  # not named after the schema
    path = str(tmp_path / "warehouse.duckdb")
    asset = events_asset(lambda key: rows(hour_of(key), 3))
    result = dg.materialize(
        [asset],
        partition_key="2026-01-01-00:00",
        resources={"io_manager": DuckDBWarehouseIOManager(database=path, schema="digest")},
    )
    table = result.asset_materializations_for_node("events")[0].metadata["dagster/table_name"]
    with duckdb.connect(path, read_only=True) as conn:  # as an analyst would, no USE
        assert conn.sql(f"SELECT count(*) FROM {table.value}").fetchall() == [(3,)]
