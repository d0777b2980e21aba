"""The whole pipeline on the demo workspace, materialized into a temporary DuckDB file."""

import duckdb
import pytest

from digest_pipeline.definitions import build_defs
from digest_pipeline.defs.enrichment.taxonomy import CATEGORIES, LEVELS, MESSAGE_TYPES
from digest_pipeline.defs.pipeline.schedules import range_tags
from digest_pipeline.settings import Settings
from digest_pipeline_tests.conftest import DAY, HOURS, QUIET


def _query(path: str, sql: str) -> list[tuple]:
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute("USE digest.digest")
        return conn.execute(sql).fetchall()


def _scalar(path: str, sql: str):
    return _query(path, sql)[0][0]


@pytest.fixture(scope="module")
def warehouse(duckdb_pipeline) -> str:
    return duckdb_pipeline


def test_every_table_has_rows(warehouse):
    for table in (
        "slack_channels",
        "slack_users",
        "raw_messages",
        "messages",
        "risk_assessments",
        "hourly_digest",
        "daily_digest",
    ):
        assert _scalar(warehouse, f"SELECT count(*) FROM {table}") > 0, table


def test_keys_are_unique_after_a_rerun(warehouse):
    assert (
        _scalar(warehouse, "SELECT count(*) - count(DISTINCT (channel_id, ts)) FROM raw_messages")
        == 0
    )
    assert _scalar(warehouse, "SELECT count(*) - count(DISTINCT id) FROM messages") == 0
    assert (
        _scalar(warehouse, "SELECT count(*) - count(DISTINCT message_id) FROM risk_assessments")
        == 0
    )
    assert (
        _scalar(
            warehouse,
            "SELECT count(*) - count(DISTINCT (window_start, channel_id)) FROM hourly_digest",
        )
        == 0
    )


def test_every_message_has_exactly_one_assessment(warehouse):
    missing = _scalar(
        warehouse,
        "SELECT count(*) FROM messages m LEFT JOIN risk_assessments r ON r.message_id = m.id"
        " WHERE r.id IS NULL",
    )
    orphans = _scalar(
        warehouse,
        "SELECT count(*) FROM risk_assessments r LEFT JOIN messages m ON r.message_id = m.id"
        " WHERE m.id IS NULL",
    )
    assert (missing, orphans) == (0, 0)


def test_enumerations_and_ranges_hold(warehouse):
    assert {r[0] for r in _query(warehouse, "SELECT DISTINCT urgency FROM messages")} <= set(LEVELS)
    assert {r[0] for r in _query(warehouse, "SELECT DISTINCT category FROM messages")} <= set(
        CATEGORIES
    )
    assert {r[0] for r in _query(warehouse, "SELECT DISTINCT message_type FROM messages")} <= set(
        MESSAGE_TYPES
    )
    assert {
        r[0] for r in _query(warehouse, "SELECT DISTINCT risk_level FROM risk_assessments")
    } <= set(LEVELS)
    lo, hi = _query(warehouse, "SELECT min(sentiment_score), max(sentiment_score) FROM messages")[0]
    assert -1 <= lo <= hi <= 1
    lo, hi = _query(
        warehouse, "SELECT min(confidence_score), max(confidence_score) FROM risk_assessments"
    )[0]
    assert 0 <= lo <= hi <= 1


def test_messages_are_inside_their_hours_and_ts_is_exact(warehouse):
    rows = _query(warehouse, "SELECT ts, epoch_us(timestamp) FROM raw_messages")
    for ts, micros in rows:
        seconds, fraction = ts.split(".")
        assert len(fraction) == 6
        assert int(seconds) * 1_000_000 + int(fraction) == micros
    lo, hi = _query(warehouse, "SELECT min(timestamp), max(timestamp) FROM messages")[0]
    assert lo.isoformat() >= "2026-03-10T15:00:00" and hi.isoformat() < "2026-03-10T18:00:00"


def test_joins_and_channel_chatter_stay_out_of_messages(warehouse):
    raw_joins = _scalar(
        warehouse, "SELECT count(*) FROM raw_messages WHERE subtype = 'channel_join'"
    )
    kept = _scalar(warehouse, "SELECT count(*) FROM messages WHERE subtype = 'channel_join'")
    assert kept == 0
    assert raw_joins >= 0


def test_digests_cite_messages_that_exist(warehouse):
    cited = _query(
        warehouse,
        "SELECT DISTINCT t.message_id FROM hourly_digest,"
        " unnest(CAST(top_risks AS JSON[])) AS u(t0),"
        " LATERAL (SELECT json_extract_string(t0, '$.message_id') AS message_id) AS t",
    )
    assert cited
    ids = {r[0] for r in _query(warehouse, "SELECT id FROM messages")}
    assert {c[0] for c in cited} <= ids


def test_the_daily_digest_has_an_overall_row_with_markdown(warehouse):
    rows = _query(
        warehouse,
        "SELECT digest_date, message_count, markdown FROM daily_digest WHERE channel_id = '*'",
    )
    assert len(rows) == 1
    day, count, markdown = rows[0]
    assert day == DAY
    assert count == _scalar(warehouse, "SELECT count(*) FROM messages")
    assert markdown.startswith(f"# Daily digest {DAY}")


def test_a_single_run_backfill_writes_the_same_rows_as_hourly_runs(warehouse, tmp_path):
    path = str(tmp_path / "backfill.duckdb")
    defs = build_defs(Settings(duckdb_path=path))
    defs.resolve_job_def("hourly_digest_job").execute_in_process(
        tags=range_tags(HOURS[0], HOURS[-1]), run_config=QUIET, raise_on_error=True
    )
    with duckdb.connect(path, read_only=True) as conn:
        backfilled = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM backfill.digest.messages"
        ).fetchone()
        hours = conn.execute(
            "SELECT count(DISTINCT window_start) FROM backfill.digest.hourly_digest"
            " WHERE channel_id = '*'"
        ).fetchone()[0]
    assert backfilled == (_scalar(warehouse, "SELECT count(*) FROM messages"),) * 2
    assert hours == len(HOURS)
