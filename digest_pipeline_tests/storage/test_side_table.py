"""``SideTable`` on each backend: upsert by key, reads by value, one row by key, time windows."""

import pandas as pd
import pytest

from digest_pipeline.contract import Column, Table
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline_tests.storage.stores import Store

OUTBOX = SideTable(
    Table(
        name="outbox",
        kind="side",
        description="one row per (channel, message)",
        key=("channel", "message_id"),
        columns=(
            Column("channel", "VARCHAR", "key part"),
            Column("message_id", "VARCHAR", "key part"),
            Column("status", "VARCHAR", "posted or outbox"),
            Column("sent_at", "TIMESTAMPTZ", "when"),
            Column("tries", "BIGINT", "attempts"),
        ),
        time_column="sent_at",
    )
)
T0 = pd.Timestamp("2026-01-01 00:00", tz="UTC")


def _rows(*rows: tuple[str, str, str | None, int]) -> pd.DataFrame:
    """``(channel, message_id, status, minutes after T0)`` rows."""
    return OUTBOX.frame(
        [
            {
                "channel": channel,
                "message_id": message,
                "status": status,
                "sent_at": T0 + pd.Timedelta(minutes=minutes),
                "tries": 1,
            }
            for channel, message, status, minutes in rows
        ]
    )


def test_reads_before_the_first_write_are_empty_with_the_declared_columns(store: Store):
    warehouse = store.warehouse
    assert not OUTBOX.exists(warehouse)
    assert list(OUTBOX.read(warehouse).columns) == OUTBOX.columns
    assert OUTBOX.get(warehouse, {"channel": "C1", "message_id": "m1"}) is None
    assert OUTBOX.window(warehouse, T0, T0 + pd.Timedelta(hours=1)).empty
    OUTBOX.delete(warehouse, {"channel": "C1"})  # nothing to delete: no table is created
    assert not OUTBOX.exists(warehouse)


def test_upsert_replaces_rows_by_the_whole_key_and_leaves_the_others(store: Store):
    warehouse = store.warehouse
    OUTBOX.upsert(warehouse, _rows(("C1", "m1", "outbox", 0), ("C2", "m1", "outbox", 5)))
    assert OUTBOX.upsert(warehouse, _rows(("C1", "m1", "posted", 10))) == 1
    assert store.sql("SELECT channel, message_id, status FROM outbox ORDER BY 1") == [
        ("C1", "m1", "posted"),
        ("C2", "m1", "outbox"),
    ]
    row = OUTBOX.get(warehouse, {"channel": "C1", "message_id": "m1"})
    assert row is not None and row["status"] == "posted"
    assert row["sent_at"] == T0 + pd.Timedelta(minutes=10)
    with pytest.raises(ValueError, match="needs its key"):
        OUTBOX.get(warehouse, {"channel": "C1"})


def test_read_matches_values_lists_and_nulls(store: Store):
    warehouse = store.warehouse
    OUTBOX.upsert(
        warehouse,
        _rows(("C1", "m1", "posted", 0), ("C1", "m2", None, 5), ("C2", "m3", "posted", 10)),
    )
    by_list = OUTBOX.read(warehouse, {"message_id": ["m3", "m1", "zz"]}, order_by=["message_id"])
    assert by_list["message_id"].tolist() == ["m1", "m3"]
    assert OUTBOX.read(warehouse, {"status": None})["message_id"].tolist() == ["m2"]
    both = OUTBOX.read(warehouse, {"channel": "C1", "status": "posted"})
    assert both["message_id"].tolist() == ["m1"]
    assert OUTBOX.read(warehouse, {"message_id": []}).empty  # an empty list matches nothing
    distinct = OUTBOX.read(warehouse, {"status": "posted"}, distinct=["status"])
    assert distinct.to_dict("records") == [{"status": "posted"}]


def test_window_is_half_open_on_the_time_column_and_ordered(store: Store):
    warehouse = store.warehouse
    OUTBOX.upsert(
        warehouse,
        _rows(("C1", "late", "posted", 60), ("C1", "m1", "posted", 0), ("C1", "m2", "posted", 30)),
    )
    hour = OUTBOX.window(warehouse, T0, T0 + pd.Timedelta(hours=1))
    assert hour["message_id"].tolist() == ["m1", "m2"]
    assert str(hour["sent_at"].dt.tz) == "UTC"
    since = OUTBOX.window(warehouse, T0 + pd.Timedelta(minutes=30))
    assert since["message_id"].tolist() == ["m2", "late"]
    c2 = OUTBOX.window(warehouse, T0, where={"channel": "C2"})
    assert c2.empty and list(c2.columns) == OUTBOX.columns


def test_delete_removes_only_the_matching_rows(store: Store):
    warehouse = store.warehouse
    OUTBOX.upsert(warehouse, _rows(("C1", "m1", "posted", 0), ("C1", "m2", "outbox", 5)))
    OUTBOX.delete(warehouse, {"channel": "C1", "status": "outbox"})
    assert store.sql("SELECT message_id FROM outbox") == [("m1",)]
    with pytest.raises(ValueError, match="needs a condition"):
        OUTBOX.delete(warehouse, {})


def test_a_column_an_older_table_lacks_reads_as_null(store: Store):
    warehouse = store.warehouse
    narrow = SideTable(Table("outbox", "side", "older", OUTBOX.key, OUTBOX.table.columns[:3], None))
    narrow.upsert(warehouse, narrow.frame([{"channel": "C1", "message_id": "m1", "status": "x"}]))
    (row,) = OUTBOX.read(warehouse).to_dict("records")
    assert row["status"] == "x" and pd.isna(row["tries"]) and pd.isna(row["sent_at"])


def test_declared_side_tables_come_from_the_contract():
    posts = SideTable.declared("digest_posts")
    assert posts.key == ("digest", "partition_key", "channel") and posts.table.time_column
    with pytest.raises(ValueError, match="asset table"):
        SideTable.declared("messages")
