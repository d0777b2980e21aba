"""Digest: digest assets and checks, the freshness and feedback sensors, the delivery resources.

The jobs and schedules that run the digests, and the alert sensors, are the pipeline's
(``defs/pipeline``): they span every domain.
"""

from pathlib import Path

import dagster as dg

from digest_pipeline.defs.digest import assets, checks
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.digest.feedback import digest_feedback_sensor
from digest_pipeline.defs.partitions import DIGEST_TIMEZONE
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
        settings.daily_at, DIGEST_TIMEZONE
    )
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=[
            *dg.load_asset_checks_from_modules([assets, checks]),
            *freshness_checks,
        ],
        sensors=[
            freshness_sensor,
            # Skips (without opening the warehouse) unless digests are posted with a token.
            digest_feedback_sensor,
        ],
        resources=build_resources(settings),
    )
