"""Bind resources from settings. Secrets are ``dg.EnvVar`` references, resolved at run time."""

import dagster as dg

from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
    slack = SlackSource(
        kind=settings.source,
        token=dg.EnvVar("SLACK_BOT_TOKEN") if settings.source == "slack" else None,
        base_url=settings.slack_base_url,
        export_path=settings.export_path,
        channels=list(settings.channels),
        exclude_channels=list(settings.exclude_channels),
        include_bots=settings.include_bots,
        thread_lookback_days=settings.thread_lookback_days,
        rate_tier=settings.slack_rate_tier,
        demo_seed=settings.demo_seed,
        demo_scale=settings.demo_scale,
    )
    if settings.warehouse != "duckdb":
        raise NotImplementedError("DIGEST_WAREHOUSE=postgres is not available yet")
    return {
        "slack": slack,
        "warehouse": Warehouse(backend="duckdb", duckdb_path=settings.duckdb_path),
        "io_manager": DuckDBWarehouseIOManager(database=settings.duckdb_path, schema="digest"),
    }
