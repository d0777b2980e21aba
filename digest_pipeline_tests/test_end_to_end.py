"""The whole pipeline on the demo workspace, on each backend: DuckDB always, PostgreSQL (marked
``integration``) with the production deploy/dagster.yaml instance. The fixtures are in conftest.

DuckDB runs the hours one run each, as ``make demo`` does; PostgreSQL runs them as one single-run
backfill, as a production backfill does. Each then re-runs one hour, and the single-run backfill
test runs the other way into a fresh warehouse, so both ways are held on both backends.
"""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS, MESSAGE_TYPES
from digest_pipeline.definitions import build_defs
from digest_pipeline.defs.pipeline.schedules import range_tags
from digest_pipeline_tests.analytics.queries import DOCUMENTED_QUERIES
from digest_pipeline_tests.conftest import (
    BACKENDS,
    DAY,
    DEPLOY,
    HOURS,
    QUIET,
    DemoWarehouse,
    demo_settings,
)

TABLES = (
    "slack_channels",
    "slack_users",
    "raw_messages",
    "messages",
    "risk_assessments",
    "hourly_digest",
    "daily_digest",
)

# How each backend stores the declared column types of digest.messages.
MESSAGE_TYPES_STORED = {
    "duckdb": {
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "mentions": "JSON",
        "is_reply": "BOOLEAN",
        "priority_level": "BIGINT",
        "sentiment_score": "DOUBLE",
    },
    "postgres": {
        "timestamp": "timestamp with time zone",
        "mentions": "jsonb",
        "is_reply": "boolean",
        "priority_level": "bigint",
        "sentiment_score": "double precision",
    },
}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> DemoWarehouse:
    """The demo pipeline's warehouse on each backend; the PostgreSQL case needs the test server."""
    return request.getfixturevalue(f"{request.param}_pipeline")


