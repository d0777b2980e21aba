"""``Warehouse`` on each backend: the same SQL (``?`` placeholders, ``{schema}``) and results."""

import pandas as pd

from digest_pipeline_tests.storage.stores import EVENTS, Store, rows


def test_replace_rows_upserts_by_key(store: Store):
    warehouse = store.warehouse
    assert not warehouse.table_exists("cache")
    assert warehouse.replace_rows("cache", rows("2026-01-01 00:00", 3), key=["id"], schema=EVENTS)
    second = rows("2026-01-01 00:00", 2, offset=2).assign(value=[42, 43])  # e2 replaced, e3 new
    assert warehouse.replace_rows("cache", second, key=["id"], schema=EVENTS) == 2
    found = warehouse.query("SELECT id, value FROM {schema}.cache ORDER BY id")
    assert list(found.itertuples(index=False, name=None)) == [
        ("e0", 0),
        ("e1", 1),
        ("e2", 42),
        ("e3", 43),
    ]
    assert warehouse.table_exists("cache")
    assert (
        warehouse.replace_rows("cache", rows("2026-01-01 00:00", 0), key=["id"], schema=EVENTS) == 0
    )
    assert store.sql("SELECT count(*) FROM cache") == [(4,)]


def test_the_same_sql_runs_on_both_backends(store: Store):
    warehouse = store.warehouse
    warehouse.replace_rows("cache", rows("2026-01-01 00:00", 4), key=["id"], schema=EVENTS)
    # DuckDB idioms other domains use: list parameters, ? and % inside literals.
    found = warehouse.query(
        "SELECT id FROM {schema}.cache WHERE id IN (SELECT unnest(?)) AND id <> '?'"
        " AND id LIKE 'e%' ORDER BY id",
        [["e1", "e3", "zz"]],
    )
    assert found["id"].tolist() == ["e1", "e3"]
    # A % in a literal with no parameters at all comes back as written.
    assert warehouse.query("SELECT '50% off' AS s")["s"].tolist() == ["50% off"]
    warehouse.execute("DELETE FROM {schema}.cache WHERE value > ?", [2])
    window = warehouse.query(
        'SELECT "timestamp" FROM {schema}.cache WHERE "timestamp" >= ? ORDER BY 1',
        [pd.Timestamp("2026-01-01 00:05", tz="UTC")],
    )
    assert str(window["timestamp"].dt.tz) == "UTC"
    assert window["timestamp"].tolist() == [
        pd.Timestamp("2026-01-01 00:05", tz="UTC"),
        pd.Timestamp("2026-01-01 00:10", tz="UTC"),
    ]


def test_a_view_is_created_and_replaced_with_other_columns(store: Store):
    warehouse = store.warehouse
    warehouse.replace_rows("cache", rows("2026-01-01 00:00", 3), key=["id"], schema=EVENTS)
    warehouse.create_view("cache_ids", "SELECT id, value FROM cache")
    warehouse.create_view("cache_ids", "SELECT id FROM cache WHERE value > 0")
    assert store.sql("SELECT * FROM cache_ids ORDER BY id") == [("e1",), ("e2",)]
