"""Extract: Slack assets and the ``slack`` source resource."""

import dagster as dg

from digest_pipeline.defs.slack import assets, checks
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    slack = SlackSource(
        kind=settings.source,
        token=dg.EnvVar("SLACK_BOT_TOKEN") if settings.source == "slack" else None,
        base_url=settings.slack_base_url,
        export_path=settings.export_path,
        export_own_app=list(settings.export_own_app),
        export_max_file_bytes=settings.export_max_file_mb << 20,
        channels=list(settings.channels),
        exclude_channels=list(settings.exclude_channels),
        include_bots=settings.include_bots,
        auto_join=settings.auto_join,
        thread_lookback_days=settings.thread_lookback_days,
        rate_tier=settings.slack_rate_tier,
        demo_seed=settings.demo_seed,
        demo_scale=settings.demo_scale,
    )
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([assets, checks]),
        resources={"slack": slack},
    )