def _json(value) -> list:
    """A JSON column's value: text on DuckDB, already parsed (jsonb) on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def test_the_asset_checks_pass(backend):
    assert backend.failed_checks == ()


def test_every_table_has_rows_and_the_declared_types(backend):
    for table in TABLES:
        assert backend.scalar(f"SELECT count(*) FROM digest.{table}") > 0, table
    stored = dict(
        backend.sql(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'digest' AND table_name = 'messages'"
        )
    )
    expected = MESSAGE_TYPES_STORED[backend.backend]
    assert {name: stored.get(name) for name in expected} == expected


def test_keys_are_unique_after_a_rerun(backend):
    for table, key in [
        ("raw_messages", "(channel_id, ts)"),
        ("messages", "id"),
        ("risk_assessments", "message_id"),
        ("hourly_digest", "(window_start, channel_id)"),
    ]:
        duplicates = f"SELECT count(*) - count(DISTINCT {key}) FROM digest.{table}"
        assert backend.scalar(duplicates) == 0, table


def test_every_message_has_exactly_one_assessment(backend):
    missing = backend.scalar(
        "SELECT count(*) FROM digest.messages m"
        " LEFT JOIN digest.risk_assessments r ON r.message_id = m.id WHERE r.id IS NULL"
    )
    orphans = backend.scalar(
        "SELECT count(*) FROM digest.risk_assessments r"
        " LEFT JOIN digest.messages m ON r.message_id = m.id WHERE m.id IS NULL"
    )
    assert (missing, orphans) == (0, 0)


def test_enumerations_and_ranges_hold(backend):
    def distinct(column: str, table: str) -> set:
        return {r[0] for r in backend.sql(f"SELECT DISTINCT {column} FROM digest.{table}")}

    assert distinct("urgency", "messages") <= set(LEVELS)
    assert distinct("category", "messages") <= set(CATEGORIES)
    assert distinct("message_type", "messages") <= set(MESSAGE_TYPES)
    assert distinct("risk_level", "risk_assessments") <= set(LEVELS)

    def bounds(column: str, table: str) -> tuple:
        return backend.sql(f"SELECT min({column}), max({column}) FROM digest.{table}")[0]

    lo, hi = bounds("sentiment_score", "messages")
    assert -1 <= lo <= hi <= 1
    lo, hi = bounds("confidence_score", "risk_assessments")
    assert 0 <= lo <= hi <= 1


def test_messages_are_inside_their_hours_and_ts_is_exact(backend):
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for ts, timestamp in backend.sql("SELECT ts, timestamp FROM digest.raw_messages"):
        seconds, fraction = ts.split(".")
        assert len(fraction) == 6
        micros = (timestamp - epoch) // timedelta(microseconds=1)
        assert int(seconds) * 1_000_000 + int(fraction) == micros
    lo, hi = backend.sql("SELECT min(timestamp), max(timestamp) FROM digest.messages")[0]
    assert datetime(2026, 3, 10, 15, tzinfo=UTC) <= lo <= hi < datetime(2026, 3, 10, 18, tzinfo=UTC)
    hours = "SELECT count(DISTINCT date_trunc('hour', timestamp)) FROM digest.messages"
    assert backend.scalar(hours) == len(HOURS)


def test_joins_and_channel_chatter_stay_out_of_messages(backend):
    joins = "SELECT count(*) FROM digest.{} WHERE subtype = 'channel_join'"
    assert backend.scalar(joins.format("raw_messages")) >= 0
    assert backend.scalar(joins.format("messages")) == 0


def test_digests_cite_messages_that_exist(backend):
    cited = {
        risk["message_id"]
        for (top_risks,) in backend.sql("SELECT top_risks FROM digest.hourly_digest")
        for risk in _json(top_risks)
    }
    assert cited
    assert cited <= {r[0] for r in backend.sql("SELECT id FROM digest.messages")}


def test_the_daily_digest_has_an_overall_row_with_markdown(backend):
    rows = backend.sql(
        "SELECT digest_date, message_count, markdown FROM digest.daily_digest"
        " WHERE channel_id = '*'"
    )
    assert len(rows) == 1
    day, count, markdown = rows[0]
    assert day == DAY
    assert count == backend.scalar("SELECT count(*) FROM digest.messages")
    assert markdown.startswith(f"# Daily digest {DAY}")


@pytest.mark.parametrize("name", sorted(DOCUMENTED_QUERIES))
def test_the_documented_view_queries_answer(backend, name):
    assert backend.sql(DOCUMENTED_QUERIES[name])


def test_views_agree_with_the_tables(backend):
    messages = backend.scalar("SELECT count(*) FROM digest.messages")
    assessments = backend.scalar("SELECT count(*) FROM digest.risk_assessments")
    assert backend.scalar("SELECT count(*) FROM digest.v_latest_messages") == messages
    assert backend.scalar("SELECT sum(assessments) FROM digest.v_risk_summary") == assessments
    assert backend.scalar("SELECT sum(messages) FROM digest.v_channel_stats") == messages
    open_threads = "SELECT count(*) - count(DISTINCT thread_id) FROM digest.v_open_risks"
    assert backend.scalar(open_threads) == 0


def test_a_single_run_backfill_writes_the_same_rows_as_hourly_runs(
    backend, request, tmp_path, monkeypatch, risk_model_dir
):
    """The hours again, into a fresh warehouse, the way the fixture did not run them."""
    if backend.backend == "postgres":
        location = request.getfixturevalue("postgres_databases")()
        monkeypatch.setenv("DATABASE_URL", location)
    else:
        location = str(tmp_path / "warehouse.duckdb")
    defs = build_defs(demo_settings(backend.backend, location, str(tmp_path), risk_model_dir))
    hourly = defs.resolve_job_def("hourly_digest_job")
    runs = (
        [{"partition_key": key} for key in HOURS]
        if backend.backfill
        else [{"tags": range_tags(HOURS[0], HOURS[-1])}]
    )
    for run in runs:
        hourly.execute_in_process(run_config=QUIET, raise_on_error=True, **run)
    other = DemoWarehouse(backend.backend, location, not backend.backfill, failed_checks=())
    ids = "SELECT id FROM digest.messages"
    assert sorted(other.sql(ids)) == sorted(backend.sql(ids))
    hours = "SELECT count(DISTINCT window_start) FROM digest.hourly_digest WHERE channel_id = '*'"
    assert other.scalar(hours) == backend.scalar(hours) == len(HOURS)


# --- PostgreSQL only ----------------------------------------------------------------------------


@pytest.mark.integration
def test_the_instance_is_the_production_one_on_postgres(postgres_pipeline, postgres_instance):
    # PostgreSQL only: the production instance stores runs in PostgreSQL (dagster-postgres);
    # the DuckDB pipeline runs with the ephemeral instance, which has nothing of its own to hold.
    instance = postgres_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure is False
    assert instance.run_monitoring_enabled
    runs = instance.get_runs()
    assert len(runs) == 4  # the hours in one run, one of them again, the day, the views
    # Asset steps all succeeded (run_demo_pipeline checks); a run fails only with a failed check.
    done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}
    assert {run.status for run in runs} <= done


@pytest.mark.integration
def test_the_analyst_role_reads_but_cannot_write(postgres_pipeline):
    # PostgreSQL only: database roles are PostgreSQL's; a DuckDB analyst opens the file read-only.
    url = postgres_pipeline.location
    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    import subprocess

    subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-v", "analyst_password=test-only",
         "-f", str(DEPLOY / "analyst_role.sql")],
        check=True, capture_output=True,
    )  # fmt: skip
    analyst = psycopg.conninfo.make_conninfo(url, user="digest_analyst", password="test-only")
    with psycopg.connect(analyst) as conn:
        assert conn.execute("SELECT count(*) FROM v_open_risks").fetchone()[0] >= 0
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
    with psycopg.connect(analyst) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("DELETE FROM messages")
    with psycopg.connect(analyst, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM messages")


@pytest.mark.slow
@pytest.mark.integration
def test_the_dagster_cli_runs_an_hour_with_the_multiprocess_executor(postgres_databases, tmp_path):
    """What the daemon's run worker does: `dagster job execute` in a fresh process, every step in
    its own subprocess, the instance from deploy/dagster.yaml, the tables in PostgreSQL."""
    # PostgreSQL only: the multiprocess executor is PostgreSQL's (storage/definitions.py); on
    # DuckDB, one writer per file, a job's steps run in process, as in the runs above.
    import os
    import subprocess
    import sys

    warehouse_url, instance_url = postgres_databases(), postgres_databases()
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "DIGEST_WAREHOUSE": "postgres",
        "DATABASE_URL": warehouse_url,
        "DAGSTER_POSTGRES_URL": instance_url.replace("postgresql://", "postgresql+psycopg2://"),
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    done = subprocess.run(
        [dagster, "job", "execute", "-m", "digest_pipeline.definitions", "-j", "hourly_digest_job",
         "--tags", f'{{"dagster/partition": "{HOURS[0]}"}}'],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "multiprocess executor" in log and "RUN_SUCCESS" in log
    warehouse = DemoWarehouse("postgres", warehouse_url, backfill=False, failed_checks=())
    assert warehouse.scalar("SELECT count(*) FROM digest.messages") > 0
