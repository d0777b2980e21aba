"""The schedules, and the sensor that chains the daily reconcile into the daily digest.

* ``hourly_digest_schedule`` — a few minutes past each hour, the previous UTC hour.
* ``daily_digest_schedule`` — at ``DIGEST_DAILY_AT`` in the daily partitions' zone
  (``DIGEST_TIMEZONE``, read by ``partitions.py``), re-extracts the previous local day's hours in
  one run (late edits, deletes and replies reach the tables), then ``daily_reconcile_sensor`` runs
  ``daily_digest`` for that day once the reconcile succeeded.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from digest_pipeline.defs.partitions import (
    DAILY_FORMAT,
    DIGEST_TIMEZONE,
    HOURLY_FORMAT,
    daily_partitions,
)
from digest_pipeline.defs.pipeline.jobs import (
    daily_digest_job,
    daily_reconcile_job,
    hourly_digest_job,
)

DAY_TAG = "digest/day"


def previous_hour_key(moment: datetime) -> str:
    hour = moment.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return hour.strftime(HOURLY_FORMAT)


def previous_day_key(moment: datetime) -> str:
    """The local day before ``moment`` (which carries the schedule's execution zone)."""
    return (moment - timedelta(days=1)).strftime(DAILY_FORMAT)


def utc_hour_range(day_key: str) -> tuple[str, str]:
    """First and last UTC hourly partition keys covering a local day (23, 24 or 25 hours)."""
    start, end = daily_partitions.time_window_for_partition_key(day_key)
    first_hour = start.astimezone(UTC)
    last_hour = end.astimezone(UTC) - timedelta(hours=1)
    return first_hour.strftime(HOURLY_FORMAT), last_hour.strftime(HOURLY_FORMAT)


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


@dg.schedule(
    cron_schedule="5 * * * *",
    job=hourly_digest_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Five minutes past each hour: the previous UTC hour.",
)
def hourly_digest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    key = previous_hour_key(context.scheduled_execution_time)
    return dg.RunRequest(run_key=key, partition_key=key)


def build_daily_digest_schedule(daily_at: tuple[int, int]) -> dg.ScheduleDefinition:
    """The daily schedule runs in the daily partitions' own zone, so "the previous day" of a tick
    is always a daily partition key."""
    hour, minute = daily_at
    timezone = DIGEST_TIMEZONE

    @dg.schedule(
        name="daily_digest_schedule",
        cron_schedule=f"{minute} {hour} * * *",
        job=daily_reconcile_job,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Daily at {hour:02d}:{minute:02d} {timezone}: reconcile the previous local day's "
            "hours; daily_reconcile_sensor then builds its daily digest."
        ),
    )
    def daily_digest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = previous_day_key(context.scheduled_execution_time)
        first, last = utc_hour_range(day)
        return dg.RunRequest(
            run_key=f"reconcile:{day}", tags={**range_tags(first, last), DAY_TAG: day}
        )

    return daily_digest_schedule


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_reconcile_job],
    request_job=daily_digest_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a day's reconcile run succeeds, build that day's daily digest.",
)
def daily_reconcile_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    day = context.dagster_run.tags.get(DAY_TAG)
    if not day:
        return dg.SkipReason("reconcile run has no digest/day tag")
    return dg.RunRequest(run_key=f"daily:{day}:{context.dagster_run.run_id}", partition_key=day)
