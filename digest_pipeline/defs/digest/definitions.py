"""Digest: digest assets, jobs, schedules and sensors."""

import dagster as dg

from digest_pipeline.defs.digest import assets
from digest_pipeline.defs.digest.schedules import (
    build_daily_digest_schedule,
    daily_digest_job,
    daily_reconcile_job,
    daily_reconcile_sensor,
    hourly_digest_job,
    hourly_digest_schedule,
)
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([assets]),
        jobs=[hourly_digest_job, daily_reconcile_job, daily_digest_job],
        schedules=[
            hourly_digest_schedule,
            build_daily_digest_schedule(settings.daily_at, settings.timezone),
        ],
        sensors=[daily_reconcile_sensor],
    )
