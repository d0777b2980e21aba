"""The whole pipeline on PostgreSQL: DIGEST_WAREHOUSE=postgres for the tables and the production
deploy/dagster.yaml (dagster-postgres run, event and schedule storage) for the instance.

Needs a PostgreSQL server: DIGEST_TEST_DATABASE_URL, else the local one CI starts (see conftest).
"""

import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from digest_pipeline.defs.enrichment.taxonomy import LEVELS
from digest_pipeline.settings import Settings, load_settings
from digest_pipeline_tests.analytics.queries import DOCUMENTED_QUERIES
from digest_pipeline_tests.conftest import DAY, HOURS, run_demo_pipeline

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
TABLES = (
    "slack_channels",
    "slack_users",
    "raw_messages",
    "messages",
    "risk_assessments",
    "hourly_digest",
    "daily_digest",
)


def _postgres_settings(model_dir: str, digest_dir: str) -> Settings:
    # Every folder a run writes is the test's own: nothing lands in the user's data/.
    return load_settings(
        {
            "DIGEST_WAREHOUSE": "postgres",
            "DATABASE_URL": "postgresql://db/set-by-env",
            "DIGEST_MODEL_DIR": model_dir,
            "DIGEST_OUTPUT_DIR": digest_dir,
        }
    )


@pytest.fixture(scope="session")
def production(postgres_databases, tmp_path_factory, risk_model_dir):
    """(warehouse URL, instance, failed checks) after the demo pipeline ran on PostgreSQL.

    Session-scoped, so that it is built once per pytest-xdist worker whatever the test order."""
    warehouse_url, instance_url = postgres_databases(), postgres_databases()
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", warehouse_url)
        # dagster-postgres speaks psycopg2; SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3.
        env.setenv(
            "DAGSTER_POSTGRES_URL", instance_url.replace("postgresql://", "postgresql+psycopg2://")
        )
        instance = dg.DagsterInstance.from_config(str(home))
        failed_checks = run_demo_pipeline(
            _postgres_settings(risk_model_dir, str(home / "digests")),
            instance=instance,
            backfill=True,
        )
    with instance:
        yield warehouse_url, instance, failed_checks


def _query(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        conn.execute("SET search_path TO digest")
        return conn.execute(sql, params).fetchall()


def _scalar(url: str, sql: str):
    return _query(url, sql)[0][0]


def test_the_instance_is_the_production_one_on_postgres(production):
    _, instance, _ = production
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


def test_the_asset_checks_run_on_postgres(production):
    *_, failed_checks = production
    assert failed_checks == []


def test_every_table_has_rows_and_postgres_types(production):
    url, *_ = production
    for table in TABLES:
        assert _scalar(url, f"SELECT count(*) FROM {table}") > 0, table
    types = dict(
        _query(
            url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'digest' AND table_name = 'messages'",
        )
    )
    assert types["timestamp"] == "timestamp with time zone"
    assert types["mentions"] == "jsonb" and types["is_reply"] == "boolean"
    assert types["priority_level"] == "bigint" and types["sentiment_score"] == "double precision"


def test_keys_are_unique_after_a_rerun(production):
    url, *_ = production
    assert _scalar(url, "SELECT count(*) - count(DISTINCT (channel_id, ts)) FROM raw_messages") == 0
    assert _scalar(url, "SELECT count(*) - count(DISTINCT id) FROM messages") == 0
    assert _scalar(url, "SELECT count(*) - count(DISTINCT message_id) FROM risk_assessments") == 0
    assert (
        _scalar(
            url, "SELECT count(*) - count(DISTINCT (window_start, channel_id)) FROM hourly_digest"
        )
        == 0
    )


def test_a_single_run_backfill_and_a_rerun_leave_every_message_scored_once(production):
    url, *_ = production
    assert _scalar(url, "SELECT count(DISTINCT date_trunc('hour', timestamp)) FROM messages") == 3
    missing = "SELECT count(*) FROM messages m LEFT JOIN risk_assessments r ON r.message_id = m.id"
    assert _scalar(url, missing + " WHERE r.id IS NULL") == 0
    hours = "SELECT count(DISTINCT window_start) FROM hourly_digest WHERE channel_id = '*'"
    assert _scalar(url, hours) == len(HOURS)
    assert {r[0] for r in _query(url, "SELECT DISTINCT risk_level FROM risk_assessments")} <= set(
        LEVELS
    )


def test_json_columns_are_jsonb_that_digests_cite_existing_messages(production):
    url, *_ = production
    cited = _query(
        url,
        "SELECT DISTINCT t ->> 'message_id' FROM hourly_digest,"
        " jsonb_array_elements(top_risks) AS t",
    )
    assert cited
    ids = {r[0] for r in _query(url, "SELECT id FROM messages")}
    assert {c[0] for c in cited} <= ids


def test_the_daily_digest_has_an_overall_row(production):
    url, *_ = production
    rows = _query(url, "SELECT digest_date, message_count FROM daily_digest WHERE channel_id = '*'")
    assert rows == [(DAY, _scalar(url, "SELECT count(*) FROM messages"))]


@pytest.mark.parametrize("name", sorted(DOCUMENTED_QUERIES))
def test_the_documented_view_queries_answer(production, name):
    url, *_ = production
    assert _query(url, DOCUMENTED_QUERIES[name])


def test_views_agree_with_the_tables(production):
    url, *_ = production
    assert _scalar(url, "SELECT count(*) FROM v_latest_messages") == _scalar(
        url, "SELECT count(*) FROM messages"
    )
    assert _scalar(url, "SELECT sum(assessments) FROM v_risk_summary") == _scalar(
        url, "SELECT count(*) FROM risk_assessments"
    )
    assert _scalar(url, "SELECT sum(messages) FROM v_channel_stats") == _scalar(
        url, "SELECT count(*) FROM messages"
    )
    assert _scalar(url, "SELECT count(*) - count(DISTINCT thread_id) FROM v_open_risks") == 0


def test_the_analyst_role_reads_but_cannot_write(production):
    url, *_ = production
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
def test_the_dagster_cli_runs_an_hour_with_the_multiprocess_executor(postgres_databases, tmp_path):
    """What the daemon's run worker does: `dagster job execute` in a fresh process, every step in
    its own subprocess, the instance from deploy/dagster.yaml, the tables in PostgreSQL."""
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
    assert _scalar(warehouse_url, "SELECT count(*) FROM messages") > 0
