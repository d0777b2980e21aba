"""Schedules pick the right partitions; the reconcile sensor chains into the daily digest."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from digest_pipeline.defs.pipeline.schedules import (
    DAY_TAG,
    build_daily_digest_schedule,
    daily_reconcile_sensor,
    hourly_digest_schedule,
    previous_day_key,
    utc_hour_range,
)


def test_hourly_schedule_requests_the_previous_hour():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 10, 15, 5, tzinfo=UTC)
    )
    request = hourly_digest_schedule(context)
    assert request.partition_key == "2026-03-10-14:00"
    assert request.run_key == "2026-03-10-14:00"


def test_hourly_schedule_crosses_midnight():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 11, 0, 5, tzinfo=UTC)
    )
    assert hourly_digest_schedule(context).partition_key == "2026-03-10-23:00"


def test_daily_schedule_reconciles_the_previous_local_day_in_one_run():
    schedule = build_daily_digest_schedule((7, 0))
    assert schedule.cron_schedule == "0 7 * * *"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[DAY_TAG] == "2026-03-10"
    assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-00:00"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-03-10-23:00"


def test_previous_local_day_uses_the_schedule_zone():
    la = ZoneInfo("America/Los_Angeles")
    assert previous_day_key(datetime(2026, 3, 11, 7, 0, tzinfo=la)) == "2026-03-10"


def test_utc_hour_range_of_a_utc_day():
    assert utc_hour_range("2026-03-10") == ("2026-03-10-00:00", "2026-03-10-23:00")


def test_reconcile_success_requests_that_days_digest_once():
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_run_status_sensor_context(
        sensor_name="daily_reconcile_sensor",
        dagster_instance=instance,
        dagster_run=dg.DagsterRun(
            job_name="daily_reconcile_job", run_id="abc", tags={DAY_TAG: "2026-03-10"}
        ),
        dagster_event=dg.DagsterEvent(
            event_type_value="PIPELINE_SUCCESS", job_name="daily_reconcile_job"
        ),
    )
    request = daily_reconcile_sensor(context)
    assert request.partition_key == "2026-03-10"
    assert request.run_key == "daily:2026-03-10:abc"


def test_freshness_checks_cover_both_digests_and_the_daily_deadline_follows_daily_at():
    from digest_pipeline.defs.digest.checks import build_freshness_checks

    checks, sensor = build_freshness_checks((23, 15), "America/Los_Angeles")
    keys = {key.asset_key.to_user_string() for c in checks for key in c.check_keys}
    assert keys == {"hourly_digest", "daily_digest"}
    assert sensor.name == "digest_freshness_sensor"


def test_the_hourly_jobs_leave_the_great_expectations_checks_to_their_own_job():
    from digest_pipeline.definitions import defs
    from digest_pipeline.defs.enrichment.checks import MESSAGES_QUALITY_CHECKS

    gx = set(MESSAGES_QUALITY_CHECKS)
    for name in ("hourly_digest_job", "daily_reconcile_job"):
        job = defs.resolve_job_def(name)
        checks = set(job.asset_layer.asset_graph.asset_check_keys)
        assert not checks & gx, name
        assert (
            dg.AssetCheckKey(dg.AssetKey("hourly_digest"), "hourly_digest_cites_existing_messages")
            in checks
        )
    quality = defs.resolve_job_def("messages_quality_job")
    assert set(quality.asset_layer.asset_graph.asset_check_keys) >= gx
    sensor = defs.resolve_sensor_def("messages_quality_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
