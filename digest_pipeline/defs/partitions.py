"""Partition definitions: hourly in UTC for extraction and scoring, daily in the team's zone.

These are the only settings read from the environment at import time, because Dagster needs the
partitions when the asset decorators run. Both values are validated with one-line errors.
"""

from __future__ import annotations

import os

import dagster as dg

from digest_pipeline.settings import DEFAULT_START_DATE, parse_start_date, parse_timezone

HOURLY_FORMAT = "%Y-%m-%d-%H:%M"
DAILY_FORMAT = "%Y-%m-%d"

START_DATE = parse_start_date(os.environ.get("DIGEST_START_DATE") or DEFAULT_START_DATE)
DIGEST_TIMEZONE = parse_timezone(os.environ.get("DIGEST_TIMEZONE") or "UTC")

# end_offset=1 makes the current, still-open hour a valid partition, so the urgent-message sensor
# can request it; schedules only ever ask for completed hours.
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{START_DATE}-00:00", timezone="UTC", end_offset=1
)
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=DIGEST_TIMEZONE)


def daily_upstream_mapping() -> dg.PartitionMapping:
    """How a daily digest depends on the hourly assets.

    Dagster's time-window mapping requires both definitions to share a time zone. With the default
    (UTC) the daily digest depends on exactly its 24 hours; in another zone it is declared against
    all hourly partitions and reads its local-day window (23, 24 or 25 UTC hours) itself.
    """
    if DIGEST_TIMEZONE == "UTC":
        return dg.TimeWindowPartitionMapping()
    return dg.AllPartitionMapping()
