"""Partition definitions: hourly in UTC for extraction and scoring, daily in the team's zone.

This module is the one place that reads ``DIGEST_TIMEZONE`` and ``DIGEST_START_DATE``, and it
reads them at import time because Dagster needs the partitions when the asset decorators run.
Everything that follows the team's day (the daily schedule, the freshness deadline, the demo)
takes the zone from here, so it can never disagree with the daily partitions. Both values are
validated with one-line errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from digest_pipeline.settings import ConfigError

HOURLY_FORMAT = "%Y-%m-%d-%H:%M"
DAILY_FORMAT = "%Y-%m-%d"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_START_DATE = "2026-01-01"


def read_timezone(env: Mapping[str, str]) -> str:
    """``DIGEST_TIMEZONE``, an IANA zone name (unset: UTC)."""
    value = env.get("DIGEST_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"DIGEST_TIMEZONE={value!r} is not an IANA time zone "
            "(for example UTC, America/Los_Angeles)"
        ) from None
    return value


def read_start_date(env: Mapping[str, str]) -> str:
    """``DIGEST_START_DATE``, the first partition's day as YYYY-MM-DD."""
    value = env.get("DIGEST_START_DATE") or DEFAULT_START_DATE
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"DIGEST_START_DATE={value!r} is not a date in YYYY-MM-DD form") from None
    return value


START_DATE = read_start_date(os.environ)
DIGEST_TIMEZONE = read_timezone(os.environ)

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
