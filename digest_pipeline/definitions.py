"""The code location's root: load the asset graph and bind resources from the environment."""

import dagster as dg

from digest_pipeline.defs.digest import assets as digest_assets
from digest_pipeline.defs.digest.schedules import (
    build_daily_digest_schedule,
    daily_digest_job,
    daily_reconcile_job,
    daily_reconcile_sensor,
    hourly_digest_job,
    hourly_digest_schedule,
)
from digest_pipeline.defs.enrichment import assets as enrichment_assets
from digest_pipeline.defs.resources import build_resources
from digest_pipeline.defs.risk import assets as risk_assets
from digest_pipeline.defs.slack import assets as slack_assets
from digest_pipeline.settings import Settings, load_settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules(
            [slack_assets, enrichment_assets, risk_assets, digest_assets]
        ),
        jobs=[hourly_digest_job, daily_reconcile_job, daily_digest_job],
        schedules=[
            hourly_digest_schedule,
            build_daily_digest_schedule(settings.daily_at, settings.timezone),
        ],
        sensors=[daily_reconcile_sensor],
        resources=build_resources(settings),
        # DuckDB allows one writer per file: run a job's steps one after another.
        executor=dg.in_process_executor if settings.warehouse == "duckdb" else None,
    )


defs = build_defs(load_settings())
