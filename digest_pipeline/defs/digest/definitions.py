"""Digest: digest assets and checks, jobs, schedules, sensors and the delivery resources."""

from pathlib import Path

import dagster as dg

from digest_pipeline.defs.digest import assets, checks
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.digest.feedback import digest_feedback_sensor
from digest_pipeline.defs.digest.schedules import (
    build_daily_digest_schedule,
    daily_digest_job,
    daily_reconcile_job,
    daily_reconcile_sensor,
    hourly_digest_job,
    hourly_digest_schedule,
)
from digest_pipeline.defs.digest.sensors import (
    critical_risk_alert_sensor,
    run_failure_alert_sensor,
    urgent_message_sensor,
)
from digest_pipeline.settings import DEFAULT_DUCKDB_PATH, ConfigError, Settings

DEFAULT_DIGEST_DIR = "data/digests"


def digest_dir(settings: Settings) -> str:
    """``DIGEST_OUTPUT_DIR``; unset, ``digests/`` next to the DuckDB file (``data/digests``).

    Following the warehouse keeps a test's (or a second deployment's) files in its own folder.
    """
    if settings.digest_dir != DEFAULT_DIGEST_DIR or settings.warehouse != "duckdb":
        return settings.digest_dir
    if settings.duckdb_path == DEFAULT_DUCKDB_PATH:
        return DEFAULT_DIGEST_DIR
    return str(Path(settings.duckdb_path).parent / "digests")


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    # A digest post needs the token; alerts without one go to the outbox (the demo).
    if settings.post_channel and not settings.has_slack_token:
        raise ConfigError("DIGEST_POST_CHANNEL needs SLACK_BOT_TOKEN (a bot token with chat:write)")
    slack_chat = (
        DigestSlackResource(token=dg.EnvVar("SLACK_BOT_TOKEN"), base_url=settings.slack_base_url)
        if settings.has_slack_token
        else DigestSlackResource(token="", base_url=settings.slack_base_url)
    )
    delivery = DigestDelivery(
        post_channel=settings.post_channel,
        alert_channel=settings.alert_channel,
        post_hourly=settings.post_hourly,
        output_dir=digest_dir(settings),
        private_allow=list(settings.private_allow),
        can_post=settings.has_slack_token,
        feedback_reactions=dict(settings.feedback_reactions),
    )
    return {"slack_chat": slack_chat, "delivery": delivery}


def build_defs(settings: Settings) -> dg.Definitions:
    freshness_checks, freshness_sensor = checks.build_freshness_checks(
        settings.daily_at, settings.timezone
    )
    sensors = [
        daily_reconcile_sensor,
        urgent_message_sensor,
        critical_risk_alert_sensor,
        freshness_sensor,
        # Skips (without opening the warehouse) unless digests are posted with a token.
        digest_feedback_sensor,
    ]
    if settings.alert_channel:
        sensors.append(run_failure_alert_sensor)
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=[
            *dg.load_asset_checks_from_modules([assets, checks]),
            *freshness_checks,
        ],
        jobs=[hourly_digest_job, daily_reconcile_job, daily_digest_job],
        schedules=[
            hourly_digest_schedule,
            build_daily_digest_schedule(settings.daily_at, settings.timezone),
        ],
        sensors=sensors,
        resources=build_resources(settings),
    )
